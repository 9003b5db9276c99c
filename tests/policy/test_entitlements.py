"""Entitlements (免申即享) on the real database: runs, idempotence, basis changes, adjustments, budgets,
notice and objections, confirmation and lapse, second-officer approval, payment batch and bank return."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select, update

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.policy import service
from kechuang.policy.language import load_text
from kechuang.policy.models import Entitlement, EntitlementAdjustment, EntitlementEvent, PolicyRun
from tests.conftest import principal
from tests.factories import make_fact, make_organisation

GRANT = """
id: test-grant
title: {zh: 测试补贴, en: Test grant}
basis: {doc: 测试〔2024〕1号, url: "https://example.org", status: confirmed}
valid: {from: 2024-01-01}
params:
  rate: {2024-01-01: %(rate)s}
  cap_fen: {2024-01-01: 100000000}
clauses:
  - id: registered_sh
    label: {zh: 注册地在上海, en: Registered in Shanghai}
    when: province = '上海'
  - id: rd
    label: {zh: 研发费用不少于100万元, en: R&D expense at least 1 million yuan}
    when: rd_expense_fen >= 100000000
amount: LEAST(ROUND(premium_paid_fen * rate), cap_fen)
%(budget)s
"""

PERIOD = 2024
TODAY = date(2025, 3, 3)  # a Monday
COMMISSION = principal(Role.COMMISSION, user_id=101, username="officer_a")
COMMISSION_B = principal(Role.COMMISSION, user_id=102, username="officer_b")


def _policies(rate="0.5", budget=""):
    pol = load_text(GRANT % {"rate": rate, "budget": budget}, "test-grant.yaml")
    return [service.RunPolicy(pol, service.policy_hash(pol))]


def _enterprise(session, premium_fen=300_000, rd=2_000_000_00, **kw):
    org = make_organisation(session, **kw)
    make_fact(session, org, PERIOD, rd_expense_fen=rd)
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": org.credit_code, "fact": "premium_paid_fen",
                                                     "value": premium_fen}], source="test bank")
    return org


def _ent(session, org, policy_id="test-grant"):
    return session.scalar(select(Entitlement).where(Entitlement.organisation_id == org.id,
                                                    Entitlement.policy_id == policy_id))


def _run(session, **kw):
    return service.run_period(session, COMMISSION, PERIOD, execute=True, policies=_policies(**kw))


def _to_notified(session, today=TODAY):
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=today)
    service.close_notice(session, COMMISSION, notice.id, today=notice.ends_date + timedelta(days=1))
    return notice


def _enterprise_user(org, user_id=500):
    return principal(Role.ENTERPRISE, user_id=user_id, username=f"ent{org.id}", organisation_id=org.id)


def _confirm(session, org, today=None):
    ent = _ent(session, org)
    return service.confirm(session, _enterprise_user(org), ent.id, "中国银行上海分行", org.name_zh, "6222000011112222",
                           today=today or ent.deadline_date)


def test_run_creates_entitlements_only_for_eligible_and_records_the_run(session):
    a = _enterprise(session, premium_fen=300_001)
    b = _enterprise(session, rd=1)  # R&D too low
    c = _enterprise(session, province="江苏")
    d = make_organisation(session)  # no facts, no input: unknown
    out = _run(session)
    assert out.executed and not out.no_change and out.created == 1 and out.eligible == 1
    ent = _ent(session, a)
    assert ent.amount_fen == 150_001  # ROUND(150000.5) half up, integer fen
    assert ent.status == "computed" and ent.clauses == {"registered_sh": True, "rd": True}
    assert _ent(session, b) is None and _ent(session, c) is None and _ent(session, d) is None
    run = session.get(PolicyRun, out.run_id)
    assert run.period == PERIOD and run.enterprises == 4 and run.eligible == 1 and run.total_fen == 150_001
    assert run.policies[0]["id"] == "test-grant" and len(run.policies[0]["hash"]) == 64
    assert len(run.facts_hash) == 64 and run.started_by == "officer_a"
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "policy.run",
                                                   AuditEntry.object_id == str(run.id))) is not None


def test_dry_run_writes_nothing(session):
    _enterprise(session)
    out = service.run_period(session, COMMISSION, PERIOD, execute=False, policies=_policies())
    assert out.created == 1 and out.run_id is None
    assert session.scalar(select(Entitlement.id)) is None and session.scalar(select(PolicyRun.id)) is None


def test_rerun_with_same_facts_and_policies_changes_nothing(session):
    _enterprise(session)
    first = _run(session)
    events = session.scalar(select(EntitlementEvent.id).order_by(EntitlementEvent.id.desc()).limit(1))
    audits = session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1))
    again = _run(session)
    assert again.no_change and again.run_id == first.run_id and again.created == 0
    assert session.scalar(select(EntitlementEvent.id).order_by(EntitlementEvent.id.desc()).limit(1)) == events
    assert session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) == audits
    assert len(session.scalars(select(PolicyRun)).all()) == 1


def test_unrelated_fact_change_reruns_but_leaves_entitlements_alone(session):
    a = _enterprise(session)
    other = _enterprise(session, rd=1)
    _run(session)
    before = _ent(session, a).updated_at
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": other.credit_code, "fact": "premium_paid_fen",
                                                     "value": 5}], source="test bank")
    out = _run(session)
    assert not out.no_change and out.unchanged == 1 and out.created == out.updated == 0
    assert _ent(session, a).updated_at == before


def test_pending_entitlement_is_updated_with_the_reason_when_the_basis_changes(session):
    a = _enterprise(session)
    _run(session)
    service.publish_notice(session, COMMISSION, PERIOD, today=TODAY)
    out = _run(session, rate="0.6")  # a new policy version
    assert out.updated == 1
    ent = _ent(session, a)
    assert ent.amount_fen == 180_000 and ent.status == "notice"
    assert "policy version changed" in ent.status_reason and "150000 → 180000" in ent.status_reason
    ev = session.scalars(select(EntitlementEvent).where(EntitlementEvent.entitlement_id == ent.id)
                         .order_by(EntitlementEvent.id)).all()
    assert [e.action for e in ev] == ["computed", "notice", "rebased"]


def test_pending_entitlement_withdrawn_when_no_longer_eligible_and_reopened_later(session):
    a = _enterprise(session)
    _run(session)
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": a.credit_code, "fact": "premium_paid_fen",
                                                     "value": 0}], source="bank correction")
    out = _run(session)
    assert out.withdrawn == 1
    ent = _ent(session, a)
    assert ent.status == "withdrawn" and "amount is zero" in ent.status_reason
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": a.credit_code, "fact": "premium_paid_fen",
                                                     "value": 100}], source="bank correction")
    assert _run(session).reopened == 1
    assert _ent(session, a).status == "computed" and _ent(session, a).amount_fen == 50


@pytest.mark.parametrize("stage", ["confirmed", "paid"])
def test_settled_entitlement_is_never_altered_a_difference_becomes_an_adjustment(session, stage):
    a = _enterprise(session)
    _run(session)
    _to_notified(session)
    _confirm(session, a)
    ent = _ent(session, a)
    if stage == "paid":
        service.approve(session, COMMISSION, ent.id)
        batch = service.create_batch(session, COMMISSION)
        service.import_return(session, COMMISSION, batch.id, f"line_ref,result\n{ent.id},paid\n".encode())
    snapshot = (ent.amount_fen, ent.basis_hash, _ent(session, a).status)
    out = _run(session, rate="0.7")
    assert out.adjusted == 1 and out.updated == 0
    ent = _ent(session, a)
    assert (ent.amount_fen, ent.basis_hash, ent.status) == snapshot
    adj = session.scalars(select(EntitlementAdjustment).where(EntitlementAdjustment.entitlement_id == ent.id)).all()
    assert len(adj) == 1 and adj[0].old_amount_fen == 150_000 and adj[0].new_amount_fen == 210_000
    assert adj[0].delta_fen == 60_000 and "policy version changed" in adj[0].reason
    # Another rerun (other facts changed) does not repeat the adjustment.
    _enterprise(session, rd=1)
    again = _run(session, rate="0.7")
    assert again.adjusted == 0
    assert len(session.scalars(select(EntitlementAdjustment)).all()) == 1
    # No longer eligible at all: an adjustment down to zero.
    service.submit_inputs(session, SYSTEM, PERIOD, [{"credit_code": a.credit_code, "fact": "premium_paid_fen",
                                                     "value": 0}], source="bank correction")
    assert _run(session, rate="0.7").adjusted == 1
    amounts = sorted(x.new_amount_fen for x in session.scalars(select(EntitlementAdjustment)))
    assert amounts == [0, 210_000] and _ent(session, a).status == snapshot[2]


def test_budget_is_applied_pro_rata_exactly(session):
    orgs = [_enterprise(session, premium_fen=p) for p in (100_000, 200_000, 300_001)]
    out = _run(session, budget="budget: {total_fen: 100000, allocation: pro_rata}")
    amounts = [_ent(session, o).amount_fen for o in orgs]
    assert sum(amounts) == 100_000 == out.total_fen
    assert all(_ent(session, o).budget_cut for o in orgs)
    assert amounts[0] < amounts[1] < amounts[2]


def test_notice_objection_upheld_rejects_dismissed_notifies(session):
    a = _enterprise(session)
    b = _enterprise(session, premium_fen=400_000)
    other = make_organisation(session)
    _run(session)
    notice = service.publish_notice(session, COMMISSION, PERIOD, today=TODAY)
    assert notice.entitlements == 2 and notice.ends_date == date(2025, 3, 10)
    objector = _enterprise_user(other, user_id=900)
    oa = service.object_during_notice(session, objector, _ent(session, a).id, "该企业贷款并非科技履约贷。",
                                      today=TODAY)
    ob = service.object_during_notice(session, objector, _ent(session, b).id, "金额有误。", today=TODAY)
    with pytest.raises(Conflict):  # not before the notice ends
        service.close_notice(session, COMMISSION, notice.id, today=notice.ends_date)
    notified = service.close_notice(session, COMMISSION, notice.id, today=date(2025, 3, 11))
    assert notified == 0  # both wait for the decision
    service.decide_objection(session, COMMISSION, oa.id, "upheld", "银行复核确认贷款产品不符。")
    service.decide_objection(session, COMMISSION, ob.id, "dismissed", "金额与保单一致。", today=date(2025, 3, 11))
    assert _ent(session, a).status == "rejected"
    eb = _ent(session, b)
    assert eb.status == "notified" and eb.deadline_date == date(2025, 3, 14)  # 3 working days
    with pytest.raises(Conflict):
        service.decide_objection(session, COMMISSION, oa.id, "dismissed", "改变主意")
    # Once the notice ended, no new objections.
    with pytest.raises(Conflict):
        service.object_during_notice(session, objector, eb.id, "太晚了", today=date(2025, 3, 12))
    # A rerun leaves the rejected entitlement rejected.
    _run(session, rate="0.6")
    assert _ent(session, a).status == "rejected"


def test_ineligible_enterprise_objects_and_officer_decides(session):
    a = _enterprise(session, rd=1)
    user = _enterprise_user(a)
    from kechuang.policy import catalog

    pid = catalog.active_policies(session, date(PERIOD, 12, 31))[0].id
    obj = service.object_ineligible(session, user, pid, PERIOD, "我们的研发费用数据有误。")
    assert obj.kind == "ineligible" and obj.status == "open"
    with pytest.raises(Conflict):
        service.object_ineligible(session, user, pid, PERIOD, "再次提出")
    with pytest.raises(ValidationFailed) as exc:
        service.object_ineligible(session, user, "no-such-policy", PERIOD, "x")
    assert exc.value.errors[0].field == "policy_id"
    decided = service.decide_objection(session, COMMISSION, obj.id, "upheld", "已更正研发费用，下次运行纳入。")
    assert decided.status == "upheld" and decided.decided_by == "officer_a"
    assert [o.id for o, _ in service.list_objections(session, user)] == [obj.id]
    stranger = _enterprise_user(make_organisation(session), user_id=777)
    assert service.list_objections(session, stranger) == []


def test_confirm_within_deadline_idempotent_then_lapse_sweep(session):
    a = _enterprise(session)
    b = _enterprise(session, premium_fen=500_000)
    _run(session)
    _to_notified(session)
    ea, eb = _ent(session, a), _ent(session, b)
    with pytest.raises(ValidationFailed) as exc:
        service.confirm(session, _enterprise_user(a), ea.id, "", a.name_zh, "12ab", today=ea.deadline_date)
    assert {e.field for e in exc.value.errors} == {"bank_name", "account_no"}
    first = _confirm(session, a)
    again = _confirm(session, a)
    assert first.status == again.status == "confirmed" and again.account_no == "6222000011112222"
    assert len([e for e in service.events_of(session, COMMISSION, ea.id) if e.action == "confirmed"]) == 1
    # b misses its deadline
    late = eb.deadline_date + timedelta(days=1)
    with pytest.raises(Conflict):
        _confirm(session, b, today=late)
    assert service.lapse(session, SYSTEM, today=eb.deadline_date) == []
    assert service.lapse(session, SYSTEM, today=late) == [eb.id]
    assert service.lapse(session, SYSTEM, today=late) == []  # idempotent
    assert _ent(session, b).status == "lapsed" and _ent(session, a).status == "confirmed"


def test_decline(session):
    a = _enterprise(session)
    _run(session)
    _to_notified(session)
    ent = service.decline(session, _enterprise_user(a), _ent(session, a).id, "不需要")
    assert ent.status == "declined"
    with pytest.raises(Conflict):
        _confirm(session, a)


def test_second_officer_above_threshold_not_the_same_person(session, monkeypatch):
    monkeypatch.setattr(service.settings, "policy_second_approval_fen", 200_000)
    small = _enterprise(session, premium_fen=300_000)  # 150,000 fen: one approval
    big = _enterprise(session, premium_fen=600_000)  # 300,000 fen: two
    _run(session)
    _to_notified(session)
    _confirm(session, small)
    _confirm(session, big)
    assert service.approve(session, COMMISSION, _ent(session, small).id).status == "approved"
    ent = service.approve(session, COMMISSION, _ent(session, big).id)
    assert ent.status == "confirmed"
    with pytest.raises(Conflict):
        service.approve(session, COMMISSION, ent.id)  # the same officer again
    ent = service.approve(session, COMMISSION_B, ent.id)
    assert ent.status == "approved"
    assert [a.officer_name for a in service.approvals_of(session, ent.id)] == ["officer_a", "officer_b"]
    assert service.approve(session, COMMISSION_B, ent.id).status == "approved"  # repeat: no-op
    with pytest.raises(PermissionDenied):
        service.approve(session, _enterprise_user(big), ent.id)


def test_district_officer_only_own_district(session):
    pudong = _enterprise(session, district="浦东新区")
    xuhui = _enterprise(session, district="徐汇区")
    _run(session)
    officer = principal(Role.DISTRICT, user_id=300, username="pd", district="浦东新区")
    _, rows = service.list_entitlements(session, officer)
    assert [e.organisation_id for e, _ in rows] == [pudong.id]
    with pytest.raises(NotFound):
        service.access_entitlement(session, officer, _ent(session, xuhui).id)
    with pytest.raises(PermissionDenied):
        service.run_period(session, officer, PERIOD, execute=True, policies=_policies())


def test_enterprise_sees_and_acts_only_on_its_own(session):
    a = _enterprise(session)
    b = _enterprise(session)
    _run(session)
    _to_notified(session)
    ua = _enterprise_user(a)
    _, rows = service.list_entitlements(session, ua)
    assert [e.organisation_id for e, _ in rows] == [a.id]
    eb = _ent(session, b)
    for call in (lambda: service.access_entitlement(session, ua, eb.id),
                 lambda: service.confirm(session, ua, eb.id, "中国银行", "x", "6222000011112222",
                                         today=eb.deadline_date),
                 lambda: service.decline(session, ua, eb.id),
                 lambda: service.events_of(session, ua, eb.id)):
        with pytest.raises(NotFound):
            call()
    assert _ent(session, b).status == "notified"
    with pytest.raises(PermissionDenied):
        service.enterprise_view(session, principal(Role.RESEARCHER), a.id, PERIOD)
    with pytest.raises(NotFound):
        service.enterprise_view(session, ua, b.id, PERIOD)


def test_payment_batch_export_and_bank_return(session):
    orgs = [_enterprise(session, premium_fen=p) for p in (300_000, 400_000, 500_000)]
    _run(session)
    _to_notified(session)
    for o in orgs:
        _confirm(session, o)
    ids = [_ent(session, o).id for o in orgs]
    with pytest.raises(Conflict):
        service.create_batch(session, COMMISSION)  # nothing approved yet
    for i in ids[:2]:
        service.approve(session, COMMISSION, i)
    batch = service.create_batch(session, COMMISSION)
    assert batch.lines == 2 and batch.total_fen == 350_000 and len(batch.file_sha256) == 64
    rows = service.batch_rows(batch)
    assert [r[0] for r in rows] == [str(i) for i in ids[:2]]
    assert rows[0][5] == "150000" and rows[0][6] == "1500.00" and rows[0][4] == "6222000011112222"
    assert {_ent(session, o).status for o in orgs[:2]} == {"in_batch"}
    # A bad line refuses the whole file.
    with pytest.raises(ValidationFailed) as exc:
        service.import_return(session, COMMISSION, batch.id,
                              f"line_ref,result\n{ids[0]},paid\n{ids[2]},paid\n".encode())
    assert exc.value.errors[0].row == 3 and exc.value.errors[0].field == "line_ref"
    assert _ent(session, orgs[0]).status == "in_batch"
    # XLSX return file: one paid, one failed.
    wb = Workbook()
    ws = wb.active
    ws.append(["line_ref", "result", "bank_ref", "reason"])
    ws.append([ids[0], "成功", "B001", None])
    ws.append([ids[1], "失败", "B002", "账户已销户"])
    buf = io.BytesIO()
    wb.save(buf)
    out = service.import_return(session, COMMISSION, batch.id, buf.getvalue())
    assert (out.paid, out.failed, out.unchanged) == (1, 1, 0)
    again = service.import_return(session, COMMISSION, batch.id, buf.getvalue())
    assert (again.paid, again.failed, again.unchanged) == (0, 0, 2)
    b = service.access_batch(session, COMMISSION, batch.id)
    assert b.status == "returned" and b.paid == 1 and b.failed == 1
    paid, failed = _ent(session, orgs[0]), _ent(session, orgs[1])
    assert paid.status == "paid" and paid.paid_at is not None and paid.bank_ref == "B001"
    assert failed.status == "failed" and failed.status_reason == "账户已销户"
    # The enterprise gives a new account: confirmed again, approvals start over.
    ent = service.confirm(session, _enterprise_user(orgs[1]), failed.id, "工商银行", orgs[1].name_zh,
                          "6212260000000001")
    assert ent.status == "confirmed" and service.approvals_of(session, ent.id) == []


def test_inputs_are_validated_row_by_row(session):
    a = make_organisation(session)
    with pytest.raises(ValidationFailed) as exc:
        service.submit_inputs(session, COMMISSION, PERIOD, [
            {"credit_code": a.credit_code, "fact": "premium_paid_fen", "value": "12.5"},
            {"credit_code": "nope", "fact": "premium_paid_fen", "value": "1"},
            {"credit_code": a.credit_code, "fact": "revenue_fen", "value": "1"},
        ], source="bank")
    assert [(e.row, e.field) for e in exc.value.errors] == [(1, "value"), (2, "credit_code"), (3, "fact")]
    assert service.submit_inputs(session, COMMISSION, PERIOD, [
        {"credit_code": a.credit_code, "fact": "loan_product", "value": "科技履约贷"}], source="bank") == 1
    assert service.submit_inputs(session, COMMISSION, PERIOD, [
        {"credit_code": a.credit_code, "fact": "loan_product", "value": "科技履约贷"}], source="bank") == 0


def test_working_days_skip_weekends():
    assert service.add_working_days(date(2025, 3, 7), 3) == date(2025, 3, 12)  # Fri → Wed
    assert service.add_working_days(date(2025, 3, 3), 0) == date(2025, 3, 3)


def test_confirm_racing_the_lapse_sweep_loses_cleanly(session):
    a = _enterprise(session)
    _run(session)
    _to_notified(session)
    ent = _ent(session, a)
    assert ent.status == "notified"
    # The sweep (another transaction) lapsed it after this session read it: the loaded object is stale.
    session.execute(update(Entitlement).where(Entitlement.id == ent.id).values(status="lapsed")
                    .execution_options(synchronize_session=False))
    with pytest.raises(Conflict):
        _confirm(session, a)
    session.expire_all()
    assert _ent(session, a).status == "lapsed" and _ent(session, a).account_no is None


def test_two_officers_approving_at_once_cannot_both_be_first(session, monkeypatch):
    monkeypatch.setattr(service.settings, "policy_second_approval_fen", 100_000)
    a = _enterprise(session)
    _run(session)
    _to_notified(session)
    ent = _confirm(session, a)
    service.approve(session, COMMISSION_B, ent.id)  # B's approval is committed first...
    monkeypatch.setattr(service, "approvals_of", lambda s, i: [])  # ...but A read the approvals before it
    with pytest.raises(Conflict):
        service.approve(session, COMMISSION, ent.id)
    monkeypatch.undo()
    assert [x.officer_name for x in service.approvals_of(session, ent.id)] == ["officer_b"]
    assert _ent(session, a).status == "confirmed"
