"""AI for Science pages (thin): catalogue of tasks, datasets and models; task page with leaderboard and
skill-by-lead chart; dataset page with the quality report; run page. Templates: ``templates/science/``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from kechuang.config import settings
from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.permissions import has
from kechuang.db import utcnow
from kechuang.science import boards, jobs, service, uploads
from kechuang.science.models import ACCESS_LEVELS, MODEL_DOMAINS, EvaluationRun, EvaluationTask, ScienceModel
from kechuang.web.pageutil import pages_router
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router()
Reader = Annotated[Principal, Depends(requires(service.READ))]
Runner = Annotated[Principal, Depends(requires(service.RUN))]
Publisher = Annotated[Principal, Depends(requires(service.PUBLISH))]
register_nav(NavItem("science", N_("AI for Science"), "/science", service.READ, order=30))

COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a")


def _chart(board: dict, width: int = 640, height: int = 240, legend: int = 180) -> dict | None:
    """Polylines of a per-lead metric (``rmse@<lead>``) for each model, scaled into an SVG box."""
    metric = board["headline_metric"]
    series = []
    for i, row in enumerate(board["rows"]):
        pts = sorted((float(k.split("@", 1)[1]), v) for k, v in row["scores"].items()
                     if k.startswith(metric + "@") and v is not None)
        if pts:
            series.append({"model": row["model"], "points": pts, "colour": COLOURS[i % len(COLOURS)]})
    if not series:
        return None
    xs = [x for s in series for x, _ in s["points"]]
    ys = [y for s in series for _, y in s["points"]]
    x0, x1, y1 = min(xs), max(xs), max(ys) or 1.0
    pad = 36
    for s in series:
        s["svg"] = " ".join(f"{pad + (x - x0) / ((x1 - x0) or 1) * (width - legend - pad):.1f},"
                            f"{height - pad - y / y1 * (height - 2 * pad):.1f}" for x, y in s["points"])
    return {"series": series, "width": width, "height": height, "pad": pad, "x0": x0, "x1": x1, "y1": y1,
            "right": width - legend,
            "metric": metric}


@router.get("/science")
def index(request: Request, session: DbSession, principal: Reader):
    """Tasks, datasets and models."""
    service.ensure_builtins(session, principal)
    return render(request, "science/index.html", {
        "title": N_("AI for Science"), "active_nav": "science", "suites": boards.SUITES,
        "tasks": service.list_tasks(session, principal), "datasets": service.list_datasets(session, principal),
        "models": service.list_models(session, principal), "can_publish": has(principal, service.PUBLISH)})


@router.get("/science/tasks/{task_id}")
def task_page(task_id: str, request: Request, session: DbSession, principal: Reader):
    """A task's leaderboard and skill by lead time."""
    board = service.leaderboard(session, principal, task_id)
    task = session.scalar(select(EvaluationTask).where(EvaluationTask.slug == task_id)
                          .order_by(EvaluationTask.id.desc()).limit(1))
    models = [m for m in service.list_models(session, principal) if _serves(m, task)]
    return render(request, "science/task.html", {"title": task.title, "active_nav": "science", "task": task,
                                                 "board": board, "chart": _chart(board),
                                                 "variables": _variable_table(board),
                                                 "can_run": has(principal, service.RUN),
                                                 "run_models": sorted({m.slug for m in models})})


def _serves(m: ScienceModel, task: EvaluationTask) -> bool:
    return jobs.serves(m, task.slug)


def _variable_table(board: dict) -> dict[str, Any] | None:
    """Per model, ``rmse.<var>@<lead>`` / ``acc.<var>@<lead>`` scores as rows (gridded tasks)."""
    leads: set[float] = set()
    rows = []
    for r in board["rows"]:
        cells: dict[tuple[str, str], dict[float, float]] = {}
        for k, v in r["scores"].items():
            if "." in k.split("@")[0] and "@" in k:
                metric_var, lead = k.split("@", 1)
                metric, var = metric_var.split(".", 1)
                cells.setdefault((var, metric), {})[float(lead)] = v
                leads.add(float(lead))
        for (var, metric), by_lead in sorted(cells.items()):
            rows.append({"model": r["model"], "variable": var, "metric": metric, "by_lead": by_lead})
    if not rows:
        return None
    return {"leads": sorted(leads), "rows": rows}


_LINED = ("creators", "related_identifiers")


def _form_errors(exc: ValidationFailed) -> dict[str, list[str]]:
    """Field → reasons; a reason about one line of a multi-line field names the line."""
    out: dict[str, list[str]] = {}
    for e in exc.errors:
        r = e.render()
        reason = gettext("Line {n}: {reason}", n=r["row"], reason=r["reason"]) if e.field in _LINED and e.row else r["reason"]
        out.setdefault(e.field, []).append(reason)
    return out or {"__all__": [exc.render_message()]}


def _dataset_form(request: Request, principal: Principal, values: dict, errors: dict, message: str | None = None,
                  status_code: int = 200):
    return render(request, "science/dataset_form.html", {
        "title": N_("Add a dataset"), "active_nav": "science", "values": values, "errors": errors,
        "message": message, "access_levels": ACCESS_LEVELS, "max_mb": f"{settings.science_upload_max_mb:g}",
        "relations": uploads.RELATION_TYPES}, status_code=status_code, principal=principal)


@router.get("/science/datasets/new")
def dataset_new(request: Request, principal: Publisher):
    """Form: a dataset version's Croissant/DataCite metadata and its files, or a Frictionless datapackage.json."""
    return _dataset_form(request, principal, {"version": "1.0.0", "access_level": "open",
                                              "publication_year": utcnow().year}, {})


@router.post("/science/datasets")
def dataset_create(request: Request, session: DbSession, principal: Publisher,
                   slug: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "",
                   version: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
                   creators: Annotated[str, Form()] = "", publisher: Annotated[str, Form()] = "",
                   publication_year: Annotated[str, Form()] = "", identifier: Annotated[str, Form()] = "",
                   licence: Annotated[str, Form()] = "", subjects: Annotated[str, Form()] = "",
                   temporal_coverage: Annotated[str, Form()] = "", spatial_coverage: Annotated[str, Form()] = "",
                   provenance: Annotated[str, Form()] = "", related_identifiers: Annotated[str, Form()] = "",
                   label: Annotated[str, Form()] = "", access_level: Annotated[str, Form()] = "open",
                   cross_border: Annotated[str, Form()] = "",
                   datapackage: Annotated[UploadFile | None, File()] = None,
                   files: Annotated[list[UploadFile] | None, File()] = None):
    """Register the version, store its files and run the quality checks, then show the dataset page with the
    report; the form again (422) with each field's error, the typed values kept, when anything is refused."""
    form = {"slug": slug, "name": name, "version": version, "description": description, "creators": creators,
            "publisher": publisher, "publication_year": publication_year, "identifier": identifier,
            "licence": licence, "subjects": subjects, "temporal_coverage": temporal_coverage,
            "spatial_coverage": spatial_coverage, "provenance": provenance,
            "related_identifiers": related_identifiers, "label": label, "access_level": access_level,
            "cross_border": cross_border}
    try:
        with uploads.spooled(datapackage, "datapackage") as pkg, uploads.spooled_many(files) as paths:
            try:
                ds, _ = uploads.register_dataset(session, principal, form, paths, datapackage=pkg)
            except ValidationFailed as exc:
                meta = uploads.dataset_form_meta(form, pkg)[0]
                return _dataset_form(request, principal, uploads.dataset_form_values(meta, form), _form_errors(exc),
                                     exc.render_message(), 422)
    except ValidationFailed as exc:  # a file past the size limit
        return _dataset_form(request, principal, form, _form_errors(exc), exc.render_message(), 422)
    return RedirectResponse(f"/science/datasets/{ds.id}?added=1", status_code=303)


@router.get("/science/datasets/{dataset_id}")
def dataset_page(dataset_id: int, request: Request, session: DbSession, principal: Reader,
                 added: Annotated[bool, Query()] = False, compare: Annotated[int | None, Query()] = None):
    """A dataset version: metadata, files, the latest quality report and the version history;
    ``?compare=<id>`` shows what changed (metadata, per-file checksums) between this and another version."""
    ds = service.access_dataset_by_id(session, principal, dataset_id)
    versions = service.dataset_versions(session, principal, ds.slug)
    diff = None
    if compare is None and len(versions) > 1:  # by default: this version against the one registered before it
        earlier = [d for d, _ in versions if d.id < ds.id]
        compare = earlier[0].id if earlier else None
    if compare is not None and compare != ds.id and compare in {d.id for d, _ in versions}:
        diff = service.diff_versions(session, principal, ds.id, compare)
    return render(request, "science/dataset.html", {
        "title": ds.name, "active_nav": "science", "ds": ds, "report": service.latest_report(session, ds.id),
        "can_download": service.can_download(session, principal, ds), "added": added, "versions": versions,
        "diff": diff}, principal=principal)


@router.get("/science/runs/{run_id}")
def run_page(run_id: int, request: Request, session: DbSession, principal: Reader,
             page: Annotated[int, Query(ge=1)] = 1):
    """One run: scores, counts, environment, hashes, timings and per-item predictions (paginated)."""
    r = session.get(EvaluationRun, run_id)
    if r is None:
        raise NotFound()
    model = session.get(ScienceModel, r.model_id)
    items = boards.run_items(session, principal, run_id, page, 50)
    return render(request, "science/run.html", {"title": gettext("Run {id}", id=run_id), "active_nav": "science",
                                                "run": service.run_summary(session, r), "model": model,
                                                "items": items})


@router.post("/science/tasks/{task_id}/jobs")
def queue_job(task_id: str, session: DbSession, principal: Runner, model: Annotated[str, Form()],
              seed: Annotated[int, Form()] = 0):
    """Queue a run of ``model`` on the task and go to the job's progress page."""
    job = jobs.enqueue(session, principal, task_id, model, seed=seed)
    return RedirectResponse(f"/science/jobs/{job.id}", status_code=303)


@router.get("/science/jobs/{job_id}")
def job_page(job_id: int, request: Request, session: DbSession, principal: Reader):
    """A background run: status and progress, refreshed by htmx until it ends; a cancel button for its
    creator or a reviewer while it is queued or running."""
    job = jobs.access_job_by_id(session, principal, job_id)
    return _job_page(request, job, principal)


def _job_page(request: Request, job, principal: Principal, message: str | None = None, status_code: int = 200):
    return render(request, "science/job.html", {"title": gettext("Job {id}", id=job.id), "active_nav": "science",
                                                "job": job, "can_cancel": jobs.can_cancel(principal, job),
                                                "message": message}, status_code=status_code)


@router.get("/science/jobs/{job_id}/status")
def job_status(job_id: int, request: Request, session: DbSession, principal: Reader):
    """The job's status fragment (htmx polling; stops polling once the job has ended, and then removes the
    cancel button)."""
    job = jobs.access_job_by_id(session, principal, job_id)
    return render(request, "science/_job_status.html", {"job": job, "fragment": True})


@router.post("/science/jobs/{job_id}/cancel")
def job_cancel(job_id: int, request: Request, session: DbSession, principal: Runner):
    """Cancel the job. htmx gets the actions block (and the status, out of band); without JavaScript the job
    page again. A job that ended before the cancel arrived answers 409 with the reason beside the status."""
    message, code = None, 200
    try:
        job = jobs.cancel(session, principal, job_id)
    except jobs.JobAlreadyEnded as exc:
        job, message, code = jobs.access_job_by_id(session, principal, job_id), exc.render_message(), 409
    if request.headers.get("HX-Request"):  # htmx swaps 2xx answers only: the conflict is shown as a message
        return render(request, "science/_job_actions.html", {"job": job, "can_cancel": jobs.can_cancel(principal, job),
                                                             "message": message, "with_status": True})
    if message:
        return _job_page(request, job, principal, message, code)
    return RedirectResponse(f"/science/jobs/{job_id}", status_code=303)


@router.get("/science/models")
def model_catalogue(request: Request, session: DbSession, principal: Reader,
                    domain: Annotated[str | None, Query()] = None):
    """Every model (latest version) with domain, adapter, licence, versions and runs."""
    dom = domain if domain in MODEL_DOMAINS else None
    return render(request, "science/models.html", {
        "title": N_("Models"), "active_nav": "science", "rows": uploads.model_catalogue(session, principal, dom),
        "domain": dom, "domains": MODEL_DOMAINS, "can_publish": has(principal, service.PUBLISH)})


def _model_form(request: Request, session: DbSession, principal: Principal, values: dict, errors: dict,
                message: str | None = None, status_code: int = 200):
    return render(request, "science/model_form.html", {
        "title": N_("Register a model"), "active_nav": "science", "values": values, "errors": errors,
        "message": message, "domains": MODEL_DOMAINS, "tasks": service.list_tasks(session, principal),
        "datasets": service.list_datasets(session, principal)}, status_code=status_code, principal=principal)


@router.get("/science/models/new")
def model_new(request: Request, session: DbSession, principal: Publisher):
    """Form: a model card with an ONNX file, a predictions file or an OpenAI-compatible endpoint."""
    return _model_form(request, session, principal, {"version": "1.0.0", "adapter": "onnx"}, {})


@router.post("/science/models")
def model_create(request: Request, session: DbSession, principal: Publisher,
                 slug: Annotated[str, Form()] = "", version: Annotated[str, Form()] = "",
                 name: Annotated[str, Form()] = "", domain: Annotated[str, Form()] = "",
                 task_kind: Annotated[str, Form()] = "", adapter: Annotated[str, Form()] = "",
                 task: Annotated[str, Form()] = "", licence: Annotated[str, Form()] = "",
                 training_data: Annotated[str, Form()] = "", training_dataset_ids: Annotated[list[int], Form()] = [],  # noqa: B006
                 intended_use: Annotated[str, Form()] = "", limits: Annotated[str, Form()] = "",
                 base_url: Annotated[str, Form()] = "", endpoint_model: Annotated[str, Form()] = "",
                 file: Annotated[UploadFile | None, File()] = None):
    """Register the model version; the form again with every field's error when it is refused."""
    values = {"slug": slug, "version": version, "name": name, "domain": domain, "task_kind": task_kind,
              "adapter": adapter, "task": task, "licence": licence, "training_data": training_data,
              "training_dataset_ids": training_dataset_ids, "intended_use": intended_use, "limits": limits,
              "base_url": base_url, "endpoint_model": endpoint_model}
    card = {k: values[k] for k in uploads.CARD_FIELDS} | {"training_dataset_ids": training_dataset_ids}
    try:
        with uploads.spooled(file) as path:
            model = uploads.register_model(session, principal, card, adapter, file=path, task=task or None,
                                           config={"base_url": base_url, "model": endpoint_model})
    except ValidationFailed as exc:
        errors: dict[str, list[str]] = {}
        for e in exc.errors:
            errors.setdefault(e.field if e.field in values or e.field == "file" else "__all__", []).append(
                e.render()["reason"])
        return _model_form(request, session, principal, values, errors, exc.render_message(), 422)
    return RedirectResponse(f"/science/models/{model.slug}", status_code=303)


@router.get("/science/models/{slug}")
def model_page(slug: str, request: Request, session: DbSession, principal: Reader):
    """A model card: domain, task, licence, training data (linked datasets), intended use, limits, every
    version with its adapter and file hash, and its runs."""
    card = uploads.model_card(session, principal, slug)
    m = card["latest"]
    return render(request, "science/model.html", {
        "title": m.name, "active_nav": "science", "card": card, "m": m,
        "can_run": has(principal, service.RUN),
        "tasks": sorted({t.slug for t in service.list_tasks(session, principal) if _serves(m, t)})})


@router.get("/science/suites/{suite}")
def suite_page(suite: str, request: Request, session: DbSession, principal: Reader):
    """A suite's leaderboards (weather, life, matter, scientific LLMs): each task's ranked models with the
    headline metric and its bootstrap interval."""
    board = boards.suite_leaderboard(session, principal, suite)
    return render(request, "science/suite.html", {"title": board["title"], "active_nav": "science",
                                                  "board": board, "suites": boards.SUITES})
