from kechuang.core.auth import Role
from kechuang.science import service
from tests.conftest import principal
from tests.science.test_service import _package

OWNER = principal(Role.RESEARCHER, user_id=21)
OTHER = principal(Role.RESEARCHER, user_id=22)


def test_dataset_api_access_and_export(session, client_as, tmp_path):
    meta, files = _package(tmp_path)
    ds, _ = service.create_dataset(session, OWNER, {**meta, "access_level": "approval"}, files)
    assert client_as(None).get("/api/v1/science/datasets").status_code == 401
    other = client_as(OTHER)
    assert ds.id in [d["id"] for d in other.get("/api/v1/science/datasets").json()]
    detail = other.get(f"/api/v1/science/datasets/{ds.id}").json()
    assert detail["quality"]["score"] > 0 and detail["can_download"] is False and len(detail["files"]) == 2
    assert other.get(f"/api/v1/science/datasets/{ds.id}/export").status_code == 403
    req = other.post(f"/api/v1/science/datasets/{ds.id}/access-requests", json={"purpose": "benchmarking"})
    assert req.status_code == 201
    assert other.post(f"/api/v1/science/access-requests/{req.json()['id']}/decision",
                      json={"approve": True}).status_code == 403
    assert client_as(OWNER).post(f"/api/v1/science/access-requests/{req.json()['id']}/decision",
                                 json={"approve": True}).json()["status"] == "approved"
    res = other.get(f"/api/v1/science/datasets/{ds.id}/export", params={"format": "croissant"})
    assert res.status_code == 200 and res.json()["conformsTo"] == "http://mlcommons.org/croissant/1.0"
    assert other.post(f"/api/v1/science/datasets/{ds.id}/cross-border-decision",
                      json={"approve": True}).status_code == 403
    assert client_as(principal(Role.COMMISSION)).post(f"/api/v1/science/datasets/{ds.id}/cross-border-decision",
                                                      json={"approve": True}).status_code == 200


def test_run_and_leaderboard_api(session, client_as):
    c = client_as(OWNER)
    assert "lorenz96-forecast" in [t["id"] for t in c.get("/api/v1/science/tasks").json()]
    assert "baseline-mean" in [m["id"] for m in c.get("/api/v1/science/models").json()]
    res = c.post("/api/v1/science/runs", json={"task": "lorenz96-forecast", "model": "baseline-climatology"})
    assert res.status_code == 201, res.text
    run = res.json()
    assert run["n_items"] == 200 and run["status"] == "ok"
    assert c.get(f"/api/v1/science/runs/{run['run_id']}").json()["scores"] == run["scores"]
    board = c.get("/api/v1/science/tasks/lorenz96-forecast/leaderboard").json()
    assert board["rows"][0]["model"] == "baseline-climatology"
    assert client_as(principal(Role.INVESTOR)).post(
        "/api/v1/science/runs", json={"task": "lorenz96-forecast", "model": "baseline-mean"}).status_code == 403
    assert c.get("/api/v1/science/tasks/nope/leaderboard").status_code == 404
    assert c.get("/api/v1/science/runs/999999999").status_code == 404
