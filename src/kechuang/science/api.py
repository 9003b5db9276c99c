"""AI for Science JSON API under /api/v1/science (thin: every rule is in ``service``)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import NotFound
from kechuang.science import boards, jobs, service, uploads
from kechuang.science.models import EvaluationRun
from kechuang.science.schemas import (
    AccessRequestIn,
    AccessRequestRead,
    DatasetDetail,
    DatasetFileRead,
    DatasetRead,
    DecisionIn,
    JobIn,
    ModelRead,
    QualityReportRead,
    RunIn,
)

router = APIRouter(prefix="/api/v1/science", tags=["science"])

Reader = Annotated[Principal, Depends(requires(service.READ))]
Runner = Annotated[Principal, Depends(requires(service.RUN))]
Reviewer = Annotated[Principal, Depends(requires(service.REVIEW))]
Publisher = Annotated[Principal, Depends(requires(service.PUBLISH))]
MEDIA = {"croissant": "application/ld+json", "datacite": "application/vnd.datacite.datacite+json",
         "datacite-xml": "application/vnd.datacite.datacite+xml"}


@router.get("/datasets", response_model=list[DatasetRead])
def list_datasets(session: DbSession, principal: Reader):
    """The dataset catalogue (metadata)."""
    return service.list_datasets(session, principal)


def _detail(session, principal: Principal, ds, report) -> DatasetDetail:
    return DatasetDetail(**DatasetRead.model_validate(ds).model_dump(),
                         files=[DatasetFileRead.model_validate(f) for f in ds.files],
                         quality=QualityReportRead.model_validate(report) if report else None,
                         can_download=service.can_download(session, principal, ds))


@router.get("/datasets/{dataset_id}", response_model=DatasetDetail)
def get_dataset(dataset_id: int, session: DbSession, principal: Reader):
    """A dataset version with its files and latest quality report."""
    ds = service.access_dataset_by_id(session, principal, dataset_id)
    return _detail(session, principal, ds, service.latest_report(session, ds.id))


DATASET_METADATA_EXAMPLE = {
    "slug": "toy-solubility", "name": "Toy solubility", "version": "1.0.0",
    "description": "Hand-made solubility rows.", "publisher": "SSTC lab", "publication_year": 2026,
    "identifier": "10.5555/toy.solubility", "licence": "CC-BY-4.0",
    "creators": [{"name": "Li Lei", "orcid": "0000-0002-1825-0097", "affiliation": "SSTC lab"}],
    "subjects": ["chemistry", "solubility"], "temporal_coverage": "2026-01-01/2026-02-01",
    "spatial_coverage": "Shanghai", "provenance": "Typed by hand.",
    "related_identifiers": [{"relation": "IsDerivedFrom", "identifier": "https://example.org/toy"}],
    "label": "label", "access_level": "open", "cross_border": False}
_CREATED_EXAMPLE = {
    "id": 12, "slug": "toy-solubility", "version": "1.0.0", "name": "Toy solubility", "licence": "CC-BY-4.0",
    "access_level": "open", "cross_border": False, "cross_border_decision": None, "can_download": True,
    "files": [{"name": "train.csv", "split": "train", "media_type": "text/csv",
               "sha256": "9f2c0d…", "size_bytes": 62}],
    "quality": {"id": 30, "score": 0.95, "created_at": "2026-12-05T04:40:00Z",
                "checks": [{"name": "licence_present", "result": "pass", "evidence": {"licence": "CC-BY-4.0"}}]}}
_REFUSED_EXAMPLE = {"error": {"code": "validation_failed", "message": "Some fields are invalid.", "errors": [
    {"field": "licence", "reason": "Croissant requires a licence (an SPDX id such as CC-BY-4.0, or a URL)."},
    {"field": "files", "reason": "train.csv is empty.", "row": 1}]}}


@router.post("/datasets", status_code=201, response_model=DatasetDetail, responses={
    201: {"description": "The registered version with its files and quality report.",
          "content": {"application/json": {"example": _CREATED_EXAMPLE}}},
    401: {"description": "Not logged in."},
    403: {"description": "The role may not add datasets (investors, the public)."},
    422: {"description": "Every problem by field (field, reason, row for a file or list item); nothing is written.",
          "content": {"application/json": {"example": _REFUSED_EXAMPLE}}}})
def create_dataset(session: DbSession, principal: Publisher,
                   metadata: Annotated[str | None, Form(
                       description="JSON object: the upload form's fields (slug, name, version, description, "
                                   "creators, publisher, publication_year, identifier, licence, subjects, "
                                   "temporal_coverage, spatial_coverage, provenance, related_identifiers, label, "
                                   "access_level, cross_border). Fields left out are filled from the datapackage.",
                       examples=[json.dumps(DATASET_METADATA_EXAMPLE)])] = None,
                   files: Annotated[list[UploadFile] | None, File(
                       description="The data files (several). A name with train, valid/val/dev or test sets the "
                                   "split; with a datapackage its resources name the files.")] = None,
                   datapackage: Annotated[UploadFile | None, File(
                       description="An optional Frictionless datapackage.json.")] = None):
    """Register a dataset version (multipart: a ``metadata`` JSON part and ``files``, and/or a Frictionless
    ``datapackage.json``): the same checks and one transaction as the web upload page (``/science/datasets/new``);
    files are hashed on the server and quality-checked. 201 with the version, its files and quality report."""
    with uploads.spooled(datapackage, "datapackage") as pkg, uploads.spooled_many(files) as paths:
        ds, report = uploads.register_dataset_json(session, principal, metadata, paths, datapackage=pkg)
    return _detail(session, principal, ds, report)


@router.get("/datasets/{dataset_id}/versions")
def dataset_versions(dataset_id: int, session: DbSession, principal: Reader) -> list[dict[str, Any]]:
    """Every version of this dataset (newest registration first) with its quality score and file count."""
    ds = service.access_dataset_by_id(session, principal, dataset_id)
    return [{"id": d.id, "version": d.version, "created_at": d.created_at, "quality_score": score,
             "n_files": len(d.files)} for d, score in service.dataset_versions(session, principal, ds.slug)]


@router.get("/datasets/{dataset_id}/diff")
def dataset_diff(dataset_id: int, session: DbSession, principal: Reader,
                 against: int = Query(..., description="Id of another version of the same dataset.")) -> dict[str, Any]:
    """What changed between two versions (earlier registration = ``old``): metadata fields with old and new
    values, and every file by name (added, removed, changed, unchanged) with both SHA-256 and sizes."""
    d = service.diff_versions(session, principal, dataset_id, against)
    return {"old": {"id": d["old"].id, "version": d["old"].version},
            "new": {"id": d["new"].id, "version": d["new"].version}, "metadata": d["metadata"], "files": d["files"]}


@router.get("/datasets/{dataset_id}/export")
def export_dataset(dataset_id: int, session: DbSession, principal: Reader,
                   format: Literal["croissant", "datacite", "datacite-xml"] = "croissant",
                   cross_border: bool = Query(False, description="The export leaves the platform abroad.")):
    """Croissant JSON-LD or DataCite JSON/XML metadata (audited as a download)."""
    text = service.export_dataset(session, principal, dataset_id, format, cross_border=cross_border)
    return Response(text, media_type=MEDIA[format])


@router.post("/datasets/{dataset_id}/access-requests", response_model=AccessRequestRead, status_code=201)
def request_access(dataset_id: int, body: AccessRequestIn, session: DbSession, principal: Reader):
    """Ask for access to an approval-required dataset."""
    return service.request_access(session, principal, dataset_id, body.purpose)


@router.post("/access-requests/{request_id}/decision", response_model=AccessRequestRead)
def decide_access(request_id: int, body: DecisionIn, session: DbSession, principal: Reader):
    """The dataset's owner (or a reviewer) decides an access request."""
    return service.decide_access(session, principal, request_id, body.approve)


@router.post("/datasets/{dataset_id}/cross-border-decision", response_model=DatasetRead)
def decide_cross_border(dataset_id: int, body: DecisionIn, session: DbSession, principal: Reviewer):
    """A reviewer's cross-border (跨境) export decision."""
    return service.decide_cross_border(session, principal, dataset_id, body.approve)


@router.get("/tasks")
def list_tasks(session: DbSession, principal: Reader) -> list[dict[str, Any]]:
    """Evaluation tasks."""
    service.ensure_builtins(session, principal)
    return [{"id": t.slug, "version": t.version, "title": t.title, "domain": t.domain, "suite": t.suite,
             "split": t.split, "metrics": t.metrics, "headline_metric": t.headline_metric,
             "higher_is_better": t.higher_is_better, "baselines": t.baselines, "content_hash": t.content_hash}
            for t in service.list_tasks(session, principal)]


@router.get("/models")
def list_models(session: DbSession, principal: Reader) -> list[dict[str, Any]]:
    """Models and their cards."""
    service.ensure_builtins(session, principal)
    return [{"id": m.slug, "version": m.version, "name": m.name, "domain": m.domain, "task_kind": m.task_kind,
             "licence": m.licence, "adapter": m.adapter, "builtin": m.is_builtin, "intended_use": m.intended_use,
             "limits": m.limits, "training_dataset_ids": m.training_dataset_ids}
            for m in service.list_models(session, principal)]


@router.get("/tasks/{task_id}/leaderboard")
def leaderboard(task_id: str, session: DbSession, principal: Reader) -> dict[str, Any]:
    """Latest ok run per model ranked by the headline metric, with intervals and non-finite counts."""
    return service.leaderboard(session, principal, task_id)


@router.post("/runs", status_code=201)
def create_run(body: RunIn, session: DbSession, principal: Runner) -> dict[str, Any]:
    """Run a model on a task now and record the run (ok with scores, or failed with the error)."""
    r = service.run(session, principal, body.task, body.model, seed=body.seed)
    return service.run_summary(session, r)


@router.get("/runs/{run_id}")
def get_run(run_id: int, session: DbSession, principal: Reader) -> dict[str, Any]:
    """One run with its environment, hashes, timings and scores."""
    service.require(principal, service.READ)
    r = session.get(EvaluationRun, run_id)
    if r is None:
        raise NotFound()
    return service.run_summary(session, r)


@router.post("/jobs", status_code=202)
def create_job(body: JobIn, session: DbSession, principal: Runner) -> dict[str, Any]:
    """Queue a run as a background job; poll ``GET /jobs/{id}`` for status and progress."""
    return jobs.job_summary(jobs.enqueue(session, principal, body.task, body.model, seed=body.seed,
                                         time_limit_s=body.time_limit_s))


@router.get("/jobs")
def list_jobs(session: DbSession, principal: Reader) -> list[dict[str, Any]]:
    """The caller's newest jobs (a reviewer sees all)."""
    return [jobs.job_summary(j) for j in jobs.list_jobs(session, principal)]


@router.get("/jobs/{job_id}")
def get_job(job_id: int, session: DbSession, principal: Reader) -> dict[str, Any]:
    """A job's status (queued, running, succeeded, failed), progress 0–1, phase, error and run id."""
    return jobs.job_summary(jobs.access_job_by_id(session, principal, job_id))


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: int, session: DbSession, principal: Runner) -> dict[str, Any]:
    """Cancel a job (its creator, a reviewer or an operator): a queued job becomes ``cancelled`` and never
    runs; a running one gets ``cancel_requested_at`` and its worker stops it with no run written. Asking again
    returns the same state; 409 when the job already succeeded or failed; 404 for a job you cannot see."""
    return jobs.job_summary(jobs.cancel(session, principal, job_id))


@router.post("/models", status_code=201, response_model=ModelRead)
def register_model(session: DbSession, principal: Publisher, slug: Annotated[str, Form()],
                   version: Annotated[str, Form()], name: Annotated[str, Form()], domain: Annotated[str, Form()],
                   task_kind: Annotated[str, Form()], adapter: Annotated[str, Form()],
                   file: Annotated[UploadFile | None, File()] = None, task: Annotated[str | None, Form()] = None,
                   licence: Annotated[str | None, Form()] = None, training_data: Annotated[str | None, Form()] = None,
                   training_dataset_ids: Annotated[str | None, Form(description="Comma-separated dataset ids.")] = None,
                   intended_use: Annotated[str | None, Form()] = None, limits: Annotated[str | None, Form()] = None,
                   base_url: Annotated[str | None, Form()] = None, endpoint_model: Annotated[str | None, Form()] = None,
                   api_key_env: Annotated[str | None, Form()] = None):
    """Register a model version with its card: an ONNX file, a predictions file for ``task`` (JSON, NetCDF
    or zipped Zarr) or an OpenAI-compatible endpoint (multipart form)."""
    card = {"slug": slug, "version": version, "name": name, "domain": domain, "task_kind": task_kind,
            "licence": licence, "training_data": training_data, "intended_use": intended_use, "limits": limits,
            "training_dataset_ids": uploads.parse_ids(training_dataset_ids)}
    with uploads.spooled(file) as path:
        return uploads.register_model(session, principal, card, adapter, file=path, task=task or None,
                                      config={"base_url": base_url, "model": endpoint_model,
                                              "api_key_env": api_key_env})


@router.get("/models/{slug}")
def get_model(slug: str, session: DbSession, principal: Reader) -> dict[str, Any]:
    """A model card with every version, its adapter, file hash, training datasets and latest runs."""
    card = uploads.model_card(session, principal, slug)
    return {"id": slug, "versions": [ModelRead.model_validate(m).model_dump(mode="json") for m in card["versions"]],
            "training_datasets": [{"id": d.id, "slug": d.slug, "version": d.version, "name": d.name}
                                  for d in card["datasets"].values()],
            "runs": [{"run_id": x["run"].id, "task": x["task"].slug, "status": x["run"].status,
                      "scores": {x["task"].headline_metric: x["run"].scores.get(x["task"].headline_metric)}}
                     for x in card["runs"]]}


@router.get("/suites/{suite}/leaderboard")
def suite_leaderboard(suite: Literal["weather", "life", "matter", "llm"], session: DbSession,
                      principal: Reader) -> dict[str, Any]:
    """Each task of the suite with its ranked models, headline metric and bootstrap interval."""
    return boards.suite_leaderboard(session, principal, suite)


@router.get("/runs/{run_id}/predictions")
def run_predictions(run_id: int, session: DbSession, principal: Reader, page: int = Query(1, ge=1),
                    per_page: int = Query(50, ge=1, le=200)) -> dict[str, Any]:
    """A page of a run's per-item predictions (with targets and absolute errors where they are numbers)."""
    return boards.run_items(session, principal, run_id, page, per_page)
