"""Policy engine benchmark: the shipped library over N synthetic enterprises, per backend, beside the
same rules hand-written in Polars (the practical floor) and written for openfisca-core (if the
optional ``bench`` extra is installed). Each contender runs in its own process so peak RSS is its own.

    .venv/bin/python benchmarks/policy_engine.py --n 200000

Prints CPU seconds, wall seconds and peak RSS per contender, and the time of one full explanation.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import polars as pl

from kechuang.policy.engine import SEP, compile_all, evaluate, explain, required_columns, run_wide
from kechuang.policy.language import LIBRARY_DIR, load_directory
from kechuang.policy.synthetic import generate_facts

YEAR = 2025


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def facts(n: int, seed: int, nulls: bool = True) -> pl.DataFrame:
    """The synthetic facts table for the library."""
    lib = load_directory(LIBRARY_DIR)
    return generate_facts(required_columns(compile_all(lib, YEAR)), n, seed=seed, null_pct=5 if nulls else 0)


# ---------------------------------------------------------------- engine, wide eligibility


def engine_wide(frame: pl.DataFrame, backend: str, compiled=None) -> pl.DataFrame:
    """The engine's one pass plus eligibility and amount per policy, in wide form."""
    compiled = compiled if compiled is not None else compile_all(load_directory(LIBRARY_DIR), YEAR)
    wide = run_wide(frame, compiled, backend)
    out = []
    for cp in compiled:
        elig = pl.all_horizontal([pl.col(f"{cp.id}{SEP}{c}") for c in cp.clauses])
        if cp.amount is not None:
            amt = pl.col(f"{cp.id}{SEP}__amount")
            elig = pl.when(elig & amt.is_null()).then(pl.lit(None, pl.Boolean)).otherwise(elig)
            out.append(pl.when(elig).then(amt).alias(f"{cp.id}.amount"))
        out.append(elig.alias(f"{cp.id}.eligible"))
    return wide.select(out)


# ---------------------------------------------------------------- hand-written Polars (the floor)


def handwritten(frame: pl.DataFrame) -> pl.DataFrame:
    """The same ten rules written directly as Polars expressions, exact money, Kleene logic."""
    c = pl.col
    f64 = pl.Float64

    def hround(x: pl.Expr, num: int, den: int) -> pl.Expr:
        n = x * num
        return pl.when(n >= 0).then((2 * n + den) // (2 * den)).otherwise(-((den - 2 * n) // (2 * den)))

    def fdiv(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return pl.when(b != 0).then(a.cast(f64) / b.cast(f64))

    def least(a: pl.Expr, b: pl.Expr) -> pl.Expr:
        return pl.when(a.is_null() | b.is_null()).then(None).otherwise(pl.min_horizontal(a, b))

    sh = c("province") == "上海"
    rev3 = c("revenue_fen") + c("revenue_fen__m1") + c("revenue_fen__m2")
    rd3 = c("rd_expense_fen") + c("rd_expense_fen__m1") + c("rd_expense_fen__m2")
    tier = (pl.when(c("revenue_fen") <= 5_000_000_000).then(5).when(c("revenue_fen") <= 20_000_000_000).then(4)
            .otherwise(3))
    inc = c("tech_transfer_income_fen")
    rules = {
        "compute-selfbuilt": ([sh, c("compute_build_cost_fen") > 0], hround(c("compute_build_cost_fen"), 1, 10)),
        "compute-voucher": ([sh, c("compute_rent_fen") > 0, ~c("serious_dishonesty")],
                            hround(c("compute_rent_fen"), 3, 10)),
        "corpus-voucher": ([sh, c("corpus_contract_fen") > 0], hround(c("corpus_contract_fen"), 3, 10)),
        "hnte-cit-rate": ([c("has_high_tech"), c("profit_fen") > 0], hround(c("profit_fen"), 1, 10)),
        "hnte-screening": ([c("age_years") >= 1, c("ip_in_listed_field"), fdiv(c("st_staff"), c("employees")) >= 0.1,
                            fdiv(rd3, rev3) >= fdiv(tier, pl.lit(100)), c("rd_domestic_share") >= 0.6,
                            fdiv(c("high_tech_income_fen"), c("revenue_fen")) >= 0.6, c("high_tech_score") > 70,
                            ~c("major_incident")], None),
        "innovation-voucher": ([sh, c("has_tech_sme"), c("contract_amount_fen") > 0,
                                c("voucher_used_fen").fill_null(0) < 50_000_000],
                               least(hround(c("contract_amount_fen"), 1, 2),
                                     50_000_000 - c("voucher_used_fen").fill_null(0))),
        "model-voucher": ([sh, c("model_contract_fen") > 0], least(hround(c("model_contract_fen"), 1, 2),
                                                                     pl.lit(500_000_000))),
        "rd-super-deduction": ([c("rd_expense_fen") > 0], c("rd_expense_fen")),
        "tech-sme-evaluation": ([c("employees") <= 500, c("revenue_fen") <= 20_000_000_000,
                                 c("total_assets_fen") <= 20_000_000_000,
                                 ~c("major_incident") & ~c("serious_dishonesty"),
                                 ((c("tech_sme_score") >= 60) & (c("st_staff_score") != 0)) | c("has_high_tech")
                                 | c("has_provincial_rd_institution") | c("top3_award_5y") | c("led_standard_5y")],
                                None),
        # 25% of min(inc, 5m yuan) + 12.5% of the rest = (2·min + rest) / 8.
        "tech-transfer-cit": ([inc > 0, c("tech_transfer_registered"), ~c("tech_transfer_related_100")],
                              hround(least(inc, pl.lit(500_000_000)) * 2
                                     + pl.max_horizontal(inc - 500_000_000, pl.lit(0)), 1, 8)),
    }
    out = []
    for pid, (clauses, amount) in rules.items():
        elig = pl.all_horizontal(clauses)
        if amount is not None:
            elig = pl.when(elig & amount.is_null()).then(pl.lit(None, pl.Boolean)).otherwise(elig)
            out.append(pl.when(elig).then(amount).alias(f"{pid}.amount"))
        out.append(elig.alias(f"{pid}.eligible"))
    return frame.lazy().select(out).collect()


# ---------------------------------------------------------------- openfisca-core


def openfisca_run(frame: pl.DataFrame) -> dict:
    """The same rules as openfisca-core variables (formulas over numpy arrays, as its docs show).
    openfisca has no missing values: NULL facts are given its default (0 / False / '')."""
    import numpy as np
    from openfisca_core import periods
    from openfisca_core.entities import build_entity
    from openfisca_core.model_api import YEAR as OF_YEAR
    from openfisca_core.model_api import Variable, max_, min_, where
    from openfisca_core.simulation_builder import SimulationBuilder
    from openfisca_core.taxbenefitsystems import TaxBenefitSystem

    Enterprise = build_entity(key="enterprise", plural="enterprises", label="Enterprise", is_person=True)
    tbs = TaxBenefitSystem([Enterprise])
    types = {pl.Int64: int, pl.Float64: float, pl.Boolean: bool, pl.String: str}
    for col, dt in frame.schema.items():
        if col == "credit_code":
            continue
        vt = types[dt]
        tbs.add_variable(type(col, (Variable,), {"value_type": vt, "entity": Enterprise, "definition_period": OF_YEAR,
                                                  "label": col}))

    def var(name, vt, formula):
        tbs.add_variable(type(name, (Variable,), {"value_type": vt, "entity": Enterprise,
                                                   "definition_period": OF_YEAR, "formula": formula}))

    def hround(x, num, den):
        n = x.astype(np.int64) * num
        return np.where(n >= 0, (2 * n + den) // (2 * den), -((den - 2 * n) // (2 * den)))

    def fdiv(a, b):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b != 0, a / np.where(b != 0, b, 1), -np.inf)

    def e(ent, p, *names):
        return [ent(n, p) for n in names]

    var("sh", bool, lambda ent, p: ent("province", p) == "上海")
    var("compute_selfbuilt_eligible", bool, lambda ent, p: ent("sh", p) * (ent("compute_build_cost_fen", p) > 0))
    var("compute_selfbuilt_amount", int, lambda ent, p: where(ent("compute_selfbuilt_eligible", p),
                                                              hround(ent("compute_build_cost_fen", p), 1, 10), 0))
    var("compute_voucher_eligible", bool, lambda ent, p: ent("sh", p) * (ent("compute_rent_fen", p) > 0)
        * np.logical_not(ent("serious_dishonesty", p)))
    var("compute_voucher_amount", int, lambda ent, p: where(ent("compute_voucher_eligible", p),
                                                            hround(ent("compute_rent_fen", p), 3, 10), 0))
    var("corpus_voucher_eligible", bool, lambda ent, p: ent("sh", p) * (ent("corpus_contract_fen", p) > 0))
    var("corpus_voucher_amount", int, lambda ent, p: where(ent("corpus_voucher_eligible", p),
                                                           hround(ent("corpus_contract_fen", p), 3, 10), 0))
    var("hnte_cit_rate_eligible", bool, lambda ent, p: ent("has_high_tech", p) * (ent("profit_fen", p) > 0))
    var("hnte_cit_rate_amount", int, lambda ent, p: where(ent("hnte_cit_rate_eligible", p),
                                                          hround(ent("profit_fen", p), 1, 10), 0))

    def hnte(ent, p):
        rev, rev1, rev2, rd, rd1, rd2 = e(ent, p, "revenue_fen", "revenue_fen__m1", "revenue_fen__m2",
                                          "rd_expense_fen", "rd_expense_fen__m1", "rd_expense_fen__m2")
        tier = where(rev <= 5_000_000_000, 0.05, where(rev <= 20_000_000_000, 0.04, 0.03))
        return ((ent("age_years", p) >= 1) * ent("ip_in_listed_field", p)
                * (fdiv(ent("st_staff", p), ent("employees", p)) >= 0.1)
                * (fdiv(rd + rd1 + rd2, rev + rev1 + rev2) >= tier) * (ent("rd_domestic_share", p) >= 0.6)
                * (fdiv(ent("high_tech_income_fen", p), rev) >= 0.6) * (ent("high_tech_score", p) > 70)
                * np.logical_not(ent("major_incident", p)))

    var("hnte_screening_eligible", bool, hnte)
    var("innovation_voucher_eligible", bool, lambda ent, p: ent("sh", p) * ent("has_tech_sme", p)
        * (ent("contract_amount_fen", p) > 0) * (ent("voucher_used_fen", p) < 50_000_000))
    var("innovation_voucher_amount", int, lambda ent, p: where(
        ent("innovation_voucher_eligible", p),
        min_(hround(ent("contract_amount_fen", p), 1, 2), 50_000_000 - ent("voucher_used_fen", p)), 0))
    var("model_voucher_eligible", bool, lambda ent, p: ent("sh", p) * (ent("model_contract_fen", p) > 0))
    var("model_voucher_amount", int, lambda ent, p: where(ent("model_voucher_eligible", p),
                                                          min_(hround(ent("model_contract_fen", p), 1, 2),
                                                               500_000_000), 0))
    var("rd_super_deduction_eligible", bool, lambda ent, p: ent("rd_expense_fen", p) > 0)
    var("rd_super_deduction_amount", int, lambda ent, p: where(ent("rd_super_deduction_eligible", p),
                                                               ent("rd_expense_fen", p), 0))
    var("tech_sme_evaluation_eligible", bool, lambda ent, p: (
        (ent("employees", p) <= 500) * (ent("revenue_fen", p) <= 20_000_000_000)
        * (ent("total_assets_fen", p) <= 20_000_000_000)
        * np.logical_not(ent("major_incident", p)) * np.logical_not(ent("serious_dishonesty", p))
        * (((ent("tech_sme_score", p) >= 60) * (ent("st_staff_score", p) != 0)) + ent("has_high_tech", p)
           + ent("has_provincial_rd_institution", p) + ent("top3_award_5y", p) + ent("led_standard_5y", p))))
    var("tech_transfer_cit_eligible", bool, lambda ent, p: (ent("tech_transfer_income_fen", p) > 0)
        * ent("tech_transfer_registered", p) * np.logical_not(ent("tech_transfer_related_100", p)))
    var("tech_transfer_cit_amount", int, lambda ent, p: where(
        ent("tech_transfer_cit_eligible", p),
        hround(min_(ent("tech_transfer_income_fen", p), 500_000_000) * 2
               + max_(ent("tech_transfer_income_fen", p) - 500_000_000, 0), 1, 8), 0))

    outputs = [v for v in tbs.variables if v.endswith("_eligible") or v.endswith("_amount")]
    period = periods.period(str(YEAR))
    t0, c0 = time.perf_counter(), _cpu()
    sim = SimulationBuilder().build_default_simulation(tbs, frame.height)
    defaults = {pl.Int64: 0, pl.Float64: 0.0, pl.Boolean: False, pl.String: ""}
    for col, dt in frame.schema.items():
        if col == "credit_code":
            continue
        arr = frame[col].fill_null(defaults[dt]).to_numpy()
        sim.set_input(col, period, arr.astype(object) if dt == pl.String else arr)
    results = {v: sim.calculate(v, period) for v in outputs}
    return {"cpu": _cpu() - c0, "wall": time.perf_counter() - t0, "eligible": int(sum(
        int(results[v].sum()) for v in outputs if v.endswith("_eligible")))}


# ---------------------------------------------------------------- one contender per process


def run_one(name: str, n: int, seed: int) -> dict:
    frame = facts(n, seed)
    base_rss = _rss_mib()
    if name == "openfisca":
        try:
            r = openfisca_run(frame)
        except ImportError as exc:
            return {"name": name, "missing": str(exc)}
        return {"name": name, "n": n, "cpu": r["cpu"], "wall": r["wall"], "rss": _rss_mib(), "base_rss": base_rss,
                "eligible": r["eligible"]}
    # Loading and compiling the library (YAML, sqlglot, type checks) is timed apart: it is paid once.
    tl = time.perf_counter()
    library = load_directory(LIBRARY_DIR)
    compiled = compile_all(library, YEAR)
    load_s = time.perf_counter() - tl
    t0, c0 = time.perf_counter(), _cpu()
    if name == "handwritten":
        out = handwritten(frame)
    elif name.startswith("full-"):
        out = evaluate(frame, library, YEAR, backend=name[5:]).long
    else:
        out = engine_wide(frame, name, compiled)
    wall, cpu = time.perf_counter() - t0, _cpu() - c0
    elig = (int(out["eligible"].fill_null(False).sum()) if "eligible" in out.columns else
            int(sum(out[c].fill_null(False).sum() for c in out.columns if c.endswith(".eligible"))))
    return {"name": name, "n": n, "cpu": cpu, "wall": wall, "rss": _rss_mib(), "base_rss": base_rss,
            "eligible": elig, "load": load_s}


def explain_timing(seed: int) -> dict:
    """Time to explain every library policy for one enterprise (one full explanation)."""
    lib = load_directory(LIBRARY_DIR)
    compiled = compile_all(lib, YEAR)
    row = facts(50, seed).row(3, named=True)
    for cp in compiled:
        explain(cp.policy, row, YEAR)
    reps = 200
    t = time.perf_counter()
    for _ in range(reps):
        for cp in compiled:
            explain(cp.policy, row, YEAR)
    all_ms = (time.perf_counter() - t) / reps * 1000
    hnte = next(cp.policy for cp in compiled if cp.id == "hnte-screening")
    t = time.perf_counter()
    for _ in range(reps):
        explain(hnte, row, YEAR)
    one_ms = (time.perf_counter() - t) / reps * 1000
    return {"policies": len(compiled), "all_ms": all_ms, "hnte_ms": one_ms}


def verify(seed: int) -> None:
    """The hand-written floor computes exactly what the engine computes (else the comparison is void)."""
    frame = facts(5000, seed)
    ours = engine_wide(frame, "polars").select(sorted(engine_wide(frame, "polars").columns))
    floor = handwritten(frame)
    floor = floor.select(sorted(floor.columns))
    assert ours.equals(floor), "hand-written rules differ from the engine"
    assert engine_wide(frame, "sql").select(ours.columns).equals(ours), "backends differ"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="Enterprises (default 1,000,000).")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", help=argparse.SUPPRESS)
    ap.add_argument("--contenders", default="polars,sql,handwritten,full-polars,full-sql,openfisca",
                    help="Comma-separated: polars, sql, handwritten, full-polars, full-sql, openfisca.")
    args = ap.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args.n, args.seed)))
        return
    verify(args.seed)
    print(f"policy engine benchmark: {args.n:,} synthetic enterprises, library of "
          f"{len(compile_all(load_directory(LIBRARY_DIR), YEAR))} policies for {YEAR}; "
          "eligibility + amounts (\"full-*\" adds the long table, excludes and budgets)")
    print(f"{'contender':<14}{'CPU s':>9}{'wall s':>9}{'peak RSS MiB':>14}{'(facts only)':>14}{'eligible':>11}"
          f"{'load+compile s':>16}")
    rows = []
    for name in args.contenders.split(","):
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--only", name, "--n", str(args.n),
                               "--seed", str(args.seed)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{name:<14} failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if "missing" in r:
            print(f"{name:<14} not installed ({r['missing']}); pip install -e '.[bench]'")
            continue
        rows.append(r)
        load = f"{r['load']:>16.2f}" if "load" in r else ""
        print(f"{name:<14}{r['cpu']:>9.2f}{r['wall']:>9.2f}{r['rss']:>14.0f}{r['base_rss']:>14.0f}{r['eligible']:>11,}"
              f"{load}")
    by = {r["name"]: r for r in rows}
    if "handwritten" in by:
        for k in ("polars", "sql", "openfisca"):
            if k in by:
                print(f"{k} / hand-written wall: {by[k]['wall'] / by['handwritten']['wall']:.2f}×")
    if "openfisca" in by and "polars" in by:
        print(f"openfisca / polars engine wall: {by['openfisca']['wall'] / by['polars']['wall']:.1f}×")
    ex = explain_timing(args.seed)
    print(f"explanation, one enterprise: all {ex['policies']} policies {ex['all_ms']:.2f} ms; "
          f"hnte-screening alone {ex['hnte_ms']:.2f} ms (with how-close)")


if __name__ == "__main__":
    main()
