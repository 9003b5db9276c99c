"""Demo step of the entitlements (免申即享): synthetic programme inputs (bank premium data for the
loan-insurance subsidy, verified service contracts for innovation vouchers), one run for the latest facts
year, a finished 公示 with one objection waiting for a decision, and entitlements at every later stage —
so ``make run`` shows the whole flow. Every input is marked synthetic; deterministic for a seed.

The demo enterprise log-in's organisation (the first enterprise) keeps a notified entitlement to confirm.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.policy import service
from kechuang.policy.models import Entitlement, PolicyRun
from kechuang.registry.models import Organisation, OrganisationFact, Qualification

SOURCE_BANK = "合作银行与保险机构（演示数据）"
SOURCE_VOUCHER = "科技创新券平台（演示数据）"


def _officer(session: Session, username: str, role: Role = Role.COMMISSION) -> Principal:
    """The demo officer's principal (its account id when the accounts domain created it)."""
    try:
        from kechuang.accounts.models import UserAccount

        uid = session.scalar(select(UserAccount.id).where(UserAccount.username == username))
    except ImportError:  # pragma: no cover - accounts is part of the platform
        uid = None
    return Principal(role=role, user_id=uid or 1, username=username)


def _enterprise_user(org: Organisation) -> Principal:
    return Principal(role=Role.ENTERPRISE, user_id=None, username=f"demo-enterprise-{org.id}",
                     organisation_id=org.id)


def load(session: Session, seed: int = 2025, today: date | None = None) -> int | None:
    """Create the demo entitlements once (skipped when a run exists); returns the period used."""
    period = session.scalar(select(func.max(OrganisationFact.year)))
    if period is None or session.scalar(select(PolicyRun.id).limit(1)) is not None:
        return None
    today = today or date.today()
    rng = random.Random(seed)
    orgs = session.scalars(select(Organisation).where(Organisation.kind == "enterprise",
                                                      Organisation.is_synthetic.is_(True))
                           .order_by(Organisation.id)).all()
    if not orgs:
        return None
    tech_sme = set(session.scalars(select(Qualification.organisation_id).where(Qualification.kind == "tech_sme")))
    rows = []
    for i, org in enumerate(orgs):
        if i == 0 or rng.random() < 0.25:  # loan-insurance premium data from banks and insurers
            premium = 1_200_000 if i == 0 else rng.randrange(200_000, 2_000_000, 100)
            rows += [{"credit_code": org.credit_code, "fact": "loan_product",
                      "value": rng.choice(["科技履约贷", "科技微贷通"])},
                     {"credit_code": org.credit_code, "fact": "loan_repayment_date",
                      "value": (date(2024, 8, 1) + timedelta(days=rng.randrange(0, 395))).isoformat()},
                     {"credit_code": org.credit_code, "fact": "premium_paid_fen", "value": premium}]
        if org.id in tech_sme and rng.random() < 0.5:  # verified technology service contracts
            rows += [{"credit_code": org.credit_code, "fact": "contract_amount_fen",
                      "value": rng.randrange(5_000_000, 200_000_000, 100)},
                     {"credit_code": org.credit_code, "fact": "voucher_used_fen",
                      "value": rng.choice([0, 0, 0, 10_000_000])}]
    bank = [r for r in rows if r["fact"] in ("loan_product", "loan_repayment_date", "premium_paid_fen")]
    voucher = [r for r in rows if r not in bank]
    service.submit_inputs(session, SYSTEM, period, bank, SOURCE_BANK, synthetic=True)
    if voucher:
        service.submit_inputs(session, SYSTEM, period, voucher, SOURCE_VOUCHER, synthetic=True)
    out = service.run_period(session, SYSTEM, period, execute=True)
    if not out.created:
        return period

    officer = _officer(session, "demo_commission")
    # Approvals in the demo history come from two synthetic officers (no log-in), so the demo commission
    # log-in can still give the second approval to the entitlements waiting for one.
    first = Principal(role=Role.COMMISSION, user_id=-1, username="演示审核员甲（合成）")
    second = Principal(role=Role.COMMISSION, user_id=-2, username="演示审核员乙（合成）")
    started = today - timedelta(days=14)
    notice = service.publish_notice(session, officer, period, today=started)
    ents = session.scalars(select(Entitlement).where(Entitlement.period == period)
                           .order_by(Entitlement.id)).all()
    showcase = orgs[0].id
    others = [e for e in ents if e.organisation_id != showcase]
    if len(others) > 3:  # an objection from another enterprise, waiting for an officer
        target, objector = others[-1], orgs[-1]
        service.object_during_notice(session, _enterprise_user(objector), target.id,
                                     "公示名单中该企业的贷款产品与实际不符，请核实。（演示）", today=started)
    service.close_notice(session, officer, notice.id, today=today)
    # Enterprises other than the showcase confirm; some are approved, a few paid.
    confirmed = []
    for e in others:
        ent = session.get(Entitlement, e.id)
        if ent.status != "notified" or rng.random() < 0.3:
            continue
        org = session.get(Organisation, ent.organisation_id)
        service.confirm(session, _enterprise_user(org), ent.id, rng.choice(["中国银行上海市分行", "上海银行",
                                                                             "招商银行上海分行"]),
                        org.name_zh, f"6222{rng.randrange(10**11, 10**12)}", today=today)
        confirmed.append(ent.id)
    for n, ent_id in enumerate(confirmed):
        if n % 3 == 2:
            continue  # left for the approval queue
        service.approve(session, first, ent_id)
        ent = session.get(Entitlement, ent_id)
        if ent.status == "confirmed" and n % 2 == 0:
            service.approve(session, second, ent_id)
    approved = list(session.scalars(select(Entitlement.id).where(Entitlement.status == "approved")
                                    .order_by(Entitlement.id)))
    if len(approved) >= 4:
        paid_ids = approved[: len(approved) // 2]
        batch = service.create_batch(session, officer, paid_ids)
        lines = "\n".join(f"{i},paid,DEMO{i:06d}" for i in paid_ids)
        service.import_return(session, officer, batch.id, f"line_ref,result,bank_ref\n{lines}\n".encode())
    return period
