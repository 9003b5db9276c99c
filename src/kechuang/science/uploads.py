"""Registering uploads (business rules and permission checks; no HTTP).

Models with their cards: an uploaded ONNX file, an uploaded predictions file for one task (JSON, or a
gridded forecast as NetCDF / zipped Zarr), an OpenAI-compatible chat endpoint, or (operators only: it runs
code) a Python entry point. Each registration is one model version; an uploaded file is kept
content-addressed under ``var/science/models/`` with its SHA-256 and size. A slug belongs to the owner of
its first version.

Datasets from the web form: the metadata as typed (or imported from a Frictionless ``datapackage.json``,
the form filling in what the package leaves out) and the uploaded files, checked field by field, then
registered by ``service.create_dataset`` (hashes, quality checks) in one savepoint. Services flush; the
caller commits."""

from __future__ import annotations

import contextlib
import json
import mimetypes
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.config import PROJECT_ROOT, settings
from kechuang.core import audit
from kechuang.core.auth import Principal, Role
from kechuang.core.errors import FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.identifiers import normalize_orcid, orcid_problem
from kechuang.core.permissions import require
from kechuang.db import utcnow
from kechuang.science import adapters, export, gridded, quality, service
from kechuang.science.models import (
    MODEL_DOMAINS,
    Dataset,
    DatasetQualityReport,
    EvaluationRun,
    EvaluationTask,
    ScienceModel,
)
from kechuang.science.service import PUBLISH, READ, SEMVER, ensure_builtins
from kechuang.science.tasks import TASKS

MODELS_DIR = PROJECT_ROOT / "var" / "science" / "models"
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{1,118}$")
UPLOAD_ADAPTERS = ("onnx", "predictions", "openai", "python")
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
        elif Path(file).stat().st_size > max_upload_bytes():
            errs.append(FieldError("file", N_("The file is larger than {mb} MB."), {"mb": _mb()}))
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
        info: dict[str, Any] = {}
        try:
            arr = reader(task, file, fmt, info)
        except gridded.ForecastFileError as exc:
            raise ValidationFailed(errors=[FieldError("file", N_("The forecast file does not fit the task: {problem}"),
                                                      {"problem": f"{exc.field}: {exc.problem}"})]) from exc
        except Exception as exc:  # unreadable container
            raise ValidationFailed(errors=[FieldError("file", N_("The forecast file cannot be read: {problem}"),
                                                      {"problem": f"{type(exc).__name__}: {exc}"[:300]})]) from exc
        path, digest, size = _store(file, ".nc" if fmt == "netcdf" else ".zarr.zip")
        import numpy as np

        return path, digest, size, {"path": str(path), "format": fmt,
                                    "nonfinite_values": int((~np.isfinite(arr)).sum()), **info}
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


def max_upload_bytes() -> int:
    """The largest file an upload may have (setting ``KECHUANG_SCIENCE_UPLOAD_MAX_MB``)."""
    return int(settings.science_upload_max_mb * 1024 * 1024)


def _mb() -> str:
    return f"{settings.science_upload_max_mb:g}"


def _copy_limited(upload, path: Path, error: FieldError) -> None:
    """Copy an ``UploadFile`` to ``path`` in 1 MiB blocks; ``error`` is raised past the size limit."""
    limit, size = max_upload_bytes(), 0
    with path.open("wb") as fh:
        while chunk := upload.file.read(1 << 20):
            size += len(chunk)
            if size > limit:
                raise ValidationFailed(errors=[error])
            fh.write(chunk)


@contextlib.contextmanager
def spooled(upload, field: str = "file") -> Iterator[Path | None]:
    """An uploaded file (FastAPI ``UploadFile``) as a temporary path, refused past the size limit."""
    if upload is None or not getattr(upload, "filename", None):
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="kechuang-upload-") as tmp:
        path = Path(tmp) / "upload"
        _copy_limited(upload, path, FieldError(field, N_("The file is larger than {mb} MB."), {"mb": _mb()}))
        yield path


@contextlib.contextmanager
def spooled_many(uploads: list | None, field: str = "files") -> Iterator[list[tuple[str, Path]]]:
    """Uploaded files as (file name, temporary path) pairs; the path keeps the file's name (its suffix tells
    a CSV from other files). Each file is refused past the size limit."""
    with tempfile.TemporaryDirectory(prefix="kechuang-upload-") as tmp:
        out: list[tuple[str, Path]] = []
        for i, up in enumerate(u for u in uploads or [] if getattr(u, "filename", None)):
            name = Path(str(up.filename).replace("\\", "/")).name.strip()  # browsers may send a path
            name = name if name not in ("", ".", "..") else f"file-{i + 1}"
            path = Path(tmp) / str(i) / name
            path.parent.mkdir()
            _copy_limited(up, path, FieldError(field, N_("{name} is larger than {mb} MB."), {"name": name, "mb": _mb()},
                                               row=i + 1))
            out.append((name, path))
        yield out


# ------------------------------------------------------------------------------------ dataset uploads

DATASET_FORM_FIELDS = ("slug", "name", "version", "description", "creators", "publisher", "publication_year",
                       "identifier", "licence", "subjects", "temporal_coverage", "spatial_coverage", "provenance",
                       "related_identifiers", "label", "access_level", "cross_border")
_TEXT_META = ("slug", "name", "version", "description", "publisher", "identifier", "licence", "temporal_coverage",
              "spatial_coverage", "provenance")
_SPLIT_WORDS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid", "val": "valid",
                "dev": "valid", "test": "test"}
RELATION_TYPES = ("IsDerivedFrom", "IsSourceOf", "References", "IsReferencedBy", "Cites", "IsCitedBy",
                  "IsSupplementTo", "IsSupplementedBy", "IsPartOf", "HasPart", "IsVersionOf", "IsNewVersionOf",
                  "IsPreviousVersionOf", "IsDocumentedBy", "Documents", "IsDescribedBy", "Describes")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_DATE = r"\d{4}(?:-\d{2}(?:-\d{2})?)?"
_TEMPORAL = re.compile(rf"^{_DATE}(?:/{_DATE})?$")
_TABLE_PROBLEMS = {
    "empty": N_("{name} has no rows and no header."),
    "encoding": N_("{name} is not UTF-8 text; save it as UTF-8 CSV."),
    "ragged": N_("{name}: a row has more fields than the header ({detail})."),
    "parse": N_("{name} cannot be read as CSV: {detail}"),
}


def split_of(name: str) -> str | None:
    """The split a file name declares by one of its words (``train.csv``, ``qm9_test.csv``,
    ``validation-part1.csv``); None when it names none or more than one."""
    words = re.split(r"[^a-z0-9]+", Path(name).stem.lower())
    found = {_SPLIT_WORDS[w] for w in words if w in _SPLIT_WORDS}
    return found.pop() if len(found) == 1 else None


def _lines(text: str) -> list[tuple[int, str]]:
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _parse_creators(text: str) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """One creator per line: ``name; ORCID; affiliation`` (ORCID and affiliation optional, either order)."""
    out, errs = [], []
    for n, line in _lines(text):
        parts = [p.strip() for p in re.split(r"[;；]", line)]
        creator: dict[str, Any] = {"name": parts[0]}
        if not parts[0]:
            errs.append(FieldError("creators", N_("Each line starts with the creator's name."), row=n, value=line))
        for part in (p for p in parts[1:] if p):
            if re.search(r"\d{4}-\d{4}", part) or "orcid.org" in part.lower():
                problem = orcid_problem(part)
                if problem:
                    errs.append(FieldError("creators", problem, row=n, value=part))
                else:
                    creator["orcid"] = normalize_orcid(part)
            else:
                creator["affiliation"] = part
        out.append(creator)
    return out, errs


def _parse_related(text: str) -> tuple[list[dict[str, Any]], list[FieldError]]:
    """One related identifier per line: ``[relation] DOI-or-URL`` (relation a DataCite relationType;
    IsDerivedFrom when left out)."""
    out, errs = [], []
    for n, line in _lines(text):
        words = line.split()
        relation, ident = ("IsDerivedFrom", words[0]) if len(words) == 1 else (words[0], " ".join(words[1:]))
        if relation not in RELATION_TYPES:
            errs.append(FieldError("related_identifiers", N_("Unknown relation {relation}; use one of {allowed}."),
                                   {"relation": relation, "allowed": ", ".join(RELATION_TYPES[:6]) + ", …"}, row=n))
            continue
        doi = re.sub(r"^https?://(dx\.)?doi\.org/", "", ident)
        if _DOI.match(doi):
            out.append({"identifier": doi, "relation": relation, "type": "DOI"})
        elif re.match(r"^https?://\S+$", ident):
            out.append({"identifier": ident, "relation": relation, "type": "URL"})
        else:
            errs.append(FieldError("related_identifiers", N_("Give a DOI (10.xxxx/…) or an http(s) URL."), row=n,
                                   value=ident))
    return out, errs


def _read_package(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    try:
        return export.read_datapackage(path)
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:  # JSON, structure, dates
        raise ValidationFailed(errors=[FieldError("datapackage", N_("Not a readable Frictionless datapackage.json: {problem}"),
                                                  {"problem": f"{type(exc).__name__}: {exc}"[:200]})]) from exc


def dataset_form_meta(form: dict[str, Any], datapackage: Path | None = None) -> tuple[
        dict[str, Any], list[dict[str, Any]] | None, list[FieldError]]:
    """The metadata of a dataset form: the datapackage's values (when given) overridden by every filled-in
    field. Returns (meta, the package's resources or None, problems with the typed text)."""
    errs: list[FieldError] = []
    meta: dict[str, Any] = {}
    resources = None
    if datapackage is not None:
        try:
            meta, resources = _read_package(datapackage)
        except ValidationFailed as exc:
            errs += exc.errors
    text = {k: str(form.get(k) or "").strip() for k in DATASET_FORM_FIELDS}
    meta.update({k: text[k] for k in _TEXT_META if text[k]})
    if text["publication_year"]:
        year = text["publication_year"]
        if re.fullmatch(r"\d{4}", year) and 1000 <= int(year) <= utcnow().year + 1:
            meta["publication_year"] = int(year)
        else:
            meta.pop("publication_year", None)
            errs.append(FieldError("publication_year", N_("Give a four-digit year, at most next year."), value=year))
    if text["creators"]:
        meta["creators"], bad = _parse_creators(text["creators"])
        errs += bad
    if text["subjects"]:
        meta["subjects"] = [w.strip() for w in re.split(r"[,，;；、\n]", text["subjects"]) if w.strip()]
    if text["related_identifiers"]:
        meta["related_identifiers"], bad = _parse_related(text["related_identifiers"])
        errs += bad
    schema = dict(meta.get("schema") or {})
    if text["label"]:
        schema["label"] = text["label"]
    meta["schema"] = schema
    meta["access_level"] = text["access_level"] or meta.get("access_level") or "open"
    meta["cross_border"] = text["cross_border"] not in ("", "0", "false", "off")
    return meta, resources, errs


def dataset_form_values(meta: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """Text for the form's fields from ``meta`` (e.g. after a datapackage import), typed text taking
    precedence so the user's input is kept as typed."""
    values = {k: meta.get(k) for k in _TEXT_META}
    values["publication_year"] = meta.get("publication_year")
    values["creators"] = "\n".join("; ".join(x for x in (c.get("name"), c.get("orcid"), c.get("affiliation")) if x)
                                   for c in meta.get("creators") or [])
    values["subjects"] = ", ".join(meta.get("subjects") or [])
    values["related_identifiers"] = "\n".join(f"{r.get('relation', 'IsDerivedFrom')} {r['identifier']}"
                                              for r in meta.get("related_identifiers") or [])
    values["label"] = (meta.get("schema") or {}).get("label")
    values["access_level"] = meta.get("access_level") or "open"
    values["cross_border"] = bool(meta.get("cross_border"))
    for k in DATASET_FORM_FIELDS:
        if k != "cross_border" and str(form.get(k) or "").strip():
            values[k] = form[k]
    return {k: ("" if v is None else v) for k, v in values.items()}


def _dataset_files(files: list[tuple[str, Path]], resources: list[dict[str, Any]] | None) -> tuple[
        list[dict[str, Any]], list[Path], list[FieldError]]:
    """File entries for ``create_dataset``: the package's resources matched to the uploads by file name, or
    one entry per upload with the split its name declares; every file empty, too large or unreadable as a
    table is refused by name. Also returns the readable tables' paths."""
    errs: list[FieldError] = []
    tables: list[Path] = []
    names = [n for n, _ in files]
    for i, n in enumerate(names):
        if n in names[:i]:
            errs.append(FieldError("files", N_("Two files are named {name}."), {"name": n}, row=i + 1))
    if not files:
        errs.append(FieldError("files", N_("Upload at least one data file.")))
        return [], tables, errs
    if resources is not None:
        by_name = dict(files)
        entries = []
        for i, res in enumerate(resources, 1):
            base = Path(str(res.get("name") or "")).name
            if base not in by_name:
                errs.append(FieldError("files", N_("The datapackage.json lists {name}; upload that file too."),
                                       {"name": res.get("name")}, row=i))
                continue
            entries.append({**res, "path": str(by_name[base])})
        listed = {Path(str(r.get("name") or "")).name for r in resources}
        errs += [FieldError("files", N_("{name} is not a resource of the datapackage.json."), {"name": n})
                 for n in names if n not in listed]
    else:
        entries = [{"name": n, "path": str(p), "split": split_of(n), "media_type": mimetypes.guess_type(n)[0]}
                   for n, p in files]
    for i, e in enumerate(entries, 1):
        path = Path(e["path"])
        size = path.stat().st_size
        if size == 0:
            errs.append(FieldError("files", N_("{name} is empty."), {"name": e["name"]}, row=i))
        elif size > max_upload_bytes():
            errs.append(FieldError("files", N_("{name} is larger than {mb} MB."), {"name": e["name"], "mb": _mb()}, row=i))
        elif problem := quality.table_problem(path):
            errs.append(FieldError("files", _TABLE_PROBLEMS[problem[0]], {"name": e["name"], "detail": problem[1]},
                                   row=i))
        elif path.suffix.lower() in quality.TABULAR_SUFFIXES:
            tables.append(path)
    return entries, tables, errs


def register_dataset(session: Session, principal: Principal, form: dict[str, Any], files: list[tuple[str, Path]],
                     *, datapackage: Path | None = None) -> tuple[Dataset, DatasetQualityReport]:
    """Register a dataset version from the web form: ``form`` holds the typed fields (see
    ``DATASET_FORM_FIELDS``), ``files`` the uploads as (name, path), ``datapackage`` an optional Frictionless
    ``datapackage.json`` whose metadata fills the fields left empty and whose resources name the files and
    their splits. Croissant requires a licence, so the form does too. Every problem is reported at once by
    field; nothing is written unless the version, its files and its quality report are all stored."""
    require(principal, PUBLISH)
    meta, resources, errs = dataset_form_meta(form, datapackage)
    entries, tables, file_errs = _dataset_files(files, resources)
    errs += file_errs
    if meta.get("slug") and not SLUG.match(str(meta["slug"])):
        errs.append(FieldError("slug", N_("Use 2–120 lower-case letters, digits, dots, hyphens or underscores."),
                               value=meta["slug"]))
    if not meta.get("licence"):
        errs.append(FieldError("licence", N_("Croissant requires a licence (an SPDX id such as CC-BY-4.0, or a URL).")))
    if meta.get("temporal_coverage") and not _TEMPORAL.match(str(meta["temporal_coverage"])):
        errs.append(FieldError("temporal_coverage", N_("Use an ISO 8601 date or interval, e.g. 2001-01-01/2005-12-31."),
                               value=meta["temporal_coverage"]))
    label = (meta.get("schema") or {}).get("label")
    if label and tables and not any(label in quality.table_columns(t) for t in tables):
        errs.append(FieldError("label", N_("No uploaded table has a column named {label}."), {"label": label}))
    flagged = {e.field for e in errs}
    errs += [e for e in service.dataset_problems(meta) if e.field not in flagged]
    if meta.get("slug") and meta.get("version") and session.scalar(
            select(Dataset.id).where(Dataset.slug == meta["slug"], Dataset.version == meta["version"])):
        errs.append(FieldError("version", N_("This version already exists; a data change bumps the version."),
                               value=meta["version"]))
    if errs:
        raise ValidationFailed(errors=errs)
    with session.begin_nested():  # the row, its files' rows, the report and their audit entries, or nothing
        return service.create_dataset(session, principal, meta, entries)


# ------------------------------------------------------------------------- dataset uploads through the API

_JSON_LISTS = ("creators", "subjects", "related_identifiers")


def _json_field_text(key: str, value: Any) -> tuple[str, list[FieldError]]:
    """One metadata value of the JSON API as the text the web form would carry (lists become one item a
    line, as the form's text areas take them), or the problem with its type."""
    if value is None:
        return "", []
    if key == "cross_border":
        if not isinstance(value, bool):
            return "", [FieldError(key, N_("Give true or false."), value=value)]
        return ("true" if value else ""), []
    if key == "publication_year" and isinstance(value, int) and not isinstance(value, bool):
        return str(value), []
    if isinstance(value, str):
        return value, []
    if key not in _JSON_LISTS or not isinstance(value, list):
        return "", [FieldError(key, N_("Give text.") if key not in _JSON_LISTS else N_("Give a list."), value=value)]
    lines, errs = [], []
    for n, item in enumerate(value, 1):
        if isinstance(item, str) and item.strip() and "\n" not in item:
            lines.append(item.strip())
        elif key == "creators" and isinstance(item, dict) and isinstance(item.get("name"), str):
            parts = [item.get(k) for k in ("name", "orcid", "affiliation")]
            if any(p is not None and (not isinstance(p, str) or re.search(r"[;；\n]", p)) for p in parts):
                errs.append(FieldError(key, N_("Give name, orcid and affiliation as text without semicolons."), row=n))
            else:
                lines.append("; ".join(p.strip() for p in parts if p))
        elif key == "related_identifiers" and isinstance(item, dict) and isinstance(item.get("identifier"), str):
            relation = item.get("relation") or "IsDerivedFrom"
            lines.append(f"{relation} {item['identifier'].strip()}")
        else:
            errs.append(FieldError(key, N_("This list item has the wrong shape."), row=n, value=json.dumps(item)[:200]))
    return "\n".join(lines), errs


def dataset_json_form(metadata: str | dict[str, Any] | None) -> dict[str, str]:
    """The form fields (``DATASET_FORM_FIELDS``) from the JSON metadata of ``POST /api/v1/science/datasets``:
    the same keys as the form, with ``creators`` (objects ``name``/``orcid``/``affiliation`` or form lines),
    ``subjects`` and ``related_identifiers`` (objects ``identifier``/``relation`` or lines) also as lists,
    ``publication_year`` a number and ``cross_border`` a boolean. A key the form does not know, a value of the
    wrong type or text that is not a JSON object is refused by field (nothing else is looked at then)."""
    if metadata is None or metadata == "":
        return {}
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(errors=[FieldError("metadata", N_("Not valid JSON: {problem}"),
                                                      {"problem": str(exc)[:200]})]) from exc
    if not isinstance(metadata, dict):
        raise ValidationFailed(errors=[FieldError("metadata", N_("Give a JSON object of dataset metadata."))])
    form: dict[str, str] = {}
    errs: list[FieldError] = []
    for key, value in metadata.items():
        if key not in DATASET_FORM_FIELDS:
            errs.append(FieldError(str(key), N_("Not a field of dataset metadata.")))
            continue
        form[key], bad = _json_field_text(key, value)
        errs += bad
    if errs:
        raise ValidationFailed(errors=errs)
    return form


def register_dataset_json(session: Session, principal: Principal, metadata: str | dict[str, Any] | None,
                          files: list[tuple[str, Path]], *, datapackage: Path | None = None) -> tuple[
        Dataset, DatasetQualityReport]:
    """Register a dataset version from the JSON API: the metadata (see ``dataset_json_form``) becomes the
    web form's fields and goes through ``register_dataset`` — the same checks, the same one savepoint."""
    require(principal, PUBLISH)
    return register_dataset(session, principal, dataset_json_form(metadata), files, datapackage=datapackage)
