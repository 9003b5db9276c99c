"""Gridded weather forecasting (weather suite) on SYNTHETIC data: a generated toy atmosphere on the
WeatherBench-2 5.625° grid (32 × 64), three variables — z500 (m2 s-2), t850 (K), t2m (K) — each a
latitude- and season-dependent climate plus red-noise anomalies that drift eastward by one grid box a day
(AR(1) with φ = 0.85 per day, spatially smoothed noise, seed 2024). Years 2001–2003 are the training
period (daily states; the day-of-year climatology is their mean in a ±30-day window, as WeatherBench 2
does over 1990–2019), 2004 validation, 2005 test: 73 initialisations (every 5th day) × leads of 1, 2, 3,
5 and 7 days. Scored WeatherBench-2 style: latitude-weighted RMSE and ACC (anomalies from the day-of-year
climatology at the valid time) per variable and lead; headline = ACC averaged over variables and leads.
Forecasts are uploaded as NetCDF or zipped Zarr. Baselines: persistence,
climatology, and damped advection (the anomaly moved east and damped by φ^lead: the generator's own
expected value, a near-perfect reference)."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np

from kechuang.science import gridded
from kechuang.science.metrics import Evaluation, bootstrap_ci, lat_weighted_acc, lat_weighted_rmse, screen
from kechuang.science.tasks.base import Task, TaskData

NLAT, NLON = 32, 64
LAT = tuple(float(x) for x in np.linspace(-90 + 90 / NLAT, 90 - 90 / NLAT, NLAT))
LON = tuple(float(x) for x in np.arange(NLON) * 360.0 / NLON)
VARIABLES = ("z500", "t850", "t2m")
UNITS = {"z500": "m2 s-2", "t850": "K", "t2m": "K"}
RANGES = {"z500": (40_000.0, 65_000.0), "t850": (150.0, 350.0), "t2m": (150.0, 350.0)}  # beyond: exploding
LEAD_DAYS = (1, 2, 3, 5, 7)
PHI, SEED, SHIFT = 0.85, 2024, 1
START = dt.date(2001, 1, 1)
YEARS = {"train": (2001, 2003), "valid": (2004, 2004), "test": (2005, 2005)}
INIT_EVERY = 5
WINDOW = 30  # days either side for the climatology


def available() -> bool:
    """Whether xarray and a NetCDF engine (forecast upload) are installed (optional extra ``science``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("h5netcdf", "xarray"))  # found, not imported: fast start


def _climate(doy: np.ndarray) -> np.ndarray:
    """The generator's seasonal climate (days, var, lat, lon) for day-of-year values ``doy`` (1-based)."""
    lat = np.deg2rad(np.asarray(LAT))[None, :, None]
    season = np.cos(2 * np.pi * (np.asarray(doy, dtype=np.float64) - 196) / 365.25)[:, None, None]
    s2 = np.sin(lat) ** 2
    lon = np.deg2rad(np.asarray(LON))[None, None, :]
    wave = np.cos(2 * lon) * np.cos(lat) ** 2  # a stationary planetary wave
    z = 55_500 - 4_500 * s2 + 900 * season * np.sin(lat) + 400 * wave
    t850 = 288 - 40 * s2 - 10 + 12 * season * np.sin(lat) + 3 * wave
    t2m = 300 - 45 * s2 + 15 * season * np.sin(lat) + 4 * wave
    return np.stack([np.broadcast_to(x, (len(doy), NLAT, NLON)) for x in (z, t850, t2m)], axis=1)


def _scale() -> np.ndarray:
    """Anomaly standard deviation per variable and latitude (var, lat, 1): larger in mid-latitudes."""
    lat = np.deg2rad(np.asarray(LAT))
    shape = 0.4 + np.abs(np.sin(2 * lat))
    return np.stack([800 * shape, 3.0 * shape, 2.5 * shape])[:, :, None]


def _smooth_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Spatially smooth unit-variance noise (n, var, lat, lon): Gaussian low-pass in longitude (FFT) and a
    [1, 2, 1] filter repeated along latitude; z500 and t850 share half their noise."""
    w = rng.standard_normal((n, len(VARIABLES), NLAT, NLON), dtype=np.float32)
    k = np.fft.rfftfreq(NLON, d=1.0 / NLON)
    w = np.fft.irfft(np.fft.rfft(w, axis=-1) * np.exp(-((k / 4.0) ** 2)), n=NLON, axis=-1)
    filt = np.eye(NLAT)
    step = np.eye(NLAT)
    step[1:-1] = 0.0
    for i in range(1, NLAT - 1):
        step[i, i - 1: i + 2] = (0.25, 0.5, 0.25)
    for _ in range(3):
        filt = step @ filt
    w = np.einsum("ij,nvjk->nvik", filt, w, optimize=True)
    w[:, 1] = 0.7 * w[:, 1] + 0.7 * w[:, 0]
    return w / w.std(axis=(0, 2, 3), keepdims=True)


def _days(first: int, last: int) -> list[dt.date]:
    d0, d1 = dt.date(first, 1, 1), dt.date(last, 12, 31)
    return [d0 + dt.timedelta(days=i) for i in range((d1 - d0).days + 1)]


_STATE: dict[str, np.ndarray] = {}


def _simulate() -> np.ndarray:
    """Daily states (days since START, var, lat, lon) from 2001-01-01 to 2006-01-10 (cached)."""
    if "truth" not in _STATE:
        n = (dt.date(2006, 1, 10) - START).days + 1
        rng = np.random.default_rng(SEED)
        noise = _smooth_noise(rng, n) * np.sqrt(1 - PHI**2)
        a = np.empty_like(noise)
        a[0] = noise[0] / np.sqrt(1 - PHI**2)
        for t in range(1, n):
            a[t] = PHI * np.roll(a[t - 1], SHIFT, axis=-1) + noise[t]
        doy = np.array([(START + dt.timedelta(days=i)).timetuple().tm_yday for i in range(n)])
        _STATE["truth"] = _climate(doy) + a * _scale()[None]
        _STATE["doy"] = doy
    return _STATE["truth"]


def day_index(d: dt.date) -> int:
    """Index of date ``d`` in the simulated series."""
    return (d - START).days


def climatology() -> np.ndarray:
    """Day-of-year climatology (366, var, lat, lon): mean of the training years' states in a ±30-day
    circular window around each day of year."""
    if "clim" not in _STATE:
        truth = _simulate()
        days = _days(*YEARS["train"])
        idx = [day_index(d) for d in days]
        doy = np.array([d.timetuple().tm_yday for d in days])
        sums = np.zeros((366, *truth.shape[1:]))
        counts = np.zeros(366)
        np.add.at(sums, doy - 1, truth[idx])
        np.add.at(counts, doy - 1, 1)
        # circular moving sum over ±WINDOW days (cumulative sums over the year padded on both sides)
        pad = np.concatenate([sums[-WINDOW:], sums, sums[:WINDOW]])
        cs = np.concatenate([np.zeros((1, *sums.shape[1:])), np.cumsum(pad, axis=0)])
        csum = cs[2 * WINDOW + 1:] - cs[: len(sums)]
        cpad = np.concatenate([counts[-WINDOW:], counts, counts[:WINDOW]])
        cc = np.concatenate([[0.0], np.cumsum(cpad)])
        ccount = cc[2 * WINDOW + 1:] - cc[: len(counts)]
        _STATE["clim"] = csum / ccount[:, None, None, None]
    return _STATE["clim"]


def _inits(split: str) -> list[dt.date]:
    return _days(*YEARS[split])[::INIT_EVERY]


def grid_spec(split: str = "test") -> gridded.GridSpec:
    """What an uploaded forecast for ``split`` must contain."""
    return gridded.GridSpec(VARIABLES, UNITS, tuple(d.isoformat() for d in _inits(split)), LEAD_DAYS, LAT, LON)


def _load(split: str) -> TaskData:
    truth = _simulate()
    if split == "train":  # daily states: a model's training data (target = next day)
        idx = [day_index(d) for d in _days(*YEARS["train"])]
        states = truth[idx[0]: idx[-1] + 2]
        return TaskData([d.isoformat() for d in _days(*YEARS["train"])], states[:-1], states[1:],
                        {"lat": LAT, "lon": LON, "variables": VARIABLES})
    inits = _inits(split)
    i0 = np.array([day_index(d) for d in inits])
    valid = i0[:, None] + np.asarray(LEAD_DAYS)[None, :]  # (init, lead)
    targets = truth[valid]  # (init, lead, var, lat, lon)
    valid_doy = _STATE["doy"][valid]
    return TaskData([d.isoformat() for d in inits], truth[i0], targets,
                    {"lat": LAT, "lon": LON, "variables": VARIABLES, "lead_days": LEAD_DAYS,
                     "valid_doy": valid_doy, "units": UNITS})


def persistence(task: Task, data: TaskData) -> np.ndarray:
    """The analysis at initialisation for every lead."""
    return np.repeat(data.inputs[:, None], len(LEAD_DAYS), axis=1)


def climatology_forecast(task: Task, data: TaskData) -> np.ndarray:
    """The day-of-year climatology at the valid time."""
    return climatology()[data.context["valid_doy"] - 1]


def damped_advection(task: Task, data: TaskData) -> np.ndarray:
    """Anomaly from the climatology moved east by ``lead`` grid boxes and damped by φ^lead."""
    clim = climatology()
    init_doy = np.array([dt.date.fromisoformat(i).timetuple().tm_yday for i in data.item_ids])
    anom = data.inputs - clim[init_doy - 1]
    out = np.empty(data.targets.shape)
    for j, lead in enumerate(LEAD_DAYS):
        out[:, j] = clim[data.context["valid_doy"][:, j] - 1] + PHI**lead * np.roll(anom, SHIFT * lead, axis=-1)
    return out


def score(task: Task, data: TaskData, pred: np.ndarray, seed: int = 0) -> Evaluation:
    """Latitude-weighted RMSE and ACC per variable and lead (WeatherBench 2); non-finite values are counted
    per initialisation and per variable, values outside a variable's physical range count as exploding."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != data.targets.shape:
        return Evaluation(len(data.item_ids), 0, 0, ok=False,
                          error=f"predictions have shape {pred.shape}, expected {data.targets.shape} "
                                "(init, lead, variable, lat, lon)")
    s = screen(pred)
    exploding = np.zeros(len(pred), dtype=bool)
    with np.errstate(invalid="ignore"):
        for k, v in enumerate(VARIABLES):
            lo, hi = RANGES[v]
            x = pred[:, :, k]
            exploding |= ((x < lo) | (x > hi)).reshape(len(pred), -1).any(axis=1)
    exploding &= s.mask
    mask = s.mask & ~exploding
    ev = Evaluation(s.n_items, s.n_nonfinite, int(exploding.sum()))
    ev.details["nonfinite_values"] = {v: int((~np.isfinite(pred[:, :, k])).sum()) for k, v in enumerate(VARIABLES)}
    ev.details["values"] = int(pred.size)
    if not mask.any():
        ev.ok, ev.error = False, "no finite, in-range forecast"
        return ev
    clim = climatology()[data.context["valid_doy"][mask] - 1]  # (init, lead, var, lat, lon)
    f, o = pred[mask], data.targets[mask]
    rmse, _ = lat_weighted_rmse(f.copy(), o, LAT)  # (lead, var)
    acc, _ = lat_weighted_acc(f, o, clim, LAT)
    ev.scores["acc"] = float(acc.mean())
    for j, lead in enumerate(LEAD_DAYS):
        ev.scores[f"acc@{lead}"] = float(acc[j].mean())
    for k, v in enumerate(VARIABLES):
        ev.scores[f"rmse.{v}"] = float(rmse[:, k].mean())
        ev.scores[f"acc.{v}"] = float(acc[:, k].mean())
        for j, lead in enumerate(LEAD_DAYS):
            ev.scores[f"rmse.{v}@{lead}"] = float(rmse[j, k])
            ev.scores[f"acc.{v}@{lead}"] = float(acc[j, k])
    # per-initialisation ACC (a singleton time axis), resampled over initialisations for the interval
    per_init, _ = lat_weighted_acc(f[None], o[None], clim[None], LAT)  # (init, lead, var)
    per_init = per_init.reshape(len(f), -1).mean(axis=1)

    def headline(t, p):
        return float(np.mean(p))

    ev.ci["acc"] = list(bootstrap_ci(headline, per_init, per_init, n_boot=1000, seed=seed))
    return ev


def read_file(task: Task, path: Path, fmt: str | None = None, info: dict | None = None) -> np.ndarray:
    """An uploaded forecast file (NetCDF or Zarr) as an array in the scoring layout (regridded bilinearly
    from another global grid; ``info`` then says so)."""
    return gridded.read_forecast(path, grid_spec(task.split), fmt, info)


TASK = Task(
    id="gridded-weather-forecast",
    version="1.0.0",
    title="Gridded weather forecasting, 5.625° (z500, t850, t2m; 1–7 days) — synthetic data",
    domain="weather",
    suite="weather",
    description=__doc__ or "",
    source=f"generated (synthetic): AR(1) φ={PHI}, eastward drift {SHIFT} box/day, seed {SEED}, "
           f"grid {NLAT}×{NLON}, train {YEARS['train']}, test {YEARS['test']}, every {INIT_EVERY}th day",
    licence="CC0-1.0",
    input_spec={"shape": ["init", len(VARIABLES), NLAT, NLON], "variables": list(VARIABLES), "units": UNITS,
                "meaning": "analysis (true state) at the initialisation time"},
    target_spec={"shape": ["init", len(LEAD_DAYS), len(VARIABLES), NLAT, NLON], "lead_days": list(LEAD_DAYS),
                 "file": "NetCDF or zipped Zarr: variables z500, t850, t2m with dims (init_time, lead_time, "
                         "lat, lon) and units attributes"},
    metrics=["acc", "rmse"],
    headline="acc",
    higher_is_better=True,
    loader=_load,
    baselines={"baseline-persistence": persistence, "baseline-climatology": climatology_forecast,
               "baseline-damped-advection": damped_advection},
    splits=("train", "valid", "test"),
    scorer=score,
)
gridded.READERS[TASK.id] = read_file
