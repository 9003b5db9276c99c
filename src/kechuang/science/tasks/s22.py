"""S22x5 interaction energies (matter suite): the S22 set of non-covalent dimers (Jurečka et al. 2006)
at five intermolecular distances (0.9, 1.0, 1.2, 1.5, 2.0 × equilibrium) with reference interaction
energies in eV as shipped by ase (``ase.data.s22``, S22x5 of Gráfová et al. 2010). Inputs per item: atoms
in the dimer, heavy atoms, hydrogens, distance factor. Split by dimer (no dimer in both): odd S22 numbers
train, even numbers test (11 dimers × 5 distances = 55 items). Baselines: training mean, and the training
mean per distance factor."""

from __future__ import annotations

import importlib.util

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

FACTORS = (0.9, 1.0, 1.2, 1.5, 2.0)


def available() -> bool:
    """Whether ase (the data's source) is installed (optional extra ``science``)."""
    return importlib.util.find_spec("ase") is not None  # found, not imported: fast start


def _load(split: str) -> TaskData:
    from ase.data import s22

    ids, inputs, targets = [], [], []
    for name in s22.s22:
        d = s22.data[name]
        number = int(d["s26_number"])
        if (number % 2 == 1) != (split == "train"):
            continue
        n_atoms = len(d["symbols"]) if isinstance(d["symbols"], list) else sum(d["dimer atoms"])
        n_h = sum(1 for a in _symbols(d["symbols"]) if a == "H")
        for f, e in zip(FACTORS, d["interaction energies s22x5"], strict=True):
            ids.append(f"{name}@{f}")
            inputs.append([n_atoms, n_atoms - n_h, n_h, f])
            targets.append(e)
    return TaskData(ids, np.array(inputs, dtype=np.float64), np.array(targets))


def _symbols(formula: str) -> list[str]:
    out: list[str] = []
    for ch in formula:
        if ch.isupper():
            out.append(ch)
        elif out:
            out[-1] += ch
    return out


def mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean interaction energy."""
    return np.full(len(data.item_ids), task.load("train").targets.mean())


def distance_mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean at the same distance factor."""
    train = task.load("train")
    by_factor = {f: train.targets[train.inputs[:, 3] == f].mean() for f in FACTORS}
    return np.array([by_factor[f] for f in data.inputs[:, 3]])


TASK = Task(
    id="s22x5-interaction-energy",
    version="1.0.0",
    title="S22x5 non-covalent interaction energies (ase)",
    domain="matter",
    suite="matter",
    description=__doc__ or "",
    source="ase.data.s22 (S22: Jurečka et al., PCCP 8, 1985 (2006); S22x5: Gráfová et al., JCTC 6, 2365 (2010))",
    licence="ase: LGPL-2.1-or-later; reference values from the cited publications",
    input_spec={"columns": ["n_atoms", "n_heavy", "n_hydrogen", "distance_factor"]},
    target_spec={"column": "interaction_energy", "unit": "eV"},
    metrics=["mae", "rmse", "r2"],
    headline="mae",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-mean": mean, "baseline-distance-mean": distance_mean},
    bound=100.0,
)
