"""Evaluation runs as background jobs: a job row (queued → running → succeeded | failed, progress 0–1,
phase, error) and the worker that executes it.

The worker runs inside ``kechuang serve`` (a periodic job, see ``kechuang.app.PERIODIC_JOBS``) and as
``kechuang science worker`` in a separate process. A worker claims the oldest queued job with a
conditional update (``status = 'queued'`` in the WHERE clause), so two workers never run the same job.
Progress is committed in short transactions of their own while the run goes on; the run itself — scores
or the error — is written in one transaction at the end together with the job's final state, so a job
never points at a half-written score. A model that raises, returns nothing usable or passes the time
limit gives a failed run (with the error) and a failed job; an error outside the model (e.g. the task was
withdrawn) fails the job with no run. A job whose worker stopped (no heartbeat for the time limit plus
two minutes) is marked failed by the next worker.

Cancelling (``cancel``): a queued job becomes ``cancelled`` at once by a conditional update (``status =
'queued'``), so a worker's claim and a cancel never both win. A running job gets ``cancel_requested_at``
(conditional on ``status = 'running'``); its worker sees it at the next progress report (phase changes,
and every half second while the model predicts), stops and marks the job ``cancelled`` without a run. The
worker's final write is conditional on no cancel having been asked for, so a cancel that arrives while the
run is being stored still wins and the run is rolled back with the rest of that transaction.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import has, require
from kechuang.db import session_scope, utcnow
from kechuang.science import service
from kechuang.science.models import EvaluationJob, EvaluationTask, ScienceModel
from kechuang.science.tasks import TASKS

log = logging.getLogger(__name__)
Scope = Callable[[], contextlib.AbstractContextManager[Session]]
STALE_GRACE_S = 120.0
MAX_TIME_LIMIT_S = 6 * 3600.0


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --------------------------------------------------------------------------------------------- service


def enqueue(session: Session, principal: Principal, task_slug: str, model_slug: str, *, seed: int = 0,
            time_limit_s: float = service.DEFAULT_TIME_LIMIT_S) -> EvaluationJob:
    """Queue a run of ``model`` on ``task`` (NotFound for an unknown task or model)."""
    require(principal, service.RUN)
    service.ensure_builtins(session, principal, (task_slug,))
    if task_slug not in TASKS or session.scalar(select(EvaluationTask.id).where(EvaluationTask.slug == task_slug)) is None:
        raise NotFound()
    model = session.scalar(select(ScienceModel).where(ScienceModel.slug == model_slug).order_by(ScienceModel.id.desc())
                           .limit(1))
    if model is None:
        raise NotFound()
    if not serves(model, task_slug):
        raise ValidationFailed(errors=[FieldError("model", N_("This model does not serve this task."),
                                                  value=model_slug)])
    if not 0 < time_limit_s <= MAX_TIME_LIMIT_S:
        raise ValidationFailed(errors=[FieldError("time_limit_s", N_("Give between 1 second and 6 hours."),
                                                  value=time_limit_s)])
    job = EvaluationJob(task_slug=task_slug, model_slug=model_slug, seed=seed, time_limit_s=float(time_limit_s),
                        status="queued", progress=0.0, created_by_user_id=principal.user_id,
                        organisation_id=principal.organisation_id)
    session.add(job)
    session.flush()
    audit.record(session, principal, "science.job.create", "evaluation_job", job.id,
                 after={"task": task_slug, "model": model_slug, "seed": seed})
    return job


def serves(model: ScienceModel, task_slug: str) -> bool:
    """A baseline serves the tasks that list it; an uploaded predictions file serves its own task; other
    models may be tried on any task."""
    if model.is_builtin:
        return task_slug in TASKS and model.slug in TASKS[task_slug].baselines
    bound = (model.adapter_config or {}).get("task")
    return bound in (None, task_slug)


def _readable(principal: Principal):
    q = select(EvaluationJob)
    if principal.role is Role.SYSTEM or has(principal, service.REVIEW):
        return q
    own = EvaluationJob.created_by_user_id == principal.user_id
    if principal.organisation_id is not None:
        own = own | (EvaluationJob.organisation_id == principal.organisation_id)
    return q.where(own) if principal.user_id is not None or principal.organisation_id is not None else q.where(False)


def access_job_by_id(session: Session, principal: Principal, job_id: int) -> EvaluationJob:
    """A job its creator, the creator's organisation, a reviewer or an operator may see (else NotFound)."""
    require(principal, service.READ)
    job = session.scalar(_readable(principal).where(EvaluationJob.id == job_id))
    if job is None:
        raise NotFound()
    return job


def list_jobs(session: Session, principal: Principal, limit: int = 50) -> list[EvaluationJob]:
    """The newest jobs the principal may see."""
    require(principal, service.READ)
    return list(session.scalars(_readable(principal).order_by(EvaluationJob.id.desc()).limit(limit)))


def job_summary(job: EvaluationJob) -> dict[str, Any]:
    """The API shape of a job."""
    return {"job_id": job.id, "task": job.task_slug, "model": job.model_slug, "seed": job.seed,
            "status": job.status, "progress": round(job.progress or 0.0, 4), "phase": job.phase, "error": job.error,
            "run_id": job.run_id, "time_limit_s": job.time_limit_s, "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at,
            "cancel_requested_at": job.cancel_requested_at}


class JobAlreadyEnded(Conflict):
    """A cancel for a job that had already succeeded or failed."""

    default_message = N_("This job has already ended; there is nothing to cancel.")


_ENDED = {"succeeded": N_("This job already finished successfully; there is nothing to cancel."),
          "failed": N_("This job already failed; there is nothing to cancel.")}


def can_cancel(principal: Principal, job: EvaluationJob) -> bool:
    """The job's creator, a reviewer (commission) or an operator may cancel it; the creator's colleagues
    may only watch it."""
    if principal.role is Role.SYSTEM or has(principal, service.REVIEW):
        return True
    return principal.user_id is not None and job.created_by_user_id == principal.user_id and has(principal, service.RUN)


def cancel(session: Session, principal: Principal, job_id: int) -> EvaluationJob:
    """Cancel a job: a queued one is ``cancelled`` and never runs; a running one is asked to stop (its worker
    ends it ``cancelled`` with no run). Asking again changes nothing; a job that already succeeded or failed
    is a conflict. NotFound for a job the principal cannot see."""
    job = access_job_by_id(session, principal, job_id)
    if not can_cancel(principal, job):
        raise PermissionDenied(N_("Only the job's creator or a reviewer may cancel it."))
    now = utcnow()
    base = update(EvaluationJob).where(EvaluationJob.id == job.id).execution_options(synchronize_session=False)
    before = "queued"
    res = session.execute(base.where(EvaluationJob.status == "queued")
                          .values(status="cancelled", cancel_requested_at=now, cancelled_by_user_id=principal.user_id,
                                  finished_at=now))
    if res.rowcount != 1:  # claimed meanwhile, or already ended
        before = "running"
        res = session.execute(base.where(EvaluationJob.status == "running", EvaluationJob.cancel_requested_at.is_(None))
                              .values(cancel_requested_at=now, cancelled_by_user_id=principal.user_id))
    session.refresh(job)
    if res.rowcount == 1:
        audit.record(session, principal, "science.job.cancel", "evaluation_job", job.id, before={"status": before},
                     after={"status": job.status, "cancel_requested_at": now.isoformat()})
        return job
    if job.status == "cancelled" or job.cancel_requested_at is not None:  # asked before: nothing more to do
        return job
    raise JobAlreadyEnded(_ENDED.get(job.status))


def claim_next(session: Session, worker: str | None = None) -> EvaluationJob | None:
    """Mark the oldest queued job running for ``worker`` and return it (None when the queue is empty or
    another worker took it first)."""
    job_id = session.scalar(select(EvaluationJob.id).where(EvaluationJob.status == "queued")
                            .order_by(EvaluationJob.id).limit(1))
    if job_id is None:
        return None
    now = utcnow()
    res = session.execute(update(EvaluationJob).where(EvaluationJob.id == job_id, EvaluationJob.status == "queued")
                          .values(status="running", worker=worker or _worker_name(), started_at=now,
                                  heartbeat_at=now, phase="load", progress=0.0)
                          .execution_options(synchronize_session=False))
    if res.rowcount != 1:
        return None
    job = session.get(EvaluationJob, job_id)
    session.refresh(job)
    return job


def reap_stale(session: Session, now=None) -> int:
    """Fail running jobs whose worker stopped sending heartbeats; the number failed."""
    now = now or utcnow()
    n = 0
    for job in session.scalars(select(EvaluationJob).where(EvaluationJob.status == "running")):
        beat = job.heartbeat_at or job.started_at or job.created_at
        if beat.tzinfo is None:
            beat = beat.replace(tzinfo=now.tzinfo)
        if now - beat > timedelta(seconds=job.time_limit_s + STALE_GRACE_S):
            n += 1
            if job.cancel_requested_at is not None:  # it was asked to stop anyway
                job.status, job.finished_at = "cancelled", now
                audit.record(session, SYSTEM, "science.job.cancelled", "evaluation_job", job.id,
                             after={"reason": "stale", "run_written": False})
                continue
            job.status, job.error, job.finished_at = "failed", "the worker stopped before the run finished", now
            audit.record(session, SYSTEM, "science.job.fail", "evaluation_job", job.id, after={"reason": "stale"})
    session.flush()
    return n


# ---------------------------------------------------------------------------------------------- worker


class _Progress:
    """Commits (phase, fraction) and a heartbeat to the job row, at most every ``every`` seconds unless the
    phase changes, and raises ``service.RunCancelled`` once a cancel was asked for."""

    def __init__(self, scope: Scope, job_id: int, every: float = 0.5):
        self.scope, self.job_id, self.every = scope, job_id, every
        self.last_t, self.last_phase = 0.0, None

    def __call__(self, phase: str, fraction: float) -> None:
        now = time.monotonic()
        if phase == self.last_phase and now - self.last_t < self.every:
            return
        self.last_t, self.last_phase = now, phase
        cancelled = False
        try:
            with self.scope() as s:
                res = s.execute(update(EvaluationJob).where(EvaluationJob.id == self.job_id,
                                                            EvaluationJob.status == "running",
                                                            EvaluationJob.cancel_requested_at.is_(None))
                                .values(phase=phase, progress=max(0.0, min(1.0, fraction)), heartbeat_at=utcnow())
                                .execution_options(synchronize_session=False))
                if res.rowcount != 1:
                    cancelled = _cancel_requested(s, self.job_id)
        except Exception:  # progress is best effort; the run goes on
            log.warning("science job %s: progress not recorded", self.job_id, exc_info=True)
        if cancelled:
            raise service.RunCancelled(f"job {self.job_id} was cancelled")


def _cancel_requested(session: Session, job_id: int) -> bool:
    return session.scalar(select(EvaluationJob.cancel_requested_at).where(EvaluationJob.id == job_id)) is not None


def _mark_cancelled(scope: Scope, job_id: int) -> EvaluationJob:
    """The worker stopped a job whose cancel was asked for: ``cancelled``, no run."""
    with scope() as s:
        s.execute(update(EvaluationJob).where(EvaluationJob.id == job_id, EvaluationJob.status == "running")
                  .values(status="cancelled", finished_at=utcnow()).execution_options(synchronize_session=False))
        audit.record(s, SYSTEM, "science.job.cancelled", "evaluation_job", job_id, after={"run_written": False})
        job = s.get(EvaluationJob, job_id)
        s.refresh(job)
        return job


def execute(job_id: int, scope: Scope = session_scope) -> EvaluationJob | None:
    """Run a claimed job to its end and record the outcome (see the module docstring)."""
    with scope() as s:
        job = s.get(EvaluationJob, job_id)
        if job is None or job.status != "running":
            return None
        task_slug, model_slug, seed, limit = job.task_slug, job.model_slug, job.seed, job.time_limit_s
        creator = job.created_by_user_id
        service.ensure_builtins(s, SYSTEM, (task_slug,))
    progress = _Progress(scope, job_id)
    try:
        with scope() as s:
            r = service.run(s, SYSTEM, task_slug, model_slug, seed=seed, time_limit_s=limit, progress=progress)
            r.created_by_user_id = creator
            s.flush()
            status = "succeeded" if r.status == "ok" else "failed"
            # conditional: a cancel asked for while the run was being stored wins (this transaction rolls back)
            res = s.execute(update(EvaluationJob).where(EvaluationJob.id == job_id, EvaluationJob.status == "running",
                                                        EvaluationJob.cancel_requested_at.is_(None))
                            .values(run_id=r.id, status=status, error=r.error, progress=1.0, phase="done",
                                    finished_at=utcnow())
                            .execution_options(synchronize_session=False))
            if res.rowcount != 1:
                if _cancel_requested(s, job_id):
                    raise service.RunCancelled(f"job {job_id} was cancelled while its run was stored")
                raise RuntimeError("the job was ended by someone else while it ran")
            audit.record(s, SYSTEM, "science.job.finish", "evaluation_job", job_id,
                         after={"status": status, "run_id": r.id})
            job = s.get(EvaluationJob, job_id)
            s.refresh(job)
        return job
    except service.RunCancelled:  # nothing of the run was written
        return _mark_cancelled(scope, job_id)
    except Exception as exc:  # nothing of the run was written; the job says why
        log.exception("science job %s failed outside the model", job_id)
        with scope() as s:
            job = s.get(EvaluationJob, job_id)
            job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}"[:2000], utcnow()
            s.flush()
            audit.record(s, SYSTEM, "science.job.fail", "evaluation_job", job_id, after={"error": job.error})
        return job


def work_queued(scope: Scope = session_scope, max_jobs: int | None = None, worker: str | None = None) -> int:
    """Fail stale jobs, then claim and execute queued jobs until the queue is empty (or ``max_jobs``);
    the number executed. The web process calls this periodically; ``kechuang science worker`` in a loop."""
    with scope() as s:
        reap_stale(s)
    done = 0
    while max_jobs is None or done < max_jobs:
        with scope() as s:
            job = claim_next(s, worker)
            job_id = job.id if job is not None else None
        if job_id is None:
            break
        execute(job_id, scope)
        done += 1
    return done


def run_worker(poll_s: float = 2.0, once: bool = False) -> Iterator[int]:
    """The worker loop of ``kechuang science worker``: yields the number of jobs run per pass."""
    while True:
        yield work_queued()
        if once:
            return
        time.sleep(poll_s)
