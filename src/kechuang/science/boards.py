"""Read models for pages and the API (no HTTP): per-suite leaderboards (weather / life / matter / LLM) with
each task's headline metric and bootstrap interval, and a run's per-item predictions, paginated."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal
from kechuang.core.errors import NotFound
from kechuang.core.i18n import N_
from kechuang.core.permissions import require
from kechuang.science import service
from kechuang.science.models import EvaluationRun, EvaluationTask, ScienceModel
from kechuang.science.tasks import TASKS

# suite id -> (task domain, title)
SUITES: dict[str, tuple[str, str]] = {
    "weather": ("weather", N_("Weather and climate")),
    "life": ("life", N_("Life sciences")),
    "matter": ("matter", N_("Matter and materials")),
    "llm": ("general", N_("Scientific LLMs")),
}


def suite_leaderboard(session: Session, principal: Principal, suite: str) -> dict[str, Any]:
    """Every registered task of the suite (latest version) with its ranked rows: model, adapter, headline
    metric and 95 % bootstrap interval, non-finite and failed counts, run id. NotFound for an unknown suite."""
    require(principal, service.READ)
    if suite not in SUITES:
        raise NotFound()
    domain, title = SUITES[suite]
    service.ensure_builtins(session, principal)
    slugs = sorted({s for s in session.scalars(select(EvaluationTask.slug).where(EvaluationTask.domain == domain))})
    adapters = dict(session.execute(select(ScienceModel.slug, ScienceModel.adapter)
                                    .order_by(ScienceModel.id)).all())
    tasks = []
    for slug in slugs:
        board = service.leaderboard(session, principal, slug)
        task = session.scalar(select(EvaluationTask).where(EvaluationTask.slug == slug)
                              .order_by(EvaluationTask.id.desc()).limit(1))
        rows = [{k: r[k] for k in ("rank", "model", "model_version", "is_baseline", "headline", "ci", "n_items",
                                   "n_nonfinite", "n_exploding", "failed_runs", "run_id", "regridded")}
                | {"adapter": adapters.get(r["model"])} for r in board["rows"]]
        tasks.append({"task": slug, "task_version": board["task_version"], "title": task.title,
                      "headline_metric": board["headline_metric"], "higher_is_better": board["higher_is_better"],
                      "rows": rows})
    return {"suite": suite, "title": title, "tasks": tasks}


def _preview(v: Any, limit: int = 6) -> str:
    if isinstance(v, list):
        flat = np.asarray(v, dtype=object).ravel().tolist()
        head = ", ".join("–" if x is None else f"{x:.4g}" if isinstance(x, float) else str(x) for x in flat[:limit])
        return f"[{head}{', …' if len(flat) > limit else ''}] ({len(flat)})"
    if v is None:
        return "–"
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def run_items(session: Session, principal: Principal, run_id: int, page: int = 1,
              per_page: int = 50) -> dict[str, Any]:
    """One page of a run's per-item predictions: item id, prediction (a preview for arrays), the target and
    absolute error where the target is a number, and whether the prediction was usable (finite)."""
    require(principal, service.READ)
    r = session.get(EvaluationRun, run_id)
    if r is None:
        raise NotFound()
    task_row = session.get(EvaluationTask, r.task_id)
    per_page = max(1, min(per_page, 200))
    page = max(1, page)
    task = TASKS.get(task_row.slug)
    data = task.load(r.split) if task is not None and task.version == task_row.version else None
    ids = list(r.predictions) if r.predictions else (data.item_ids if data is not None else [])
    total = len(ids)
    start = (page - 1) * per_page
    chunk = ids[start:start + per_page]
    big = None
    if not r.predictions and r.predictions_path:
        try:
            big = np.load(r.predictions_path, mmap_mode="r")
        except (OSError, ValueError):
            big = None
    index = {i: k for k, i in enumerate(data.item_ids)} if data is not None else {}
    items = []
    for item in chunk:
        k = index.get(item)
        if r.predictions:
            pred = r.predictions[item]
        elif big is not None and k is not None and k < len(big):  # a large forecast: preview, not the field
            arr = np.asarray(big[k], dtype=np.float64).ravel()
            head = ", ".join("–" if not np.isfinite(x) else f"{x:.4g}" for x in arr[:6])
            items.append({"item_id": item, "prediction": f"[{head}, …] ({arr.size})", "target": "–",
                          "abs_error": None, "usable": bool(np.isfinite(arr).all())})
            continue
        else:
            pred = None
        target = None
        if data is not None and k is not None:
            t = data.targets[k]
            target = t.item() if np.ndim(t) == 0 and hasattr(t, "item") else (t if np.ndim(t) == 0 else None)
        flat = np.asarray(pred, dtype=object).ravel() if isinstance(pred, list) else [pred]
        finite = all(x is not None and (not isinstance(x, float) or np.isfinite(x)) for x in flat)
        err = (abs(float(pred) - float(target)) if finite and isinstance(pred, int | float)
               and isinstance(target, int | float) and not isinstance(target, bool) else None)
        items.append({"item_id": item, "prediction": _preview(pred), "target": _preview(target),
                      "abs_error": err, "usable": finite})
    return {"run_id": r.id, "page": page, "per_page": per_page, "total": total,
            "pages": max(1, -(-total // per_page)), "items": items}

