"""AI for Science pages (thin): catalogue of tasks, datasets and models; task page with leaderboard and
skill-by-lead chart; dataset page with the quality report; run page. Templates: ``templates/science/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import NotFound
from kechuang.core.i18n import N_, gettext
from kechuang.science import service
from kechuang.science.models import EvaluationRun, EvaluationTask, ScienceModel
from kechuang.web.pageutil import pages_router
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router()
Reader = Annotated[Principal, Depends(requires(service.READ))]
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
        "title": N_("AI for Science"), "active_nav": "science",
        "tasks": service.list_tasks(session, principal), "datasets": service.list_datasets(session, principal),
        "models": service.list_models(session, principal)})


@router.get("/science/tasks/{task_id}")
def task_page(task_id: str, request: Request, session: DbSession, principal: Reader):
    """A task's leaderboard and skill by lead time."""
    board = service.leaderboard(session, principal, task_id)
    task = session.scalar(select(EvaluationTask).where(EvaluationTask.slug == task_id)
                          .order_by(EvaluationTask.id.desc()).limit(1))
    return render(request, "science/task.html", {"title": task.title, "active_nav": "science", "task": task,
                                                 "board": board, "chart": _chart(board)})


@router.get("/science/datasets/{dataset_id}")
def dataset_page(dataset_id: int, request: Request, session: DbSession, principal: Reader):
    """A dataset version: metadata, files and the latest quality report."""
    ds = service.access_dataset_by_id(session, principal, dataset_id)
    return render(request, "science/dataset.html", {
        "title": ds.name, "active_nav": "science", "ds": ds, "report": service.latest_report(session, ds.id),
        "can_download": service.can_download(session, principal, ds)})


@router.get("/science/runs/{run_id}")
def run_page(run_id: int, request: Request, session: DbSession, principal: Reader):
    """One run: scores, counts, environment, hashes, timings."""
    r = session.get(EvaluationRun, run_id)
    if r is None:
        raise NotFound()
    model = session.get(ScienceModel, r.model_id)
    return render(request, "science/run.html", {"title": gettext("Run {id}", id=run_id), "active_nav": "science",
                                                "run": service.run_summary(session, r), "model": model})
