"""Evaluation metrics on numpy arrays (no database): regression, classification, LLM answer matching and
WeatherBench-2-style latitude-weighted RMSE / ACC for gridded forecasts, plus bootstrap intervals.

Non-finite or exploding predictions are never dropped silently: ``screen()`` counts them per item, the
scores are computed on the remaining items and the counts travel with the scores (``Evaluation``). A run
in which no item is finite is scored as failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

# ---------------------------------------------------------------------------- screening of predictions


@dataclass(frozen=True)
class Screen:
    """Which items are usable: ``mask`` True for finite, bounded items; counts of the others."""

    mask: np.ndarray
    n_items: int
    n_nonfinite: int
    n_exploding: int


def screen(pred: np.ndarray | Sequence, bound: float | None = None) -> Screen:
    """Count items (first axis) with any non-finite value, or any |value| > ``bound`` (exploding)."""
    arr = np.asarray(pred)
    n = arr.shape[0] if arr.ndim else 1
    if arr.dtype.kind not in "fiucb":  # labels / strings: a missing answer (None) counts as non-finite
        flat = arr.reshape(n, -1) if arr.ndim else arr.reshape(1, 1)
        nonfinite = np.array([any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in row)
                              for row in flat], dtype=bool)
        return Screen(~nonfinite, n, int(nonfinite.sum()), 0)
    flat = arr.reshape(n, -1).astype(np.float64, copy=False)
    nonfinite = ~np.isfinite(flat).all(axis=1)
    exploding = np.zeros(n, dtype=bool)
    if bound is not None:
        with np.errstate(invalid="ignore"):
            exploding = (np.abs(np.where(np.isfinite(flat), flat, 0.0)) > bound).any(axis=1) & ~nonfinite
    ok = ~(nonfinite | exploding)
    return Screen(ok, n, int(nonfinite.sum()), int(exploding.sum()))


# ---------------------------------------------------------------------------------------- regression


def _f(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def mae(y_true, y_pred) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(_f(y_pred) - _f(y_true))))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error."""
    return float(np.sqrt(np.mean((_f(y_pred) - _f(y_true)) ** 2)))


def r2(y_true, y_pred) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (NaN when the truth is constant)."""
    t, p = _f(y_true), _f(y_pred)
    ss_tot = float(np.sum((t - t.mean()) ** 2))
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((t - p) ** 2)) / ss_tot


# ------------------------------------------------------------------------------------ classification


def accuracy(y_true, y_pred) -> float:
    """Share of exact label matches."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean(t == p))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean per-class recall over the classes present in the truth."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    return float(np.mean([np.mean(p[t == c] == c) for c in np.unique(t)]))


def f1_macro(y_true, y_pred) -> float:
    """Unweighted mean F1 over the classes in truth or prediction (F1 = 0 where precision+recall = 0)."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for c in np.unique(np.concatenate([t, p])):
        tp = np.sum((p == c) & (t == c))
        fp = np.sum((p == c) & (t != c))
        fn = np.sum((p != c) & (t == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    ranks = np.empty(len(x), dtype=np.float64)
    # boundaries of runs of equal values; each run gets the mean of its 1-based ranks
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    ends = np.r_[starts[1:], len(xs)]
    for s, e in zip(starts, ends, strict=True):
        ranks[order[s:e]] = (s + 1 + e) / 2.0
    return ranks


def roc_auc(y_true, score) -> float:
    """Binary ROC-AUC by the rank-sum (Mann-Whitney) formula; tied scores count one half."""
    t = np.asarray(y_true).astype(bool)
    s = _f(score)
    n_pos, n_neg = int(t.sum()), int((~t).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = _average_ranks(s)
    return float((ranks[t].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ------------------------------------------------------------------------------------------ LLM tasks


def _norm(text) -> str:
    return " ".join(str(text).strip().lower().split()).rstrip(".")


def exact_match(y_true, y_pred) -> float:
    """Share of answers equal to the reference after trimming, lower-casing and collapsing spaces."""
    return float(np.mean([_norm(a) == _norm(b) for a, b in zip(y_true, y_pred, strict=True)]))


def multiple_choice_accuracy(y_true, y_pred) -> float:
    """Share of answers whose chosen option letter (first A-Z letter, e.g. "(B)" or "B. ...") is right."""

    def letter(x) -> str:
        s = str(x).strip().upper()
        for ch in s:
            if "A" <= ch <= "Z":
                return ch
        return ""

    return float(np.mean([letter(a) == letter(b) for a, b in zip(y_true, y_pred, strict=True)]))


# -------------------------------------------------------------------------- gridded (WeatherBench 2)


def lat_weights(lat_deg) -> np.ndarray:
    """cos(latitude) weights normalised to mean 1."""
    w = np.cos(np.deg2rad(_f(lat_deg)))
    return w / w.mean()


def _weighted_mean_ll(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean over the last two axes (lat, lon) with latitude weights ``w`` (mean 1)."""
    return np.einsum("...ij,i->...", x, w, optimize=True) / (x.shape[-2] * x.shape[-1])


_CHUNK_BYTES = 8 * 2**20  # temporaries per block: small enough to stay in cache-friendly, reused pages


def _blocks(shape: tuple[int, ...], itemsize: int):
    """Slices along axis 0 such that one block of ``shape`` takes about _CHUNK_BYTES."""
    per_row = int(np.prod(shape[1:], dtype=np.int64)) * itemsize or 1
    step = max(1, _CHUNK_BYTES // per_row)
    for start in range(0, shape[0] if shape else 1, step):
        yield slice(start, start + step)


def _field_stats(forecast, truth, climatology, lat_deg, kind: str) -> tuple[np.ndarray, ...]:
    """Latitude-weighted spatial means per field (every index but lat, lon), computed block by block along
    the first axis so temporaries stay small: ``mse`` → (mean (f-o)²,); ``acc`` → (mean f'o', mean f'²,
    mean o'²) with anomalies from ``climatology``. Non-finite values propagate to NaN for that field."""
    f, o = np.asarray(forecast), np.asarray(truth)
    shape = np.broadcast_shapes(f.shape, o.shape) if climatology is None else np.broadcast_shapes(
        f.shape, o.shape, np.shape(climatology))
    dtype = np.result_type(f.dtype, o.dtype, np.float32)
    f, o = np.broadcast_to(f, shape), np.broadcast_to(o, shape)
    c = None if climatology is None else np.broadcast_to(np.asarray(climatology), shape)
    w = lat_weights(lat_deg).astype(dtype)
    lead = shape[:-2]
    outs = [np.empty(lead, dtype=np.float64) for _ in range(1 if kind == "mse" else 3)]
    if not len(shape) > 2:  # a single field
        f, o = f[None], o[None]
        c = None if c is None else c[None]
        outs = [x.reshape(1) for x in outs]
    for sl in _blocks(f.shape, np.dtype(dtype).itemsize):
        if kind == "mse":
            d = np.subtract(f[sl], o[sl], dtype=dtype)
            np.multiply(d, d, out=d)
            outs[0][sl] = _weighted_mean_ll(d, w)
        else:
            fa = np.subtract(f[sl], c[sl], dtype=dtype)
            oa = np.subtract(o[sl], c[sl], dtype=dtype)
            outs[0][sl] = _weighted_mean_ll(fa * oa, w)
            np.multiply(fa, fa, out=fa)
            np.multiply(oa, oa, out=oa)
            outs[1][sl] = _weighted_mean_ll(fa, w)
            outs[2][sl] = _weighted_mean_ll(oa, w)
    return tuple(x.reshape(lead) for x in outs)


def lat_weighted_rmse(forecast, truth, lat_deg, time_axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """WeatherBench-2 RMSE: sqrt of the time-mean of the latitude-weighted spatial MSE.

    Arrays are (..., lat, lon); ``time_axis`` indexes the initialisations. Returns (rmse, n_bad) over the
    remaining axes, where n_bad counts initialisations whose field had a non-finite value (excluded).
    The inputs are not modified."""
    (mse_t,) = _field_stats(forecast, truth, None, lat_deg, "mse")
    bad = ~np.isfinite(mse_t)
    n_bad = bad.sum(axis=time_axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(bad, 0.0, mse_t).sum(axis=time_axis) / (mse_t.shape[time_axis] - n_bad)
    return np.sqrt(mean), n_bad


def lat_weighted_acc(forecast, truth, climatology, lat_deg, time_axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """WeatherBench-2 ACC: per initialisation, the latitude-weighted correlation of forecast and truth
    anomalies from ``climatology`` (broadcastable to the arrays), averaged over time. Returns (acc, n_bad)."""
    num, ff, oo = _field_stats(forecast, truth, climatology, lat_deg, "acc")
    den = np.sqrt(ff * oo)
    bad = ~(np.isfinite(num) & np.isfinite(den))
    # A forecast with no anomaly at all (e.g. climatology itself) has no correlation: scored 0, not failed.
    with np.errstate(invalid="ignore", divide="ignore"):
        acc_t = np.where(bad | (den == 0), 0.0, num / np.where(den == 0, 1.0, den))
    n_bad = bad.sum(axis=time_axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = acc_t.sum(axis=time_axis) / (acc_t.shape[time_axis] - n_bad)
    return mean, n_bad


def doy_climatology(values, day_of_year, n_days: int = 366) -> np.ndarray:
    """Day-of-year climatology: mean of ``values`` (time, ...) per day of year (1..366) -> (n_days, ...).
    Days with no sample get the all-time mean."""
    v = _f(values)
    doy = np.asarray(day_of_year, dtype=np.int64) - 1
    sums = np.zeros((n_days, *v.shape[1:]))
    np.add.at(sums, doy, v)
    counts = np.bincount(doy, minlength=n_days).astype(np.float64)
    clim = np.empty_like(sums)
    have = counts > 0
    clim[have] = sums[have] / counts[have].reshape(-1, *([1] * (v.ndim - 1)))
    clim[~have] = v.mean(axis=0)
    return clim


# ----------------------------------------------------------------------------------- registry, bootstrap

METRICS: dict[str, Callable[..., float]] = {
    "mae": mae,
    "rmse": rmse,
    "r2": r2,
    "accuracy": accuracy,
    "balanced_accuracy": balanced_accuracy,
    "f1_macro": f1_macro,
    "roc_auc": roc_auc,
    "exact_match": exact_match,
    "mc_accuracy": multiple_choice_accuracy,
}
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "r2": True, "accuracy": True, "balanced_accuracy": True,
                    "f1_macro": True, "roc_auc": True, "exact_match": True, "mc_accuracy": True, "acc": True}


def bootstrap_ci(metric: Callable[..., float], y_true, y_pred, *, n_boot: int = 500, seed: int = 0,
                 alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over items (first axis), resampled with a fixed seed."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    n = len(t)
    rng = np.random.default_rng(seed)
    vals = np.empty(n_boot)
    for b in range(n_boot):
        idx = rng.integers(0, n, n)
        vals[b] = metric(t[idx], p[idx])
    vals = vals[np.isfinite(vals)]
    if not len(vals):
        return float("nan"), float("nan")
    lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


@dataclass
class Evaluation:
    """Scores on the usable items with the counts of the unusable ones; ``ok`` False when none is usable."""

    n_items: int
    n_nonfinite: int
    n_exploding: int
    scores: dict[str, float] = field(default_factory=dict)
    ci: dict[str, list[float]] = field(default_factory=dict)
    details: dict[str, object] = field(default_factory=dict)  # e.g. non-finite values per variable
    ok: bool = True
    error: str | None = None


def evaluate(metrics: Sequence[str], y_true, y_pred, *, bound: float | None = None, ci: bool = True,
             seed: int = 0) -> Evaluation:
    """Screen ``y_pred``, score every metric in ``metrics`` on the usable items, with bootstrap intervals."""
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.shape[0] != p.shape[0]:
        return Evaluation(int(t.shape[0]), 0, 0, ok=False,
                          error=f"expected {t.shape[0]} predictions, got {p.shape[0]}")
    s = screen(p, bound)
    ev = Evaluation(s.n_items, s.n_nonfinite, s.n_exploding)
    if not s.mask.any():
        ev.ok, ev.error = False, "no finite prediction"
        return ev
    t, p = t[s.mask], p[s.mask]
    for name in metrics:
        fn = METRICS[name]
        ev.scores[name] = fn(t, p)
        if ci:
            ev.ci[name] = list(bootstrap_ci(fn, t, p, seed=seed))
    return ev
