"""``kechuang science dataset add|check|export``, ``task list``, ``model list``, ``run``, ``leaderboard``,
``seed``, ``worker``, ``job list|show|cancel``. The JSON outputs are a stable contract (outside checks use them)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Column, Table

from kechuang.core.auth import SYSTEM
from kechuang.core.errors import AppError
from kechuang.core.i18n import _
from kechuang.db import session_scope
from kechuang.science import export, service

app = typer.Typer(help="AI for Science (科学智能): datasets, models, evaluation tasks, runs, leaderboards.",
                  no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets: add (metadata JSON or Frictionless datapackage.json), check, export.",
                          no_args_is_help=True)
task_app = typer.Typer(help="Evaluation tasks.", no_args_is_help=True)
model_app = typer.Typer(help="Models (built-in baselines included).", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
app.add_typer(task_app, name="task")
job_app = typer.Typer(help="Background evaluation jobs: list, show, cancel.", no_args_is_help=True)
app.add_typer(model_app, name="model")
app.add_typer(job_app, name="job")
console = Console()
err = Console(stderr=True)


def _fail(exc: AppError) -> None:
    err.print(f"[red]{exc.render_message()}[/red]")
    for e in exc.errors:
        r = e.render()
        where = f"row {r['row']} " if "row" in r else ""
        value = f" ({r['value']})" if "value" in r else ""
        err.print(f"  {where}{r['field']}{value}: {r['reason']}")
    raise typer.Exit(1)


def _fmt(format: str) -> None:
    if format not in ("table", "json"):
        err.print(_("--format must be table or json."))
        raise typer.Exit(2)


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, ensure_ascii=False, indent=2))


@app.command("seed")
def seed_cmd(baselines: bool = typer.Option(True, "--baselines/--no-baselines",
                                            help="Also run every built-in baseline that has no run yet."),
             slow: bool = typer.Option(False, "--slow", help="Include the slow tier (e.g. QM9; tens of seconds).")):
    """Register the built-in tasks, their datasets and baseline models, and run their baselines (idempotent)."""
    with session_scope() as session:
        if baselines:
            runs = service.run_missing_baselines(session, SYSTEM, include=slow)
        else:
            service.ensure_builtin_datasets(session, SYSTEM, include=slow)
            runs = []
        n_t, n_m = len(service.list_tasks(session, SYSTEM)), len(service.list_models(session, SYSTEM))
    console.print(_("{tasks} tasks and {models} models registered; {runs} baseline runs.", tasks=n_t, models=n_m,
                    runs=len(runs)))


@dataset_app.command("add")
def dataset_add(
    path: Path = typer.Argument(..., exists=True, help="datapackage.json (Frictionless), a folder with one, or a "
                                                        "metadata JSON with a 'files' list."),
    access: str = typer.Option(None, "--access", help="open, registered or approval (overrides the file)."),
    cross_border: bool = typer.Option(False, "--cross-border", help="Flag for cross-border review (跨境)."),
    format: str = typer.Option("table", "--format", help="table or json"),
):
    """Register a dataset version, hash its files and run the quality checks."""
    _fmt(format)
    target = path / "datapackage.json" if path.is_dir() else path
    raw = json.loads(target.read_text(encoding="utf-8"))
    if "resources" in raw:
        meta, files = export.read_datapackage(target)
        meta.update({k: raw[k] for k in ("access_level", "cross_border", "is_synthetic") if k in raw})
    else:
        meta, files = raw, [{**f, "path": str((target.parent / f["path"]).resolve())} for f in raw.get("files", [])]
    if access:
        meta["access_level"] = access
    if cross_border:
        meta["cross_border"] = True
    try:
        with session_scope() as session:
            ds, report = service.create_dataset(session, SYSTEM, meta, files)
            out = {"dataset_id": ds.id, "slug": ds.slug, "version": ds.version, "quality_score": report.score,
                   "checks": report.checks}
    except AppError as exc:
        _fail(exc)
        return
    if format == "json":
        _echo_json(out)
    else:
        _print_checks(out)


def _print_checks(out: dict) -> None:
    console.print(_("Dataset {id} ({slug} {version}): quality score {score}", id=out["dataset_id"],
                    slug=out["slug"], version=out["version"], score=out["quality_score"]))
    t = Table("check", "result", "evidence")
    for c in out["checks"]:
        t.add_row(c["name"], c["result"], json.dumps(c["evidence"], ensure_ascii=False)[:100])
    console.print(t)


@dataset_app.command("check")
def dataset_check(dataset_id: int = typer.Argument(...), format: str = typer.Option("table", "--format")):
    """Re-run the quality checks on a dataset version (checksums against the registered hashes)."""
    _fmt(format)
    try:
        with session_scope() as session:
            ds = service.access_dataset_by_id(session, SYSTEM, dataset_id)
            report = service.check_dataset(session, SYSTEM, dataset_id)
            out = {"dataset_id": ds.id, "slug": ds.slug, "version": ds.version, "quality_score": report.score,
                   "checks": report.checks}
    except AppError as exc:
        _fail(exc)
        return
    _echo_json(out) if format == "json" else _print_checks(out)
    if any(c["result"] == "fail" for c in out["checks"]):
        raise typer.Exit(1)


@dataset_app.command("export")
def dataset_export(
    dataset_id: int = typer.Argument(...),
    format: str = typer.Option("croissant", "--format", help="croissant, datacite or datacite-xml"),
    cross_border: bool = typer.Option(False, "--cross-border", help="The export leaves the platform abroad."),
    out: Path = typer.Option(None, "--out", help="Output file (default: standard output)."),
):
    """Export a dataset's metadata (audited as a download)."""
    try:
        with session_scope() as session:
            text = service.export_dataset(session, SYSTEM, dataset_id, format, cross_border=cross_border)
    except AppError as exc:
        _fail(exc)
        return
    if out:
        out.write_text(text + "\n", encoding="utf-8")
    else:
        typer.echo(text)


@task_app.command("list")
def task_list(format: str = typer.Option("table", "--format", help="table or json")):
    """Evaluation tasks (built-ins registered on first use)."""
    _fmt(format)
    with session_scope() as session:
        service.ensure_builtins(session, SYSTEM)
        rows = [{"id": t.slug, "version": t.version, "title": t.title, "domain": t.domain, "suite": t.suite,
                 "split": t.split, "metrics": t.metrics, "headline_metric": t.headline_metric,
                 "higher_is_better": t.higher_is_better, "baselines": t.baselines, "content_hash": t.content_hash}
                for t in service.list_tasks(session, SYSTEM)]
    if format == "json":
        _echo_json(rows)
        return
    t = Table(Column("id", no_wrap=True), "version", "domain", "headline", "baselines")
    for r in rows:
        t.add_row(r["id"], r["version"], r["domain"], r["headline_metric"], ", ".join(r["baselines"]))
    console.print(t)


@model_app.command("list")
def model_list(format: str = typer.Option("table", "--format", help="table or json")):
    """Models (built-in baselines registered on first use)."""
    _fmt(format)
    with session_scope() as session:
        service.ensure_builtins(session, SYSTEM)
        rows = [{"id": m.slug, "version": m.version, "name": m.name, "domain": m.domain, "task_kind": m.task_kind,
                 "adapter": m.adapter, "licence": m.licence, "builtin": m.is_builtin, "intended_use": m.intended_use,
                 "limits": m.limits} for m in service.list_models(session, SYSTEM)]
    if format == "json":
        _echo_json(rows)
        return
    t = Table(Column("id", no_wrap=True), "version", "domain", "adapter", "intended use")
    for r in rows:
        t.add_row(r["id"], r["version"], r["domain"], r["adapter"], r["intended_use"] or "")
    console.print(t)


@app.command("run")
def run_cmd(
    task: str = typer.Option(..., "--task", help="Task id, e.g. lorenz96-forecast."),
    model: str = typer.Option(..., "--model", help="Model id, e.g. baseline-persistence."),
    seed: int = typer.Option(0, "--seed"),
    time_limit: float = typer.Option(service.DEFAULT_TIME_LIMIT_S, "--time-limit", help="Seconds before the run fails."),
    format: str = typer.Option("table", "--format", help="table or json"),
):
    """Run a model on a task's evaluation split and record the run (exit 1 when the run failed)."""
    _fmt(format)
    try:
        with session_scope() as session:
            r = service.run(session, SYSTEM, task, model, seed=seed, time_limit_s=time_limit)
            out = service.run_summary(session, r)
    except AppError as exc:
        _fail(exc)
        return
    if format == "json":
        _echo_json(out)
    else:
        console.print(_("Run {id}: {task} {version} × {model} — {status}", id=out["run_id"], task=out["task"],
                        version=out["task_version"], model=out["model"], status=out["status"]))
        console.print(_("{n} items, {nonfinite} non-finite, {exploding} exploding", n=out["n_items"],
                        nonfinite=out["n_nonfinite"], exploding=out["n_exploding"]))
        for k, v in out["scores"].items():
            console.print(f"  {k}: {v:.4f}" if v is not None else f"  {k}: -")
        if out["error"]:
            err.print(out["error"])
    if out["status"] != "ok":
        raise typer.Exit(1)


@app.command("leaderboard")
def leaderboard_cmd(task: str = typer.Option(..., "--task"), format: str = typer.Option("table", "--format")):
    """The task's leaderboard: latest ok run per model ranked by the headline metric."""
    _fmt(format)
    try:
        with session_scope() as session:
            board = service.leaderboard(session, SYSTEM, task)
    except AppError as exc:
        _fail(exc)
        return
    if format == "json":
        _echo_json(board)
        return
    t = Table("#", Column("model", no_wrap=True), board["headline_metric"], "95% CI", "items", "non-finite", "exploding", "run")
    for r in board["rows"]:
        ci = r["ci"] or [None, None]
        t.add_row(str(r["rank"]), r["model"], f"{r['headline']:.4f}" if r["headline"] is not None else "-",
                  f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else "-", str(r["n_items"]),
                  str(r["n_nonfinite"]), str(r["n_exploding"]), str(r["run_id"]))
    console.print(t)


@app.command("worker")
def worker_cmd(once: bool = typer.Option(False, "--once", help="Run the queued jobs once and exit."),
               poll: float = typer.Option(2.0, "--poll", help="Seconds between looks at the queue.")):
    """Execute queued evaluation runs (background jobs) in this process; the web server runs them too
    unless KECHUANG_RUN_JOBS=false."""
    from kechuang.science import jobs

    for n in jobs.run_worker(poll_s=poll, once=once):
        if n:
            console.print(_("{n} jobs run.", n=n))


@model_app.command("add")
def model_add(
    adapter: str = typer.Option(..., "--adapter", help="onnx, predictions, openai or python"),
    slug: str = typer.Option(..., "--id", help="Model id, e.g. fuxi-lite."),
    name: str = typer.Option(..., "--name"),
    domain: str = typer.Option(..., "--domain", help="weather, life, matter or general"),
    task_kind: str = typer.Option(..., "--task-kind"),
    version: str = typer.Option("1.0.0", "--version"),
    file: Path = typer.Option(None, "--file", exists=True, help="ONNX graph or predictions file."),
    task: str = typer.Option(None, "--task", help="Task of a predictions file."),
    licence: str = typer.Option(None, "--licence"),
    intended_use: str = typer.Option(None, "--intended-use"),
    limits: str = typer.Option(None, "--limits"),
    training_data: str = typer.Option(None, "--training-data"),
    base_url: str = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint."),
    endpoint_model: str = typer.Option(None, "--endpoint-model"),
    entry_point: str = typer.Option(None, "--entry-point", help="module:function (python adapter)."),
    format: str = typer.Option("table", "--format", help="table or json"),
):
    """Register a model version with its card (file hashed with SHA-256 and kept by the platform)."""
    from kechuang.science import uploads

    _fmt(format)
    card = {"slug": slug, "version": version, "name": name, "domain": domain, "task_kind": task_kind,
            "licence": licence, "intended_use": intended_use, "limits": limits, "training_data": training_data}
    try:
        with session_scope() as session:
            m = uploads.register_model(session, SYSTEM, card, adapter, file=file, task=task,
                                       config={"base_url": base_url, "model": endpoint_model,
                                               "entry_point": entry_point})
            out = {"id": m.slug, "version": m.version, "adapter": m.adapter, "sha256": m.file_sha256,
                   "size_bytes": m.file_size_bytes}
    except AppError as exc:
        _fail(exc)
        return
    if format == "json":
        _echo_json(out)
    else:
        console.print(_("Model {id} {version} registered ({adapter}).", id=out["id"], version=out["version"],
                        adapter=out["adapter"]))


# ------------------------------------------------------------------------------------------------- jobs


def _job_out(job) -> dict:
    from kechuang.science import jobs

    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in jobs.job_summary(job).items()}


def _print_job(out: dict) -> None:
    t = Table(Column("field", no_wrap=True), "value", show_header=False)
    for k, v in out.items():
        t.add_row(k, "-" if v is None else str(v))
    console.print(t)


@job_app.command("list")
def job_list(format: str = typer.Option("table", "--format", help="table or json"),
             limit: int = typer.Option(50, "--limit", min=1, max=1000, help="The newest N jobs.")):
    """The newest background jobs (every user's: the CLI acts as the operator), newest first."""
    from kechuang.science import jobs

    _fmt(format)
    with session_scope() as session:
        rows = [_job_out(j) for j in jobs.list_jobs(session, SYSTEM, limit=limit)]
    if format == "json":
        _echo_json(rows)
        return
    t = Table(Column("id", no_wrap=True), "task", "model", Column("status", no_wrap=True),
              Column("progress", no_wrap=True), Column("run", no_wrap=True))
    for r in rows:
        status = "cancelling" if r["status"] == "running" and r["cancel_requested_at"] else r["status"]
        t.add_row(str(r["job_id"]), r["task"], r["model"], status, f"{r['progress']:.0%}", str(r["run_id"] or "-"))
    console.print(t)


@job_app.command("show")
def job_show(job_id: int = typer.Argument(...), format: str = typer.Option("table", "--format", help="table or json")):
    """One job: status, progress, phase, error, run id, times, cancel request."""
    from kechuang.science import jobs

    _fmt(format)
    try:
        with session_scope() as session:
            out = _job_out(jobs.access_job_by_id(session, SYSTEM, job_id))
    except AppError as exc:
        _fail(exc)
        return
    _echo_json(out) if format == "json" else _print_job(out)


@job_app.command("cancel")
def job_cancel(job_id: int = typer.Argument(...), format: str = typer.Option("table", "--format", help="table or json")):
    """Cancel a job: a queued one becomes cancelled and never runs; a running one is asked to stop and its
    worker ends it cancelled with no run. Asking again changes nothing; exit 1 when the job already
    succeeded or failed, or does not exist."""
    from kechuang.science import jobs

    _fmt(format)
    try:
        with session_scope() as session:
            out = _job_out(jobs.cancel(session, SYSTEM, job_id))
    except AppError as exc:
        _fail(exc)
        return
    if format == "json":
        _echo_json(out)
    elif out["status"] == "cancelled":
        console.print(_("Job {id} is cancelled.", id=out["job_id"]))
    else:
        console.print(_("Job {id} is running; its worker will stop it at its next progress report.", id=out["job_id"]))
