"""Correcting registry facts from an upheld objection: the fact is written through the registry service,
linked to the objection (before/after), and the enterprise's period is re-evaluated on its own."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import NotFound, PermissionDenied, ValidationFailed
from kechuang.policy import service, versions
from kechuang.policy.models import Entitlement, PolicyFactCorrection, PolicyObjection, PolicyRun
from kechuang.registry.models import OrganisationFact
from tests.conftest import principal
from tests.factories import make_fact, make_organisation
from tests.policy import test_entitlements

GRANT = test_entitlements.GRANT.lstrip() % {"rate": "0.5", "budget": ""}  # the same test policy
PERIOD = 2024
COMMISSION = principal(Role.COMMISSION, user_id=101, username="officer_a")
FIX = service.FactCorrection


def _publish(session):
    v = versions.save_version(session, COMMISSION, GRANT, "测试政策")
    versions.publish(session, COMMISSION, v.id)


def _ineligible(session, rd=50_000_00, premium=300_001, district="浦东新区"):
    org = make_organisation(session, district=district)
    make_fact(session, org, PERIOD, rd_expense_fen=rd)
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "premium_paid_fen",
                                                     "value": premium}], source="test bank")
    return org


def _user(org, user_id=500):
    return principal(Role.ENTERPRISE, user_id=user_id, username=f"ent{org.id}", organisation_id=org.id)


def _object(session, org):
    return service.object_ineligible(session, _user(org), "test-grant", PERIOD, "2024年研发费用有误，应为300万元。")


def _fix(value=3_000_000_00, field="rd_expense_fen", year=PERIOD):
    return [FIX(year, field, value, "市税务局", date(2025, 5, 31))]


def _ent(session, org):
    return session.scalar(select(Entitlement).where(Entitlement.organisation_id == org.id,
                                                    Entitlement.policy_id == "test-grant"))


def _fact(session, org):
    return session.scalar(select(OrganisationFact).where(OrganisationFact.organisation_id == org.id,
                                                         OrganisationFact.year == PERIOD))


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_upheld_with_corrected_rd_expense_makes_the_enterprise_eligible(session):
    _publish(session)
    org = _ineligible(session)
    bystander = _ineligible(session, rd=4_000_000_00)  # eligible, but not re-evaluated by the objection
    out = service.run_period(session, COMMISSION, PERIOD, execute=True)
    assert out.created == 1 and _ent(session, org) is None
    obj = _object(session, org)
    decided = service.decide_objection(session, COMMISSION, obj.id, "upheld", "税务局复核：研发费用为300万元。",
                                       corrections=_fix())
    assert decided.status == "upheld"
    fact = _fact(session, org)
    assert fact.rd_expense_fen == 3_000_000_00 and fact.source_department == "市税务局"
    assert fact.as_of_date == date(2025, 5, 31) and fact.revenue_fen == 100_000_000_00  # others kept
    ent = _ent(session, org)
    assert ent.status == "computed" and ent.amount_fen == 150_001  # ROUND(300001 * 0.5), exact fen
    assert ent.clauses == {"registered_sh": True, "rd": True}
    (corr,) = service.corrections_of(session, COMMISSION, obj.id)
    assert (corr.year, corr.field, corr.before_value, corr.after_value) == (PERIOD, "rd_expense_fen", "5000000",
                                                                           "300000000")
    assert corr.corrected_by == "officer_a" and corr.corrected_at is not None
    line = decided.outcome["policies"][0]
    assert line == {"policy_id": "test-grant", "eligible": True, "amount_fen": 150_001, "reason": None,
                    "entitlement_id": ent.id, "action": "created"}
    assert decided.outcome["corrections"] == [{"year": PERIOD, "field": "rd_expense_fen", "before": "5000000",
                                               "after": "300000000"}]
    run = session.get(PolicyRun, decided.outcome["run_id"])
    assert run.objection_id == obj.id and run.enterprises == 1 and run.created == 1 and ent.run_id == run.id
    # the re-evaluation is not one of the period's city-wide runs
    assert [r.id for r in service.list_runs(session, COMMISSION, PERIOD)] == [out.run_id]
    # the registry's audit entry carries before and after
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "registry.fact.correct"))
    assert entry.object_id == str(fact.id) and entry.actor_name == "officer_a"
    # the enterprise sees the outcome on its objection
    mine = service.access_objection(session, _user(org), obj.id)
    assert mine.outcome["policies"][0]["amount_fen"] == 150_001
    # nothing else moved: the bystander's entitlement keeps its first run
    assert _ent(session, bystander).run_id == out.run_id
    # the next city-wide run finds this enterprise's entitlement unchanged
    again = service.run_period(session, COMMISSION, PERIOD, execute=True)
    assert again.created == again.updated == again.withdrawn == 0 and again.unchanged == 2


def test_rerun_of_the_decision_is_idempotent(session):
    _publish(session)
    org = _ineligible(session)
    obj = _object(session, org)
    service.decide_objection(session, COMMISSION, obj.id, "upheld", "已更正。", corrections=_fix())
    counts = [_count(session, m) for m in (Entitlement, PolicyFactCorrection, PolicyRun, AuditEntry)]
    again = service.decide_objection(session, COMMISSION, obj.id, "upheld", "已更正。", corrections=_fix())
    assert again.status == "upheld"
    assert [_count(session, m) for m in (Entitlement, PolicyFactCorrection, PolicyRun, AuditEntry)] == counts
    assert _ent(session, org).amount_fen == 150_001


def test_dismissed_objection_changes_nothing(session):
    _publish(session)
    org = _ineligible(session)
    obj = _object(session, org)
    with pytest.raises(ValidationFailed) as exc:  # corrections come only with upholding
        service.decide_objection(session, COMMISSION, obj.id, "dismissed", "数据无误。", corrections=_fix())
    assert exc.value.errors[0].field == "decision"
    assert session.get(PolicyObjection, obj.id).status == "open"
    decided = service.decide_objection(session, COMMISSION, obj.id, "dismissed", "税务局数据无误。")
    assert decided.status == "dismissed" and decided.outcome is None
    assert _fact(session, org).rd_expense_fen == 50_000_00 and _ent(session, org) is None
    assert _count(session, PolicyFactCorrection) == 0 and _count(session, PolicyRun) == 0


@pytest.mark.parametrize(("fix", "field"), [
    (_fix(-5), "rd_expense_fen"),
    (_fix("三百万"), "rd_expense_fen"),
    (_fix("Z", field="tax_credit_grade"), "tax_credit_grade"),
    (_fix(1_000, field="st_staff"), "st_staff"),  # more S&T staff than employees (120)
    (_fix(1, field="credit_code"), "credit_code"),
    (_fix(year=2031), "year"),
    ([FIX(PERIOD, "rd_expense_fen", 3_000_000_00, "", date(2025, 5, 31))], "source_department"),
    ([FIX(PERIOD, "rd_expense_fen", 3_000_000_00, "市税务局", None)], "as_of_date"),
])
def test_invalid_value_is_a_field_error_and_nothing_is_written(session, fix, field):
    _publish(session)
    org = _ineligible(session)
    obj = _object(session, org)
    audits = _count(session, AuditEntry)
    with pytest.raises(ValidationFailed) as exc:
        service.decide_objection(session, COMMISSION, obj.id, "upheld", "更正。", corrections=fix)
    assert field in {e.field for e in exc.value.errors}
    assert session.get(PolicyObjection, obj.id).status == "open"
    assert _fact(session, org).rd_expense_fen == 50_000_00
    assert _count(session, PolicyFactCorrection) == 0 and _count(session, AuditEntry) == audits
    assert _ent(session, org) is None


def test_scope_and_permissions(session):
    _publish(session)
    org = _ineligible(session, district="浦东新区")
    obj = _object(session, org)
    other_district = principal(Role.DISTRICT, user_id=301, username="d_xh", district="徐汇区")
    with pytest.raises(NotFound):
        service.decide_objection(session, other_district, obj.id, "upheld", "更正。", corrections=_fix())
    stranger = _user(make_organisation(session), user_id=777)
    with pytest.raises(NotFound):
        service.access_objection(session, stranger, obj.id)
    with pytest.raises(PermissionDenied):  # an enterprise cannot correct its own facts
        service.decide_objection(session, _user(org), obj.id, "upheld", "更正。", corrections=_fix())
    assert _fact(session, org).rd_expense_fen == 50_000_00
    # the district officer of the enterprise's district may decide and correct
    own = principal(Role.DISTRICT, user_id=302, username="d_pd", district="浦东新区")
    decided = service.decide_objection(session, own, obj.id, "upheld", "更正。", corrections=_fix())
    assert decided.outcome["policies"][0]["action"] == "created"


# ---------------------------------------------------------------- API and pages
HTML = {"accept": "text/html"}


def _csrf(html: str) -> str:
    import re

    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_api_uphold_with_correction_and_errors(session, client_as):
    _publish(session)
    org = _ineligible(session)
    obj = _object(session, org)
    officer = client_as(COMMISSION)
    url = f"/api/v1/policy/objections/{obj.id}/decision"
    fix = {"year": PERIOD, "field": "rd_expense_fen", "value": 300000000, "source_department": "市税务局",
           "as_of_date": "2025-05-31"}
    bad = officer.post(url, json={"decision": "upheld", "note": "更正。", "corrections": [{**fix, "value": -1}]})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "rd_expense_fen"
    assert _fact(session, org).rd_expense_fen == 50_000_00
    r = officer.post(url, json={"decision": "upheld", "note": "更正。", "corrections": [fix]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "upheld" and body["outcome"]["policies"][0]["amount_fen"] == 150_001
    assert body["corrections"][0]["before_value"] == "5000000" and body["corrections"][0]["after_value"] == "300000000"
    again = officer.post(url, json={"decision": "upheld", "note": "更正。", "corrections": [fix]})
    assert again.status_code == 200 and again.json()["outcome"]["run_id"] == body["outcome"]["run_id"]
    # the enterprise reads its objection with the outcome; another enterprise gets 404
    mine = client_as(_user(org)).get(f"/api/v1/policy/objections/{obj.id}")
    assert mine.status_code == 200 and mine.json()["outcome"]["policies"][0]["action"] == "created"
    stranger = client_as(_user(make_organisation(session), user_id=777))
    assert stranger.get(f"/api/v1/policy/objections/{obj.id}").status_code == 404
    # an enterprise cannot decide (nor correct its facts)
    other = _ineligible(session)
    obj2 = _object(session, other)
    r = client_as(_user(other)).post(f"/api/v1/policy/objections/{obj2.id}/decision",
                                     json={"decision": "upheld", "note": "x", "corrections": [fix]})
    assert r.status_code == 403 and _fact(session, other).rd_expense_fen == 50_000_00
    xh = client_as(principal(Role.DISTRICT, user_id=301, username="d_xh", district="徐汇区"))
    assert xh.post(f"/api/v1/policy/objections/{obj2.id}/decision",
                   json={"decision": "upheld", "note": "x", "corrections": [fix]}).status_code == 404


def test_pages_officer_form_field_errors_then_enterprise_sees_outcome(session, client_as):
    _publish(session)
    org = _ineligible(session)
    obj = _object(session, org)
    officer = client_as(COMMISSION)
    page = officer.get(f"/policy/objections/{obj.id}", headers=HTML)
    assert page.status_code == 200 and 'name="rd_expense_fen"' in page.text and "研发费用" in page.text
    assert f'href="/policy/objections/{obj.id}"' in officer.get("/policy/queues/objections", headers=HTML).text
    token = _csrf(page.text)
    form = {"csrf_token": token, "from": "objection", "decision": "upheld", "note": "税务局复核更正。",
            "year": str(PERIOD), "source_department": "市税务局", "as_of_date": "2025-05-31",
            "rd_expense_fen": "三百万"}
    bad = officer.post(f"/policy/objections/{obj.id}/decision", data=form, headers=HTML, follow_redirects=False)
    assert bad.status_code == 422
    assert 'id="f-rd_expense_fen"' in bad.text and 'aria-describedby="rd_expense_fen-error"' in bad.text
    assert 'value="三百万"' in bad.text  # the officer's entry is kept
    assert session.get(PolicyObjection, obj.id).status == "open" and _fact(session, org).rd_expense_fen == 50_000_00
    several = officer.post(f"/policy/objections/{obj.id}/decision",
                           data={**form, "rd_expense_fen": "3000000.001", "as_of_date": "", "source_department": "",
                                 "employees": "-3", "note": ""}, headers=HTML, follow_redirects=False)
    assert several.status_code == 422  # every problem at once: the form's and the registry's rules
    for name in ("rd_expense_fen", "as_of_date", "source_department", "employees", "note"):
        assert f'aria-describedby="{name}-error"' in several.text, name
    assert session.get(PolicyObjection, obj.id).status == "open" and _fact(session, org).employees == 120
    ok = officer.post(f"/policy/objections/{obj.id}/decision", data={**form, "rd_expense_fen": "3,000,000.00"},
                      headers=HTML, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == f"/policy/objections/{obj.id}?done=decided"
    assert _fact(session, org).rd_expense_fen == 3_000_000_00 and _ent(session, org).amount_fen == 150_001
    done = officer.get(ok.headers["location"], headers=HTML)
    assert 'id="corrections"' in done.text and 'id="outcome"' in done.text and 'name="note"' not in done.text
    ent_page = client_as(_user(org)).get(f"/policy/objections/{obj.id}", headers=HTML)
    assert ent_page.status_code == 200 and "1,500.01 元" in ent_page.text and 'name="note"' not in ent_page.text
    assert f'href="/policy/objections/{obj.id}"' in client_as(_user(org)).get("/policy/mine?period=2024",
                                                                            headers=HTML).text
    stranger = client_as(_user(make_organisation(session), user_id=777))
    assert stranger.get(f"/policy/objections/{obj.id}", headers=HTML).status_code == 404


def test_reevaluation_again_writes_nothing_and_budgeted_policies_wait_for_the_run(session):
    _publish(session)
    budgeted = GRANT.replace("id: test-grant", "id: test-budgeted") + "budget: {total_fen: 100000, allocation: pro_rata}\n"
    versions.publish(session, COMMISSION, versions.save_version(session, COMMISSION, budgeted, "测试预算").id)
    org = _ineligible(session)
    obj = _object(session, org)
    decided = service.decide_objection(session, COMMISSION, obj.id, "upheld", "已更正。", corrections=_fix())
    by_policy = {p["policy_id"]: p for p in decided.outcome["policies"]}
    assert by_policy["test-budgeted"]["action"] == "next_run" and by_policy["test-budgeted"]["eligible"]
    assert session.scalar(select(Entitlement.id).where(Entitlement.policy_id == "test-budgeted")) is None
    assert by_policy["test-grant"]["action"] == "created"
    counts = [_count(session, m) for m in (Entitlement, PolicyRun, AuditEntry)]
    again = service.reevaluate_enterprise(session, COMMISSION, org.id, PERIOD, obj.id)
    assert again["run_id"] is None and {p["policy_id"]: p["action"] for p in again["policies"]} == {
        "test-budgeted": "next_run", "test-grant": "unchanged"}
    assert [_count(session, m) for m in (Entitlement, PolicyRun, AuditEntry)] == counts
    # the city-wide run then applies the budget to everyone
    out = service.run_period(session, COMMISSION, PERIOD, execute=True)
    assert out.created == 1
    assert session.scalar(select(Entitlement.amount_fen).where(Entitlement.policy_id == "test-budgeted")) == 100_000
