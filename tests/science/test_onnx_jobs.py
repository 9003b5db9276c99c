"""ONNX adapter (a tiny graph built at test time with onnx.helper) and runs as background jobs: progress,
time limit, failing model → failed run without scores, access control, reproducibility."""

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from sqlalchemy import func, select

from kechuang.core.auth import Role
from kechuang.core.errors import NotFound, PermissionDenied, ValidationFailed
from kechuang.science import jobs, service, uploads
from kechuang.science.models import EvaluationJob, EvaluationRun
from tests.conftest import principal
from tests.science.helpers_b import onnx_tile, savepoint_scope

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
L96 = "lorenz96-forecast"
OWNER = principal(Role.RESEARCHER, user_id=51)
OTHER = principal(Role.RESEARCHER, user_id=52)
ORG_A = principal(Role.ENTERPRISE, user_id=53, organisation_id=None)
OFFICER = principal(Role.COMMISSION, user_id=54)


def _card(slug, **kw):
    return {"slug": slug, "version": "1.0.0", "name": slug, "domain": "weather", "task_kind": "forecast", **kw}


def test_onnx_persistence_scores_like_the_baseline_and_is_reproducible(session, tmp_path):
    path = onnx_tile(tmp_path / "p.onnx", 40, 10)
    m = uploads.register_model(session, OWNER, _card("onnx-persistence"), "onnx", file=path)
    assert m.adapter_config["input"] == "X" and len(m.file_sha256) == 64 and m.file_size_bytes > 0
    r1 = service.run(session, OWNER, L96, "onnx-persistence")
    r2 = service.run(session, OWNER, L96, "onnx-persistence")
    base = service.run(session, OWNER, L96, "baseline-persistence")
    assert r1.status == "ok" and r1.scores == r2.scores and r1.predictions_hash == r2.predictions_hash
    # float32 inference: equal to the float64 baseline to single precision
    assert r1.scores["rmse"] == pytest.approx(base.scores["rmse"], rel=1e-5)
    assert r1.environment.get("onnxruntime")


def test_onnx_adapter_reports_progress_per_batch(tmp_path):
    from kechuang.science import adapters

    path = onnx_tile(tmp_path / "p.onnx", 40, 10)
    got = []
    out = adapters.run_onnx(path, np.ones((200, 40)), (200, 10, 40), batch=50, progress=got.append)
    assert got == [0.25, 0.5, 0.75, 1.0] and out.shape == (200, 10, 40) and out.dtype == np.float64
    wrong = onnx_tile(tmp_path / "w.onnx", 40, 10, out_features=20)
    with pytest.raises(adapters.OnnxModelError, match="expected"):
        adapters.run_onnx(wrong, np.ones((5, 40)), (5, 10, 40))


def test_onnx_nonfinite_outputs_are_counted(session, tmp_path):
    path = onnx_tile(tmp_path / "inf.onnx", 40, 10, scale=float("inf"))
    uploads.register_model(session, OWNER, _card("onnx-inf"), "onnx", file=path)
    r = service.run(session, OWNER, L96, "onnx-inf")
    assert r.status == "failed" and r.n_nonfinite == 200 and r.scores == {}


def test_bad_onnx_files_and_cards_are_refused(session, tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"not a graph")
    with pytest.raises(ValidationFailed) as e:
        uploads.register_model(session, OWNER, _card("onnx-bad"), "onnx", file=tmp_path / "x.onnx")
    assert e.value.errors[0].field == "file"
    path = onnx_tile(tmp_path / "p.onnx", 40, 10)
    with pytest.raises(ValidationFailed) as e:
        uploads.register_model(session, OWNER, {**_card("Bad Slug"), "version": "v1", "domain": "astrology",
                                                "training_dataset_ids": [987654]}, "onnx", file=path)
    assert {x.field for x in e.value.errors} == {"slug", "version", "domain", "training_dataset_ids"}
    uploads.register_model(session, OWNER, _card("onnx-owned"), "onnx", file=path)
    with pytest.raises(ValidationFailed) as e:  # someone else cannot add a version to my model id
        uploads.register_model(session, OTHER, {**_card("onnx-owned"), "version": "1.1.0"}, "onnx", file=path)
    assert e.value.errors[0].field == "slug"
    uploads.register_model(session, OWNER, {**_card("onnx-owned"), "version": "1.1.0"}, "onnx", file=path)
    with pytest.raises(ValidationFailed) as e:  # code: operators only
        uploads.register_model(session, OWNER, _card("py"), "python", config={"entry_point": "os:getcwd"})
    assert e.value.errors[0].field == "adapter"
    with pytest.raises(PermissionDenied):
        uploads.register_model(session, principal(Role.INVESTOR, user_id=59), _card("inv"), "onnx", file=path)
    card = uploads.model_card(session, OTHER, "onnx-owned")
    assert [v.version for v in card["versions"]] == ["1.1.0", "1.0.0"]


def test_job_runs_in_worker_with_progress_and_is_reproducible(session, tmp_path):
    path = onnx_tile(tmp_path / "p.onnx", 40, 10)
    uploads.register_model(session, OWNER, _card("onnx-job"), "onnx", file=path)
    a = jobs.enqueue(session, OWNER, L96, "onnx-job")
    b = jobs.enqueue(session, OWNER, L96, "onnx-job")
    assert a.status == "queued" and a.progress == 0.0 and a.run_id is None
    seen = []
    real = jobs._Progress.__call__

    def spy(self, phase, fraction):
        seen.append((phase, fraction))
        return real(self, phase, fraction)

    jobs._Progress.__call__ = spy
    try:
        assert jobs.work_queued(savepoint_scope(session)) == 2
    finally:
        jobs._Progress.__call__ = real
    session.expire_all()
    a, b = session.get(EvaluationJob, a.id), session.get(EvaluationJob, b.id)
    assert a.status == b.status == "succeeded" and a.progress == 1.0 and a.phase == "done"
    first = seen[: [p for p, _ in seen].index("load", 1)]  # the first job's reports
    assert [p for p, _ in first][0] == "load" and {"predict", "score", "store"} <= {p for p, _ in first}
    fractions = [f for _, f in first]
    assert fractions == sorted(fractions) and fractions[-1] == 0.95
    ra, rb = session.get(EvaluationRun, a.run_id), session.get(EvaluationRun, b.run_id)
    assert ra.scores == rb.scores and ra.created_by_user_id == OWNER.user_id
    assert jobs.work_queued(savepoint_scope(session)) == 0  # nothing left


def _boom(task, data):
    raise RuntimeError("model exploded")


def _slow(task, data):
    time.sleep(5)
    return np.zeros(data.targets.shape)


def test_failing_model_marks_job_and_run_failed_without_scores(session, system):
    uploads.register_model(session, system, _card("boom"), "python",
                           config={"entry_point": "tests.science.test_onnx_jobs:_boom"})
    job = jobs.enqueue(session, OWNER, L96, "boom")
    jobs.work_queued(savepoint_scope(session))
    session.expire_all()
    job = session.get(EvaluationJob, job.id)
    run = session.get(EvaluationRun, job.run_id)
    assert job.status == "failed" and "model exploded" in job.error
    assert run.status == "failed" and run.scores == {} and run.ci == {} and "model exploded" in run.error
    board = service.leaderboard(session, OWNER, L96)
    assert "boom" not in [r["model"] for r in board["rows"]]


def test_time_limit_is_honoured_by_the_worker(session, system):
    uploads.register_model(session, system, _card("slow"), "python",
                           config={"entry_point": "tests.science.test_onnx_jobs:_slow"})
    job = jobs.enqueue(session, OWNER, L96, "slow", time_limit_s=0.3)
    t0 = time.perf_counter()
    jobs.work_queued(savepoint_scope(session))
    assert time.perf_counter() - t0 < 4
    session.expire_all()
    job = session.get(EvaluationJob, job.id)
    assert job.status == "failed" and "time limit" in job.error
    assert session.get(EvaluationRun, job.run_id).scores == {}


def test_error_outside_the_model_fails_the_job_with_no_run(session):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    job.model_slug = "withdrawn-model"  # the model vanished between queueing and running
    session.flush()
    n_runs = session.scalar(select(func.count(EvaluationRun.id)))
    jobs.work_queued(savepoint_scope(session))
    session.expire_all()
    job = session.get(EvaluationJob, job.id)
    assert job.status == "failed" and job.run_id is None and job.error
    assert session.scalar(select(func.count(EvaluationRun.id))) == n_runs


def test_claim_is_exclusive_and_stale_jobs_are_failed(session):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    assert jobs.claim_next(session, "w1").id == job.id
    assert jobs.claim_next(session, "w2") is None  # nothing else queued; the running job is not re-claimed
    from datetime import timedelta

    from kechuang.db import utcnow

    assert jobs.reap_stale(session, utcnow() + timedelta(seconds=60)) == 0
    assert jobs.reap_stale(session, utcnow() + timedelta(seconds=job.time_limit_s + 200)) == 1
    assert job.status == "failed" and "worker stopped" in job.error


def test_job_access_control(session):
    job = jobs.enqueue(session, OWNER, L96, "baseline-persistence")
    assert jobs.access_job_by_id(session, OWNER, job.id).id == job.id
    assert jobs.access_job_by_id(session, OFFICER, job.id).id == job.id
    with pytest.raises(NotFound):
        jobs.access_job_by_id(session, OTHER, job.id)
    assert job.id not in [j.id for j in jobs.list_jobs(session, OTHER)]
    with pytest.raises(PermissionDenied):
        jobs.enqueue(session, principal(Role.INVESTOR, user_id=60), L96, "baseline-persistence")
    with pytest.raises(NotFound):
        jobs.enqueue(session, OWNER, L96, "no-such-model")
    with pytest.raises(ValidationFailed):
        jobs.enqueue(session, OWNER, L96, "baseline-persistence", time_limit_s=0)
    with pytest.raises(ValidationFailed) as e:  # a baseline of another task
        jobs.enqueue(session, OWNER, L96, "baseline-always-a")
    assert e.value.errors[0].field == "model"


def test_jobs_api_and_pages(session, client_as, tmp_path):
    c = client_as(OWNER)
    res = c.post("/api/v1/science/jobs", json={"task": L96, "model": "baseline-climatology"})
    assert res.status_code == 202, res.text
    job_id = res.json()["job_id"]
    assert res.json()["status"] == "queued"
    assert client_as(OTHER).get(f"/api/v1/science/jobs/{job_id}").status_code == 404
    assert client_as(None).get(f"/api/v1/science/jobs/{job_id}").status_code == 401
    c = client_as(OWNER)  # the app acts as the principal of the latest client
    h = {"accept": "text/html"}
    page = c.get(f"/science/jobs/{job_id}?lang=en", headers=h)
    assert page.status_code == 200 and 'hx-trigger="every 1s"' in page.text and 'role="progressbar"' in page.text
    jobs.work_queued(savepoint_scope(session))
    session.expire_all()
    body = c.get(f"/api/v1/science/jobs/{job_id}").json()
    assert body["status"] == "succeeded" and body["progress"] == 1.0 and body["run_id"]
    preds = c.get(f"/api/v1/science/runs/{body['run_id']}/predictions", params={"page": 2, "per_page": 50}).json()
    assert preds["total"] == 200 and preds["page"] == 2 and len(preds["items"]) == 50
    assert preds["items"][0]["target"] == "–" and preds["items"][0]["prediction"].endswith("(400)")
    run_page = c.get(f"/science/runs/{body['run_id']}?page=4&lang=en", headers=h).text
    assert 'id="run-items"' in run_page and "page 4 of 4" in run_page
    frag = c.get(f"/science/jobs/{job_id}/status?lang=en", headers=h)
    assert "hx-trigger" not in frag.text and f"/science/runs/{body['run_id']}" in frag.text
    assert client_as(principal(Role.INVESTOR, user_id=61)).post(
        "/api/v1/science/jobs", json={"task": L96, "model": "baseline-mean"}).status_code == 403
    c = client_as(OWNER)
    task_page = c.get(f"/science/tasks/{L96}?lang=en", headers=h).text
    assert 'id="run-form"' in task_page
    token = re.search(r'name="csrf_token" value="([^"]+)"', task_page).group(1)
    form = c.post(f"/science/tasks/{L96}/jobs", data={"model": "baseline-persistence", "seed": "0",
                                                      "csrf_token": token}, headers=h, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"].startswith("/science/jobs/")


def test_model_upload_api_and_card_page(session, client_as, tmp_path):
    path = onnx_tile(tmp_path / "p.onnx", 40, 10)
    c = client_as(OWNER)
    with path.open("rb") as fh:
        res = c.post("/api/v1/science/models", data={"slug": "api-onnx", "version": "1.0.0", "name": "API ONNX",
                                                     "domain": "weather", "task_kind": "forecast", "adapter": "onnx",
                                                     "licence": "MIT", "intended_use": "tests"},
                     files={"file": ("p.onnx", fh, "application/octet-stream")})
    assert res.status_code == 201, res.text
    assert len(res.json()["file_sha256"]) == 64
    bad = c.post("/api/v1/science/models", data={"slug": "x", "version": "1", "name": "x", "domain": "weather",
                                                "task_kind": "f", "adapter": "onnx"})
    assert bad.status_code == 422 and {e["field"] for e in bad.json()["error"]["errors"]} >= {"slug", "version", "file"}
    h = {"accept": "text/html"}
    page = c.get("/science/models/api-onnx?lang=en", headers=h)
    assert page.status_code == 200 and res.json()["file_sha256"] in page.text and "onnx" in page.text
    assert c.get("/science/models?lang=en", headers=h).status_code == 200
    form = c.get("/science/models/new?lang=en", headers=h).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    refused = c.post("/science/models?lang=en", data={"csrf_token": token, "slug": "api-onnx", "version": "1.0.0",
                                                      "name": "again", "domain": "weather", "task_kind": "f",
                                                      "adapter": "onnx"}, headers=h)
    assert refused.status_code == 422 and "This version already exists" in refused.text
    assert "Upload a file for this adapter." in refused.text and 'value="again"' in refused.text
    assert c.get("/science/models/no-such-model", headers=h).status_code == 404


class _Chat(BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt = body["messages"][-1]["content"]
        answer = "B" if "kilo" in prompt.lower() else "A"
        out = json.dumps({"choices": [{"message": {"role": "assistant", "content": answer}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *a):
        pass


def test_llm_suite_leaderboard_fed_by_the_openai_adapter(session, client_as):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chat)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        uploads.register_model(session, OWNER, {**_card("local-llm"), "domain": "general", "task_kind": "chat"},
                               "openai", config={"base_url": f"http://127.0.0.1:{server.server_port}/v1",
                                                 "model": "tiny"})
        job = jobs.enqueue(session, OWNER, "si-prefix-mc", "local-llm")
        jobs.work_queued(savepoint_scope(session))
    finally:
        server.shutdown()
    session.expire_all()
    assert session.get(EvaluationJob, job.id).status == "succeeded"
    page = client_as(OWNER).get("/science/suites/llm?lang=en", headers={"accept": "text/html"})
    assert page.status_code == 200 and "local-llm" in page.text and "openai" in page.text
    board = client_as(OWNER).get("/api/v1/science/suites/llm/leaderboard").json()
    assert any(r["model"] == "local-llm" for t in board["tasks"] for r in t["rows"])
