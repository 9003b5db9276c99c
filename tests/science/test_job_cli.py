"""``kechuang science job list|show|cancel``: the jobs service through the CLI's operator principal (SYSTEM,
as every science CLI command); jobs committed to the test database, read back after each command."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from kechuang.cli import app
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import Role
from kechuang.db import session_scope, utcnow
from kechuang.science import jobs
from kechuang.science.models import EvaluationJob, EvaluationRun, EvaluationTask, ScienceModel
from tests.conftest import principal

L96 = "lorenz96-forecast"
OWNER = principal(Role.RESEARCHER, user_id=91, organisation_id=None)
runner = CliRunner()


@pytest.fixture
def queued(engine):
    """Three committed jobs of OWNER: queued, running and succeeded (by id); removed afterwards."""
    with session_scope(engine) as s:
        ids = [jobs.enqueue(s, OWNER, L96, m).id
               for m in ("baseline-persistence", "baseline-climatology", "baseline-perfect-model")]
        s.execute(update(EvaluationJob).where(EvaluationJob.id == ids[1])
                  .values(status="running", started_at=utcnow(), progress=0.4, phase="predict"))
        s.execute(update(EvaluationJob).where(EvaluationJob.id == ids[2])
                  .values(status="succeeded", progress=1.0, finished_at=utcnow()))
    yield dict(zip(("queued", "running", "succeeded"), ids, strict=True))
    with session_scope(engine) as s:
        s.execute(delete(EvaluationJob).where(EvaluationJob.id.in_(ids)))
        s.execute(delete(AuditEntry).where(AuditEntry.object_type == "evaluation_job",
                                           AuditEntry.object_id.in_([str(i) for i in ids])))
        s.execute(delete(EvaluationRun))
        s.execute(delete(EvaluationTask))
        s.execute(delete(ScienceModel))


def _cli(*args: str):
    return runner.invoke(app, ["--lang", "en", "science", "job", *args])


def _job(engine, job_id: int) -> EvaluationJob:
    with session_scope(engine) as s:
        job = s.get(EvaluationJob, job_id)
        s.expunge(job)
        return job


def _cancel_audits(engine, job_id: int) -> int:
    with session_scope(engine) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "science.job.cancel", AuditEntry.object_id == str(job_id)))


def test_list_shows_every_users_jobs_newest_first(engine, queued):
    res = _cli("list", "--format", "json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    mine = [r for r in rows if r["job_id"] in queued.values()]
    assert [r["job_id"] for r in mine] == sorted(queued.values(), reverse=True)
    by_id = {r["job_id"]: r for r in mine}
    assert by_id[queued["running"]]["status"] == "running" and by_id[queued["running"]]["phase"] == "predict"
    assert by_id[queued["succeeded"]]["progress"] == 1.0
    assert set(mine[0]) == set(jobs.job_summary(_job(engine, queued["queued"])))  # the API's job shape
    assert _cli("list", "--format", "json", "--limit", "1").output.count('"job_id"') == 1
    table = _cli("list")
    assert table.exit_code == 0 and "baseline-climatology" in table.output and "running" in table.output
    assert _cli("list", "--format", "xml").exit_code == 2


def test_show_one_job_and_unknown_id(engine, queued):
    res = _cli("show", str(queued["running"]), "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert (out["job_id"], out["task"], out["model"], out["status"], out["progress"]) == (
        queued["running"], L96, "baseline-climatology", "running", 0.4)
    assert out["started_at"] and out["cancel_requested_at"] is None
    table = _cli("show", str(queued["queued"]))
    assert table.exit_code == 0 and "queued" in table.output and "baseline-persistence" in table.output
    missing = _cli("show", str(max(queued.values()) + 1000))
    assert missing.exit_code == 1 and "not found" in missing.output.lower()


def test_cancel_a_queued_job_once_and_again(engine, queued):
    jid = queued["queued"]
    res = _cli("cancel", str(jid))
    assert res.exit_code == 0, res.output
    assert f"Job {jid} is cancelled." in res.output
    job = _job(engine, jid)
    assert job.status == "cancelled" and job.cancel_requested_at and job.finished_at
    with session_scope(engine) as s:
        assert jobs.claim_next(s, "cli-test") is None  # nothing queued: the cancelled job is never claimed
    assert _job(engine, jid).status == "cancelled"
    again = _cli("cancel", str(jid), "--format", "json")
    assert again.exit_code == 0 and json.loads(again.output)["status"] == "cancelled"
    assert _cancel_audits(engine, jid) == 1  # asking again writes nothing


def test_cancel_a_running_job_asks_its_worker_to_stop(engine, queued):
    jid = queued["running"]
    res = _cli("cancel", str(jid), "--format", "json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["status"] == "running" and out["cancel_requested_at"]
    assert _job(engine, jid).cancel_requested_at is not None and _cancel_audits(engine, jid) == 1
    assert "cancelling" in _cli("list").output
    table = _cli("cancel", str(jid))
    assert table.exit_code == 0 and "its worker will stop it" in table.output


def test_cancel_refuses_a_finished_or_unknown_job(engine, queued):
    res = _cli("cancel", str(queued["succeeded"]))
    assert res.exit_code == 1
    assert "This job already finished successfully; there is nothing to cancel." in res.output
    assert _job(engine, queued["succeeded"]).status == "succeeded" and _cancel_audits(engine, queued["succeeded"]) == 0
    assert _cli("cancel", str(max(queued.values()) + 1000)).exit_code == 1


def test_job_group_is_added_beside_the_existing_commands():
    res = runner.invoke(app, ["science", "--help"])
    assert res.exit_code == 0
    for name in ("seed", "dataset", "task", "model", "run", "worker", "leaderboard", "job"):
        assert name in res.output
    assert all(c in runner.invoke(app, ["science", "job", "--help"]).output for c in ("list", "show", "cancel"))
