"""Figure: how well the calibrated ranking of a review round recovers the true order of the dossiers when
reviewers differ in severity — raw means versus per-reviewer z-scores versus the additive reviewer-bias model
(``kechuang.talent.calibration``), on simulated rounds drawn with the platform's reviewer draw.

    .venv/bin/python benchmarks/talent_calibration.py [--rounds 200] [--dossiers 30] [--reviewers 12]
        [--per-dossier 3] [--bias-sd 6] [--noise-sd 4] [--harsh -15] [--seed 1]

Each round: true quality ~ N(70, 8) per dossier; reviewer severity ~ N(0, bias-sd), and reviewer 0 is
systematically harsh (``--harsh`` points); each review = quality + severity + N(0, noise-sd). Reviewers are
drawn with ``assignment.draw_reviewers`` (load cap = ceil(dossiers × per-dossier / reviewers) + 1, random
conflicts for 10 % of pairs). Printed per method: mean Spearman correlation with the truth, mean share of the
true top 20 % found in the computed top 20 %, and the mean absolute rank error of the harsh reviewer's
dossiers. The peer is the plain mean of raw scores (what a spreadsheet does).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import time

from kechuang.talent import assignment, calibration


def spearman(a: dict, b: dict) -> float:
    keys = sorted(a)
    ra = {k: r for r, k in enumerate(sorted(keys, key=lambda k: a[k]))}
    rb = {k: r for r, k in enumerate(sorted(keys, key=lambda k: b[k]))}
    n = len(keys)
    d2 = sum((ra[k] - rb[k]) ** 2 for k in keys)
    return 1 - 6 * d2 / (n * (n * n - 1))


def one_round(rng: random.Random, args) -> dict[str, tuple[float, float, float]]:
    dossiers = list(range(args.dossiers))
    reviewers = list(range(args.reviewers))
    quality = {d: rng.gauss(70, 8) for d in dossiers}
    severity = {r: rng.gauss(0, args.bias_sd) for r in reviewers}
    severity[0] = args.harsh
    conflicts = {d: {r for r in reviewers if rng.random() < 0.1} for d in dossiers}
    cap = math.ceil(args.dossiers * args.per_dossier / args.reviewers) + 1
    draw = assignment.draw_reviewers(dossiers, reviewers, conflicts, per_dossier=args.per_dossier, load_cap=cap,
                                     seed=rng.randrange(1 << 30))
    triples = [(r, d, quality[d] + severity[r] + rng.gauss(0, args.noise_sd))
               for d, rs in draw.assigned.items() for r in rs]
    top_n = max(1, len(dossiers) // 5)
    true_top = set(sorted(dossiers, key=quality.get, reverse=True)[:top_n])
    true_rank = {d: i for i, d in enumerate(sorted(dossiers, key=quality.get, reverse=True))}
    harsh_ds = [d for d, rs in draw.assigned.items() if 0 in rs]
    out = {}
    for method in ("none", "zscore", "bias"):
        c = calibration.calibrate(triples, method)
        got_top = {d for d, r in c.rank.items() if r <= top_n}
        err = statistics.mean(abs(c.rank[d] - 1 - true_rank[d]) for d in harsh_ds) if harsh_ds else 0.0
        out[method] = (spearman(quality, c.score), len(got_top & true_top) / top_n, err)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=200)
    p.add_argument("--dossiers", type=int, default=30)
    p.add_argument("--reviewers", type=int, default=12)
    p.add_argument("--per-dossier", type=int, default=3)
    p.add_argument("--bias-sd", type=float, default=6.0)
    p.add_argument("--noise-sd", type=float, default=4.0)
    p.add_argument("--harsh", type=float, default=-15.0)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    results = [one_round(rng, args) for _ in range(args.rounds)]
    elapsed = time.perf_counter() - t0
    print(f"{args.rounds} rounds × {args.dossiers} dossiers, {args.reviewers} reviewers, {args.per_dossier} per "
          f"dossier; severity sd {args.bias_sd}, noise sd {args.noise_sd}, harsh reviewer {args.harsh:+}")
    print(f"{'method':<22}{'Spearman':>10}{'top-20% hit':>13}{'harsh rank err':>16}")
    labels = {"none": "raw mean (peer)", "zscore": "z-score per reviewer", "bias": "reviewer-bias model"}
    for m in ("none", "zscore", "bias"):
        rho = statistics.mean(r[m][0] for r in results)
        hit = statistics.mean(r[m][1] for r in results)
        err = statistics.mean(r[m][2] for r in results)
        print(f"{labels[m]:<22}{rho:>10.3f}{hit:>13.1%}{err:>16.2f}")
    print(f"({elapsed:.1f} s including the draws)")


if __name__ == "__main__":
    main()
