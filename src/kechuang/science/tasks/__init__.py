"""Built-in evaluation tasks (no downloads) and the built-in baseline models that serve them."""

from __future__ import annotations

from kechuang.science.tasks import (
    co2,
    dcdft,
    gridded_weather,
    lorenz96,
    molecules,
    pbmc,
    qm9,
    s22,
    tmy_temperature,
    units_mc,
)
from kechuang.science.tasks.base import Predictor, Task, TaskData

__all__ = ["BASELINES", "TASKS", "Task", "TaskData", "baseline_for", "get_task"]


def _tasks() -> dict[str, Task]:
    tasks = [lorenz96.TASK, units_mc.TASK]
    if co2.available():
        tasks.append(co2.TASK)
    if tmy_temperature.available():
        tasks.append(tmy_temperature.TASK)
    if s22.available():
        tasks.append(s22.TASK)
    if gridded_weather.available():
        tasks.append(gridded_weather.TASK)
    if molecules.available():
        tasks += [molecules.SOLUBILITY, molecules.FREESOLV]
    if dcdft.available():
        tasks.append(dcdft.TASK)
    if pbmc.available():
        tasks.append(pbmc.TASK)
    if qm9.available():
        tasks.append(qm9.TASK)  # slow tier
    return {t.id: t for t in tasks}


TASKS: dict[str, Task] = _tasks()

# Baseline model id -> description; a baseline serves every task that lists it.
BASELINES: dict[str, str] = {
    "baseline-persistence": "Persistence: the latest observed state at every lead time.",
    "baseline-climatology": "Climatology: the training-period mean.",
    "baseline-perfect-model": "Perfect model: the true equations started from the observed (noisy) state.",
    "baseline-damped-advection": "Damped advection: the initial anomaly moved east and damped (gridded weather).",
    "baseline-seasonal-naive": "Seasonal naive: the same calendar month of the last training year.",
    "baseline-linear-trend": "Linear trend plus month-of-year means, fitted by least squares.",
    "baseline-mean": "Mean: the training-set mean target for every item.",
    "baseline-distance-mean": "Training mean at the same intermolecular distance factor.",
    "baseline-ar1": "AR(1): tomorrow = a + b · today, least squares on the training period.",
    "baseline-descriptor-ridge": "Ridge regression on a few task-specific descriptors (RDKit or element features).",
    "baseline-knn-morgan": "k = 5 nearest training molecules by Tanimoto similarity of Morgan fingerprints.",
    "baseline-esol-equation": "Delaney's published ESOL equation for aqueous solubility (not refitted).",
    "baseline-alchemical-calc": "FreeSolv's own alchemical free-energy calculation (physics reference).",
    "baseline-periodic-neighbours": "Mean of the 3 training elements nearest in the periodic table.",
    "baseline-majority-class": "The most frequent training class.",
    "baseline-logistic-pca": "Logistic regression on a PCA embedding fitted on the training cells.",
    "baseline-knn-pca": "k = 15 nearest training cells in a PCA embedding, majority vote.",
    "baseline-composition-ridge": "Ridge regression on atom counts (H, C, N, O, F).",
    "baseline-structure-ridge": "Ridge regression on atom counts plus bond and ring counts (RDKit).",
    "baseline-always-a": "Always answers option A (multiple choice).",
    "baseline-random-choice": "A seeded random option (multiple choice).",
}


def get_task(task_id: str) -> Task | None:
    """The built-in task with this id, or None."""
    return TASKS.get(task_id)


def baseline_for(model_id: str, task: Task) -> Predictor | None:
    """The predictor of baseline ``model_id`` for ``task`` (None when it does not serve the task)."""
    return task.baselines.get(model_id)
