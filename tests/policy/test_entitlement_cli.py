"""``kechuang policy run`` and ``kechuang policy lapse``: these write COMMITTED data (the CLI has its own
session) and clean up after themselves."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from kechuang.cli import app as cli_app
from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM
from kechuang.db import session_scope
from kechuang.policy import service
from kechuang.policy.models import Entitlement, EntitlementEvent, PolicyInput, PolicyNotice, PolicyRun
from kechuang.registry.models import Organisation, OrganisationFact
from tests.factories import credit_code

runner = CliRunner()


@pytest.fixture
def committed(engine):
    """One committed enterprise with 2024 facts and bank data for the loan-insurance subsidy; removed after."""
    with session_scope() as s:
        last = s.scalar(select(func.max(AuditEntry.id))) or 0
        org = Organisation(kind="enterprise", name_zh="命令行测试企业", credit_code=credit_code(9_100_001),
                           district="浦东新区", founded_date=date(2015, 1, 1))
        s.add(org)
        s.flush()
        s.add(OrganisationFact(organisation_id=org.id, year=2024, revenue_fen=1, serious_dishonesty=False,
                               source_department="test", as_of_date=date(2025, 3, 31)))
        s.flush()
        service.submit_inputs(s, SYSTEM, 2024, [
            {"credit_code": org.credit_code, "fact": "loan_product", "value": "科技履约贷"},
            {"credit_code": org.credit_code, "fact": "loan_repayment_date", "value": "2025-03-01"},
            {"credit_code": org.credit_code, "fact": "premium_paid_fen", "value": "300000"}], source="test bank")
        org_id = org.id
    yield org_id
    with session_scope() as s:
        ents = list(s.scalars(select(Entitlement.id).where(Entitlement.organisation_id == org_id)))
        s.execute(delete(EntitlementEvent).where(EntitlementEvent.entitlement_id.in_(ents)))
        s.execute(delete(Entitlement).where(Entitlement.id.in_(ents)))
        s.execute(delete(PolicyNotice).where(PolicyNotice.period == 2024))
        s.execute(delete(PolicyRun).where(PolicyRun.period == 2024))
        s.execute(delete(PolicyInput).where(PolicyInput.organisation_id == org_id))
        s.execute(delete(OrganisationFact).where(OrganisationFact.organisation_id == org_id))
        s.execute(delete(Organisation).where(Organisation.id == org_id))
        s.execute(delete(AuditEntry).where(AuditEntry.id > last))


def _kc(*args: str):
    result = runner.invoke(cli_app, ["--lang", "en", *args])
    return result, result.output


def test_run_dry_execute_rerun_and_lapse(committed):
    org_id = committed
    result, out = _kc("policy", "run", "--period", "2024")
    assert result.exit_code == 0, out
    assert "created 1" in out and "Dry run" in out
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Entitlement)) == 0
    result, out = _kc("policy", "run", "--period", "2024", "--execute")
    assert result.exit_code == 0, out
    assert "eligible 1 (total 150000 fen): created 1" in out and "recorded as run #" in out
    result, out = _kc("policy", "run", "--period", "2024", "--execute")
    assert result.exit_code == 0 and "no change since run #" in out
    assert _kc("policy", "run", "--period", "1999")[0].exit_code == 1

    with session_scope() as s:  # publish, close and let the deadline pass
        ent = s.scalar(select(Entitlement).where(Entitlement.organisation_id == org_id))
        notice = service.publish_notice(s, SYSTEM, 2024, today=date.today() - timedelta(days=30))
        service.close_notice(s, SYSTEM, notice.id, today=date.today() - timedelta(days=15))
        s.execute(update(Entitlement).where(Entitlement.id == ent.id)
                  .values(deadline_date=date.today() - timedelta(days=1)))
        ent_id = ent.id
    result, out = _kc("policy", "lapse")
    assert result.exit_code == 0 and f"would lapse: 1 ({ent_id})" in out
    result, out = _kc("policy", "lapse", "--execute")
    assert result.exit_code == 0 and f"lapsed: 1 ({ent_id})" in out
    with session_scope() as s:
        assert s.get(Entitlement, ent_id).status == "lapsed"
    assert "lapsed: 0" in _kc("policy", "lapse", "--execute")[1]
    from kechuang.policy import jobs

    assert jobs.lapse_overdue() == 0  # the web process's periodic sweep


def test_two_runs_of_one_period_at_once_write_once(committed, engine):
    """PostgreSQL: the second run waits for the first (advisory lock), then finds nothing to do."""
    if engine.dialect.name != "postgresql":
        pytest.skip("the run lock is PostgreSQL's advisory lock; SQLite serialises writers itself")
    import threading

    outcomes, errors = [], []

    def run():
        try:
            with session_scope() as s:
                outcomes.append(service.run_period(s, SYSTEM, 2024, execute=True))
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sorted(o.no_change for o in outcomes) == [False, True]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(PolicyRun)) == 1
        assert s.scalar(select(func.count()).select_from(Entitlement)) == 1
