"""PBMC cell-type classification (life suite) on scanpy's bundled ``pbmc68k_reduced``: 700 peripheral blood
mononuclear cells from the 10x Genomics "Fresh 68k PBMCs (Donor A)" data (Zheng et al., Nat. Commun. 8,
14049 (2017)), subsampled and preprocessed by scanpy (normalised, log, scaled; 765 genes), with the
``bulk_labels`` annotation (10 cell types, from 240 dendritic cells down to 8 naive CD4+ T cells).

The file sits inside the scanpy wheel (``scanpy/datasets/10x_pbmc68k_reduced.h5ad``) and is read with
anndata; no network. Input: the 765 scaled expression values of a cell. Target: the cell type (class index;
names in ``target_spec.classes``). Split: stratified seeded random 70/30 (``numpy.random.default_rng(0)``
within each class; 209 test cells). The stored ``X_pca`` of the file was computed on all cells, so the
baselines fit their own PCA (50 components) on the training cells only. Baselines: majority class;
multinomial logistic regression on the PCA embedding; k-nearest neighbours (k = 15, Euclidean) on it."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

from kechuang.science.tasks.base import Task, TaskData

SPLIT_SEED = 0
TEST_FRACTION = 0.3
N_PCS = 50
CLASSES = ["CD14+ Monocyte", "CD19+ B", "CD34+", "CD4+/CD25 T Reg", "CD4+/CD45RA+/CD25- Naive T",
           "CD4+/CD45RO+ Memory", "CD56+ NK", "CD8+ Cytotoxic T", "CD8+/CD45RA+ Naive Cytotoxic", "Dendritic"]


def available() -> bool:
    """Whether scanpy (which ships the file), anndata and scikit-learn are installed (extra ``science``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("scanpy", "anndata", "sklearn", "threadpoolctl"))


def data_file() -> Path:
    """The h5ad file inside the installed scanpy package (what ``scanpy.datasets.pbmc68k_reduced()`` reads)."""
    spec = importlib.util.find_spec("scanpy")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "10x_pbmc68k_reduced.h5ad"


@cache
def _all() -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    import warnings

    import anndata

    with warnings.catch_warnings():  # the file predates anndata's .obsp and encoding metadata (warnings)
        warnings.simplefilter("ignore")
        ad = anndata.read_h5ad(data_file())
    labels = [str(v) for v in ad.obs["bulk_labels"]]
    if sorted(set(labels)) != CLASSES:
        raise ValueError(f"unexpected cell types in {data_file().name}: {sorted(set(labels))}")
    y = np.array([CLASSES.index(v) for v in labels], dtype=np.float64)
    return list(map(str, ad.obs_names)), np.round(np.asarray(ad.X, dtype=np.float64), 6), y, list(map(str, ad.var_names))


def _load(split: str) -> TaskData:
    ids, x, y, genes = _all()
    rng = np.random.default_rng(SPLIT_SEED)
    test = np.zeros(len(ids), dtype=bool)
    for c in range(len(CLASSES)):
        members = np.flatnonzero(y == c)
        test[rng.permutation(members)[: round(len(members) * TEST_FRACTION)]] = True
    idx = np.flatnonzero(test if split == "test" else ~test)
    return TaskData([ids[i] for i in idx], x[idx], y[idx], {"input_columns": genes})


def _pca(task: Task, data: TaskData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.decomposition import PCA
    from threadpoolctl import threadpool_limits

    train = task.load("train")
    # one BLAS thread: the SVD is small, and multi-threaded OpenBLAS on a busy 2-core machine is ~30x slower
    with threadpool_limits(limits=1, user_api="blas"):
        pca = PCA(n_components=N_PCS, svd_solver="full").fit(train.inputs)
        return pca.transform(train.inputs), train.targets, pca.transform(data.inputs)


def majority(task: Task, data: TaskData) -> np.ndarray:
    """The most frequent training class for every cell."""
    counts = np.bincount(task.load("train").targets.astype(int), minlength=len(CLASSES))
    return np.full(len(data.item_ids), float(np.argmax(counts)))


def logistic_pca(task: Task, data: TaskData) -> np.ndarray:
    """Multinomial logistic regression (L2, C = 1, Newton-CG) on 50 PCs fitted on the training cells."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    z_train, y_train, z = _pca(task, data)
    with threadpool_limits(limits=1, user_api="blas"):
        clf = LogisticRegression(C=1.0, solver="newton-cg", max_iter=1000).fit(z_train, y_train.astype(int))
        return clf.predict(z).astype(np.float64)


def knn_pca(task: Task, data: TaskData) -> np.ndarray:
    """k = 15 nearest training cells (Euclidean, 50 PCs), majority vote (ties: lowest class index)."""
    z_train, y_train, z = _pca(task, data)
    out = np.empty(len(z))
    for i, row in enumerate(z):
        near = np.argsort(((z_train - row) ** 2).sum(1), kind="stable")[:15]
        out[i] = np.argmax(np.bincount(y_train[near].astype(int), minlength=len(CLASSES)))
    return out


TASK = Task(
    id="pbmc-cell-type",
    version="1.0.0",
    title="PBMC cell-type classification (scanpy pbmc68k_reduced)",
    domain="life",
    suite="life",
    description=(
        "Predict the annotated cell type (10 types) of a peripheral blood mononuclear cell from its 765 scaled "
        "gene-expression values. Data: scanpy's bundled pbmc68k_reduced (700 cells from 10x Genomics' Fresh 68k "
        "PBMCs, Zheng et al., Nat. Commun. 8, 14049 (2017)), read from the file inside the scanpy package. "
        "Split: stratified random 70/30, numpy default_rng(0) within each class, 209 test cells. Baselines fit "
        "their own 50-component PCA on the training cells (the file's stored PCA used all cells): majority "
        "class; logistic regression and 15-nearest neighbours on the PCA embedding. The labels come from "
        "correlation with purified bulk profiles and are noisy."),
    source="scanpy.datasets.pbmc68k_reduced() (scanpy/datasets/10x_pbmc68k_reduced.h5ad; 10x Genomics Fresh "
           "68k PBMCs, Zheng et al., Nat. Commun. 8, 14049 (2017)); stratified random split seed 0, 30 % test",
    licence="scanpy: BSD-3-Clause; data: 10x Genomics public dataset (CC-BY-4.0)",
    input_spec={"type": "scaled log-normalised expression", "n_genes": 765},
    target_spec={"column": "cell_type", "type": "class index", "classes": CLASSES},
    metrics=["accuracy", "balanced_accuracy", "f1_macro"],
    headline="balanced_accuracy",
    higher_is_better=True,
    loader=_load,
    baselines={"baseline-majority-class": majority, "baseline-logistic-pca": logistic_pca,
               "baseline-knn-pca": knn_pca},
    dataset={
        "slug": "pbmc68k-reduced", "version": "1.0.0",
        "name": "PBMC 68k, reduced: 700 annotated blood cells (scanpy build)",
        "description": "Scaled log-normalised expression of 765 genes in 700 peripheral blood mononuclear "
                       "cells with 10 annotated cell types, split 70/30 stratified at random (seed 0) for the "
                       "kechuang task pbmc-cell-type.",
        "creators": [{"name": "Grace X. Y. Zheng"}, {"name": "10x Genomics", "organisation": True},
                     {"name": "scanpy contributors (subsampling, preprocessing)", "organisation": True}],
        "licence": "CC-BY-4.0 (10x Genomics); scanpy packaging BSD-3-Clause", "publisher": "scanpy (PyPI)",
        "publication_year": 2017, "identifier": "https://doi.org/10.1038/ncomms14049",
        "subjects": ["single-cell transcriptomics", "immunology"],
        "temporal_coverage": None, "spatial_coverage": None,
        "provenance": "scanpy/datasets/10x_pbmc68k_reduced.h5ad read with anndata; X and obs.bulk_labels",
        "related_identifiers": [{"identifier": "https://doi.org/10.1038/ncomms14049", "relation": "IsDerivedFrom",
                                 "type": "DOI"},
                                {"identifier": "https://pypi.org/project/scanpy/", "relation": "IsDerivedFrom",
                                 "type": "URL"}],
        "schema": {"fields": [{"name": "item_id", "type": "string"}, {"name": "cell_type", "type": "string"}],
                   "label": "cell_type"},
        "access_level": "open",
    },
)
