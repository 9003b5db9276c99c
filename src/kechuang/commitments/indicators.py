"""Indicator definitions, and the computations over kechuang's own records for those that can be
computed. A computed value keeps its query text and whether it came from synthetic demo data."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal
from kechuang.registry.models import Organisation, OrganisationFact, Qualification


@dataclass(frozen=True)
class IndicatorDef:
    code: str
    name_zh: str
    name_en: str
    definition: str
    unit: str
    scope: str


DEFINITIONS: dict[str, IndicatorDef] = {d.code: d for d in [
    IndicatorDef("empowered_results", "赋权成果", "Empowered results (赋权)",
                 "Job-related results whose ownership or long-term use right was granted to researchers in the period.",
                 "项", "成果转化改革试点单位"),
    IndicatorDef("transfer_amount", "转化金额", "Transfer amount",
                 "Contract value of transfers, licences and equity investments of empowered results in the period.",
                 "亿元", "成果转化改革试点单位"),
    IndicatorDef("companies_incubated", "孵化公司", "Companies incubated",
                 "Companies founded on empowered results (作价投资) in the period.", "家", "成果转化改革试点单位"),
    IndicatorDef("social_capital", "吸引社会资金", "Social capital attracted",
                 "Capital raised by those companies from non-government investors in the period.", "亿元",
                 "成果转化改革试点单位"),
    IndicatorDef("tech_contract_turnover", "技术合同成交额", "Technology-contract turnover",
                 "Total 成交额 of technology contracts registered in Shanghai in the period.", "亿元", "上海市"),
    IndicatorDef("tech_contract_turnover_yoy", "技术合同成交额同比增长", "Technology-contract turnover, year on year",
                 "Growth of technology-contract turnover over the previous year.", "%", "上海市"),
    IndicatorDef("transfer_pilot_units", "成果转化改革试点单位", "Results-transfer reform pilot units",
                 "Units in the results-transfer reform pilot.", "家", "上海市"),
    IndicatorDef("talent_pilot_units", "人才评价改革试点单位", "Talent-evaluation reform pilot units",
                 "Research units in the comprehensive talent-evaluation reform pilot.", "家", "上海市"),
    IndicatorDef("high_tech_enterprises", "高新技术企业数", "High-tech enterprises",
                 "Enterprises with a 高新技术企业 qualification valid on 31 December of the period.", "家", "上海市"),
    IndicatorDef("enterprise_rd_expense", "企业研发投入", "Enterprise R&D expense",
                 "Sum of the R&D expense reported in the yearly facts of enterprises for the period.", "亿元", "上海市"),
]}


@dataclass
class Computed:
    value: Decimal
    query: str
    from_synthetic_data: bool


def _high_tech(session: Session, principal: Principal, period: str) -> Computed:
    end = date(int(period), 12, 31)
    cond = and_(Qualification.kind == "high_tech", Qualification.valid_from_date <= end,
                or_(Qualification.valid_to_date.is_(None), Qualification.valid_to_date >= end),
                Organisation.kind == "enterprise")
    stmt = (select(func.count(func.distinct(Qualification.organisation_id)),
                   func.coalesce(func.max(Qualification.is_synthetic.cast(int_type())), 0))
            .join(Organisation, Organisation.id == Qualification.organisation_id).where(cond))
    count, synthetic = session.execute(stmt).one()
    return Computed(Decimal(count), _sql(stmt, session), bool(synthetic))


def _rd_expense(session: Session, principal: Principal, period: str) -> Computed:
    stmt = (select(func.coalesce(func.sum(OrganisationFact.rd_expense_fen), 0),
                   func.coalesce(func.max(OrganisationFact.is_synthetic.cast(int_type())), 0))
            .join(Organisation, Organisation.id == OrganisationFact.organisation_id)
            .where(OrganisationFact.year == int(period), Organisation.kind == "enterprise"))
    fen, synthetic = session.execute(stmt).one()
    return Computed((Decimal(int(fen)) / Decimal(10**10)).quantize(Decimal("0.0001")), _sql(stmt, session),
                    bool(synthetic))


def int_type():
    """Integer type for casting booleans (max over a boolean is not portable)."""
    from sqlalchemy import Integer

    return Integer()


def _sql(stmt, session: Session) -> str:
    return str(stmt.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))


FEN_PER_YI = Decimal(10**10)  # 1 亿元 = 10^8 yuan = 10^10 fen


def _from_transfer(stat_code: str, scale: Decimal | None = None, yoy: bool = False):
    """A computation that reads one indicator of the results-transfer statistics (all institutions)."""

    def compute(session: Session, principal: Principal, period: str) -> Computed | None:
        from kechuang.transfer import stats as transfer_stats

        row = next(r for r in transfer_stats.compute(session, principal, int(period)) if r["indicator"] == stat_code)
        if yoy:
            if row["yoy"] is None:
                return None  # no previous year to compare with: nothing to report
            value = Decimal(str(row["yoy"])) * 100
        else:
            value = Decimal(int(row["value"])) / scale if scale else Decimal(int(row["value"]))
        query = (f"kechuang.transfer.stats.compute(year={period}, scope={row['scope']})"
                 f"['{stat_code}']{'.yoy' if yoy else ''}" + (f" / {scale}" if scale else ""))
        return Computed(value.quantize(Decimal("0.0001")), query, bool(row["synthetic"]))

    return compute


# Indicators kechuang computes from its own records: the registry, and the results-transfer records for the
# letter's transfer figures (赋权, transfer amount, companies, social capital, technology contracts).
COMPUTATIONS: dict[str, Callable[[Session, Principal, str], Computed | None]] = {
    "high_tech_enterprises": _high_tech,
    "enterprise_rd_expense": _rd_expense,
    "empowered_results": _from_transfer("empowered_results"),
    "transfer_amount": _from_transfer("transfer_amount", FEN_PER_YI),
    "companies_incubated": _from_transfer("companies_founded"),
    "social_capital": _from_transfer("social_capital", FEN_PER_YI),
    "tech_contract_turnover": _from_transfer("contract_turnover", FEN_PER_YI),
    "tech_contract_turnover_yoy": _from_transfer("contract_turnover", yoy=True),
}
