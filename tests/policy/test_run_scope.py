"""Runs seen from a district: runs stay commission-only (budgets are city-wide); district officers read each
run's figures for their district, and the run's entitlements of their district, paginated and exported.
Every check is in the service; other districts are refused (403) or simply absent, never shown."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import NotFound, PermissionDenied
from kechuang.policy import service
from kechuang.policy.models import PolicyRun
from tests.conftest import principal
from tests.factories import make_fact, make_organisation
from tests.policy.test_entitlements import COMMISSION, PERIOD, _policies

PUDONG = principal(Role.DISTRICT, user_id=301, username="pudong", district="浦东新区")
XUHUI = principal(Role.DISTRICT, user_id=302, username="xuhui", district="徐汇区")
NOWHERE = principal(Role.DISTRICT, user_id=303, username="nodistrict")
AUDITOR = principal(Role.AUDITOR, user_id=304, username="auditor")
HTML = {"accept": "text/html"}


def _firm(session, district: str, premium_fen: int):
    org = make_organisation(session, district=district)
    make_fact(session, org, PERIOD, rd_expense_fen=2_000_000_00)
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "premium_paid_fen",
                                                     "value": premium_fen}], source="test bank")
    return org


@pytest.fixture
def city(session):
    """Three firms in 浦东新区 and one in 徐汇区, each with a premium subsidy (50%) from one run."""
    pd = [_firm(session, "浦东新区", 200_000 * (i + 1)) for i in range(3)]
    xh = _firm(session, "徐汇区", 1_000_000)
    out = service.run_period(session, COMMISSION, PERIOD, execute=True, policies=_policies())
    return {"pudong": pd, "xuhui": xh, "run": out}


def _mine(pairs, orgs) -> list:
    ids = {o.id for o in orgs}
    return [e for e, o in pairs if o.id in ids]


def test_the_run_keeps_figures_per_district_that_add_up(session, city):
    run = session.get(PolicyRun, city["run"].run_id)
    pd, xh = run.districts["浦东新区"], run.districts["徐汇区"]
    assert (pd["eligible"], pd["total_fen"], pd["created"]) == (3, 100_000 + 200_000 + 300_000, 3)
    assert (xh["eligible"], xh["total_fen"], xh["created"]) == (1, 500_000, 1)
    for name in service.RUN_FIGURES:
        assert sum(d[name] for d in run.districts.values()) == getattr(run, name), name

    # A rerun after one 浦东 firm's premium changed: updated in 浦东新区, unchanged in 徐汇区.
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": city["pudong"][0].credit_code,
                                                     "fact": "premium_paid_fen", "value": 260_000}], source="bank")
    again = service.run_period(session, COMMISSION, PERIOD, execute=True, policies=_policies())
    fig = session.get(PolicyRun, again.run_id).districts
    assert (fig["浦东新区"]["updated"], fig["浦东新区"]["unchanged"], fig["浦东新区"]["total_fen"]) == (
        1, 2, 130_000 + 200_000 + 300_000)
    assert (fig["徐汇区"]["updated"], fig["徐汇区"]["unchanged"]) == (0, 1)


def test_district_officer_reads_own_district_figures_and_cannot_run(session, city):
    runs = service.list_runs(session, XUHUI)
    mine = next(r for r in runs if r.id == city["run"].run_id)
    assert (mine.scope, mine.recorded, mine.eligible, mine.total_fen, mine.created) == ("徐汇区", True, 1, 500_000, 1)
    assert service.access_run(session, PUDONG, mine.id).total_fen == 600_000
    city_view = service.access_run(session, COMMISSION, mine.id)
    assert city_view.scope is None and city_view.total_fen == city["run"].total_fen
    assert service.access_run(session, AUDITOR, mine.id).total_fen == city["run"].total_fen
    with pytest.raises(NotFound):
        service.access_run(session, XUHUI, 10**9)
    with pytest.raises(PermissionDenied):
        service.run_period(session, XUHUI, PERIOD, execute=True, policies=_policies())
    with pytest.raises(PermissionDenied):
        service.list_runs(session, NOWHERE)
    # A run recorded before per-district figures were kept: the district sees that, not the city's figures.
    session.execute(update(PolicyRun).where(PolicyRun.id == mine.id).values(districts=None))
    session.expire_all()
    old = service.access_run(session, XUHUI, mine.id)
    assert (old.recorded, old.eligible, old.total_fen) == (False, 0, 0)
    assert service.access_run(session, COMMISSION, mine.id).recorded


def test_entitlement_lists_and_exports_stay_in_the_district(session, city):
    run_id = city["run"].run_id
    flt = service.EntitlementFilter(period=PERIOD, run_id=run_id)
    total, rows = service.list_entitlements(session, XUHUI, flt)
    assert total == 1 and [o.id for _, o in rows] == [city["xuhui"].id]
    total, rows = service.list_entitlements(session, PUDONG, flt, limit=2, offset=2)
    assert total == 3 and len(rows) == 1
    with pytest.raises(PermissionDenied):
        service.list_entitlements(session, XUHUI, service.EntitlementFilter(district="浦东新区"))
    with pytest.raises(PermissionDenied):
        service.export_entitlements(session, XUHUI, service.EntitlementFilter(district="浦东新区"))
    assert service.list_entitlements(session, XUHUI, service.EntitlementFilter(district="徐汇区"))[0] == 1
    # The commission may narrow to any district.
    total, rows = service.list_entitlements(session, COMMISSION, service.EntitlementFilter(
        period=PERIOD, district="浦东新区"))
    assert total == 3 and {o.district for _, o in rows} == {"浦东新区"}
    headers, lines = service.export_entitlements(session, PUDONG, flt)
    assert headers[:4] == ["entitlement_id", "credit_code", "enterprise", "district"]
    assert sorted(r[1] for r in lines) == sorted(o.credit_code for o in city["pudong"])
    assert [r[7] for r in lines] == [300_000, 200_000, 100_000] and lines[0][8] == "3000.00"
    assert "account_no" not in headers


def test_api_runs_and_entitlements_by_district(session, city, client_as):
    run_id = city["run"].run_id
    xh = client_as(XUHUI)
    runs = xh.get("/api/v1/policy/runs").json()
    row = next(r for r in runs if r["id"] == run_id)
    assert (row["scope"], row["eligible"], row["total_fen"]) == ("徐汇区", 1, 500_000)
    one = xh.get(f"/api/v1/policy/runs/{run_id}").json()
    assert one["scope"] == "徐汇区" and one["total_fen"] == 500_000
    assert xh.get("/api/v1/policy/runs/999999").status_code == 404
    assert xh.post("/api/v1/policy/runs", json={"period": PERIOD}).status_code == 403
    page = xh.get(f"/api/v1/policy/entitlements?run_id={run_id}").json()
    assert page["total"] == 1 and page["items"][0]["organisation_id"] == city["xuhui"].id
    assert xh.get("/api/v1/policy/entitlements?district=浦东新区").status_code == 403
    assert xh.get("/api/v1/policy/entitlements/export?district=浦东新区").status_code == 403
    exp = xh.get(f"/api/v1/policy/entitlements/export?run_id={run_id}")
    assert exp.status_code == 200 and exp.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exp.content.decode("utf-8-sig"))))
    assert [r[1] for r in lines[1:]] == [city["xuhui"].credit_code]
    x = client_as(PUDONG).get(f"/api/v1/policy/entitlements/export?run_id={run_id}&format=xlsx")
    ws = load_workbook(io.BytesIO(x.content)).active
    assert sorted(r[1] for r in list(ws.iter_rows(values_only=True))[1:]) == sorted(
        o.credit_code for o in city["pudong"])
    all_rows = client_as(COMMISSION).get(f"/api/v1/policy/entitlements?run_id={run_id}&district=浦东新区").json()
    assert all_rows["total"] == 3
    ent = principal(Role.ENTERPRISE, user_id=305, organisation_id=city["xuhui"].id)
    assert client_as(ent).get("/api/v1/policy/runs").status_code == 403
    assert client_as(ent).get(f"/api/v1/policy/runs/{run_id}").status_code == 403


def test_run_pages_for_a_district_officer(session, city, client_as):
    run_id = city["run"].run_id
    xh = client_as(XUHUI)
    page = xh.get("/policy/runs", headers=HTML)
    assert page.status_code == 200 and 'id="run-scope"' in page.text and f'href="/policy/runs/{run_id}"' in page.text
    assert 'action="/policy/runs"' not in page.text  # no run form: runs are the commission's
    detail = xh.get(f"/policy/runs/{run_id}", headers=HTML)
    assert detail.status_code == 200 and 'id="run-scope"' in detail.text
    assert city["xuhui"].credit_code in detail.text
    assert not any(o.credit_code in detail.text for o in city["pudong"])
    pd = client_as(PUDONG)
    first = pd.get(f"/policy/runs/{run_id}?per_page=2", headers=HTML)
    second = pd.get(f"/policy/runs/{run_id}?per_page=2&page=2", headers=HTML)
    shown = [sum(o.credit_code in p.text for o in city["pudong"]) for p in (first, second)]
    assert shown == [2, 1] and 'rel="next"' in first.text
    exp = pd.get(f"/policy/runs/{run_id}/export?format=csv&only_run=1", headers=HTML)
    rows = list(csv.reader(io.StringIO(exp.content.decode("utf-8-sig"))))
    assert len(rows) == 4 and {r[3] for r in rows[1:]} == {"浦东新区"}
    assert pd.get(f"/policy/runs/{run_id}/export?format=xlsx", headers=HTML).content[:2] == b"PK"
    assert pd.get("/policy/runs/999999", headers=HTML).status_code == 404
    ent = principal(Role.ENTERPRISE, user_id=305, organisation_id=city["xuhui"].id)
    assert client_as(ent).get(f"/policy/runs/{run_id}", headers=HTML).status_code == 403
    assert client_as(ent).get(f"/policy/runs/{run_id}/export", headers=HTML).status_code == 403
    whole = client_as(COMMISSION).get(f"/policy/runs/{run_id}", headers=HTML)
    assert 'id="run-scope"' not in whole.text and all(o.credit_code in whole.text for o in city["pudong"])
