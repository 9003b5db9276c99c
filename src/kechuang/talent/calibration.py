"""Per-reviewer score calibration before ranking (no database import; tested on plain data).

Reviewers differ in severity: one scores everything 15 points lower than another. With an incomplete design
(each dossier seen by a few of the reviewers) raw means then rank a dossier by the luck of its draw. Two
methods are offered:

* ``zscore`` — each reviewer's scores are standardised (mean 0, sd 1 over that reviewer's dossiers), then
  averaged per dossier and mapped back to the pool's mean and sd. Removes both severity and spread, but
  assumes every reviewer saw a comparable mix of dossiers.
* ``bias`` — an additive model ``score[r, d] = mu + b[r] + theta[d] + e`` fitted by alternating least squares
  with a small ridge penalty on ``b`` (sum of ``b`` is zero). ``theta`` is the dossier's quality with the
  reviewer's bias removed; it uses the overlap between reviewers, so it also works when a harsh reviewer
  happened to draw the strong dossiers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

METHODS = ("bias", "zscore", "none")


@dataclass(frozen=True)
class Calibrated:
    """Per dossier: raw mean, calibrated score (on the raw 0–100 scale) and rank (1 = best); per reviewer:
    the estimated bias (points added to a typical score)."""

    raw: dict[Hashable, float]
    score: dict[Hashable, float]
    rank: dict[Hashable, int]
    reviewer_bias: dict[Hashable, float]


def _mean(xs: Iterable[float]) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else 0.0


def _sd(xs: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def _ranks(score: dict[Hashable, float]) -> dict[Hashable, int]:
    order = sorted(score, key=lambda d: (-round(score[d], 9), str(d)))
    return {d: i + 1 for i, d in enumerate(order)}


def calibrate(scores: list[tuple[Hashable, Hashable, float]], method: str = "bias", *,
              ridge: float = 1.0, iterations: int = 200) -> Calibrated:
    """Calibrate ``(reviewer, dossier, score)`` triples with ``method`` (bias, zscore or none)."""
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}")
    by_dossier: dict[Hashable, list[tuple[Hashable, float]]] = defaultdict(list)
    by_reviewer: dict[Hashable, list[tuple[Hashable, float]]] = defaultdict(list)
    for r, d, s in scores:
        by_dossier[d].append((r, float(s)))
        by_reviewer[r].append((d, float(s)))
    raw = {d: _mean(s for _, s in rs) for d, rs in by_dossier.items()}
    if not scores:
        return Calibrated({}, {}, {}, {})
    mu = _mean(float(s) for _, _, s in scores)
    if method == "none":
        return Calibrated(raw, dict(raw), _ranks(raw), {r: 0.0 for r in by_reviewer})
    if method == "zscore":
        pool_sd = _sd([float(s) for _, _, s in scores]) or 1.0
        stats = {}
        for r, ds in by_reviewer.items():
            vals = [s for _, s in ds]
            stats[r] = (_mean(vals), _sd(vals) or pool_sd)
        z = {d: _mean((s - stats[r][0]) / stats[r][1] for r, s in rs) for d, rs in by_dossier.items()}
        score = {d: mu + pool_sd * v for d, v in z.items()}
        return Calibrated(raw, score, _ranks(score), {r: stats[r][0] - mu for r in by_reviewer})
    # Additive reviewer-bias model by alternating least squares.
    bias = {r: 0.0 for r in by_reviewer}
    theta = {d: raw[d] - mu for d in by_dossier}
    for _ in range(iterations):
        new_theta = {d: _mean(s - mu - bias[r] for r, s in rs) for d, rs in by_dossier.items()}
        new_bias = {r: sum(s - mu - new_theta[d] for d, s in ds) / (len(ds) + ridge) for r, ds in by_reviewer.items()}
        shift = _mean(new_bias.values())  # identifiability: biases sum to zero
        new_bias = {r: b - shift for r, b in new_bias.items()}
        delta = max([abs(new_theta[d] - theta[d]) for d in theta] + [abs(new_bias[r] - bias[r]) for r in bias])
        theta, bias = new_theta, new_bias
        if delta < 1e-9:
            break
    score = {d: mu + t for d, t in theta.items()}
    return Calibrated(raw, score, _ranks(score), bias)
