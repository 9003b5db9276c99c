"""尽职免责 dossier: each condition met / missing / not required, with its audit evidence; extra refused
transitions not covered in test_service."""

from __future__ import annotations

from datetime import date

import pytest

from kechuang.core.errors import Conflict, NotFound, ValidationFailed
from kechuang.transfer import dossier, service
from kechuang.transfer.schemas import ObjectionIn, TransferCreate, TransferEvidence
from tests.transfer.helpers import D, achievement, contract, world
from tests.transfer.test_service import _app, msg


def _licence(session, w, a, **kw):
    values = dict(achievement_id=a.id, mode="licence", licence_type="ordinary", licence_term_years=3,
                  territory="中国大陆", counterparty_organisation_id=w.company.id, price_fen=1_200_000_00,
                  pricing_route="negotiated")
    values.update(kw)
    return service.create_transfer(session, w.tto_a, TransferCreate(**values))


def _status(d):
    return {c.key: c.status for c in d.conditions}


def test_dossier_of_a_new_transfer_lists_every_missing_condition(session):
    w = world(session)
    t = _licence(session, w, achievement(session, w))
    d = dossier.build(session, w.tto_a, t.id)
    assert _status(d) == {"decision": "missing", "notice": "missing", "pricing": "missing",
                          "valuation": "not_required", "conflicts": "missing", "no_gain": "missing"}
    assert not d.complete and len(d.missing) == 5
    pricing = next(c for c in d.conditions if c.key == "pricing")
    assert [e.action for e in pricing.evidence] == ["transfer.transfer.create"]  # the route was set at creation


def test_dossier_complete_with_timestamped_evidence_from_the_audit_log(session):
    w = world(session)
    t = _licence(session, w, achievement(session, w))
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(
        decision_record="校长办公会纪要 2024-05", market_name="上海技术交易所",
        unit_notice_start_date=date(2024, 6, 1), unit_notice_end_date=date(2024, 6, 15),
        market_notice_start_date=date(2024, 6, 1), market_notice_end_date=date(2024, 6, 15)))
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(conflicts_declared=True,
                                                                     no_improper_gain_declared=True))
    service.sign_transfer(session, w.tto_a, t.id, on=date(2024, 7, 1))
    service.complete_transfer(session, w.tto_a, t.id, on=date(2024, 7, 2))
    d = dossier.build(session, w.commission, t.id)  # the commission reads it too
    assert d.complete and _status(d)["notice"] == "met" and _status(d)["valuation"] == "not_required"
    for c in d.conditions:
        if c.status == "met":
            assert c.evidence, c.key
            for e in c.evidence:
                assert e.at is not None and len(e.hash) == 64 and e.actor
    notice = next(c for c in d.conditions if c.key == "notice")
    assert notice.evidence[0].values["market_name"] == "上海技术交易所"
    assert [e.action for e in d.timeline][-2:] == ["transfer.transfer.sign", "transfer.transfer.complete"]


def test_dossier_notice_too_short_or_after_signing_is_missing(session):
    w = world(session)
    t = _licence(session, w, achievement(session, w))
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(
        market_name="技术市场", unit_notice_start_date=date(2024, 6, 1), unit_notice_end_date=date(2024, 6, 3),
        market_notice_start_date=date(2024, 6, 1), market_notice_end_date=date(2024, 6, 30)))
    d = dossier.build(session, w.tto_a, t.id)
    assert _status(d)["notice"] == "missing" and _status(d)["pricing"] == "missing"


def test_dossier_equity_requires_valuation_and_self_implementation_requires_nothing(session):
    w = world(session)
    t = _licence(session, w, achievement(session, w), mode="equity", licence_type=None, licence_term_years=None,
                 territory=None, equity_share=D("0.3"), company_is_new=True, pricing_route="auction")
    assert _status(dossier.build(session, w.tto_a, t.id))["valuation"] == "missing"
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(valuation_report="评估报告 2024-01",
                                                                     valuation_fen=5_000_000_00,
                                                                     auction_record="拍卖 A-1"))
    s = _status(dossier.build(session, w.tto_a, t.id))
    assert s["valuation"] == "met" and s["pricing"] == "met" and s["notice"] == "not_required"
    own = _licence(session, w, achievement(session, w), mode="self_implementation", licence_type=None,
                   licence_term_years=None, territory=None, counterparty_organisation_id=None, pricing_route=None,
                   price_fen=0)
    d = dossier.build(session, w.tto_a, own.id)
    assert d.complete and set(_status(d).values()) == {"not_required"}


def test_dossier_is_scoped_like_the_transfer(session):
    w = world(session)
    t = _licence(session, w, achievement(session, w))
    with pytest.raises(NotFound):
        dossier.build(session, w.tto_b, t.id)
    assert dossier.build(session, w.enterprise, t.id).transfer.id == t.id  # the counterparty


def test_more_refused_transitions_with_messages(session):
    w = world(session)
    a = achievement(session, w)
    t = _licence(session, w, a, pricing_route="auction")
    with pytest.raises(Conflict) as exc:
        service.sign_transfer(session, w.tto_a, t.id)
    assert "declaration of no improper gain" in msg(exc)
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(
        auction_record="拍卖 1", decision_record="会议纪要", conflicts_declared=True, no_improper_gain_declared=True))
    service.sign_transfer(session, w.tto_a, t.id)
    with pytest.raises(Conflict) as exc:
        service.sign_transfer(session, w.tto_a, t.id)
    assert msg(exc) == "Cannot move the transfer from 'signed' to 'signed': allowed only from draft."
    service.cancel_transfer(session, w.tto_a, t.id, "买方撤回")
    with pytest.raises(Conflict) as exc:
        service.complete_transfer(session, w.tto_a, t.id)
    assert msg(exc) == "Cannot move the transfer from 'cancelled' to 'completed': allowed only from signed."
    # contracts: resubmitting a registered contract, refusing a draft, registering twice
    c = contract(session, w, principal_=w.tto_a)
    with pytest.raises(Conflict) as exc:
        service.refuse_contract(session, w.commission, c.id, "x")
    assert msg(exc) == "Cannot move the contract from 'draft' to 'refused': allowed only from submitted."
    service.submit_contract(session, w.tto_a, c.id, on=date(2024, 3, 4))
    with pytest.raises(ValidationFailed):
        service.refuse_contract(session, w.commission, c.id, "  ")
    service.register_contract(session, w.commission, c.id, "2024310000009", on=date(2024, 3, 5))
    with pytest.raises(Conflict) as exc:
        service.submit_contract(session, w.tto_a, c.id)
    assert msg(exc) == "Cannot move the contract from 'registered' to 'submitted': allowed only from draft, refused."
    with pytest.raises(Conflict):
        service.register_contract(session, w.commission, c.id, "2024310000010")
    # objections only during the notice, and only dated inside it
    app = _app(session, w, a)
    with pytest.raises(Conflict) as exc:
        service.raise_objection(session, w.tto_a, app.id, ObjectionIn(objector="丁", reason="r"))
    assert "only while the notice runs" in exc.value.render_message("en")
    service.submit_application(session, w.researcher, app.id, on=date(2024, 6, 2))
    service.start_review(session, w.tto_a, app.id)
    service.start_notice(session, w.tto_a, app.id, on=date(2024, 6, 10))
    with pytest.raises(ValidationFailed) as exc:
        service.raise_objection(session, w.tto_a, app.id, ObjectionIn(objector="丁", reason="r",
                                                                       raised_date=date(2024, 7, 30)))
    assert exc.value.errors[0].field == "raised_date"


def test_dossier_pdf_says_what_is_met_and_missing(session, client_as):
    import io

    from pypdf import PdfReader

    w = world(session)
    t = _licence(session, w, achievement(session, w))
    service.record_evidence(session, w.tto_a, t.id, TransferEvidence(decision_record="校长办公会纪要 2024-05"))
    c = client_as(w.commission)
    r = c.get(f"/transfer/transfers/{t.id}/dossier.pdf?lang=en")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    assert f"Due-diligence dossier of transfer {t.id}" in text
    assert "4 conditions are missing." in text and "[Met]" in text and "[Missing]" in text
    assert "transfer.transfer.evidence" in text  # the audit entry of the decision record
    zh = c.get(f"/transfer/transfers/{t.id}/dossier.pdf?lang=zh")
    assert zh.status_code == 200 and len(PdfReader(io.BytesIO(zh.content)).pages) >= 1
    assert client_as(w.tto_b).get(f"/transfer/transfers/{t.id}/dossier.pdf").status_code == 404
