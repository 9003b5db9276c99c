"""Cancelling evaluation jobs: a queued job never runs; a running one stops at its worker's next progress
report and writes no run or score; a cancel while the run is being stored still wins; asking twice is the
same as asking once (one audit entry); a finished job answers 409; another user's job 404. Service, API,
page (htmx) — and a real race with committed data: a worker thread running a slow model and a cancel from
another session."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from sqlalchemy import delete, func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import NotFound, PermissionDenied
from kechuang.db import session_scope
from kechuang.science import jobs, uploads
from kechuang.science.models import EvaluationJob, EvaluationRun, EvaluationTask, ScienceModel
from tests.conftest import principal
from tests.factories import make_organisation
from tests.science.helpers_b import savepoint_scope

L96 = "lorenz96-forecast"
OWNER = principal(Role.RESEARCHER, user_id=81, organisation_id=None)
OTHER = principal(Role.RESEARCHER, user_id=82, organisation_id=None)
OFFICER = principal(Role.COMMISSION, user_id=83, organisation_id=None)
HTML = {"accept": "text/html"}


def _sleepy(task, data):
    """A model that takes five seconds (in small steps) and then answers persistence-like zeros."""
    for _ in range(50):
        time.sleep(0.1)
    return np.zeros(data.targets.shape)


def _audit(session, action: str, job_id: int) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.object_id == str(job_id)))


def _runs(session) -> int:
    return session.scalar(select(func.count(EvaluationRun.id)))


def test_a_queued_job_is_cancelled_and_never_runs(session):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    n_runs = _runs(session)
    out = jobs.cancel(session, OWNER, job.id)
    assert out.status == "cancelled" and out.cancel_requested_at and out.finished_at
    assert out.cancelled_by_user_id == OWNER.user_id
    assert jobs.claim_next(session, "w1") is None  # nothing queued any more
    assert jobs.work_queued(savepoint_scope(session)) == 0
    again = jobs.cancel(session, OWNER, job.id)  # idempotent: same state, no second entry
    assert again.status == "cancelled" and _audit(session, "science.job.cancel", job.id) == 1
    session.expire_all()
    job = session.get(EvaluationJob, job.id)
    assert job.status == "cancelled" and job.run_id is None and job.started_at is None and _runs(session) == n_runs


def test_a_running_job_stops_at_its_next_progress_report_without_a_run(session):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    assert jobs.claim_next(session, "w1").id == job.id
    out = jobs.cancel(session, OWNER, job.id)
    assert out.status == "running" and out.cancel_requested_at is not None  # asked; the worker decides
    assert jobs.cancel(session, OWNER, job.id).status == "running"  # asking again changes nothing
    assert _audit(session, "science.job.cancel", job.id) == 1
    n_runs = _runs(session)
    done = jobs.execute(job.id, savepoint_scope(session))
    assert done.status == "cancelled" and done.run_id is None and done.phase == "load"  # stopped at its first report
    assert _runs(session) == n_runs and _audit(session, "science.job.cancelled", job.id) == 1
    assert jobs.job_summary(done)["cancel_requested_at"] is not None


def test_a_cancel_while_the_run_is_stored_still_wins(session, monkeypatch):
    """The worker missed the cancel at its progress reports (it came after the last one): the final,
    conditional write of the job refuses, and the run is rolled back with its transaction."""
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    jobs.claim_next(session, "w1")

    def late_cancel(self, phase, fraction):  # a progress reporter that does not look at the job
        if phase == "store":
            session.execute(jobs.update(EvaluationJob).where(EvaluationJob.id == job.id)
                            .values(cancel_requested_at=jobs.utcnow()))

    monkeypatch.setattr(jobs._Progress, "__call__", late_cancel)
    n_runs = _runs(session)
    done = jobs.execute(job.id, savepoint_scope(session))
    assert done.status == "cancelled" and done.run_id is None and _runs(session) == n_runs
    assert _audit(session, "science.job.finish", job.id) == 0


def test_a_finished_job_answers_409_and_other_users_get_404(session, client_as):
    job = jobs.enqueue(session, OWNER, L96, "baseline-climatology")
    jobs.work_queued(savepoint_scope(session))
    session.expire_all()
    assert session.get(EvaluationJob, job.id).status == "succeeded"
    with pytest.raises(jobs.JobAlreadyEnded) as e:
        jobs.cancel(session, OWNER, job.id)
    assert e.value.status_code == 409
    assert e.value.render_message("en") == "This job already finished successfully; there is nothing to cancel."
    res = client_as(OWNER).post(f"/api/v1/science/jobs/{job.id}/cancel?lang=en")
    assert res.status_code == 409 and res.json()["error"]["code"] == "conflict"
    assert "already finished successfully" in res.json()["error"]["message"]
    zh = client_as(OWNER).post(f"/api/v1/science/jobs/{job.id}/cancel?lang=zh")
    assert zh.status_code == 409 and zh.json()["error"]["message"] != res.json()["error"]["message"]
    queued = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    with pytest.raises(NotFound):
        jobs.cancel(session, OTHER, queued.id)
    assert client_as(OTHER).post(f"/api/v1/science/jobs/{queued.id}/cancel").status_code == 404
    assert client_as(None).post(f"/api/v1/science/jobs/{queued.id}/cancel").status_code == 401
    assert client_as(OWNER).post("/api/v1/science/jobs/999999999/cancel").status_code == 404
    session.expire_all()
    assert session.get(EvaluationJob, queued.id).status == "queued"  # untouched by the refused attempts
    res = client_as(OWNER).post(f"/api/v1/science/jobs/{queued.id}/cancel")
    assert res.status_code == 200 and res.json()["status"] == "cancelled" and res.json()["cancel_requested_at"]


def test_colleagues_watch_reviewers_cancel(session):
    org = make_organisation(session)
    me = principal(Role.ENTERPRISE, user_id=84, organisation_id=org.id)
    job = jobs.enqueue(session, me, L96, "baseline-persistence")
    colleague = principal(Role.ENTERPRISE, user_id=85, organisation_id=org.id)
    assert jobs.access_job_by_id(session, colleague, job.id).id == job.id
    with pytest.raises(PermissionDenied):
        jobs.cancel(session, colleague, job.id)
    assert jobs.cancel(session, OFFICER, job.id).status == "cancelled"
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "science.job.cancel",
                                                    AuditEntry.object_id == str(job.id)))
    assert entry is not None and entry.actor_user_id == OFFICER.user_id


def test_job_page_cancel_button_with_htmx_and_without(session, client_as):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    c = client_as(OWNER)
    page = c.get(f"/science/jobs/{job.id}?lang=en", headers=HTML).text
    assert 'id="cancel-form"' in page and "Cancel this job" in page
    assert 'id="cancel-form"' in client_as(OFFICER).get(f"/science/jobs/{job.id}", headers=HTML).text  # reviewer
    c = client_as(OWNER)  # the app acts as the principal of the latest client
    token = re.search(r'name="csrf_token" value="([^"]+)"', c.get(f"/science/jobs/{job.id}", headers=HTML).text).group(1)
    frag = c.post(f"/science/jobs/{job.id}/cancel?lang=en", data={"csrf_token": token},
                  headers={**HTML, "HX-Request": "true"})
    assert frag.status_code == 200 and '<div id="job-actions"' in frag.text and "<html" not in frag.text
    assert 'id="cancel-form"' not in frag.text and 'hx-swap-oob="true"' in frag.text and "Cancelled" in frag.text
    status = c.get(f"/science/jobs/{job.id}/status?lang=en", headers=HTML).text
    assert "hx-trigger" not in status and '<div id="job-actions" hx-swap-oob="true"></div>' in status
    # without JavaScript: a redirect to the job page; a job that had ended: the page with the reason (409)
    running = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    jobs.claim_next(session, "w1")
    res = c.post(f"/science/jobs/{running.id}/cancel", data={"csrf_token": token}, headers=HTML, follow_redirects=False)
    assert res.status_code == 303 and res.headers["location"] == f"/science/jobs/{running.id}"
    page = c.get(f"/science/jobs/{running.id}?lang=en", headers=HTML).text
    assert "Cancelling" in page and "Cancel requested" in page and 'id="cancel-form"' not in page
    ended = jobs.enqueue(session, OWNER, L96, "baseline-climatology")
    jobs.work_queued(savepoint_scope(session))
    session.expire_all()
    page = c.post(f"/science/jobs/{ended.id}/cancel?lang=en", data={"csrf_token": token}, headers=HTML)
    assert page.status_code == 409 and "already finished successfully" in page.text
    htmx = c.post(f"/science/jobs/{ended.id}/cancel?lang=en", data={"csrf_token": token},
                  headers={**HTML, "HX-Request": "true"})
    assert htmx.status_code == 200 and "already finished successfully" in htmx.text
    for who, code in ((OTHER, 404), (principal(Role.INVESTOR, user_id=86), 403)):
        other = client_as(who)
        token = re.search(r'name="csrf_token" value="([^"]+)"', other.get("/login", headers=HTML).text).group(1)
        assert other.post(f"/science/jobs/{ended.id}/cancel", data={"csrf_token": token},
                          headers=HTML).status_code == code


# ------------------------------------------------------------------ a real race, with committed data


@pytest.fixture
def committed(engine):
    """Remove what the test committed (rows above the ids that existed before)."""
    with session_scope() as s:
        last = {cls: s.scalar(select(func.max(cls.id))) or 0
                for cls in (AuditEntry, EvaluationJob, EvaluationRun, ScienceModel, EvaluationTask)}
    yield
    with session_scope() as s:
        for cls in (EvaluationJob, EvaluationRun, ScienceModel, EvaluationTask, AuditEntry):
            s.execute(delete(cls).where(cls.id > last[cls]))


def test_a_worker_thread_stops_soon_after_a_cancel_from_another_session(committed):
    with session_scope() as s:
        uploads.register_model(s, SYSTEM, {"slug": "sleepy-cancel", "version": "1.0.0", "name": "sleepy",
                                           "domain": "weather", "task_kind": "forecast"}, "python",
                               config={"entry_point": "tests.science.test_job_cancel:_sleepy"})
        job_id = jobs.enqueue(s, OWNER, L96, "sleepy-cancel").id
    with session_scope() as s:
        assert jobs.claim_next(s, "race-worker").id == job_id
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("job", jobs.execute(job_id)), daemon=True)
    worker.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the model is predicting
        with session_scope() as s:
            if s.scalar(select(EvaluationJob.phase).where(EvaluationJob.id == job_id)) == "predict":
                break
        time.sleep(0.05)
    else:
        pytest.fail("the job never reached the predict phase")

    def cancel(_):
        with session_scope() as s:
            return jobs.cancel(s, OWNER, job_id).status

    asked = time.monotonic()
    answers: list = [None, None]
    racers = [threading.Thread(target=lambda i=i: answers.__setitem__(i, cancel(i))) for i in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join(30)
    worker.join(30)
    stopped_after = time.monotonic() - asked
    assert not worker.is_alive() and answers in (["running", "running"], ["running", "cancelled"],
                                                 ["cancelled", "running"], ["cancelled", "cancelled"])
    assert stopped_after < 3.0, stopped_after  # the model alone would take 5 s
    with session_scope() as s:
        job = s.get(EvaluationJob, job_id)
        model_ids = select(ScienceModel.id).where(ScienceModel.slug == "sleepy-cancel")
        assert job.status == "cancelled" and job.run_id is None and job.finished_at is not None
        assert s.scalar(select(func.count(EvaluationRun.id)).where(EvaluationRun.model_id.in_(model_ids))) == 0
        actions = list(s.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(job_id),
                                                                 AuditEntry.object_type == "evaluation_job")
                                 .order_by(AuditEntry.id)))
    assert actions.count("science.job.cancel") == 1 and actions[-1] == "science.job.cancelled"
    assert "science.job.finish" not in actions


def test_a_stale_job_whose_cancel_was_asked_for_ends_cancelled(session):
    from datetime import timedelta

    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    jobs.claim_next(session, "w-gone")
    jobs.cancel(session, OWNER, job.id)
    assert jobs.reap_stale(session, jobs.utcnow() + timedelta(seconds=job.time_limit_s + 200)) == 1
    assert job.status == "cancelled" and job.error is None and _audit(session, "science.job.cancelled", job.id) == 1
