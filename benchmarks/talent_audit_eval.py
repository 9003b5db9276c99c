"""Precision and recall of the rule-text audit (kechuang.talent.audit) on the labelled clause set.

    .venv/bin/python benchmarks/talent_audit_eval.py [--show-errors]

The set (src/kechuang/talent/eval_data/clauses.jsonl) holds clauses paraphrased from public rule texts,
each labelled violating/compliant with the link and basis it concerns, its source and its ``split``:
``dev`` (grammar v1 was tuned on these), ``held_out`` (every 5th of the first 304 clauses, never looked at
while tuning), ``fresh1`` (58 clauses written after v1 was frozen; v1 scored P 0.958 / R 0.793 on them;
grammar v2 was then tuned on them) and ``fresh2`` (46 clauses written after v2 was frozen, never tuned
on). The out-of-sample figure is "never tuned on" (held_out + fresh2). Prints figures per split and overall,
then per-basis counts and link/basis agreement.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from kechuang.talent.audit import audit_clause

DATA = Path(__file__).resolve().parents[1] / "src" / "kechuang" / "talent" / "eval_data" / "clauses.jsonl"


def load() -> list[dict]:
    """The labelled clauses with their index."""
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    for i, r in enumerate(rows):
        r["i"] = i
        r["held_out"] = r["split"] in ("held_out", "fresh2")
    return rows


def scores(rows: list[dict]) -> dict:
    """Precision, recall, F1 and counts over clause-level labels."""
    tp = fp = fn = tn = 0
    for r in rows:
        pred, gold = bool(r["pred"]), r["label"] == "violating"
        tp += pred and gold
        fp += pred and not gold
        fn += gold and not pred
        tn += not pred and not gold
    p = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    return {"n": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn, "precision": p, "recall": rec, "f1": f1}


def main() -> None:
    """Run the audit on every clause and print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-errors", action="store_true", help="List false positives and false negatives.")
    args = ap.parse_args()
    rows = load()
    for r in rows:
        r["pred"] = audit_clause(r["text"])
    print(f"labelled clauses: {len(rows)} ({sum(r['label'] == 'violating' for r in rows)} violating), "
          f"sources: {len({r['source'] for r in rows})}")
    print(f"{'part':<22}{'n':>5}{'tp':>5}{'fp':>5}{'fn':>5}{'tn':>5}{'precision':>11}{'recall':>9}{'F1':>7}")
    parts = (("dev (tuned on)", [r for r in rows if r["split"] == "dev"]),
             ("fresh1 (tuned on, v2)", [r for r in rows if r["split"] == "fresh1"]),
             ("held-out (every 5th)", [r for r in rows if r["split"] == "held_out"]),
             ("fresh2 (after v2)", [r for r in rows if r["split"] == "fresh2"]),
             ("never tuned on", [r for r in rows if r["split"] in ("held_out", "fresh2")]), ("all", rows))
    for name, part in parts:
        s = scores(part)
        print(f"{name:<22}{s['n']:>5}{s['tp']:>5}{s['fp']:>5}{s['fn']:>5}{s['tn']:>5}"
              f"{s['precision']:>11.3f}{s['recall']:>9.3f}{s['f1']:>7.3f}")
    print("\nper basis (violating clauses by labelled basis): found / total, basis named, link named")
    by: dict[str, Counter] = {}
    for r in rows:
        if r["label"] != "violating":
            continue
        c = by.setdefault(r["basis"], Counter())
        c["total"] += 1
        if r["pred"]:
            c["found"] += 1
            c["basis_ok"] += r["basis"] in {b for _, b in r["pred"]}
            c["link_ok"] += r["link"] in {k for k, _ in r["pred"]}
    for basis, c in sorted(by.items(), key=lambda kv: -kv[1]["total"]):
        print(f"  {basis:<15}{c['found']:>4} / {c['total']:<4} basis {c['basis_ok']:>3}  link {c['link_ok']:>3}")
    fp_by = Counter(r["basis"] for r in rows if r["pred"] and r["label"] == "compliant")
    print(f"false positives by labelled basis: {dict(fp_by)}")
    if args.show_errors:
        for r in rows:
            gold = r["label"] == "violating"
            if bool(r["pred"]) != gold:
                kind = "FN" if gold else "FP"
                print(f"{kind} #{r['i']} ({r['split']}): {r['text']}  pred={r['pred']}")


if __name__ == "__main__":
    main()
