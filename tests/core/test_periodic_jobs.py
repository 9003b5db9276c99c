"""The web process runs its periodic jobs (e.g. sealing the audit log's daily Merkle roots) while it serves."""

import threading
import time

from fastapi.testclient import TestClient

import kechuang.app as app_module
from kechuang.accounts import jobs


def test_periodic_jobs_start_with_the_server_and_survive_failures(monkeypatch):
    calls: list[str] = []
    ran = threading.Event()

    def failing() -> None:
        calls.append("failing")
        raise RuntimeError("boom")

    def working() -> None:
        calls.append("working")
        ran.set()

    monkeypatch.setattr(jobs, "failing_job", failing, raising=False)
    monkeypatch.setattr(jobs, "working_job", working, raising=False)
    monkeypatch.setattr(app_module, "PERIODIC_JOBS", [(3600, "kechuang.accounts.jobs:failing_job"),
                                                      (3600, "kechuang.accounts.jobs:working_job")])
    with TestClient(app_module.create_app()) as client:  # the context manager runs the lifespan
        assert ran.wait(5)
        assert client.get("/healthz").json()["status"] == "ok"  # a failed job does not stop the server
        deadline = time.monotonic() + 5
        while "failing" not in calls and time.monotonic() < deadline:
            time.sleep(0.01)
    assert set(calls) == {"failing", "working"}


def test_audit_sealing_is_a_registered_job():
    assert (3600, "kechuang.accounts.jobs:seal_finished_days") in app_module.PERIODIC_JOBS
    assert callable(jobs.seal_finished_days)
