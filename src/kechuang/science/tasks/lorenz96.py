"""Lorenz-96 forecasting (weather suite): a chaotic 40-variable toy atmosphere (Lorenz 1996), generated
with a seeded RK4 integrator, F = 8, dt = 0.05 model time units (≈ 6 h). Each item is one initial state
observed with Gaussian noise (σ = 0.1); the target is the true state at 10 lead times (0.1 … 1.0 MTU).
Baselines: persistence, climatology (training mean per variable) and the perfect model (the true
equations started from the noisy observation: only initial-condition error remains)."""

from __future__ import annotations

import numpy as np

from kechuang.science.metrics import Evaluation, bootstrap_ci, lat_weighted_acc, lat_weighted_rmse, screen
from kechuang.science.tasks.base import Task, TaskData

K, FORCING, DT = 40, 8.0, 0.05
LEAD_STEPS = tuple(range(2, 21, 2))  # 0.1 … 1.0 MTU
OBS_NOISE = 0.1
SPIN_UP = 500
SIZES = {"train": 1000, "valid": 100, "test": 200}
SEEDS = {"train": 961, "valid": 962, "test": 963}


def tendency(x: np.ndarray, forcing: float = FORCING) -> np.ndarray:
    """dX_k/dt = (X_{k+1} - X_{k-2}) X_{k-1} - X_k + F on a ring (last axis)."""
    return (np.roll(x, -1, -1) - np.roll(x, 2, -1)) * np.roll(x, 1, -1) - x + forcing


def rk4_step(x: np.ndarray, dt: float = DT) -> np.ndarray:
    """One classical Runge-Kutta step."""
    k1 = tendency(x)
    k2 = tendency(x + 0.5 * dt * k1)
    k3 = tendency(x + 0.5 * dt * k2)
    k4 = tendency(x + dt * k3)
    return x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


def integrate(x: np.ndarray, steps: int) -> np.ndarray:
    """Integrate ``steps`` RK4 steps; returns the states after each step, shape (steps, *x.shape)."""
    out = np.empty((steps, *x.shape))
    for s in range(steps):
        x = rk4_step(x)
        out[s] = x
    return out


def _load(split: str) -> TaskData:
    rng = np.random.default_rng(SEEDS[split])
    n = SIZES[split]
    x = FORCING + rng.normal(scale=1.0, size=(n, K))
    for _ in range(SPIN_UP):  # independent members on the attractor
        x = rk4_step(x)
    traj = integrate(x, max(LEAD_STEPS))  # (steps, n, K)
    targets = np.stack([traj[s - 1] for s in LEAD_STEPS], axis=1)  # (n, leads, K)
    inputs = x + rng.normal(scale=OBS_NOISE, size=x.shape)
    return TaskData([f"{split}-{i:04d}" for i in range(n)], inputs, targets,
                    {"lead_time_mtu": [round(s * DT, 4) for s in LEAD_STEPS], "truth_t0": x})


def _climatology(task: Task) -> np.ndarray:
    return task.load("train").targets.mean(axis=(0, 1))  # per variable


def persistence(task: Task, data: TaskData) -> np.ndarray:
    """The observed initial state at every lead."""
    return np.repeat(data.inputs[:, None, :], len(LEAD_STEPS), axis=1)


def climatology(task: Task, data: TaskData) -> np.ndarray:
    """The training mean of each variable at every lead."""
    return np.broadcast_to(_climatology(task), data.targets.shape).copy()


def perfect_model(task: Task, data: TaskData) -> np.ndarray:
    """The true equations integrated from the noisy observation."""
    traj = integrate(np.asarray(data.inputs, dtype=np.float64), max(LEAD_STEPS))
    return np.stack([traj[s - 1] for s in LEAD_STEPS], axis=1)


def score(task: Task, data: TaskData, pred: np.ndarray, seed: int = 0) -> Evaluation:
    """RMSE and ACC (anomalies from the training climatology) by lead time; headline = mean over leads."""
    pred = np.asarray(pred, dtype=np.float64)
    if pred.shape != data.targets.shape:
        return Evaluation(len(data.item_ids), 0, 0, ok=False,
                          error=f"predictions have shape {pred.shape}, expected {data.targets.shape}")
    s = screen(pred, task.bound)
    ev = Evaluation(s.n_items, s.n_nonfinite, s.n_exploding)
    if not s.mask.any():
        ev.ok, ev.error = False, "no finite prediction"
        return ev
    f = pred[s.mask][:, :, None, :]  # (items, leads, lat=1, lon=K): a ring on the equator
    o = data.targets[s.mask][:, :, None, :]
    clim = _climatology(task)
    rmse, _ = lat_weighted_rmse(f.copy(), o, [0.0])
    acc, _ = lat_weighted_acc(f.copy(), o, clim, [0.0])
    ev.scores["rmse"] = float(rmse.mean())
    ev.scores["acc"] = float(acc.mean())
    for lead, r, a in zip(data.context["lead_time_mtu"], rmse, acc, strict=True):
        ev.scores[f"rmse@{lead}"] = float(r)
        ev.scores[f"acc@{lead}"] = float(a)

    def headline(t, p):
        return float(lat_weighted_rmse(p[:, :, None, :].copy(), t[:, :, None, :], [0.0])[0].mean())

    ev.ci["rmse"] = list(bootstrap_ci(headline, data.targets[s.mask], pred[s.mask], n_boot=200, seed=seed))
    return ev


TASK = Task(
    id="lorenz96-forecast",
    version="1.0.0",
    title="Lorenz-96 forecasting (40 variables, 0.1–1.0 MTU)",
    domain="weather",
    suite="weather",
    description=__doc__ or "",
    source=f"generated: RK4, K={K}, F={FORCING}, dt={DT}, spin-up {SPIN_UP}, seeds {SEEDS}, noise σ={OBS_NOISE}",
    licence="CC0-1.0",
    input_spec={"shape": ["item", K], "meaning": "observed state at t0 (truth + N(0, 0.1²))"},
    target_spec={"shape": ["item", len(LEAD_STEPS), K], "lead_time_mtu": [round(s * DT, 4) for s in LEAD_STEPS]},
    metrics=["rmse", "acc"],
    headline="rmse",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-persistence": persistence, "baseline-climatology": climatology,
               "baseline-perfect-model": perfect_model},
    splits=("train", "valid", "test"),
    bound=1e3,
    scorer=score,
)
