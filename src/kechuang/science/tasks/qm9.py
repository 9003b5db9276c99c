"""QM9 HOMO–LUMO gap (matter suite, slow tier) from the copy of QM9 that ships inside ``qm9pack``
(``qm9pack/data/qm9_part{1,2,3}.csv``, 130 831 molecules with up to 9 heavy atoms C, N, O, F; B3LYP/6-31G(2df,p);
Ramakrishnan et al., Sci. Data 1, 140022 (2014)). No download: the CSV files are inside the wheel (≈ 225 MB).

Target: the HOMO–LUMO gap in eV (the file's hartree × 27.211386). Input: the SMILES (GDB-17 / relaxed
geometry) and the stoichiometry (numbers of H, C, N, O, F). Split: seeded random 80/20 over molecules
(``numpy.random.default_rng(0)``; 26 166 test molecules). Baselines: training mean; ridge regression on the
composition (five atom counts); ridge regression on composition plus RDKit bond and ring counts.

Slow tier: reading the data takes tens of seconds, so the task is registered and its baselines run only
by ``kechuang science seed --slow`` (and by tests marked ``slow``), not by ``make run``."""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path

import numpy as np

from kechuang.science.tasks.base import Task, TaskData
from kechuang.science.tasks.molecules import ridge_fit_predict

HARTREE_EV = 27.211386245988
SPLIT_SEED = 0
TEST_FRACTION = 0.2
ELEMENTS = ("H", "C", "N", "O", "F")


def available() -> bool:
    """Whether qm9pack (the data) and RDKit are installed (optional extra ``science``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("qm9pack", "rdkit"))


def data_dir() -> Path:
    """The data folder inside the installed qm9pack package."""
    return Path(next(iter(importlib.util.find_spec("qm9pack").submodule_search_locations))) / "data"


@cache
def _all() -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    import pandas as pd

    cols = ["Index", "SMILES", "Stoichiometry", "HOMO_LUMO_gap_au"]
    df = pd.concat([pd.read_csv(data_dir() / f"qm9_part{i}.csv", usecols=cols) for i in (1, 2, 3)],
                   ignore_index=True).sort_values("Index", kind="stable")
    ids = [f"qm9-{i:06d}" for i in df["Index"]]
    comp = np.array([json.loads(s) for s in df["Stoichiometry"]], dtype=np.float64)
    return ids, df["SMILES"].to_numpy(object), comp, df["HOMO_LUMO_gap_au"].to_numpy(float) * HARTREE_EV


def _load(split: str) -> TaskData:
    ids, smiles, comp, y = _all()
    n = len(ids)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    test = np.zeros(n, dtype=bool)
    test[perm[: round(n * TEST_FRACTION)]] = True
    idx = np.flatnonzero(test if split == "test" else ~test)
    inputs = np.empty((len(idx), 1 + len(ELEMENTS)), dtype=object)
    inputs[:, 0] = smiles[idx]
    inputs[:, 1:] = comp[idx]
    return TaskData([ids[i] for i in idx], inputs, y[idx])


def structure_counts(smiles) -> np.ndarray:
    """Single, double, triple and aromatic bonds, rings, aromatic rings per molecule (RDKit; zeros when a
    SMILES does not parse)."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import rdMolDescriptors

    RDLogger.DisableLog("rdApp.*")
    kinds = (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE, Chem.BondType.AROMATIC)
    out = np.zeros((len(smiles), 6))
    for i, s in enumerate(smiles):
        m = Chem.MolFromSmiles(s)
        if m is None:
            continue
        types = [b.GetBondType() for b in m.GetBonds()]
        out[i, :4] = [types.count(k) for k in kinds]
        out[i, 4] = rdMolDescriptors.CalcNumRings(m)
        out[i, 5] = rdMolDescriptors.CalcNumAromaticRings(m)
    return out


def mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean gap."""
    return np.full(len(data.item_ids), task.load("train").targets.mean())


def composition_ridge(task: Task, data: TaskData) -> np.ndarray:
    """Ridge regression on the numbers of H, C, N, O, F atoms."""
    train = task.load("train")
    return ridge_fit_predict(train.inputs[:, 1:].astype(float), train.targets, data.inputs[:, 1:].astype(float))


def structure_ridge(task: Task, data: TaskData) -> np.ndarray:
    """Ridge regression on composition plus bond-type and ring counts (RDKit)."""
    train = task.load("train")

    def feats(d: TaskData) -> np.ndarray:
        return np.hstack([d.inputs[:, 1:].astype(float), structure_counts(d.inputs[:, 0])])

    return ridge_fit_predict(feats(train), train.targets, feats(data))


TASK = Task(
    id="qm9-homo-lumo-gap",
    version="1.0.0",
    title="QM9 HOMO–LUMO gap (qm9pack; slow tier)",
    domain="matter",
    suite="matter",
    description=(
        "Predict the HOMO–LUMO gap (eV, B3LYP/6-31G(2df,p)) of a QM9 molecule from its SMILES and composition. "
        "Data: QM9 (Ramakrishnan et al., Sci. Data 1, 140022 (2014)), 130 831 molecules, read from the CSV "
        "files inside the qm9pack package. Split: random 80/20, numpy default_rng(0), 26 166 test molecules. "
        "Baselines: training mean; ridge regression on atom counts; ridge regression on atom counts plus bond "
        "and ring counts (RDKit). Slow tier: registered by 'kechuang science seed --slow'."),
    source="qm9pack/data/qm9_part{1,2,3}.csv (QM9, Ramakrishnan et al., Sci. Data 1, 140022 (2014)); "
           "random split seed 0, 20 % test",
    licence="qm9pack: see package; QM9: CC0-1.0 (figshare release)",
    input_spec={"columns": ["smiles", *(f"n_{e}" for e in ELEMENTS)]},
    target_spec={"column": "homo_lumo_gap", "unit": "eV"},
    metrics=["mae", "rmse", "r2"],
    headline="mae",
    higher_is_better=False,
    loader=_load,
    baselines={"baseline-mean": mean, "baseline-composition-ridge": composition_ridge,
               "baseline-structure-ridge": structure_ridge},
    bound=100.0,
    tier="slow",
    dataset={
        "slug": "qm9-gap", "version": "1.0.0",
        "name": "QM9: HOMO–LUMO gaps of 130 831 small organic molecules (qm9pack build)",
        "description": "B3LYP/6-31G(2df,p) HOMO–LUMO gaps (eV) of the QM9 molecules with SMILES and "
                       "composition, split 80/20 at random (seed 0) for the kechuang task qm9-homo-lumo-gap.",
        "creators": [{"name": "Raghunathan Ramakrishnan"}, {"name": "Pavlo O. Dral"},
                     {"name": "Matthias Rupp"}, {"name": "O. Anatole von Lilienfeld"}],
        "licence": "CC0-1.0 (QM9 release)", "publisher": "qm9pack (PyPI)", "publication_year": 2014,
        "identifier": "https://doi.org/10.1038/sdata.2014.22", "subjects": ["quantum chemistry"],
        "temporal_coverage": None, "spatial_coverage": None,
        "provenance": "qm9pack/data/qm9_part{1,2,3}.csv columns Index, SMILES, Stoichiometry, HOMO_LUMO_gap_au",
        "related_identifiers": [{"identifier": "https://doi.org/10.1038/sdata.2014.22",
                                 "relation": "IsDerivedFrom", "type": "DOI"},
                                {"identifier": "https://pypi.org/project/qm9pack/", "relation": "IsDerivedFrom",
                                 "type": "URL"}],
        "schema": {"fields": [{"name": "item_id", "type": "string"}, {"name": "smiles", "type": "string"},
                              {"name": "homo_lumo_gap", "type": "number", "minimum": 0, "maximum": 30,
                               "unit": "eV"}]},
        "access_level": "open",
    },
)
