"""Synthetic results-transfer data for ``kechuang demo load``, calibrated to Shanghai's published magnitudes and
deterministic by seed. Every record is marked synthetic (``is_synthetic``; numbers start with ``DEMO-``).

Calibration (yearly totals are hit exactly by rescaling the drawn amounts; see docs/transfer.md):
- Technology contracts: the ``small`` demo is a 1/40 sample of Shanghai's registered contracts — turnover
  (合同成交额) 2023 4850.21亿, 2024 5200.73亿 (+7.2%), 2025 6496.79亿 (+24.9%) (SPEC section 0) divided by 40,
  so 121–162亿元 a year over about 1,000–1,400 contracts; 2022 assumes the 2023 figure / 1.2 (not a source
  figure). The ``city`` size uses the full figures.
- 赋权 pilot figures: 2023 196 results / >20亿 / 157 companies / >74亿 social capital (沪科提复〔2025〕51号);
  2024 216 / >11亿 / 153 / >68亿 (letter only, unconfirmed); 2022 and 2025 are assumptions. ``small`` uses
  half of each (hundreds of empowered results over the four years), ``city`` the full numbers.
- Sellers: mostly enterprises (about 80% of contracts), then universities and research institutes.

Bulk records are written with multi-row INSERTs and one audit entry for the batch; a short showcase for the
demo TTO officer (the first university) and the demo researcher (the first person with the researcher role)
goes through the service functions, so its dossier has per-step audit evidence.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.registry import reference as ref
from kechuang.registry.models import Affiliation, Organisation, Person
from kechuang.transfer import service, sharing
from kechuang.transfer.models import (
    Achievement,
    AchievementMember,
    AchievementOwner,
    ContractPayment,
    EmpowermentApplication,
    EmpowermentPilot,
    IncomeEvent,
    IncomeShare,
    LedgerEntry,
    RevenueRule,
    TechnologyContract,
    Transfer,
    ValuationEvent,
)
from kechuang.transfer.schemas import (
    AchievementCreate,
    ApplicationCreate,
    ContractCreate,
    IncomeIn,
    MemberIn,
    ObjectionIn,
    OwnerIn,
    PaymentIn,
    TransferCreate,
    TransferEvidence,
)

YEARS = (2022, 2023, 2024, 2025)
YI = 10**10  # fen per 亿元
# Shanghai technology-contract turnover (亿元) by registration year; 2022 is an assumption (2023 / 1.2).
TURNOVER_YI = {2022: Decimal("4041.84"), 2023: Decimal("4850.21"), 2024: Decimal("5200.73"),
               2025: Decimal("6496.79")}
CONTRACTS_PER_YEAR = {2022: 41_000, 2023: 46_000, 2024: 49_000, 2025: 56_000}  # assumption, ~1000万 per contract
# 赋权 pilot: (empowered results, transfer amount 亿元, companies founded, social capital 亿元).
PILOT = {2022: (160, Decimal(15), 120, Decimal(55)), 2023: (196, Decimal(20), 157, Decimal(74)),
         2024: (216, Decimal(11), 153, Decimal(68)), 2025: (230, Decimal(13), 160, Decimal(75))}
SCALES = {"small": (Decimal(1) / 40, Decimal("0.5")), "city": (Decimal(1), Decimal(1))}  # contracts, pilot
SELLER_KINDS = {"enterprise": 80, "university": 8, "research_institute": 8, "new_rd_institution": 3, "hospital": 1}
CATEGORY_WEIGHTS = {"development_commissioned": 30, "development_cooperative": 8, "transfer": 6, "licence": 6,
                    "consulting": 10, "service": 40}
KIND_WEIGHTS = {"invention_patent": 55, "utility_model": 12, "software_copyright": 12, "technical_secret": 8,
                "design": 3, "ic_layout": 3, "plant_variety": 2, "drug_registration": 3, "device_registration": 2}
FIELDS = ("集成电路", "生物医药", "人工智能", "新材料", "高端装备", "新能源", "信息技术", "环境技术")
SUBJECTS = ("一种{f}检测方法", "{f}关键工艺及装置", "基于{f}的控制系统", "{f}材料制备方法", "{f}数据处理平台",
            "{f}用传感器及其应用", "{f}分子筛选方法", "{f}测试装置")
CATEGORY_ZH = {"development_commissioned": "委托开发", "development_cooperative": "合作开发", "transfer": "技术转让",
               "licence": "技术许可", "consulting": "技术咨询", "service": "技术服务"}
MARKETS = ("上海技术交易所", "国家技术转移东部中心")


@dataclass
class DemoResult:
    """What the demo load wrote (counts by table)."""

    counts: dict[str, int]
    skipped: bool = False


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys])[0]


def _rescale(raw: list[float], total_fen: int) -> list[int]:
    """Positive integer fen amounts proportional to ``raw`` that sum exactly to ``total_fen``."""
    scale = total_fen / sum(raw)
    parts = [max(1, int(x * scale)) for x in raw]
    parts[max(range(len(parts)), key=parts.__getitem__)] += total_fen - sum(parts)  # the largest takes the rest
    return parts


def _contributions(rng: random.Random, n: int) -> list[Decimal]:
    """``n`` contribution shares in 1/10,000 that sum exactly to 1."""
    weights = [rng.randint(10, 40) for _ in range(n)]
    units = [10_000 * w // sum(weights) for w in weights]
    units[0] += 10_000 - sum(units)
    return [Decimal(u) / 10_000 for u in units]


def _day(rng: random.Random, year: int) -> date:
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Multi-row INSERTs in batches (ids are read back by a unique key where needed)."""
    for i in range(0, len(rows), 5000):
        session.execute(insert(model.__table__), rows[i:i + 5000])


def _ids(session: Session, key: Any, id_col: Any, values: list[Any]) -> list[int]:
    """The ids of the rows whose ``key`` is each of ``values`` (in that order)."""
    found: dict[Any, int] = {}
    for i in range(0, len(values), 900):
        found.update((k, v) for k, v in session.execute(select(key, id_col).where(key.in_(values[i:i + 900]))))
    return [found[v] for v in values]


def demo_people(session: Session) -> tuple[Organisation | None, Person | None]:
    """The demo TTO officer's university and the demo researcher (the same choice as ``accounts.demo``)."""
    uni = session.scalar(select(Organisation).where(Organisation.kind == "university").order_by(Organisation.id)
                         .limit(1))
    person = None
    last = 0
    while person is None:
        batch = session.scalars(select(Person).where(Person.id > last).order_by(Person.id).limit(500)).all()
        if not batch:
            break
        person = next((p for p in batch if "researcher" in (p.roles or [])), None)
        last = batch[-1].id
    return uni, person


def load(session: Session, size: str = "small", seed: int = 2025, principal: Principal = SYSTEM) -> DemoResult:
    """Write the synthetic transfer data (once: a second call finds it and does nothing)."""
    if session.scalar(select(Achievement.id).where(Achievement.number.like("DEMO-%")).limit(1)) is not None:
        return DemoResult({}, skipped=True)
    rng = random.Random(f"transfer:{seed}")
    contract_scale, pilot_scale = SCALES[size]
    institutions = list(session.scalars(select(Organisation).where(
        Organisation.kind.in_(sorted(ref.INSTITUTION_KINDS))).order_by(Organisation.id)))
    enterprises = list(session.scalars(select(Organisation.id).where(Organisation.kind == "enterprise")
                                       .order_by(Organisation.id)))
    if not institutions or not enterprises:
        return DemoResult({}, skipped=True)
    researchers: dict[int, list[int]] = {}
    for person_id, org_id, roles in session.execute(
            select(Person.id, Affiliation.organisation_id, Person.roles)
            .join(Affiliation, Affiliation.person_id == Person.id).order_by(Person.id)):
        if "researcher" in (roles or []):
            researchers.setdefault(org_id, []).append(person_id)
    all_researchers = sorted({p for v in researchers.values() for p in v})
    if not all_researchers:
        return DemoResult({}, skipped=True)
    uni, demo_researcher = demo_people(session)
    counts: dict[str, int] = {}

    # Pilot list (national 9-department pilot from 2020, 沪科规〔2023〕9号) and revenue rules.
    pilots = [i for i in institutions if i.kind in ("university", "research_institute", "new_rd_institution")]
    _insert(session, EmpowermentPilot, [
        {"organisation_id": o.id, "start_date": date(2020, 6, 1), "end_date": None,
         "basis": "DEMO 试点名单 (synthetic; 国科发区〔2020〕128号, 沪科规〔2023〕9号)"} for o in pilots])
    rules = []
    for o in institutions:
        team, dept = rng.choice(((Decimal("0.7"), Decimal("0.1")), (Decimal("0.6"), Decimal("0.15")),
                                 (Decimal("0.5"), Decimal("0.2")), (Decimal("0.8"), Decimal("0.05"))))
        rules.append({"organisation_id": o.id, "valid_from_date": date(2018, 1, 1), "team_share": team,
                      "department_share": dept, "institution_share": 1 - team - dept,
                      "basis": f"DEMO {o.name_zh} 科技成果转化管理办法 (synthetic)"})
    _insert(session, RevenueRule, rules)
    rule_of = {r["organisation_id"]: r for r in rules}

    # Achievements: each pilot-year result gets one; plus results that stay on the ledger.
    pilot_rows = {y: tuple(PILOT[y][k] * pilot_scale if k in (1, 3) else int(PILOT[y][k] * pilot_scale)
                           for k in range(4)) for y in YEARS}
    n_empowered = sum(int(v[0]) for v in pilot_rows.values())
    n_transfers = sum(int(v[0]) for v in pilot_rows.values())  # about one transfer per empowered result
    n_achievements = int((n_empowered + n_transfers) * 1.6)
    ach_rows, owner_rows, member_rows, ach_org, ach_members = [], [], [], [], []
    inst_weights = {o.id: (5 if o.kind == "university" else 3 if o.kind == "research_institute" else 1)
                    for o in pilots}
    for n in range(n_achievements):
        org_id = uni.id if (uni is not None and n % 12 == 0) else _pick(rng, inst_weights)
        kind = _pick(rng, KIND_WEIGHTS)
        field = rng.choice(FIELDS)
        year = rng.choice((2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024))
        ach_rows.append({
            "kind": kind, "title": rng.choice(SUBJECTS).format(f=field) + f"（演示{n + 1}）",
            "number": f"DEMO-{kind[:3].upper()}{year}{n + 1:06d}", "trl": rng.randint(3, 8), "fields": [field],
            "keywords": [field, rng.choice(("工艺", "算法", "装置", "材料", "平台"))],
            "government_funding_fen": rng.choice((0, 0, 50, 100, 300, 800)) * 10_000_00,
            "is_classified": rng.random() < 0.02, "is_synthetic": True})
        pool = researchers.get(org_id) or all_researchers
        team = rng.sample(pool, min(len(pool), rng.randint(1, 4)))
        if uni is not None and demo_researcher is not None and org_id == uni.id and n % 24 == 0:
            team = [demo_researcher.id] + [p for p in team if p != demo_researcher.id][:2]
        ach_org.append(org_id)
        ach_members.append(list(zip(team, _contributions(rng, len(team)), strict=True)))
    _insert(session, Achievement, ach_rows)
    ach_ids = _ids(session, Achievement.number, Achievement.id, [r["number"] for r in ach_rows])
    for aid, org_id, members in zip(ach_ids, ach_org, ach_members, strict=True):
        owner_rows.append({"achievement_id": aid, "organisation_id": org_id, "share": Decimal(1)})
        member_rows += [{"achievement_id": aid, "person_id": p, "contribution": c} for p, c in members]
    _insert(session, AchievementOwner, owner_rows)
    _insert(session, AchievementMember, member_rows)
    counts["achievements"] = len(ach_ids)
    open_ach = [i for i, r in enumerate(ach_rows) if not r["is_classified"]]
    rng.shuffle(open_ach)
    stage = {i: "registered" for i in range(len(ach_ids))}

    # 赋权 applications (approved and some rejected) by decision year.
    apps, cursor = [], 0
    for y in YEARS:
        for k in range(int(pilot_rows[y][0]) + int(pilot_rows[y][0]) // 10):
            i = open_ach[cursor]
            cursor += 1
            approved = k < int(pilot_rows[y][0])
            decided = _day(rng, y)
            notice_start = decided - timedelta(days=20)
            kind = rng.choice(("full_ownership", "full_ownership", "partial_ownership", "use_right"))
            apps.append({
                "achievement_id": ach_ids[i], "organisation_id": ach_org[i],
                "applicant_person_id": ach_members[i][0][0], "kind": kind,
                "ownership_share": Decimal("0.7") if kind == "partial_ownership" else None,
                "use_right_years": 10 if kind == "use_right" else None,
                "agreed_income_share": Decimal("0.3") if kind == "full_ownership" and rng.random() < 0.5 else None,
                "state": "approved" if approved else "rejected", "notice_start_date": notice_start,
                "notice_end_date": notice_start + timedelta(days=14), "decision_date": decided,
                "decision_reason": "公示期满无异议，同意赋权（演示）" if approved else "权属存在争议，不予赋权（演示）",
                "is_synthetic": True})
            if approved:
                stage[i] = "empowered"
    _insert(session, EmpowermentApplication, apps)
    counts["applications"] = len(apps)

    # Transfers completed by year: amounts, new companies and social capital hit the (scaled) pilot figures.
    transfer_rows, transfer_ach = [], []
    for y in YEARS:
        n, amount_yi, companies, capital_yi = pilot_rows[y]
        n = int(n)
        companies = min(int(companies), n)
        modes = ["equity"] * companies + [rng.choice(("licence", "licence", "assignment"))
                                          for _ in range(n - companies)]
        prices = _rescale([rng.lognormvariate(0, 1.2) for _ in range(n)], int(amount_yi * YI))
        capital = _rescale([rng.lognormvariate(0, 1.0) for _ in range(companies)], int(capital_yi * YI))
        for k, mode in enumerate(modes):
            i = open_ach[cursor]
            cursor += 1
            completed = _day(rng, y)
            signed = completed - timedelta(days=rng.randint(5, 40))
            notice_end = signed - timedelta(days=rng.randint(1, 10))
            notice_start = notice_end - timedelta(days=rng.choice((14, 20, 29)))
            route = "negotiated" if rng.random() < 0.7 else rng.choice(("listing", "auction"))
            equity = mode == "equity"
            transfer_rows.append({
                "achievement_id": ach_ids[i], "organisation_id": ach_org[i],
                "counterparty_organisation_id": rng.choice(enterprises), "mode": mode,
                "licence_type": rng.choice(("exclusive", "sole", "ordinary")) if mode == "licence" else None,
                "licence_term_years": rng.choice((3, 5, 10)) if mode == "licence" else None,
                "territory": "中国大陆" if mode == "licence" else None, "company_is_new": True if equity else None,
                "equity_share": Decimal(rng.choice(("0.1", "0.15", "0.2", "0.3"))) if equity else None,
                "social_capital_fen": capital[k] if equity else 0, "price_fen": prices[k], "pricing_route": route,
                "unit_notice_start_date": notice_start if route == "negotiated" else None,
                "unit_notice_end_date": notice_end if route == "negotiated" else None,
                "market_name": rng.choice(MARKETS) if route == "negotiated" else None,
                "market_notice_start_date": notice_start if route == "negotiated" else None,
                "market_notice_end_date": notice_end if route == "negotiated" else None,
                "listing_record": f"DEMO 挂牌公告 GP{y}-{k + 1:04d}" if route == "listing" else None,
                "auction_record": f"DEMO 拍卖公告 PM{y}-{k + 1:04d}" if route == "auction" else None,
                "valuation_required": equity, "valuation_report": f"DEMO 评估报告 {y}-{k + 1:04d}" if equity else None,
                "valuation_fen": prices[k] if equity else None, "decision_record": f"DEMO 校（所）务会纪要 {y}-{k + 1}",
                "conflicts_declared": True, "no_improper_gain_declared": True, "state": "completed",
                "signed_date": signed, "completed_date": completed, "is_synthetic": True})
            transfer_ach.append(i)
            stage[i] = {"equity": "invested", "licence": "licensed", "assignment": "transferred"}[mode]
    _insert(session, Transfer, transfer_rows)  # one transfer per result: read the ids back by result
    transfer_ids = _ids(session, Transfer.achievement_id, Transfer.id, [t["achievement_id"] for t in transfer_rows])
    counts["transfers"] = len(transfer_ids)

    # 单列管理 ledger: stage tags; some results dormant or abandoned; valuations of equity investments.
    ledger_rows = []
    for i, aid in enumerate(ach_ids):
        s = stage[i]
        if s == "registered":
            r = rng.random()
            s = "dormant" if r < 0.2 else "abandoned" if r < 0.23 else "registered"
        ledger_rows.append({"organisation_id": ach_org[i], "achievement_id": aid, "stage": s,
                            "book_value_fen": rng.choice((0, 0, 5, 10, 20)) * 10_000_00,
                            "registered_date": date(2021, 1, 1) + timedelta(days=rng.randrange(1400))})
    _insert(session, LedgerEntry, ledger_rows)
    entry_of = dict(zip(ach_ids, _ids(session, LedgerEntry.achievement_id, LedgerEntry.id, ach_ids), strict=True))
    _insert(session, ValuationEvent, [
        {"ledger_entry_id": entry_of[t["achievement_id"]], "valuation_date": t["signed_date"] - timedelta(days=30),
         "method": "income", "value_fen": t["price_fen"], "note": "DEMO 评估 (synthetic)"}
        for t in transfer_rows if t["mode"] == "equity"])

    # Technology contracts registered by year: exact (scaled) yearly turnover.
    institutions_by_kind: dict[str, list[int]] = {}
    for o in institutions:
        institutions_by_kind.setdefault(o.kind, []).append(o.id)
    contracts: list[dict[str, Any]] = []
    for y in YEARS:
        n = max(1, int(CONTRACTS_PER_YEAR[y] * contract_scale))
        amounts = _rescale([rng.lognormvariate(0, 1.6) for _ in range(n)], int(TURNOVER_YI[y] * contract_scale * YI))
        mean = sum(amounts) // n
        amounts += [max(1, int(mean * rng.lognormvariate(-1, 1.2))) for _ in range(n // 50)]  # not registered
        for k in range(len(amounts)):
            seller_kind = _pick(rng, SELLER_KINDS)
            seller = rng.choice(institutions_by_kind.get(seller_kind) or enterprises) if seller_kind != "enterprise" \
                else rng.choice(enterprises)
            if uni is not None and k % 60 == 0:
                seller = uni.id
            buyer = rng.choice(enterprises)
            while buyer == seller:
                buyer = rng.choice(enterprises)
            category = _pick(rng, CATEGORY_WEIGHTS)
            total = amounts[k]
            non_tech = int(total * rng.uniform(0.05, 0.3)) if category.startswith("development") and \
                rng.random() < 0.5 else 0
            registered = _day(rng, y)
            submitted = registered - timedelta(days=rng.randint(3, 25))
            signed = submitted - timedelta(days=rng.randint(1, 60))
            state = "registered" if k < n else rng.choice(("submitted", "refused"))
            contracts.append({
                "number": f"DEMO-HT{y}{k + 1:06d}", "category": category, "seller_organisation_id": seller,
                "buyer_organisation_id": buyer, "subject": f"{rng.choice(FIELDS)}{CATEGORY_ZH[category]}（演示）",
                "signed_date": signed, "total_fen": total, "non_technical_fen": non_tech,
                "technical_fen": total - non_tech, "state": state, "submitted_date": submitted,
                "registration_deadline_date": submitted + timedelta(days=30),
                "registered_date": registered if state == "registered" else None,
                "certificate_number": f"DEMO-31{y}{k + 1:07d}" if state == "registered" else None,
                "refusal_reason": "技术文件不全（演示）" if state == "refused" else None, "is_synthetic": True})
    _insert(session, TechnologyContract, contracts)
    contract_ids = _ids(session, TechnologyContract.number, TechnologyContract.id, [c["number"] for c in contracts])
    _insert(session, ContractPayment, [
        {"contract_id": cid, "due_date": c["signed_date"] + timedelta(days=30), "amount_fen": c["total_fen"]}
        for cid, c in zip(contract_ids, contracts, strict=True)])
    counts["contracts"] = len(contract_ids)

    # Income of licences and assignments (first payments), split exactly by each institution's rule.
    members_of = {ach_ids[i]: ach_members[i] for i in range(len(ach_ids))}
    events, shares_by_event = [], []
    for tid, t in zip(transfer_ids, transfer_rows, strict=True):
        if t["mode"] == "equity":
            continue
        received = t["completed_date"] + timedelta(days=rng.randint(5, 60))
        amount = t["price_fen"]
        costs = min(amount // 50, 2_000_000)
        rule = rule_of[t["organisation_id"]]
        split = sharing.split_income(amount - costs, members_of[t["achievement_id"]], rule=sharing.Rule(
            rule["team_share"], rule["department_share"], rule["institution_share"]))
        events.append({"idempotency_key": f"DEMO-transfer-{tid}", "achievement_id": t["achievement_id"],
                       "organisation_id": t["organisation_id"], "transfer_id": tid, "received_date": received,
                       "amount_fen": amount, "costs_fen": costs, "cost_note": "专利维持费、评估费（演示）",
                       "net_fen": amount - costs, "rule_basis": f"rule from 2018-01-01: {rule['basis']}"[:300],
                       "is_synthetic": True})
        parts = [{"party": "member", "person_id": p, "organisation_id": None, "amount_fen": v,
                  "payout_status": "unpaid"} for p, v in sorted(split.members.items())]
        if split.department_fen:
            parts.append({"party": "department", "person_id": None, "organisation_id": t["organisation_id"],
                          "amount_fen": split.department_fen, "payout_status": None})
        parts.append({"party": "institution", "person_id": None, "organisation_id": t["organisation_id"],
                      "amount_fen": split.institution_fen, "payout_status": None})
        shares_by_event.append(parts)
    _insert(session, IncomeEvent, events)
    event_ids = _ids(session, IncomeEvent.idempotency_key, IncomeEvent.id, [e["idempotency_key"] for e in events])
    _insert(session, IncomeShare, [{**p, "income_event_id": eid}
                                          for eid, parts in zip(event_ids, shares_by_event, strict=True)
                                          for p in parts])
    counts["income_events"] = len(event_ids)
    audit.record(session, principal, "transfer.demo.bulk_create", "import", f"demo:{size}:seed={seed}",
                 after={"source": f"demo:{size}:seed={seed}", **counts, "synthetic": True})

    if uni is not None and demo_researcher is not None:
        counts["showcase"] = _showcase(session, rng, uni, demo_researcher, enterprises, seed)
    return DemoResult(counts)


def _showcase(session: Session, rng: random.Random, uni: Organisation, researcher: Person,
              enterprises: list[int], seed: int) -> int:
    """The demo TTO officer's and researcher's own records, written through the service (audited step by
    step): an empowered, licensed result with a registered contract and split income; an application in its
    notice with an open objection; a draft transfer missing steps; two results still to apply for."""
    tto = Principal(role=Role.TTO, user_id=None, username="demo-loader", organisation_id=uni.id)
    me = Principal(role=Role.RESEARCHER, user_id=None, username="demo-loader", person_id=researcher.id)
    colleagues = [p for p in session.scalars(select(Affiliation.person_id).where(
        Affiliation.organisation_id == uni.id).order_by(Affiliation.person_id)) if p != researcher.id][:2]
    today = service.today()

    def result(title: str, number: str, team: list[tuple[int, str]]) -> Achievement:
        return service.create_achievement(session, tto, AchievementCreate(
            kind="invention_patent", title=title, number=number, trl=6, fields=["人工智能"],
            keywords=["演示", "合成数据"], government_funding_fen=200_0000_00, is_synthetic=True,
            owners=[OwnerIn(organisation_id=uni.id, share=Decimal(1))],
            members=[MemberIn(person_id=p, contribution=Decimal(c)) for p, c in team]),
            on=today - timedelta(days=400))

    team = [(researcher.id, "0.5")] + [(p, c) for p, c in zip(colleagues, ("0.3", "0.2"), strict=False)]
    if len(team) < 3:
        team = [(researcher.id, "1")]
    a = result("基于深度学习的晶圆缺陷检测方法（演示）", f"DEMO-SHOW{seed}-1", team)
    app = service.create_application(session, me, ApplicationCreate(
        achievement_id=a.id, organisation_id=uni.id, kind="full_ownership", agreed_income_share=Decimal("0.3")),
        on=today - timedelta(days=200))
    service.submit_application(session, me, app.id, on=today - timedelta(days=200))
    service.start_review(session, tto, app.id)
    service.start_notice(session, tto, app.id, on=today - timedelta(days=190))
    service.decide(session, tto, app.id, True, "公示期满无异议，同意全部赋权并约定学校收益 30%（演示）",
                   on=today - timedelta(days=170))
    company = enterprises[0]
    t = service.create_transfer(session, tto, TransferCreate(
        achievement_id=a.id, mode="licence", counterparty_organisation_id=company, licence_type="exclusive",
        licence_term_years=5, territory="中国大陆", price_fen=360_0000_00, pricing_route="negotiated",
        is_synthetic=True))
    n0, n1 = today - timedelta(days=160), today - timedelta(days=140)
    service.record_evidence(session, tto, t.id, TransferEvidence(
        decision_record="DEMO 校长办公会纪要（演示）", unit_notice_start_date=n0, unit_notice_end_date=n1,
        market_name=MARKETS[0], market_notice_start_date=n0, market_notice_end_date=n1))
    service.record_evidence(session, tto, t.id, TransferEvidence(conflicts_declared=True,
                                                                 no_improper_gain_declared=True))
    service.sign_transfer(session, tto, t.id, on=today - timedelta(days=130))
    service.complete_transfer(session, tto, t.id, on=today - timedelta(days=120))
    c = service.create_contract(session, tto, ContractCreate(
        number=f"DEMO-SHOW-HT{seed}", category="licence", seller_organisation_id=uni.id,
        buyer_organisation_id=company, subject="晶圆缺陷检测技术独占许可（演示）", signed_date=today - timedelta(days=130),
        total_fen=360_0000_00, achievement_id=a.id, transfer_id=t.id, is_synthetic=True,
        payments=[PaymentIn(due_date=today - timedelta(days=100), amount_fen=120_0000_00),
                  PaymentIn(due_date=today + timedelta(days=200), amount_fen=240_0000_00)]))
    service.submit_contract(session, tto, c.id, on=today - timedelta(days=125))
    service.register_contract(session, SYSTEM, c.id, f"DEMO-SHOW-CERT{seed}", on=today - timedelta(days=110))
    service.record_income(session, tto, IncomeIn(
        idempotency_key=f"DEMO-SHOW-{seed}-1", contract_id=c.id, received_date=today - timedelta(days=95),
        amount_fen=120_0000_01, costs_fen=3_0000_00, cost_note="专利年费与评估费（演示）", is_synthetic=True))

    b = result("一种低功耗存算一体芯片架构（演示）", f"DEMO-SHOW{seed}-2", team)
    app2 = service.create_application(session, me, ApplicationCreate(
        achievement_id=b.id, organisation_id=uni.id, kind="use_right", use_right_years=10), on=today - timedelta(days=10))
    service.submit_application(session, me, app2.id, on=today - timedelta(days=10))
    service.start_review(session, tto, app2.id)
    service.start_notice(session, tto, app2.id, on=today - timedelta(days=5))
    service.raise_objection(session, tto, app2.id, ObjectionIn(objector="课题组原成员（演示）",
                                                              reason="认为本人贡献未列入（演示）",
                                                              raised_date=today - timedelta(days=3)))
    service.create_transfer(session, tto, TransferCreate(
        achievement_id=b.id, mode="equity", counterparty_organisation_id=enterprises[1 % len(enterprises)],
        company_is_new=True, equity_share=Decimal("0.2"), social_capital_fen=3000_0000_00,
        price_fen=800_0000_00, pricing_route="negotiated", is_synthetic=True))
    result("面向工业互联网的时序数据压缩算法（演示）", f"DEMO-SHOW{seed}-3", team)
    result("一种可降解医用高分子材料及其制备方法（演示）", f"DEMO-SHOW{seed}-4", team)
    return 4
