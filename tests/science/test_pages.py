from kechuang.core.auth import Role
from kechuang.science import service
from tests.conftest import principal
from tests.science.test_service import _package

USER = principal(Role.RESEARCHER, user_id=31)


def test_pages_render(session, client_as, tmp_path):
    meta, files = _package(tmp_path)
    ds, _ = service.create_dataset(session, USER, meta, files)
    r = service.run(session, USER, "lorenz96-forecast", "baseline-persistence")
    service.run(session, USER, "lorenz96-forecast", "baseline-perfect-model")
    c = client_as(USER)
    h = {"accept": "text/html"}
    page = c.get("/science?lang=en", headers=h)
    assert page.status_code == 200 and "lorenz96-forecast" in page.text and "Toy solubility" in page.text
    page = c.get("/science/tasks/lorenz96-forecast?lang=en", headers=h)
    assert page.status_code == 200 and 'id="leaderboard"' in page.text and "<polyline" in page.text
    assert page.text.index("baseline-perfect-model") < page.text.index("baseline-persistence")
    page = c.get(f"/science/datasets/{ds.id}?lang=en", headers=h)
    assert page.status_code == 200 and "split_leakage" in page.text and 'id="quality-report"' in page.text
    page = c.get(f"/science/runs/{r.id}", headers=h)
    assert page.status_code == 200 and r.input_hash in page.text
    assert c.get("/science/runs/999999999", headers=h).status_code == 404
    assert client_as(None).get("/science", headers=h, follow_redirects=False).status_code in (302, 303, 401)
