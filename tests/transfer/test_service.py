"""Transfer service: every state transition, refused ones with their messages, scoping, money."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from kechuang.core import audit
from kechuang.core.auth import SYSTEM
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.core.pagination import PageParams
from kechuang.transfer import params, service
from kechuang.transfer.models import IncomeShare, LedgerEntry
from kechuang.transfer.schemas import (
    AchievementCreate,
    ApplicationCreate,
    ContractCreate,
    IncomeIn,
    MemberIn,
    ObjectionIn,
    OwnerIn,
    RuleIn,
    TransferCreate,
    TransferEvidence,
)
from tests.transfer.helpers import D, achievement, contract, world


def msg(exc) -> str:
    return exc.value.render_message("en")


# ---------------------------------------------------------------- achievements
def test_achievement_validation_names_each_problem(session):
    w = world(session)
    with pytest.raises(ValidationFailed) as exc:
        service.create_achievement(session, w.tto_a, AchievementCreate(
            kind="poem", title="x", trl=12, owners=[OwnerIn(organisation_id=w.uni_a.id, share=D("0.6"))],
            members=[MemberIn(person_id=w.alice.id, contribution=D("0.5")),
                     MemberIn(person_id=w.alice.id, contribution=D("0.4"))]))
    fields = {e.field for e in exc.value.errors}
    assert {"kind", "trl", "owners", "members"} <= fields
    reasons = " ".join(e.render("en")["reason"] for e in exc.value.errors)
    assert "sum to 100%" in reasons and "listed twice" in reasons


def test_tto_must_own_what_it_records(session):
    w = world(session)
    with pytest.raises(ValidationFailed) as exc:
        service.create_achievement(session, w.tto_b, AchievementCreate(
            kind="invention_patent", title="x", number="ZL1", owners=[OwnerIn(organisation_id=w.uni_a.id,
                                                                                share=D(1))],
            members=[MemberIn(person_id=w.alice.id, contribution=D(1))]))
    assert exc.value.errors[0].field == "owners"


def test_classified_never_in_open_listing_and_scoping(session):
    w = world(session)
    secret = achievement(session, w, classified=True)
    open_ = achievement(session, w)
    b_only = achievement(session, w, owner=w.uni_b)
    listing, _ = service.list_achievements(session, w.enterprise, PageParams(per_page=200), open_listing=True)
    ids = {a.id for a in listing}
    assert open_.id in ids and b_only.id in ids and secret.id not in ids
    commission, _ = service.list_achievements(session, w.commission, PageParams(per_page=200))
    assert secret.id not in {a.id for a in commission}
    mine, _ = service.list_achievements(session, w.tto_a, PageParams(per_page=200))
    assert {secret.id, open_.id} <= {a.id for a in mine} and b_only.id not in {a.id for a in mine}
    with pytest.raises(NotFound):
        service.access_achievement_by_id(session, w.tto_a, b_only.id)
    with pytest.raises(NotFound):
        service.access_achievement_by_id(session, w.enterprise, open_.id)


def test_ledger_registered_on_create_stage_and_valuation(session):
    from kechuang.transfer.schemas import ValuationIn

    w = world(session)
    a = achievement(session, w)
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.achievement_id == a.id))
    assert entry.stage == "registered" and entry.organisation_id == w.uni_a.id
    service.set_stage(session, w.tto_a, a.id, "dormant", book_value_fen=5_000_00)
    service.add_valuation(session, w.tto_a, a.id, ValuationIn(valuation_date=date(2024, 5, 1), method="income",
                                                              value_fen=80_000_00, update_book_value=True))
    rows = service.ledger_rows(session, w.tto_a)
    row = next(r for r in rows if r["achievement_id"] == a.id)
    assert (row["stage"], row["book_value_fen"], row["valuation_fen"]) == ("dormant", 80_000_00, 80_000_00)
    with pytest.raises(ValidationFailed):
        service.set_stage(session, w.tto_a, a.id, "lost")
    with pytest.raises(NotFound):
        service.set_stage(session, w.tto_b, a.id, "dormant")
    assert service.export_ledger_xlsx(session, w.tto_a)[:2] == b"PK"


# ---------------------------------------------------------------- 赋权
def _app(session, w, a, **kw):
    values = dict(achievement_id=a.id, organisation_id=w.uni_a.id, kind="full_ownership",
                  agreed_income_share=D("0.3"))
    values.update(kw)
    return service.create_application(session, w.researcher, ApplicationCreate(**values), on=date(2024, 6, 1))


def test_empowerment_happy_path_every_transition_audited(session):
    w = world(session)
    a = achievement(session, w)
    app = _app(session, w, a)
    assert app.state == "draft"
    service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    assert app.state == "submitted"
    service.start_review(session, w.tto_a, app.id)
    assert app.state == "tto_review"
    service.start_notice(session, w.tto_a, app.id, on=date(2024, 6, 10))
    days = params.value("empowerment.notice_days", date(2024, 6, 10))
    assert app.state == "notice" and app.notice_end_date == date(2024, 6, 10) + timedelta(days=days - 1)
    service.decide(session, w.tto_a, app.id, True, "符合条件，公示无异议", on=app.notice_end_date + timedelta(days=1))
    assert app.state == "approved" and app.decision_reason
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.achievement_id == a.id))
    assert entry.stage == "empowered"
    actions = set(session.scalars(select(audit.AuditEntry.action).where(
        audit.AuditEntry.object_type == "empowerment_application", audit.AuditEntry.object_id == str(app.id))))
    assert actions == {"transfer.application.create", "transfer.application.submit", "transfer.application.review",
                       "transfer.application.notice", "transfer.application.approve"}
    assert audit.verify_chain(session).ok


def test_refused_application_transitions_say_from_to_and_why(session):
    w = world(session)
    a = achievement(session, w)
    app = _app(session, w, a)
    with pytest.raises(Conflict) as exc:
        service.start_review(session, w.tto_a, app.id)
    assert msg(exc) == "Cannot move the application from 'draft' to 'tto_review': allowed only from submitted."
    with pytest.raises(Conflict) as exc:
        service.start_notice(session, w.tto_a, app.id)
    assert "from 'draft' to 'notice'" in msg(exc)
    with pytest.raises(Conflict) as exc:
        service.decide(session, w.tto_a, app.id, True, "ok")
    assert "from 'draft' to 'approved': allowed only from notice." in msg(exc)
    service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    with pytest.raises(Conflict) as exc:
        service.submit_application(session, w.researcher, app.id)
    assert "from 'submitted' to 'submitted'" in msg(exc)
    service.start_review(session, w.tto_a, app.id)
    service.start_notice(session, w.tto_a, app.id, on=date(2024, 6, 10))
    with pytest.raises(Conflict) as exc:
        service.decide(session, w.tto_a, app.id, True, "ok", on=date(2024, 6, 12))
    assert "from 'notice' to 'approved': the notice runs until" in msg(exc)
    obj = service.raise_objection(session, w.tto_a, app.id, ObjectionIn(objector="课题组成员丁", reason="贡献未列",
                                                                        raised_date=date(2024, 6, 11)))
    late = app.notice_end_date + timedelta(days=1)
    with pytest.raises(Conflict) as exc:
        service.decide(session, w.tto_a, app.id, False, "异议", on=late)
    assert msg(exc) == ("Cannot move the application from 'notice' to 'rejected': an objection raised during "
                        "the notice is not resolved.")
    service.resolve_objection(session, w.tto_a, obj.id, "已补充说明")
    with pytest.raises(Conflict):
        service.resolve_objection(session, w.tto_a, obj.id, "again")
    with pytest.raises(ValidationFailed):
        service.decide(session, w.tto_a, app.id, False, "  ", on=late)
    service.decide(session, w.tto_a, app.id, False, "权属存在争议", on=late)
    assert app.state == "rejected"
    with pytest.raises(Conflict) as exc:
        service.decide(session, w.tto_a, app.id, True, "ok", on=late)
    assert "from 'rejected' to 'approved'" in msg(exc)


def test_reject_from_review_without_notice(session):
    w = world(session)
    app = _app(session, w, achievement(session, w))
    service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    service.start_review(session, w.tto_a, app.id)
    service.decide(session, w.tto_a, app.id, False, "不属于职务成果")
    assert app.state == "rejected"


def test_eligibility_classified_and_pilot(session):
    w = world(session, pilot=False)
    secret = achievement(session, w, classified=True)
    app = _app(session, w, secret)
    with pytest.raises(Conflict) as exc:
        service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    text = msg(exc)
    assert text.startswith("Cannot move the application from 'draft' to 'submitted': not eligible:")
    assert "classified" in text and "pilot list" in text


def test_application_terms_validated(session):
    w = world(session)
    a = achievement(session, w)
    with pytest.raises(ValidationFailed) as exc:
        _app(session, w, a, kind="use_right", agreed_income_share=None, use_right_years=5)
    assert exc.value.errors[0].field == "use_right_years" and "at least 10 years" in \
        exc.value.errors[0].render("en")["reason"]
    with pytest.raises(ValidationFailed):
        _app(session, w, a, kind="partial_ownership", agreed_income_share=D("0.2"), ownership_share=D("0.6"))
    ok = _app(session, w, a, kind="use_right", agreed_income_share=None, use_right_years=10)
    assert ok.state == "draft"


def test_application_scoping(session):
    w = world(session)
    app = _app(session, w, achievement(session, w))
    with pytest.raises(NotFound):
        service.access_application_by_id(session, w.tto_b, app.id)
    with pytest.raises(NotFound):
        service.start_review(session, w.tto_b, app.id)
    assert service.access_application_by_id(session, w.commission, app.id).id == app.id
    assert service.list_applications(session, w.tto_b) == []
    with pytest.raises(PermissionDenied):
        service.start_review(session, w.commission, app.id)  # read-only


# ---------------------------------------------------------------- transfers
def _transfer(session, w, a, **kw):
    values = dict(achievement_id=a.id, mode="licence", licence_type="exclusive", licence_term_years=5,
                  territory="中国大陆", counterparty_organisation_id=w.company.id, price_fen=3_000_000_00,
                  pricing_route="negotiated")
    values.update(kw)
    return service.create_transfer(session, w.tto_a, TransferCreate(**values))


def test_transfer_cannot_sign_or_complete_while_steps_are_missing(session):
    w = world(session)
    t = _transfer(session, w, achievement(session, w))
    with pytest.raises(Conflict) as exc:
        service.sign_transfer(session, w.tto_a, t.id, on=date(2024, 7, 1))
    text = msg(exc)
    assert text.startswith("Cannot move the transfer from 'draft' to 'signed': mandatory steps are missing:")
    for step in ("decision record", "notice in the unit", "notice on a technology market",
                 "declaration of conflicts of interest"):
        assert step in text
    with pytest.raises(Conflict) as exc:
        service.complete_transfer(session, w.tto_a, t.id)
    assert "from 'draft' to 'completed': allowed only from signed." in msg(exc)
    # notices too short and ending after signing
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(
        decision_record="校长办公会纪要 2024-05", conflicts_declared=True,
        no_improper_gain_declared=True, market_name="上海技术交易所",
        unit_notice_start_date=date(2024, 6, 1), unit_notice_end_date=date(2024, 6, 5),
        market_notice_start_date=date(2024, 6, 1), market_notice_end_date=date(2024, 7, 10)))
    with pytest.raises(Conflict) as exc:
        service.sign_transfer(session, w.tto_a, t.id, on=date(2024, 7, 1))
    assert "minimum days" in msg(exc) and "notice ended before signing" in msg(exc)
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(
        unit_notice_end_date=date(2024, 6, 20), market_notice_end_date=date(2024, 6, 20)))
    service.sign_transfer(session, w.tto_a, t.id, on=date(2024, 7, 1))
    assert t.state == "signed"
    service.complete_transfer(session, w.tto_a, t.id, on=date(2024, 7, 15))
    assert t.state == "completed"
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.achievement_id == t.achievement_id))
    assert entry.stage == "licensed"
    with pytest.raises(Conflict) as exc:
        service.cancel_transfer(session, w.tto_a, t.id, "x")
    assert "from 'completed' to 'cancelled'" in msg(exc)
    with pytest.raises(Conflict):
        service.record_evidence(session, w.tto_a, t.id, TransferEvidence(conflicts_declared=False))


def test_equity_needs_valuation_and_listing_auction_records(session):
    w = world(session)
    t = _transfer(session, w, achievement(session, w), mode="equity", licence_type=None, licence_term_years=None,
                  territory=None, equity_share=D("0.2"), company_is_new=True, social_capital_fen=50_000_000_00,
                  pricing_route="listing")
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(decision_record="党委会", conflicts_declared=True,
                                                                     no_improper_gain_declared=True))
    with pytest.raises(Conflict) as exc:
        service.sign_transfer(session, w.tto_a, t.id)
    assert "listing record" in msg(exc) and "valuation report" in msg(exc)
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(listing_record="上海技术交易所挂牌 GP2024-1",
                                                                     valuation_report="评估报告 2024-088"))
    service.sign_transfer(session, w.tto_a, t.id)
    service.complete_transfer(session, w.tto_a, t.id)
    assert t.state == "completed"


def test_transfer_validation_and_cancel(session):
    w = world(session)
    a = achievement(session, w)
    with pytest.raises(ValidationFailed) as exc:
        _transfer(session, w, a, licence_type="wide", licence_term_years=None, territory=None)
    assert {"licence_type", "licence_term_years", "territory"} <= {e.field for e in exc.value.errors}
    with pytest.raises(ValidationFailed) as exc:
        _transfer(session, w, a, mode="assignment", licence_type=None, pricing_route=None)
    assert {"pricing_route"} <= {e.field for e in exc.value.errors}
    t = _transfer(session, w, a)
    service.cancel_transfer(session, w.tto_a, t.id, "对方放弃")
    assert t.state == "cancelled"
    with pytest.raises(NotFound):
        service.cancel_transfer(session, w.tto_b, t.id, "x")


def test_self_implementation_completes_from_draft(session):
    w = world(session)
    t = _transfer(session, w, achievement(session, w), mode="self_implementation", licence_type=None,
                  licence_term_years=None, territory=None, counterparty_organisation_id=None, pricing_route=None,
                  price_fen=0)
    service.complete_transfer(session, w.tto_a, t.id, on=date(2024, 9, 1))
    assert t.state == "completed"


# ---------------------------------------------------------------- technology contracts
def test_contract_amount_validation(session):
    w = world(session)
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, total=100_00, technical_fen=200_00)
    e = exc.value.errors[0]
    assert e.field == "technical_fen"
    assert e.render("en")["reason"] == ("The technical amount (技术交易额, 20000 fen) is above the contract amount "
                                        "(成交额, 10000 fen).")
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, total=100_00, non_tech=150_00)
    assert exc.value.errors[0].field == "non_technical_fen"
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, total=100_00, non_tech=30_00, technical_fen=60_00)
    assert "7000 fen" in exc.value.errors[0].render("en")["reason"]
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, category="training", total=0)
    assert {"category", "total_fen"} <= {e.field for e in exc.value.errors}
    c = contract(session, w, total=100_00, non_tech=30_00, technical_fen=70_00)
    assert c.technical_fen == 70_00


def test_payment_schedule_must_sum_to_total(session):
    from kechuang.transfer.schemas import PaymentIn

    w = world(session)
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, total=100_00, payments=[PaymentIn(due_date=date(2024, 4, 1), amount_fen=60_00)])
    assert exc.value.errors[0].field == "payments"
    c = contract(session, w, total=100_00, payments=[PaymentIn(due_date=date(2024, 4, 1), amount_fen=60_00),
                                                     PaymentIn(due_date=date(2024, 9, 1), amount_fen=40_00)])
    assert len(service.access_contract_by_id(session, SYSTEM, c.id).payments) == 2


def test_only_the_seller_records_a_contract(session):
    w = world(session)
    with pytest.raises(ValidationFailed) as exc:
        contract(session, w, seller=w.uni_a, principal_=w.enterprise)
    assert exc.value.errors[0].field == "seller_organisation_id"


def test_registration_transitions_and_deadlines(session):
    w = world(session)
    c = contract(session, w, principal_=w.tto_a)
    with pytest.raises(Conflict) as exc:
        service.register_contract(session, w.commission, c.id, "2024310000001")
    assert msg(exc) == "Cannot move the contract from 'draft' to 'registered': allowed only from submitted."
    service.submit_contract(session, w.tto_a, c.id, on=date(2024, 3, 4))
    assert c.state == "submitted" and c.registration_deadline_date == date(2024, 4, 3)  # legacy: 30 days
    service.refuse_contract(session, w.commission, c.id, "缺少技术文件")
    assert c.state == "refused" and c.refusal_reason == "缺少技术文件"
    service.submit_contract(session, w.tto_a, c.id, on=date(2024, 3, 20))
    assert c.refusal_reason is None
    assert service.list_overdue(session, w.commission, service.PageParams(), on=date(2024, 5, 1))[0][0][
        "contract_id"] == c.id
    service.register_contract(session, w.commission, c.id, "2024310000001", on=date(2024, 3, 25))
    assert (c.state, c.certificate_number) == ("registered", "2024310000001")
    with pytest.raises(Conflict) as exc:
        service.refuse_contract(session, w.commission, c.id, "x")
    assert "from 'registered' to 'refused'" in msg(exc)
    with pytest.raises(PermissionDenied):
        service.register_contract(session, w.tto_a, c.id, "x")


def test_reform_deadline_working_days_and_large_contracts():
    # 2026-02-02 is a Monday: 15 working days under the 2026 calendar (Spring Festival 02-15..02-23 off,
    # Saturdays 02-14 and 02-28 worked) -> Saturday 2026-02-28; ≥500万 -> 30 working days -> 2026-03-20
    assert params.registration_deadline(date(2026, 2, 2), 100_0000_00) == date(2026, 2, 28)
    assert params.registration_deadline(date(2026, 2, 2), 500_0000_00) == date(2026, 3, 20)
    assert params.registration_deadline(date(2025, 12, 1), 500_0000_00) == date(2025, 12, 31)
    assert params.entry("contract.registration_period", date(2026, 2, 2)).status == "unconfirmed"


def test_contract_scoping_enterprise_sees_own_only(session):
    w = world(session)
    mine = contract(session, w)  # uni_a sells to the company
    other = contract(session, w, seller=w.uni_b, buyer=w.uni_a)
    assert {c.id for c in service.list_contracts(session, w.enterprise)} == {mine.id}
    with pytest.raises(NotFound):
        service.access_contract_by_id(session, w.enterprise, other.id)
    assert {c.id for c in service.list_contracts(session, w.tto_b)} == {other.id}
    with pytest.raises(NotFound):
        service.submit_contract(session, w.tto_a, other.id)  # the buyer does not register


# ---------------------------------------------------------------- income and sharing
def test_income_split_by_rule_is_exact_and_idempotent(session):
    w = world(session)
    a = achievement(session, w, members=[(w.alice, "0.3333"), (w.bob, "0.3333"), (w.carol, "0.3334")])
    service.set_revenue_rule(session, w.tto_a, RuleIn(organisation_id=w.uni_a.id, valid_from_date=date(2020, 1, 1),
                                                      team_share=D("0.7"), department_share=D("0.1"),
                                                      institution_share=D("0.2"), basis="甲大学成果转化办法"))
    c = contract(session, w, achievement_id=a.id)
    data = IncomeIn(idempotency_key="bank-20240401-001", contract_id=c.id, received_date=date(2024, 4, 1),
                    amount_fen=1_000_01, costs_fen=0)
    event, created = service.record_income(session, w.tto_a, data)
    assert created and event.net_fen == 1_000_01
    shares = service.income_shares(session, w.tto_a, event.id)
    assert sum(s.amount_fen for s in shares) == 1_000_01
    team = {s.person_id: s.amount_fen for s in shares if s.party == "member"}
    assert sum(team.values()) == 700_01  # 70% of 100001 = 70000.7 -> 70001 (largest remainder)
    again, created = service.record_income(session, w.tto_a, data)
    assert again.id == event.id and not created
    assert session.scalar(select(func.count()).select_from(IncomeShare).where(
        IncomeShare.income_event_id == event.id)) == len(shares)
    with pytest.raises(Conflict):
        service.record_income(session, w.tto_a, data.model_copy(update={"amount_fen": 5}))
    # researcher sees only their own line and ledger
    mine = service.income_shares(session, w.researcher, event.id)
    assert [s.person_id for s in mine] == [w.alice.id]
    assert service.person_ledger(session, w.researcher, w.alice.id)[0]["amount_fen"] == team[w.alice.id]
    with pytest.raises(NotFound):
        service.person_ledger(session, w.researcher, w.bob.id)


def test_income_with_agreement_and_costs(session):
    w = world(session)
    a = achievement(session, w, members=[(w.alice, "0.5"), (w.bob, "0.5")])
    app = _app(session, w, a, agreed_income_share=D("0.1"))
    service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    service.start_review(session, w.tto_a, app.id)
    service.start_notice(session, w.tto_a, app.id, on=date(2024, 6, 10))
    service.decide(session, w.tto_a, app.id, True, "同意", on=date(2024, 8, 1))
    event, _ = service.record_income(session, w.tto_a, IncomeIn(
        idempotency_key="k-agree", achievement_id=a.id, received_date=date(2024, 9, 1), amount_fen=100_00_01,
        costs_fen=1_00, cost_note="专利维持费"))
    assert event.net_fen == 100_00_01 - 1_00 and event.rule_basis.startswith("agreement")
    shares = {(s.party, s.person_id): s.amount_fen for s in service.income_shares(session, w.tto_a, event.id)}
    assert shares[("institution", None)] == 999_90  # 10% of 999901 = 99990.1
    assert shares[("member", w.alice.id)] + shares[("member", w.bob.id)] == 999_901 - 999_90
    assert ("department", None) not in shares


def test_income_refusals(session):
    w = world(session)
    a = achievement(session, w)
    with pytest.raises(ValidationFailed):
        service.record_income(session, w.tto_a, IncomeIn(idempotency_key="k1", achievement_id=a.id,
                                                         received_date=date(2024, 1, 1), amount_fen=100,
                                                         costs_fen=101))
    with pytest.raises(NotFound):
        service.record_income(session, w.tto_b, IncomeIn(idempotency_key="k2", achievement_id=a.id,
                                                         received_date=date(2024, 1, 1), amount_fen=100))
    with pytest.raises(ValidationFailed) as exc:
        service.set_revenue_rule(session, w.tto_a, RuleIn(
            organisation_id=w.uni_a.id, valid_from_date=date(2020, 1, 1), team_share=D("0.4"),
            department_share=D("0.1"), institution_share=D("0.5"), basis="x"))
    assert "at least 50%" in exc.value.errors[0].render("en")["reason"]


def test_default_legal_split_without_rule(session):
    w = world(session)
    a = achievement(session, w, members=[(w.alice, "1")])
    event, _ = service.record_income(session, w.tto_a, IncomeIn(idempotency_key="k3", achievement_id=a.id,
                                                                received_date=date(2024, 1, 1), amount_fen=101))
    shares = {s.party: s.amount_fen for s in service.income_shares(session, w.tto_a, event.id)}
    assert shares == {"member": 51, "institution": 50}
    assert "legal default" in event.rule_basis


def test_contract_create_requires_the_write_permission(session):
    w = world(session)
    with pytest.raises(PermissionDenied):
        service.create_contract(session, w.commission, ContractCreate(
            number="X", category="transfer", seller_organisation_id=w.uni_a.id, buyer_name="某公司", subject="s",
            signed_date=date(2024, 1, 1), total_fen=1))


def test_equity_awards_of_an_equity_investment(session):
    w = world(session)
    a = achievement(session, w, members=[(w.alice, "0.6"), (w.bob, "0.4")])
    t = _transfer(session, w, a, mode="equity", licence_type=None, licence_term_years=None, territory=None,
                  equity_share=D("0.3"), company_is_new=True, pricing_route="negotiated")
    awards = service.equity_awards(session, w.tto_a, t.id)
    assert awards["institution"] == D("0.15")  # legal default: half to the team
    assert {m["person_id"]: m["share"] for m in awards["members"]} == {w.alice.id: D("0.09"), w.bob.id: D("0.06")}
    assert [m["person_id"] for m in service.equity_awards(session, w.researcher, t.id)["members"]] == [w.alice.id]
    licence = _transfer(session, w, a)
    with pytest.raises(Conflict):
        service.equity_awards(session, w.tto_a, licence.id)
