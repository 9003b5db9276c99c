"""Bulk modulus of the elemental crystals of the Δ-codes DFT benchmark (matter suite), from ase's
``ase.collections.dcdft``: 71 elements (H to Rn without the lanthanides) in their reference crystal
structures with the all-electron WIEN2k PBE equation-of-state parameters (equilibrium volume V0, bulk
modulus B0, its pressure derivative B1; Lejaeghere et al., Science 351, aad3000 (2016)).

Target: log10(B0 / GPa), as in Matbench's ``matbench_log_kvrh`` (the spread runs from 0.55 GPa for Xe to
397 GPa for Os). Input: the element only — atomic number, period, group, atomic mass and covalent
radius (ase.data); the crystal's volume is withheld (it is V0, half the answer). Split: seeded random 70/30
over elements (``numpy.random.default_rng(0)``; 21 test elements). Baselines: training mean; mean of the
3 training elements nearest in the periodic table ((period, group) distance); ridge regression on the five
element features."""

from __future__ import annotations

import importlib.util
from functools import cache

import numpy as np

from kechuang.science.tasks.base import Task, TaskData
from kechuang.science.tasks.molecules import ridge_fit_predict

SPLIT_SEED = 0
TEST_FRACTION = 0.3
FEATURES = ["atomic_number", "period", "group", "atomic_mass", "covalent_radius"]


def available() -> bool:
    """Whether ase (the data's source) is installed (optional extra ``science``)."""
    return importlib.util.find_spec("ase") is not None


def period_group(z: int) -> tuple[int, int]:
    """Period and IUPAC group (1-18) of element ``z``; lanthanides/actinides get group 3."""
    starts = [(1, 1), (3, 2), (11, 3), (19, 4), (37, 5), (55, 6), (87, 7)]
    period = max(p for s, p in starts if z >= s)
    first = dict((p, s) for s, p in starts)[period]
    k = z - first  # position within the period
    if period == 1:
        return 1, 1 if z == 1 else 18
    if period in (2, 3):
        return period, k + 1 if k < 2 else k + 11
    if period in (4, 5):
        return period, k + 1
    # periods 6 and 7: 2 s-block, 15 f-block (La..Lu in group 3), then groups 4-18
    if k < 2:
        return period, k + 1
    if k < 17:
        return period, 3
    return period, k - 13


@cache
def _all() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    from ase.collections import dcdft
    from ase.data import atomic_masses, atomic_numbers, covalent_radii

    names, x, y, extra = [], [], [], []
    for name in dcdft.names:
        kv = dcdft.data[name]
        z = atomic_numbers[name]
        p, g = period_group(z)
        names.append(name)
        x.append([z, p, g, float(atomic_masses[z]), float(covalent_radii[z])])
        y.append(np.log10(kv["wien2k_B"]))
        extra.append([kv["wien2k_volume"], kv["wien2k_B"], kv["wien2k_Bp"]])
    return names, np.array(x), np.array(y), np.array(extra)


def _load(split: str) -> TaskData:
    names, x, y, extra = _all()
    n = len(names)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    test = np.zeros(n, dtype=bool)
    test[perm[: round(n * TEST_FRACTION)]] = True
    idx = np.flatnonzero(test if split == "test" else ~test)
    return TaskData([names[i] for i in idx], x[idx], y[idx],
                    {"wien2k_v0_b0_b1": extra[idx]})


def mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean of log10 B0."""
    return np.full(len(data.item_ids), task.load("train").targets.mean())


def periodic_neighbours(task: Task, data: TaskData, k: int = 3) -> np.ndarray:
    """Mean log10 B0 of the ``k`` training elements nearest in (period, group); ties by atomic number."""
    train = task.load("train")
    order = np.argsort(train.inputs[:, 0], kind="stable")
    pg, yt = train.inputs[order][:, 1:3], train.targets[order]
    out = np.empty(len(data.item_ids))
    for i, row in enumerate(data.inputs):
        dist = np.hypot(pg[:, 0] - row[1], pg[:, 1] - row[2])
        out[i] = yt[np.argsort(dist, kind="stable")[:k]].mean()
    return out


def element_ridge(task: Task, data: TaskData) -> np.ndarray:
    """Ridge regression (alpha = 1, standardised features) on the five element features."""
    train = task.load("train")
    return ridge_fit_predict(train.inputs, train.targets, data.inputs)


TASK = Task(
    id="dcdft-bulk-modulus",
    version="1.0.0",
    title="Elemental bulk modulus, Δ-codes DFT set (ase)",
    domain="matter",
    suite="matter",
    description=(
        "Predict log10 of the bulk modulus B0 (GPa) of an element's reference crystal from the element alone "
        "(atomic number, period, group, mass, covalent radius). Data: ase's dcdft collection — all-electron "
        "WIEN2k PBE equations of state of 71 elemental crystals from the Δ-codes DFT benchmark (Lejaeghere et "
        "al., Science 351, aad3000 (2016)). Split: random 70/30, numpy default_rng(0), 21 test elements. "
        "Baselines: training mean; mean of the 3 training elements nearest in the periodic table; ridge "
        "regression on the five element features."),
    source="ase.collections.dcdft (WIEN2k PBE equation-of-state parameters of the Δ-codes DFT benchmark, "
           "Lejaeghere et al., Science 351, aad3000 (2016)); random split seed 0, 30 % test",
    licence="ase: LGPL-2.1-or-later; reference values from the cited publication",
    input_spec={"columns": FEATURES},
    target_spec={"column": "log10_bulk_modulus", "unit": "log10(GPa)"},
    metrics=["mae", "rmse", "r2"],
    headline="mae",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-mean": mean, "baseline-periodic-neighbours": periodic_neighbours,
               "baseline-descriptor-ridge": element_ridge},
    bound=10.0,
    dataset={
        "slug": "dcdft-elemental-eos", "version": "1.0.0",
        "name": "Equations of state of 71 elemental crystals (Δ-codes DFT, WIEN2k PBE; ase build)",
        "description": "log10 bulk modulus (GPa) of 71 elemental crystals from all-electron WIEN2k PBE "
                       "equations of state, with element features, split 70/30 at random (seed 0) for the "
                       "kechuang task dcdft-bulk-modulus.",
        "creators": [{"name": "Kurt Lejaeghere"}, {"name": "Stefaan Cottenier"},
                     {"name": "ase contributors (packaging)", "organisation": True}],
        "licence": "LGPL-2.1-or-later (ase)", "publisher": "ase (PyPI)", "publication_year": 2016,
        "identifier": "https://doi.org/10.1126/science.aad3000", "subjects": ["materials science", "DFT"],
        "temporal_coverage": None, "spatial_coverage": None,
        "provenance": "ase.collections.dcdft key-value pairs wien2k_volume, wien2k_B, wien2k_Bp",
        "related_identifiers": [{"identifier": "https://doi.org/10.1126/science.aad3000",
                                 "relation": "IsDerivedFrom", "type": "DOI"}],
        "schema": {"fields": [{"name": "item_id", "type": "string"},
                              *({"name": f, "type": "number"} for f in FEATURES),
                              {"name": "log10_bulk_modulus", "type": "number", "minimum": -2, "maximum": 3,
                               "unit": "log10(GPa)"}]},
        "access_level": "open",
    },
)
