"""Registering models with their cards (business rules and permission checks; no HTTP): an uploaded ONNX
file, an uploaded predictions file for one task (JSON, or a gridded forecast as NetCDF / zipped Zarr), an
OpenAI-compatible chat endpoint, or (operators only: it runs code) a Python entry point. Each registration
is one model version; an uploaded file is kept content-addressed under ``var/science/models/`` with its
SHA-256 and size. A slug belongs to the owner of its first version. Services flush; the caller commits."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.config import PROJECT_ROOT
from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import require
from kechuang.science import adapters, gridded, quality
from kechuang.science.models import MODEL_DOMAINS, Dataset, EvaluationRun, EvaluationTask, ScienceModel
from kechuang.science.service import PUBLISH, READ, SEMVER, ensure_builtins
from kechuang.science.tasks import TASKS

MODELS_DIR = PROJECT_ROOT / "var" / "science" / "models"
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{1,118}$")
UPLOAD_ADAPTERS = ("onnx", "predictions", "openai", "python")
MAX_FILE_BYTES = 512 * 1024 * 1024
CARD_FIELDS = ("slug", "version", "name", "domain", "task_kind", "licence", "training_data", "intended_use",
               "limits")


def _card_problems(session: Session, principal: Principal, card: dict[str, Any]) -> list[FieldError]:
    errs = []
    for f in ("slug", "version", "name", "domain", "task_kind"):
        if not str(card.get(f) or "").strip():
            errs.append(FieldError(f, N_("This field is required.")))
    if card.get("slug") and not SLUG.match(str(card["slug"])):
        errs.append(FieldError("slug", N_("Use 2–120 lower-case letters, digits, dots, hyphens or underscores."),
                               value=card["slug"]))
    if card.get("version") and not SEMVER.match(str(card["version"])):
        errs.append(FieldError("version", N_("Use a semantic version such as 1.0.0."), value=card["version"]))
    if card.get("domain") and card["domain"] not in MODEL_DOMAINS:
        errs.append(FieldError("domain", N_("Not an allowed value."), value=card["domain"]))
    for ds_id in card.get("training_dataset_ids") or []:
        if not isinstance(ds_id, int) or session.get(Dataset, ds_id) is None:
            errs.append(FieldError("training_dataset_ids", N_("No registered dataset has this id."), value=ds_id))
    slug, version = card.get("slug"), card.get("version")
    if slug and version:
        if session.scalar(select(ScienceModel.id).where(ScienceModel.slug == slug, ScienceModel.version == version)):
            errs.append(FieldError("version", N_("This version already exists; register a new version."),
                                   value=version))
        first = session.scalar(select(ScienceModel).where(ScienceModel.slug == slug).order_by(ScienceModel.id).limit(1))
        if first is not None and not _same_owner(first, principal):
            errs.append(FieldError("slug", N_("This model id belongs to another owner."), value=slug))
    return errs


def _same_owner(model: ScienceModel, principal: Principal) -> bool:
    if principal.role is Role.SYSTEM:
        return True
    if model.is_builtin:
        return False
    if principal.organisation_id is not None and model.organisation_id == principal.organisation_id:
        return True
    return principal.user_id is not None and model.created_by_user_id == principal.user_id


def _store(src: Path, suffix: str) -> tuple[Path, str, int]:
    """Copy ``src`` content-addressed into MODELS_DIR (a Zarr directory is stored as given)."""
    digest = quality.sha256_file(src)
    size = src.stat().st_size
    MODELS_DIR.mkdir(parents=True, exist_ok=True)
    target = MODELS_DIR / f"{digest}{suffix}"
    if not target.exists():
        tmp = target.with_name(target.name + ".part")
        shutil.copyfile(src, tmp)
        tmp.replace(target)
    return target, digest, size


def register_model(session: Session, principal: Principal, card: dict[str, Any], adapter: str, *,
                   file: Path | None = None, task: str | None = None,
                   config: dict[str, Any] | None = None) -> ScienceModel:
    """Register one model version with its card and adapter. ``file`` is an uploaded ONNX graph
    (``adapter='onnx'``) or a predictions file for ``task`` (``adapter='predictions'``: JSON
    ``{item_id: value}``, or NetCDF / zipped Zarr for gridded tasks, checked against the task's grid now).
    ``config`` carries ``base_url``/``model``/``api_key_env`` (openai) or ``entry_point`` (python)."""
    require(principal, PUBLISH)
    ensure_builtins(session, principal)
    errs = _card_problems(session, principal, card)
    config = {k: v for k, v in (config or {}).items() if v not in (None, "")}
    if adapter not in UPLOAD_ADAPTERS:
        errs.append(FieldError("adapter", N_("Not an allowed value."), value=adapter))
    if adapter == "python" and principal.role is not Role.SYSTEM:
        errs.append(FieldError("adapter", N_("Only operators may register code (a Python entry point).")))
    if adapter in ("onnx", "predictions"):
        if file is None or not Path(file).is_file():
            errs.append(FieldError("file", N_("Upload a file for this adapter.")))
        elif Path(file).stat().st_size > MAX_FILE_BYTES:
            errs.append(FieldError("file", N_("The file is larger than {mb} MB."), {"mb": MAX_FILE_BYTES >> 20}))
    if adapter == "predictions" and (not task or task not in TASKS):
        errs.append(FieldError("task", N_("Name the task these predictions are for."), value=task))
    if adapter == "openai":
        if not re.match(r"^https?://", str(config.get("base_url") or "")):
            errs.append(FieldError("base_url", N_("Give the endpoint's http(s) base URL."), value=config.get("base_url")))
        config = {k: config[k] for k in ("base_url", "model", "api_key_env", "timeout_s") if config.get(k)}
    if adapter == "python" and not re.match(r"^[\w.]+:\w+$", str(config.get("entry_point") or "")):
        errs.append(FieldError("entry_point", N_("Use module:function."), value=config.get("entry_point")))
    if errs:
        raise ValidationFailed(errors=errs)

    digest = size = None
    if adapter == "onnx":
        try:
            info = adapters.inspect_onnx(Path(file))
        except adapters.OnnxModelError as exc:
            raise ValidationFailed(errors=[FieldError("file", N_("Not a usable ONNX model: {problem}"),
                                                      {"problem": str(exc)})]) from exc
        path, digest, size = _store(Path(file), ".onnx")
        config = {"path": str(path), **info}
    elif adapter == "predictions":
        path, digest, size, config = _store_predictions(Path(file), task)
    model = ScienceModel(slug=card["slug"], version=card["version"], name=card["name"], domain=card["domain"],
                         task_kind=card["task_kind"], licence=card.get("licence") or None,
                         training_dataset_ids=list(card.get("training_dataset_ids") or []),
                         training_data=card.get("training_data") or None,
                         intended_use=card.get("intended_use") or None, limits=card.get("limits") or None,
                         adapter=adapter, adapter_config={**config, **({"task": task} if task else {})},
                         is_builtin=False, organisation_id=principal.organisation_id,
                         created_by_user_id=principal.user_id, file_sha256=digest, file_size_bytes=size)
    session.add(model)
    session.flush()
    audit.record(session, principal, "science.model.create", "science_model", model.id,
                 after={"slug": model.slug, "version": model.version, "adapter": adapter, "sha256": digest})
    return model


def _store_predictions(file: Path, task_slug: str) -> tuple[Path, str, int, dict[str, Any]]:
    """Validate a predictions file against its task, then store it; errors name the file's problem."""
    task = TASKS[task_slug]
    try:
        fmt = gridded.detect_format(file)
    except gridded.ForecastFileError:
        fmt = "json"
    if fmt in gridded.FORMATS:
        reader = gridded.READERS.get(task.id)
        if reader is None:
            raise ValidationFailed(errors=[FieldError("file", N_("This task takes a JSON file of predictions."))])
        try:
            arr = reader(task, file, fmt)
        except gridded.ForecastFileError as exc:
            raise ValidationFailed(errors=[FieldError("file", N_("The forecast file does not fit the task: {problem}"),
                                                      {"problem": f"{exc.field}: {exc.problem}"})]) from exc
        except Exception as exc:  # unreadable container
            raise ValidationFailed(errors=[FieldError("file", N_("The forecast file cannot be read: {problem}"),
                                                      {"problem": f"{type(exc).__name__}: {exc}"[:300]})]) from exc
        path, digest, size = _store(file, ".nc" if fmt == "netcdf" else ".zarr.zip")
        import numpy as np

        return path, digest, size, {"path": str(path), "format": fmt,
                                    "nonfinite_values": int((~np.isfinite(arr)).sum())}
    try:
        values = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationFailed(errors=[FieldError("file", N_("Not JSON, NetCDF or a zipped Zarr store."))]) from exc
    if not isinstance(values, dict):
        raise ValidationFailed(errors=[FieldError("file", N_("Give a JSON object mapping each item id to its prediction."))])
    ids = task.load().item_ids
    missing = [i for i in ids if i not in values]
    if missing:
        raise ValidationFailed(errors=[FieldError("file", N_("{n} items are missing, e.g. {example}."),
                                                  {"n": len(missing), "example": missing[0]})])
    path, digest, size = _store(file, ".json")
    return path, digest, size, {"path": str(path), "format": "json"}


def model_card(session: Session, principal: Principal, slug: str) -> dict[str, Any]:
    """A model's card: every version (newest first) with adapter, file hash, linked training datasets and
    its runs (latest per task), for any registered user. NotFound for an unknown slug."""
    require(principal, READ)
    ensure_builtins(session, principal)
    versions = list(session.scalars(select(ScienceModel).where(ScienceModel.slug == slug)
                                    .order_by(ScienceModel.id.desc())))
    if not versions:
        raise NotFound()
    ds_ids = {i for m in versions for i in (m.training_dataset_ids or [])}
    datasets = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(ds_ids)))} if ds_ids else {}
    runs = session.execute(select(EvaluationRun, EvaluationTask).join(EvaluationTask, EvaluationTask.id == EvaluationRun.task_id)
                           .where(EvaluationRun.model_id.in_([m.id for m in versions]))
                           .order_by(EvaluationRun.id.desc()).limit(200)).all()
    return {"latest": versions[0], "versions": versions, "datasets": datasets,
            "runs": [{"run": r, "task": t} for r, t in runs]}


def model_catalogue(session: Session, principal: Principal, domain: str | None = None) -> list[dict[str, Any]]:
    """Latest version of every model with its number of versions and ok runs; ``domain`` filters."""
    require(principal, READ)
    ensure_builtins(session, principal)
    latest_ids = select(func.max(ScienceModel.id)).group_by(ScienceModel.slug)
    q = select(ScienceModel).where(ScienceModel.id.in_(latest_ids)).order_by(ScienceModel.is_builtin, ScienceModel.slug)
    if domain:
        q = q.where(ScienceModel.domain == domain)
    models = list(session.scalars(q))
    n_versions = dict(session.execute(select(ScienceModel.slug, func.count()).group_by(ScienceModel.slug)).all())
    n_runs = dict(session.execute(select(ScienceModel.slug, func.count(EvaluationRun.id))
                                  .join(EvaluationRun, EvaluationRun.model_id == ScienceModel.id)
                                  .where(EvaluationRun.status == "ok").group_by(ScienceModel.slug)).all())
    return [{"model": m, "versions": n_versions.get(m.slug, 1), "runs": n_runs.get(m.slug, 0)} for m in models]


def parse_ids(text: str | None) -> list[int]:
    """``"3, 5"`` → [3, 5]; a non-number is refused naming the field."""
    out = []
    for part in (text or "").replace(";", ",").split(","):
        if part.strip():
            if not part.strip().isdigit():
                raise ValidationFailed(errors=[FieldError("training_dataset_ids", N_("Give dataset ids as numbers."),
                                                          value=part.strip())])
            out.append(int(part.strip()))
    return out


@contextlib.contextmanager
def spooled(upload) -> Iterator[Path | None]:
    """An uploaded file (FastAPI ``UploadFile``) as a temporary path, refused past MAX_FILE_BYTES."""
    if upload is None or not getattr(upload, "filename", None):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="kechuang-upload-") as tmp:
        path = Path(tmp) / "upload"
        size = 0
        with path.open("wb") as fh:
            while chunk := upload.file.read(1 << 20):
                size += len(chunk)
                if size > MAX_FILE_BYTES:
                    raise ValidationFailed(errors=[FieldError("file", N_("The file is larger than {mb} MB."),
                                                              {"mb": MAX_FILE_BYTES >> 20})])
                fh.write(chunk)
        yield path
