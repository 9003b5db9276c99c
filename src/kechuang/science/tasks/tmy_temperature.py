"""Next-day mean air temperature from the typical-meteorological-year (TMY3) files shipped with pvlib
(``pvlib/data/723170TYA.CSV`` Greensboro NC and ``703165TY.csv`` Sand Point AK; NREL, public). Hourly
temperatures are averaged per day; an item is (station, day d) with input today's mean temperature, day of
year and station, and target the mean on day d + 1. Train: days 1–273 (Jan–Sep); test: days 274–364
(Oct–Dec). TMY months come from different years, so month boundaries carry a small jump. Baselines:
persistence, and a per-station AR(1) line (tomorrow = a + b · today, least squares on the training days)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

STATIONS = ("723170TYA.CSV", "703165TY.csv")
TRAIN_LAST_DAY = 273


def available() -> bool:
    """Whether pvlib (the data's source) is installed (optional extra ``science``)."""
    return importlib.util.find_spec("pvlib") is not None  # found, not imported: fast start


def daily_means() -> dict[str, np.ndarray]:
    """Station file → 365 daily mean air temperatures (°C)."""
    import pvlib

    base = Path(pvlib.__file__).parent / "data"
    out = {}
    for name in STATIONS:
        data, _meta = pvlib.iotools.read_tmy3(base / name, map_variables=True)
        out[name] = data["temp_air"].to_numpy(dtype=np.float64)[:8760].reshape(365, 24).mean(axis=1)
    return out


def _load(split: str) -> TaskData:
    ids, inputs, targets = [], [], []
    for s, (name, temps) in enumerate(daily_means().items()):
        for d in range(1, 365):  # day d (1-based) -> d + 1
            if (d <= TRAIN_LAST_DAY) != (split == "train"):
                continue
            ids.append(f"{name.split('T')[0]}-{d:03d}")
            inputs.append([temps[d - 1], d, s])
            targets.append(temps[d])
    return TaskData(ids, np.array(inputs), np.array(targets))


def persistence(task: Task, data: TaskData) -> np.ndarray:
    """Tomorrow's mean = today's mean."""
    return data.inputs[:, 0].copy()


def ar1(task: Task, data: TaskData) -> np.ndarray:
    """Per station, tomorrow = a + b · today fitted on the training days."""
    train = task.load("train")
    out = np.empty(len(data.item_ids))
    for s in np.unique(data.inputs[:, 2]):
        tr = train.inputs[:, 2] == s
        b, a = np.polyfit(train.inputs[tr, 0], train.targets[tr], 1)
        sel = data.inputs[:, 2] == s
        out[sel] = a + b * data.inputs[sel, 0]
    return out


TASK = Task(
    id="tmy-next-day-temperature",
    version="1.0.0",
    title="Next-day mean temperature, two TMY3 stations (pvlib)",
    domain="weather",
    suite="weather",
    description=__doc__ or "",
    source="pvlib/data 723170TYA.CSV, 703165TY.csv (NREL TMY3)",
    licence="public domain (NREL)",
    input_spec={"columns": ["temp_today_c", "day_of_year", "station_index"]},
    target_spec={"column": "temp_tomorrow_c", "unit": "°C"},
    metrics=["rmse", "mae", "r2"],
    headline="rmse",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-persistence": persistence, "baseline-ar1": ar1},
    bound=100.0,
)
