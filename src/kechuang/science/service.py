"""AI for Science business rules and permission checks: datasets (metadata, files, quality, access,
cross-border review, audited downloads), models, built-in tasks and baselines, runs and leaderboards.
Callers: CLI (and later api/pages). Services flush; the caller commits."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kechuang.config import PROJECT_ROOT
from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import has, permission, require
from kechuang.db import utcnow
from kechuang.science import adapters, export, gridded, quality
from kechuang.science.models import (
    ACCESS_LEVELS,
    Dataset,
    DatasetAccessRequest,
    DatasetFile,
    DatasetQualityReport,
    EvaluationRun,
    EvaluationTask,
    ScienceModel,
)
from kechuang.science.tasks import BASELINES, TASKS, Task

_ALL = tuple(r for r in Role if r is not Role.SYSTEM)
READ = permission("science.read", *_ALL)  # registered users
PUBLISH = permission("science.publish", Role.RESEARCHER, Role.ENTERPRISE, Role.TTO, Role.SERVICE_PROVIDER,
                     Role.COMMISSION)
RUN = permission("science.run", Role.RESEARCHER, Role.ENTERPRISE, Role.TTO, Role.SERVICE_PROVIDER, Role.COMMISSION)
REVIEW = permission("science.review", Role.COMMISSION)  # cross-border review, access decisions of last resort
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
PREDICTIONS_DIR = PROJECT_ROOT / "var" / "science" / "predictions"
FILES_DIR = PROJECT_ROOT / "var" / "science" / "files"
ENV_PACKAGES = ("kechuang", "numpy", "polars", "statsmodels", "pandas", "scipy", "pvlib", "ase", "rdkit", "datamol",
                "scikit-learn", "scanpy", "anndata", "qm9pack")
BUILTIN_DATA_DIR = PROJECT_ROOT / "var" / "science" / "builtin"


# ------------------------------------------------------------------------------------------ datasets


def dataset_problems(meta: dict[str, Any]) -> list[FieldError]:
    """Missing or malformed Croissant/DataCite mandatory metadata."""
    errs = []
    for f in ("slug", "name", "description", "publisher", "identifier", "version", "publication_year"):
        if not meta.get(f):
            errs.append(FieldError(f, N_("This field is required.")))
    if not meta.get("creators"):
        errs.append(FieldError("creators", N_("At least one creator is required.")))
    if meta.get("version") and not SEMVER.match(str(meta["version"])):
        errs.append(FieldError("version", N_("Use a semantic version such as 1.0.0."), value=meta["version"]))
    if meta.get("access_level", "open") not in ACCESS_LEVELS:
        errs.append(FieldError("access_level", N_("Not an allowed value."), value=meta.get("access_level")))
    return errs


def _meta(ds: Dataset) -> dict[str, Any]:
    return {c: getattr(ds, c) for c in ("slug", "name", "description", "creators", "licence", "publisher",
                                         "publication_year", "identifier", "version", "subjects",
                                         "temporal_coverage", "spatial_coverage", "provenance",
                                         "related_identifiers", "schema", "access_level", "cross_border")}


def _files(ds: Dataset) -> list[dict[str, Any]]:
    return [{"name": f.name, "path": f.path, "split": f.split, "sha256": f.sha256, "size_bytes": f.size_bytes,
             "media_type": f.media_type} for f in ds.files]


def create_dataset(session: Session, principal: Principal, meta: dict[str, Any],
                   files: list[dict[str, Any]]) -> tuple[Dataset, DatasetQualityReport]:
    """Register a dataset version with its files (hashed here) and run the quality checks."""
    require(principal, PUBLISH)
    errs = dataset_problems(meta)
    for i, f in enumerate(files):
        if not Path(f["path"]).is_file():
            errs.append(FieldError("files", N_("File not found: {path}"), {"path": f["path"]}, row=i + 1))
    names = [f.get("name") or Path(f["path"]).name for f in files]
    for i, name in enumerate(names):
        if name in names[:i]:
            errs.append(FieldError("files", N_("Two files are named {name}."), {"name": name}, row=i + 1))
    if errs:
        raise ValidationFailed(errors=errs)
    if session.scalar(select(Dataset.id).where(Dataset.slug == meta["slug"], Dataset.version == meta["version"])):
        raise ValidationFailed(errors=[FieldError("version", N_("This version already exists; a data change bumps the version."),
                                           value=meta["version"])])
    cols = {k: meta.get(k) for k in ("slug", "name", "description", "licence", "publisher", "publication_year",
                                     "identifier", "version", "temporal_coverage", "spatial_coverage", "provenance")}
    ds = Dataset(**cols, creators=meta.get("creators") or [], subjects=meta.get("subjects") or [],
                 related_identifiers=meta.get("related_identifiers") or [], schema=meta.get("schema") or {},
                 access_level=meta.get("access_level") or "open", cross_border=bool(meta.get("cross_border")),
                 organisation_id=principal.organisation_id, created_by_user_id=principal.user_id,
                 is_synthetic=bool(meta.get("is_synthetic")))
    # Files are copied into a staging folder first and the checks read those copies; they move into the
    # content-addressed store only once the dataset row, its audit entry and its report are flushed, so a
    # refused or failing upload leaves no file behind (the database part is rolled back by the caller).
    FILES_DIR.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=FILES_DIR))
    try:
        checked, moves = [], []
        for i, f in enumerate(files):
            src = Path(f["path"]).resolve()
            name = f.get("name") or src.name
            base = Path(name).name if Path(name).name not in ("", ".", "..") else "file"
            staged = staging / str(i) / base
            staged.parent.mkdir()
            shutil.copyfile(src, staged)
            actual = quality.sha256_file(staged)
            stored = FILES_DIR / actual / base  # content-addressed copy owned by the platform
            moves.append((staged, stored))
            checked.append({**f, "name": name, "path": str(staged)})
            ds.files.append(DatasetFile(name=name, path=str(stored), media_type=f.get("media_type"),
                                        split=f.get("split"), sha256=actual, size_bytes=staged.stat().st_size))
        session.add(ds)
        session.flush()
        audit.record(session, principal, "science.dataset.create", "dataset", ds.id,
                     after={"slug": ds.slug, "version": ds.version, "files": [f.sha256 for f in ds.files]})
        report = _quality(session, principal, ds, checked)
        for staged, stored in moves:
            if not stored.exists():
                stored.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staged, stored)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ds, report


def _quality(session: Session, principal: Principal, ds: Dataset, files: list[dict[str, Any]]) -> DatasetQualityReport:
    score, checks = quality.run_checks(_meta(ds), files)
    report = DatasetQualityReport(dataset_id=ds.id, score=score, checks=checks)
    session.add(report)
    session.flush()
    audit.record(session, principal, "science.dataset.quality", "dataset", ds.id, after={"score": score})
    return report


def access_dataset_by_id(session: Session, principal: Principal, dataset_id: int) -> Dataset:
    """A dataset's metadata for a registered user (NotFound when missing)."""
    require(principal, READ)
    ds = session.scalar(select(Dataset).where(Dataset.id == dataset_id).options(selectinload(Dataset.files)))
    if ds is None:
        raise NotFound()
    return ds


def list_datasets(session: Session, principal: Principal) -> list[Dataset]:
    """The catalogue (metadata of every dataset is visible to registered users; files are gated)."""
    require(principal, READ)
    return list(session.scalars(select(Dataset).order_by(Dataset.slug, Dataset.id)))


def check_dataset(session: Session, principal: Principal, dataset_id: int) -> DatasetQualityReport:
    """Re-run the quality checks (checksums against the stored hashes) and store a new report."""
    ds = access_dataset_by_id(session, principal, dataset_id)
    if not (principal.role is Role.SYSTEM or ds.created_by_user_id == principal.user_id or has(principal, REVIEW)):
        raise PermissionDenied()
    return _quality(session, principal, ds, _files(ds))


def latest_report(session: Session, dataset_id: int) -> DatasetQualityReport | None:
    """The newest quality report of a dataset version."""
    return session.scalar(select(DatasetQualityReport).where(DatasetQualityReport.dataset_id == dataset_id)
                          .order_by(DatasetQualityReport.id.desc()).limit(1))


DIFF_FIELDS = ("name", "description", "creators", "licence", "publisher", "publication_year", "identifier",
               "subjects", "temporal_coverage", "spatial_coverage", "provenance", "related_identifiers", "schema",
               "access_level", "cross_border")


def dataset_versions(session: Session, principal: Principal, slug: str) -> list[tuple[Dataset, float | None]]:
    """Every registered version of a dataset (newest registration first) with its latest quality score."""
    require(principal, READ)
    versions = list(session.scalars(select(Dataset).where(Dataset.slug == slug).order_by(Dataset.id.desc())
                                    .options(selectinload(Dataset.files))))
    scores = {}
    for ds_id, score in session.execute(select(DatasetQualityReport.dataset_id, DatasetQualityReport.score)
                                        .where(DatasetQualityReport.dataset_id.in_([d.id for d in versions]))
                                        .order_by(DatasetQualityReport.id)):
        scores[ds_id] = score  # the newest report wins
    return [(d, scores.get(d.id)) for d in versions]


def diff_versions(session: Session, principal: Principal, dataset_id: int, other_id: int) -> dict[str, Any]:
    """What changed between two versions of one dataset, the earlier registration as ``old``: metadata
    fields whose values differ (``field``, ``old``, ``new``) and every file by name — ``added``, ``removed``,
    ``changed`` (another SHA-256, size or split) or ``unchanged`` — with both checksums and sizes. Versions
    of different datasets are refused on ``compare``; a missing one is NotFound."""
    a = access_dataset_by_id(session, principal, dataset_id)
    b = access_dataset_by_id(session, principal, other_id)
    if a.slug != b.slug:
        raise ValidationFailed(errors=[FieldError("compare", N_("Only versions of the same dataset can be compared."),
                                                  value=other_id)])
    old, new = (a, b) if a.id <= b.id else (b, a)
    fields = [{"field": f, "old": getattr(old, f), "new": getattr(new, f)} for f in DIFF_FIELDS
              if getattr(old, f) != getattr(new, f)]
    before, after = {f.name: f for f in old.files}, {f.name: f for f in new.files}
    files = []
    for name in sorted(before.keys() | after.keys()):
        o, n = before.get(name), after.get(name)
        if o is None:
            status = "added"
        elif n is None:
            status = "removed"
        elif (o.sha256, o.size_bytes, o.split) != (n.sha256, n.size_bytes, n.split):
            status = "changed"
        else:
            status = "unchanged"
        files.append({"name": name, "status": status,
                      "old_sha256": o.sha256 if o else None, "new_sha256": n.sha256 if n else None,
                      "old_size_bytes": o.size_bytes if o else None, "new_size_bytes": n.size_bytes if n else None,
                      "old_split": o.split if o else None, "new_split": n.split if n else None})
    return {"old": old, "new": new, "metadata": fields, "files": files}


def can_download(session: Session, principal: Principal, ds: Dataset) -> bool:
    """open/registered: any registered user; approval: the owner, a reviewer or an approved requester."""
    if not has(principal, READ):
        return False
    if ds.access_level != "approval" or principal.role is Role.SYSTEM or has(principal, REVIEW):
        return True
    if principal.user_id is not None and ds.created_by_user_id == principal.user_id:
        return True
    return bool(session.scalar(select(DatasetAccessRequest.id).where(
        DatasetAccessRequest.dataset_id == ds.id, DatasetAccessRequest.user_id == principal.user_id,
        DatasetAccessRequest.status == "approved")))


def request_access(session: Session, principal: Principal, dataset_id: int, purpose: str) -> DatasetAccessRequest:
    """Ask for access to an approval-required dataset."""
    ds = access_dataset_by_id(session, principal, dataset_id)
    if principal.user_id is None:
        raise PermissionDenied()
    if not purpose.strip():
        raise ValidationFailed(errors=[FieldError("purpose", N_("This field is required."))])
    req = DatasetAccessRequest(dataset_id=ds.id, user_id=principal.user_id, purpose=purpose.strip())
    session.add(req)
    session.flush()
    audit.record(session, principal, "science.access.request", "dataset_access_request", req.id,
                 after={"dataset_id": ds.id})
    return req


def decide_access(session: Session, principal: Principal, request_id: int, approve: bool) -> DatasetAccessRequest:
    """The dataset's owner (or a reviewer) approves or rejects an access request."""
    req = session.get(DatasetAccessRequest, request_id)
    if req is None:
        raise NotFound()
    ds = access_dataset_by_id(session, principal, req.dataset_id)
    if not (principal.role is Role.SYSTEM or has(principal, REVIEW)
            or (principal.user_id is not None and ds.created_by_user_id == principal.user_id)):
        raise PermissionDenied()
    before = req.status
    req.status, req.decided_by_user_id, req.decided_at = ("approved" if approve else "rejected"), principal.user_id, utcnow()
    audit.record(session, principal, "science.access.decide", "dataset_access_request", req.id,
                 before={"status": before}, after={"status": req.status})
    return req


def decide_cross_border(session: Session, principal: Principal, dataset_id: int, approve: bool) -> Dataset:
    """科研数据跨境流动: a reviewer's decision on exporting a flagged dataset outside the platform."""
    require(principal, REVIEW)
    ds = access_dataset_by_id(session, principal, dataset_id)
    before = ds.cross_border_decision
    ds.cross_border_decision = "approved" if approve else "rejected"
    ds.cross_border_reviewer_id, ds.cross_border_decided_at = principal.user_id, utcnow()
    audit.record(session, principal, "science.dataset.cross_border", "dataset", ds.id,
                 before={"decision": before}, after={"decision": ds.cross_border_decision})
    return ds


EXPORT_FORMATS = ("croissant", "datacite", "datacite-xml")


def export_dataset(session: Session, principal: Principal, dataset_id: int, fmt: str, *,
                   cross_border: bool = False) -> str:
    """Metadata export (Croissant JSON-LD, DataCite JSON/XML) of a dataset the principal may download;
    a cross-border export of a flagged dataset needs an approved review. Audited as a download."""
    ds = access_dataset_by_id(session, principal, dataset_id)
    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed(errors=[FieldError("format", N_("Not an allowed value."), value=fmt)])
    if not can_download(session, principal, ds):
        raise PermissionDenied()
    if cross_border and ds.cross_border and ds.cross_border_decision != "approved":
        raise PermissionDenied(N_("This dataset needs an approved cross-border review before export."))
    meta, files = _meta(ds), _files(ds)
    if fmt == "croissant":
        text = json.dumps(export.croissant(meta, files), ensure_ascii=False, indent=2)
    elif fmt == "datacite":
        text = json.dumps(export.datacite(meta, files), ensure_ascii=False, indent=2)
    else:
        text = export.datacite_xml(meta, files)
    audit.record(session, principal, "science.dataset.download", "dataset", ds.id,
                 after={"format": fmt, "cross_border": cross_border})
    return text


# --------------------------------------------------------------------------------- tasks and models


def _registered_tasks(include: tuple[str, ...] | bool = ()) -> list[Task]:
    """Built-in tasks to register: every standard-tier task, slow-tier ones only when ``include`` is True
    or names them (a slow task's data take long to read)."""
    return [t for t in TASKS.values() if t.tier != "slow" or include is True or (include and t.id in include)]


def ensure_builtins(session: Session, principal: Principal, include: tuple[str, ...] | bool = ()) -> None:
    """Register the built-in tasks (current version) and baseline models once (idempotent). Slow-tier tasks
    only when ``include`` is True or names them."""
    for slug, desc in BASELINES.items():
        if session.scalar(select(ScienceModel.id).where(ScienceModel.slug == slug)) is None:
            served = [t.id for t in TASKS.values() if slug in t.baselines]
            m = ScienceModel(slug=slug, version="1.0.0", name=slug, domain="general", task_kind="baseline",
                             licence="Apache-2.0", intended_use=desc,
                             limits="A reference point, not a forecast system; serves: " + ", ".join(served),
                             adapter="python", adapter_config={"baseline": slug}, is_builtin=True)
            session.add(m)
            session.flush()
            audit.record(session, principal, "science.model.create", "science_model", m.id, after={"slug": slug})
    for t in _registered_tasks(include):
        if session.scalar(select(EvaluationTask.id).where(EvaluationTask.slug == t.id,
                                                          EvaluationTask.version == t.version)) is None:
            d = t.describe()
            row = EvaluationTask(slug=t.id, version=t.version, title=t.title, domain=t.domain, suite=t.suite,
                                 description=t.description, source=t.source, split=t.split,
                                 input_spec=t.input_spec, target_spec=t.target_spec, metrics=t.metrics,
                                 headline_metric=t.headline, higher_is_better=t.higher_is_better,
                                 baselines=d["baselines"], content_hash=t.content_hash, is_builtin=True)
            session.add(row)
            session.flush()
            audit.record(session, principal, "science.task.create", "evaluation_task", row.id,
                         after={"slug": t.id, "version": t.version, "content_hash": t.content_hash})


def ensure_builtin_datasets(session: Session, principal: Principal, include: tuple[str, ...] | bool = ()) -> None:
    """Register the data of each built-in task that declares ``dataset`` metadata as a dataset version (one CSV
    per split, hashed and quality-checked like any upload) and link the task to it (idempotent)."""
    import csv

    ensure_builtins(session, principal, include)
    for t in _registered_tasks(include):
        if not t.dataset:
            continue
        row = session.scalar(select(EvaluationTask).where(EvaluationTask.slug == t.id,
                                                          EvaluationTask.version == t.version))
        if row is None or row.dataset_id is not None:
            continue
        meta = dict(t.dataset)
        ds_id = session.scalar(select(Dataset.id).where(Dataset.slug == meta["slug"],
                                                         Dataset.version == meta["version"]))
        if ds_id is None:
            folder = BUILTIN_DATA_DIR / meta["slug"] / meta["version"]
            folder.mkdir(parents=True, exist_ok=True)
            files = []
            for split in t.splits:
                header, rows = t.table(split)
                path = folder / f"{split}.csv"
                with open(path, "w", newline="", encoding="utf-8") as fh:
                    w = csv.writer(fh, lineterminator="\n")
                    w.writerow(header)
                    w.writerows(rows)
                files.append({"name": path.name, "path": str(path), "split": split, "media_type": "text/csv"})
            ds_id = create_dataset(session, principal, meta, files)[0].id
        row.dataset_id = ds_id
        session.flush()
        audit.record(session, principal, "science.task.dataset", "evaluation_task", row.id,
                     after={"dataset_id": ds_id, "dataset": meta["slug"], "version": meta["version"]})


def run_missing_baselines(session: Session, principal: Principal,
                          include: tuple[str, ...] | bool = ()) -> list[EvaluationRun]:
    """Register the built-ins with their datasets and run every built-in baseline on every registered
    built-in task where it has no ok run yet (leaderboards start with their reference points). Slow-tier
    tasks only when ``include`` is True or names them."""
    ensure_builtin_datasets(session, principal, include)
    done = {tuple(row) for row in session.execute(select(EvaluationTask.slug, ScienceModel.slug)
                                                  .join(EvaluationRun, EvaluationRun.task_id == EvaluationTask.id)
                                                  .join(ScienceModel, ScienceModel.id == EvaluationRun.model_id)
                                                  .where(EvaluationRun.status == "ok"))}
    return [run(session, principal, t.id, b) for t in _registered_tasks(include) for b in sorted(t.baselines)
            if (t.id, b) not in done]


def list_tasks(session: Session, principal: Principal) -> list[EvaluationTask]:
    """Every task version."""
    require(principal, READ)
    return list(session.scalars(select(EvaluationTask).order_by(EvaluationTask.slug, EvaluationTask.id)))


def list_models(session: Session, principal: Principal) -> list[ScienceModel]:
    """Every model version."""
    require(principal, READ)
    return list(session.scalars(select(ScienceModel).order_by(ScienceModel.slug, ScienceModel.id)))


def _latest(session: Session, cls, slug: str):
    row = session.scalar(select(cls).where(cls.slug == slug).order_by(cls.id.desc()).limit(1))
    if row is None:
        raise NotFound()
    return row


def _environment() -> dict[str, str]:
    env = {"python": sys.version.split()[0], "platform": platform.platform()}
    for p in (*ENV_PACKAGES, *adapters.ENV_PACKAGES):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            env[p] = importlib_metadata.version(p)
    return env


def _predict(model: ScienceModel, task: Task, data, progress=None) -> np.ndarray:
    """The model's predictions for ``data``; ``progress(fraction)`` is called where the adapter can tell."""
    cfg = model.adapter_config or {}
    if model.adapter == "python" and cfg.get("baseline"):
        fn = task.baselines.get(cfg["baseline"])
        if fn is None:
            raise ValueError(f"{model.slug} does not serve task {task.id}")
        return np.asarray(fn(task, data))
    if model.adapter == "python" and cfg.get("entry_point"):
        mod, _, attr = cfg["entry_point"].partition(":")
        return np.asarray(getattr(importlib.import_module(mod), attr)(task, data))
    if model.adapter == "openai" and cfg.get("base_url"):
        answers = []
        for i, prompt in enumerate(data.inputs):
            answers.append(_chat(cfg, str(prompt)))
            if progress is not None:
                progress((i + 1) / len(data.inputs))
        return np.array(answers, dtype=object)
    if model.adapter == "onnx" and cfg.get("path"):
        return adapters.run_onnx(Path(cfg["path"]), data.inputs, data.targets.shape, progress=progress)
    if model.adapter == "predictions" and cfg.get("path") and cfg.get("format") in gridded.FORMATS:
        reader = gridded.READERS.get(task.id)
        if reader is None:
            raise ValueError(f"task {task.id} does not take gridded forecast files")
        return reader(task, Path(cfg["path"]), cfg["format"])
    if model.adapter == "predictions" and cfg.get("path"):
        values = json.loads(Path(cfg["path"]).read_text(encoding="utf-8"))
        missing = [i for i in data.item_ids if i not in values]
        if missing:
            raise ValueError(f"predictions file lacks {len(missing)} items, e.g. {missing[0]}")
        return np.asarray([np.nan if values[i] is None else values[i] for i in data.item_ids], dtype=np.float64)
    raise ValueError(f"adapter {model.adapter} is not available for built-in tasks yet")


def _chat(cfg: dict[str, Any], prompt: str) -> str | None:
    """One OpenAI-compatible ``/chat/completions`` call (temperature 0, fixed seed); None when the answer is
    empty. The key, if any, is read from the environment variable named in ``api_key_env``."""
    import os
    import urllib.request

    body = json.dumps({"model": cfg.get("model", "default"), "temperature": 0, "seed": 0,
                       "messages": [{"role": "user", "content": prompt}]}).encode()
    headers = {"Content-Type": "application/json"}
    if cfg.get("api_key_env") and os.environ.get(cfg["api_key_env"]):
        headers["Authorization"] = f"Bearer {os.environ[cfg['api_key_env']]}"
    req = urllib.request.Request(cfg["base_url"].rstrip("/") + "/chat/completions", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=float(cfg.get("timeout_s", 60))) as resp:  # URL set by whoever registered the model
        content = json.loads(resp.read())["choices"][0]["message"]["content"]
    return content.strip() or None if isinstance(content, str) else None


def _digest(a: np.ndarray) -> str:
    if a.dtype.kind in "OUS":
        return hashlib.sha256(json.dumps([None if v is None else str(v) for v in a.ravel()]).encode()).hexdigest()
    return hashlib.sha256(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes()).hexdigest()


DEFAULT_TIME_LIMIT_S = 600.0


class RunTimeLimit(Exception):
    """The model did not answer within the run's time limit."""


class RunCancelled(Exception):
    """Raised by a ``progress`` callback when the run's job was cancelled: ``run`` stores nothing and
    re-raises (a cancelled run is not a failed run)."""


def _predict_within(model: ScienceModel, task: Task, data, limit_s: float, progress=None) -> np.ndarray:
    """``_predict`` in a daemon thread; past ``limit_s`` the run fails (the thread is abandoned, not joined,
    so a stuck model cannot hold the process). The model thread only notes its progress; ``progress`` is
    called from the calling thread (which owns the database session) every quarter second while it waits,
    so it can beat a heartbeat and raise ``RunCancelled``."""
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = _predict(model, task, data, lambda f: box.__setitem__("fraction", f))
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name=f"science-run-{model.slug}")
    worker.start()
    deadline = time.monotonic() + limit_s
    while worker.is_alive() and (left := deadline - time.monotonic()) > 0:
        worker.join(min(0.25, left) if progress is not None else left)
        if progress is not None:
            progress(box.get("fraction") or 0.0)
    if worker.is_alive():
        raise RunTimeLimit(f"time limit of {limit_s:g} s exceeded")
    if "error" in box:
        raise box["error"]
    return box["value"]


def run(session: Session, principal: Principal, task_slug: str, model_slug: str, *, seed: int = 0,
        keep_predictions: int = 5000, time_limit_s: float = DEFAULT_TIME_LIMIT_S,
        progress=None) -> EvaluationRun:
    """Run ``model`` on ``task``'s evaluation split and store one run (ok with scores, or failed with the
    error) in a single flush at the end — never a half-written score. ``progress(phase, fraction)``, when
    given, hears load, predict (0.1–0.8), score and store; when it raises ``RunCancelled`` nothing is stored."""

    def report(phase: str, fraction: float) -> None:
        if progress is not None:
            progress(phase, fraction)

    require(principal, RUN)
    ensure_builtins(session, principal, (task_slug,))
    task_row = _latest(session, EvaluationTask, task_slug)
    model = _latest(session, ScienceModel, model_slug)
    task = TASKS.get(task_slug)
    if task is None or task.version != task_row.version:
        raise NotFound()
    started = utcnow()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    status, error, preds = "ok", None, None
    ev = None
    report("load", 0.02)
    data = task.load()
    timings["load_s"] = round(time.perf_counter() - t0, 4)
    try:
        t1 = time.perf_counter()
        np.random.seed(seed)  # for models that use the legacy global generator
        report("predict", 0.1)
        preds = _predict_within(model, task, data, time_limit_s, lambda f: report("predict", 0.1 + 0.7 * f))
        timings["predict_s"] = round(time.perf_counter() - t1, 4)
        report("score", 0.8)
        t2 = time.perf_counter()
        ev = task.score(data, preds, seed=seed)
        timings["score_s"] = round(time.perf_counter() - t2, 4)
        if not ev.ok:
            status, error = "failed", ev.error
    except RunCancelled:
        raise
    except Exception as exc:  # a failing model marks its run failed; the platform keeps going
        status, error = "failed", f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=3)
    report("store", 0.95)
    stored, stored_path, preds_hash = None, None, None
    if preds is not None and preds.dtype.kind in "OUS" and preds.ndim == 1 and len(preds) == len(data.item_ids):
        preds_hash = _digest(preds)
        stored = {i: (None if v is None else str(v)) for i, v in zip(data.item_ids, preds.tolist(), strict=True)}
    elif preds is not None and preds.dtype.kind in "fiub":
        preds = preds.astype(np.float64)
        preds_hash = _digest(preds)
        if preds.ndim and len(preds) == len(data.item_ids) and preds.size <= keep_predictions:
            flat = preds.reshape(len(data.item_ids), -1).tolist()
            stored = {i: _jsonable(v[0] if len(v) == 1 else v) for i, v in zip(data.item_ids, flat, strict=True)}
        else:  # large forecasts: a content-addressed .npy file (non-finite values kept as they are)
            PREDICTIONS_DIR.mkdir(parents=True, exist_ok=True)
            target = PREDICTIONS_DIR / f"{preds_hash}.npy"
            if not target.exists():
                np.save(target, preds)
            stored_path = str(target)
    r = EvaluationRun(task_id=task_row.id, model_id=model.id, split=task.split, status=status, error=error,
                      n_items=ev.n_items if ev else len(data.item_ids), n_nonfinite=ev.n_nonfinite if ev else 0,
                      n_exploding=ev.n_exploding if ev else 0,
                      scores={k: _clean(v) for k, v in ev.scores.items()} if ev and status == "ok" else {},
                      ci={k: [_clean(x) for x in v] for k, v in ev.ci.items()} if ev and status == "ok" else {},
                      environment=_environment(), seed=seed, input_hash=_digest(data.inputs),
                      predictions=stored, predictions_path=stored_path, predictions_hash=preds_hash,
                      timings={**timings, "total_s": round(time.perf_counter() - t0, 4)},
                      details=_details(details) if (details := {**((ev.details or {}) if ev else {}),
                                                                **_input_marks(model)}) else None,
                      created_by_user_id=principal.user_id, started_at=started, finished_at=utcnow())
    session.add(r)
    session.flush()
    audit.record(session, principal, "science.run.create", "evaluation_run", r.id,
                 after={"task": task_slug, "model": model_slug, "status": status, "scores": r.scores})
    return r


def _input_marks(model: ScienceModel) -> dict[str, Any]:
    """What a run must say about its input: a forecast regridded from another grid (``regridded``)."""
    cfg = model.adapter_config or {}
    return {"regridded": cfg["regridded"]} if model.adapter == "predictions" and cfg.get("regridded") else {}


def _details(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def _jsonable(v):
    if isinstance(v, list):
        return [_jsonable(x) for x in v]
    return v if np.isfinite(v) else None  # JSON has no NaN/inf: stored as null, counted in n_nonfinite


def _clean(v: float) -> float | None:
    return float(v) if v is not None and np.isfinite(v) else None


def run_summary(session: Session, r: EvaluationRun) -> dict[str, Any]:
    """The CLI/JSON contract of one run."""
    task = session.get(EvaluationTask, r.task_id)
    model = session.get(ScienceModel, r.model_id)
    return {"task": task.slug, "task_version": task.version, "model": model.slug, "model_version": model.version,
            "split": r.split, "n_items": r.n_items, "n_nonfinite": r.n_nonfinite, "n_exploding": r.n_exploding,
            "scores": r.scores, "ci": r.ci, "status": r.status, "error": r.error, "run_id": r.id,
            "seed": r.seed, "input_hash": r.input_hash, "content_hash": task.content_hash,
            "environment": r.environment, "timings": r.timings, "details": r.details or {}}


def leaderboard(session: Session, principal: Principal, task_slug: str) -> dict[str, Any]:
    """Per model, its latest ok run on the task's latest version, ranked by the headline metric; failed
    and non-finite counts are shown, never hidden."""
    require(principal, READ)
    ensure_builtins(session, principal, (task_slug,))
    task = _latest(session, EvaluationTask, task_slug)
    runs = session.execute(select(EvaluationRun, ScienceModel).join(ScienceModel, ScienceModel.id == EvaluationRun.model_id)
                           .where(EvaluationRun.task_id == task.id).order_by(EvaluationRun.id)).all()
    latest: dict[str, tuple[EvaluationRun, ScienceModel]] = {}
    failed: dict[str, int] = {}
    for r, m in runs:
        if r.status == "ok":
            latest[m.slug] = (r, m)
        else:
            failed[m.slug] = failed.get(m.slug, 0) + 1
    rows = []
    for slug, (r, m) in latest.items():
        rows.append({"model": slug, "model_version": m.version, "is_baseline": m.is_builtin,
                     "headline": r.scores.get(task.headline_metric), "ci": r.ci.get(task.headline_metric),
                     "scores": r.scores, "n_items": r.n_items, "n_nonfinite": r.n_nonfinite,
                     "n_exploding": r.n_exploding, "failed_runs": failed.get(slug, 0), "run_id": r.id,
                     "environment": r.environment, "regridded": bool((r.details or {}).get("regridded"))})
    sign = -1 if task.higher_is_better else 1
    rows.sort(key=lambda x: (x["headline"] is None, sign * (x["headline"] or 0)))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    return {"task": task.slug, "task_version": task.version, "headline_metric": task.headline_metric,
            "higher_is_better": task.higher_is_better, "content_hash": task.content_hash, "rows": rows}
