"""Mauna Loa CO2 forecasting (climate suite): monthly mean CO2 (ppm) from the weekly Mauna Loa record
shipped with statsmodels (``statsmodels.datasets.co2``, 1958-03 … 2001-12; NOAA/Scripps data, public
domain). Months with no weekly value are linearly interpolated. Train: 1958-03 … 1997-12; test: the 48
months 1998-01 … 2001-12, forecast from the end of training. Baselines: seasonal naive (the last training
year repeated), linear trend with month-of-year means (OLS on the last ten training years), and the training mean."""

from __future__ import annotations

import importlib.util

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

TEST_FROM = 1998


def available() -> bool:
    """Whether statsmodels (the data's source) is installed (optional extra ``science``)."""
    return importlib.util.find_spec("statsmodels") is not None  # found, not imported: fast start


def monthly_series() -> tuple[list[str], np.ndarray]:
    """Monthly means as (["1958-03", ...], values), gaps linearly interpolated."""
    from statsmodels.datasets import co2

    df = co2.load_pandas().data
    years = df.index.year.to_numpy()
    months = df.index.month.to_numpy()
    vals = df["co2"].to_numpy(dtype=np.float64)
    key = (years - years[0]) * 12 + months - months[0]
    n = int(key.max()) + 1
    sums = np.bincount(key, weights=np.nan_to_num(vals), minlength=n)
    counts = np.bincount(key, weights=np.isfinite(vals).astype(float), minlength=n)
    with np.errstate(invalid="ignore"):
        monthly = sums / counts
    idx = np.arange(n)
    have = np.isfinite(monthly)
    monthly[~have] = np.interp(idx[~have], idx[have], monthly[have])
    labels = [f"{years[0] + (months[0] - 1 + i) // 12}-{(months[0] - 1 + i) % 12 + 1:02d}" for i in idx]
    return labels, monthly


def _load(split: str) -> TaskData:
    labels, values = monthly_series()
    t = np.array([int(x[:4]) + (int(x[5:]) - 0.5) / 12 for x in labels])  # decimal year, mid-month
    month = np.array([int(x[5:]) for x in labels])
    sel = t >= TEST_FROM if split == "test" else t < TEST_FROM
    inputs = np.stack([t[sel], month[sel]], axis=1)
    return TaskData([lab for lab, s in zip(labels, sel, strict=True) if s], inputs, values[sel])


def seasonal_naive(task: Task, data: TaskData) -> np.ndarray:
    """The value of the same calendar month in the last training year."""
    train = task.load("train")
    last = {int(m): v for m, v in zip(train.inputs[-12:, 1], train.targets[-12:], strict=True)}
    return np.array([last[int(m)] for m in data.inputs[:, 1]])


def linear_trend(task: Task, data: TaskData) -> np.ndarray:
    """OLS on time plus 12 month-of-year intercepts, fitted on the last ten training years."""

    def design(x: np.ndarray) -> np.ndarray:
        dummies = (x[:, 1:2].astype(int) == np.arange(1, 13)[None, :]).astype(float)
        return np.column_stack([x[:, 0] - 1980.0, dummies])

    train = task.load("train")
    coef, *_ = np.linalg.lstsq(design(train.inputs[-120:]), train.targets[-120:], rcond=None)
    return design(data.inputs) @ coef


def mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean for every month."""
    return np.full(len(data.item_ids), task.load("train").targets.mean())


TASK = Task(
    id="co2-maunaloa",
    version="1.0.0",
    title="Mauna Loa CO2, monthly, 48-month forecast",
    domain="weather",
    suite="climate",
    description=__doc__ or "",
    source="statsmodels.datasets.co2 (weekly, Mauna Loa Observatory, Scripps/NOAA)",
    licence="public domain",
    input_spec={"columns": ["decimal_year", "month"]},
    target_spec={"column": "co2", "unit": "ppm"},
    metrics=["rmse", "mae", "r2"],
    headline="rmse",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-seasonal-naive": seasonal_naive, "baseline-linear-trend": linear_trend,
               "baseline-mean": mean},
    bound=1e4,
)
