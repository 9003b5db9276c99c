"""The commission's results-transfer indicators for any period (a year, a quarter, a month or a date range,
``period.Period``), computed from the records with SQL aggregates.

Each source table is read with one grouped query (``GROUP BY`` institution type, ``CASE`` for the period and
the same period one year earlier), so the cost does not depend on Python loops over rows; the totals are sums
over the few institution types. Every figure is tagged with its period, scope and source, and says whether
synthetic (demo) records contributed.

Definitions (kept next to the numbers they produce):
- ``empowered_results``: 赋权 applications approved (decision date in the period).
- ``transfer_amount``: price of transfers (转让, 许可, 作价投资) completed in the period, fen.
- ``companies_founded``: 作价投资 transfers into a *new* company completed in the period.
- ``social_capital``: social capital attracted by those 作价投资 transfers (recorded on the transfer), fen.
- ``contracts_registered``, ``contract_turnover`` (合同成交额), ``contract_technical`` (技术交易额):
  technology contracts registered (认定登记) in the period, by registration date, attributed to the seller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import and_, case, false, func, literal_column, or_, select
from sqlalchemy.orm import Session

from kechuang.core.auth import Principal, Role
from kechuang.core.errors import FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import require
from kechuang.registry.models import Organisation
from kechuang.transfer.models import EmpowermentApplication, TechnologyContract, Transfer
from kechuang.transfer.period import KINDS as PERIOD_KINDS
from kechuang.transfer.period import Period, from_params
from kechuang.transfer.service import STATS

__all__ = ["INDICATORS", "PERIOD_KINDS", "Period", "as_period", "compute", "from_params", "records_behind", "to_xlsx"]

SOURCE = "kechuang records"


@dataclass(frozen=True)
class IndicatorDef:
    """One indicator: code, unit and English label (message id)."""

    code: str
    unit: str
    label: str


INDICATORS: list[IndicatorDef] = [
    IndicatorDef("empowered_results", "items", N_("Results empowered to researchers (赋权)")),
    IndicatorDef("transfer_amount", "fen", N_("Transfer amount (转让, 许可, 作价投资)")),
    IndicatorDef("companies_founded", "companies", N_("Companies founded through equity investment (作价投资)")),
    IndicatorDef("social_capital", "fen", N_("Social capital attracted by equity investments")),
    IndicatorDef("contracts_registered", "contracts", N_("Technology contracts registered")),
    IndicatorDef("contract_turnover", "fen", N_("Technology-contract turnover (合同成交额)")),
    IndicatorDef("contract_technical", "fen", N_("Technical transaction amount (技术交易额)")),
]


def _yoy(value: int, previous: int) -> float | None:
    if not previous:
        return None
    ratio = (Decimal(value) - Decimal(previous)) / Decimal(previous)
    return float(ratio.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def _scope(session: Session, principal: Principal, institution: str | None) -> tuple[int | None, str, str | None]:
    """(organisation id or None, scope label, institution name) after permission checks."""
    require(principal, STATS)
    if principal.role is Role.TTO:
        org = session.get(Organisation, principal.organisation_id or -1)
        if org is None or (institution and institution.strip().upper() != org.credit_code):
            raise NotFound()
        return org.id, f"institution:{org.credit_code}", org.name_zh
    if institution:
        code = institution.strip().upper()
        org = session.scalar(select(Organisation).where(Organisation.credit_code == code))
        if org is None:
            raise ValidationFailed(errors=[FieldError("institution", N_("No organisation with credit code {code}."),
                                                      {"code": code}, value=code)])
        return org.id, f"institution:{org.credit_code}", org.name_zh
    return None, "all", None


def as_period(period: int | str | Period) -> Period:
    """A ``Period`` from a period, a calendar year (int) or a tag (``2024Q3``); field errors when invalid."""
    if isinstance(period, Period):
        return period
    if isinstance(period, int):
        return from_params(year=period)
    return Period.parse(str(period))


def _in(date_col: Any, period: Period) -> Any:
    return and_(date_col >= period.start, date_col <= period.end)


def _window(date_col: Any, period: Period, previous: Period | None) -> Any:
    """The rows of the period or its comparison period: one index range when they touch or overlap (a
    year and the year before; a range longer than a year), otherwise two."""
    if previous is None:
        return _in(date_col, period)
    if previous.end >= period.start - timedelta(days=1):
        return and_(date_col >= previous.start, date_col <= period.end)
    return or_(_in(date_col, previous), _in(date_col, period))


def _grouped(session: Session, date_col: Any, org_col: Any, where: list[Any], sums: dict[str, Any],
             synthetic_col: Any, period: Period, org_id: int | None) -> dict[str, dict[str, dict[str, int]]]:
    """One aggregate query: per institution type, each measure for the period and the comparison period."""
    previous = period.previous
    # Inside the window a row belongs to the period from its start and to the comparison period up to its end
    # (both, when a range longer than a year overlaps its own comparison period).
    current = date_col >= period.start
    before = date_col <= previous.end if previous is not None else false()
    cols = []
    for name, expr in sums.items():
        cols.append(func.coalesce(func.sum(case((current, expr), else_=0)), 0).label(f"{name}__cur"))
        cols.append(func.coalesce(func.sum(case((before, expr), else_=0)), 0).label(f"{name}__prev"))
    synth = case((synthetic_col.is_(True), literal_column("1")), else_=literal_column("0"))
    cols.append(func.coalesce(func.sum(case((current, synth), else_=0)), 0).label("synthetic__cur"))
    cols.append(func.coalesce(func.sum(case((current, literal_column("1")), else_=literal_column("0"))), 0)
                .label("rows__cur"))
    # Aggregate per organisation first (reads only the indexed columns), then roll the few thousand groups
    # up by institution type: no per-row join.
    inner = select(org_col.label("org_id"), *cols).where(_window(date_col, period, previous), *where)
    if org_id is not None:
        inner = inner.where(org_col == org_id)
    sub = inner.group_by(org_col).subquery()
    stmt = (select(Organisation.kind, *[func.sum(sub.c[c.name]).label(c.name) for c in cols])
            .join(Organisation, Organisation.id == sub.c.org_id).group_by(Organisation.kind))
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in session.execute(stmt).mappings():
        kind = row["kind"]
        for key, v in row.items():
            if key == "kind":
                continue
            name, which = key.split("__")
            out.setdefault(name, {}).setdefault(kind, {})[which] = int(v or 0)
    return out


def compute(session: Session, principal: Principal, period: int | str | Period,
            institution: str | None = None) -> list[dict[str, Any]]:
    """The indicators of ``period`` (a ``Period``, a calendar year or a tag such as ``2024Q3``) for all
    institutions or one (credit code): a list of objects with ``indicator``, ``label``, ``value``, ``unit``,
    ``previous`` (the same period one year earlier), ``yoy``, ``period`` (tag), ``period_from``, ``period_to``,
    ``previous_period``, ``scope``, ``scope_name``, ``source``, ``synthetic`` and ``by_institution_type``."""
    period = as_period(period)
    comparison = period.previous
    org_id, scope, scope_name = _scope(session, principal, institution)
    one = literal_column("1")
    apps = _grouped(session, EmpowermentApplication.decision_date, EmpowermentApplication.organisation_id,
                    [EmpowermentApplication.state == "approved"], {"empowered_results": one},
                    EmpowermentApplication.is_synthetic, period, org_id)
    paid_modes = Transfer.mode.in_(("assignment", "licence", "equity"))
    new_company = and_(Transfer.mode == "equity", Transfer.company_is_new.is_(True))
    transfers = _grouped(session, Transfer.completed_date, Transfer.organisation_id,
                         [Transfer.state == "completed"],
                         {"transfer_amount": case((paid_modes, Transfer.price_fen), else_=0),
                          "companies_founded": case((new_company, literal_column("1")), else_=literal_column("0")),
                          "social_capital": case((Transfer.mode == "equity", Transfer.social_capital_fen), else_=0)},
                         Transfer.is_synthetic, period, org_id)
    contracts = _grouped(session, TechnologyContract.registered_date, TechnologyContract.seller_organisation_id,
                         [TechnologyContract.state == "registered"],
                         {"contracts_registered": one, "contract_turnover": TechnologyContract.total_fen,
                          "contract_technical": TechnologyContract.technical_fen},
                         TechnologyContract.is_synthetic, period, org_id)
    results: list[dict[str, Any]] = []
    for d in INDICATORS:
        group = {"empowered_results": apps, "transfer_amount": transfers, "companies_founded": transfers,
                 "social_capital": transfers}.get(d.code, contracts)
        per_kind = group.get(d.code, {})
        synthetic_rows = sum(v.get("cur", 0) for v in group.get("synthetic", {}).values())
        rows = sum(v.get("cur", 0) for v in group.get("rows", {}).values())
        value = sum(v.get("cur", 0) for v in per_kind.values())
        previous = sum(v.get("prev", 0) for v in per_kind.values())
        if synthetic_rows and synthetic_rows == rows:
            source = f"{SOURCE} (synthetic)"
        elif synthetic_rows:
            source = f"{SOURCE} (partly synthetic: {synthetic_rows} of {rows} records)"
        else:
            source = SOURCE
        results.append({
            "indicator": d.code, "label": d.label, "value": value, "unit": d.unit, "previous": previous,
            "yoy": _yoy(value, previous), "period": period.label, "period_from": period.start.isoformat(),
            "period_to": period.end.isoformat(), "previous_period": comparison.label if comparison else None,
            "scope": scope,
            "scope_name": scope_name, "source": source, "synthetic": bool(synthetic_rows),
            "by_institution_type": {k: {"value": v.get("cur", 0), "previous": v.get("prev", 0)}
                                    for k, v in sorted(per_kind.items())},
        })
    return results


def to_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The indicators as an XLSX sheet (one row per indicator; the comparison period and the dates last)."""
    from kechuang.core.i18n import gettext
    from kechuang.core.tabular import to_xlsx as write

    headers = ["indicator", "label", "value", "unit", "previous", "yoy", "period", "scope", "source",
               "previous_period", "period_from", "period_to"]
    return write(headers, [[r["indicator"], gettext(r["label"]), r["value"], r["unit"], r["previous"], r["yoy"],
                            r["period"], r["scope"], r["source"], r["previous_period"], r["period_from"],
                            r["period_to"]] for r in rows], title="transfer-stats")


def records_behind(session: Session, principal: Principal, indicator: str, period: int | str | Period,
                   institution: str | None = None, limit: int = 200) -> list[Any]:
    """Drill-down: the records counted in ``indicator`` for ``period`` and scope (first ``limit``, by id)."""
    if indicator not in {d.code for d in INDICATORS}:
        raise ValidationFailed(errors=[FieldError("indicator", N_("Unknown value; allowed: {allowed}."),
                                                  {"allowed": ", ".join(d.code for d in INDICATORS)},
                                                  value=indicator)])
    period = as_period(period)
    org_id, _scope_label, _name = _scope(session, principal, institution)
    if indicator == "empowered_results":
        model, org_col, stmt = EmpowermentApplication, EmpowermentApplication.organisation_id, select(
            EmpowermentApplication).where(EmpowermentApplication.state == "approved",
                                          _in(EmpowermentApplication.decision_date, period))
    elif indicator in ("transfer_amount", "companies_founded", "social_capital"):
        model, org_col = Transfer, Transfer.organisation_id
        stmt = select(Transfer).where(Transfer.state == "completed", _in(Transfer.completed_date, period))
        if indicator == "transfer_amount":
            stmt = stmt.where(Transfer.mode.in_(("assignment", "licence", "equity")))
        elif indicator == "companies_founded":
            stmt = stmt.where(Transfer.mode == "equity", Transfer.company_is_new.is_(True))
        else:
            stmt = stmt.where(Transfer.mode == "equity")
    else:
        model, org_col = TechnologyContract, TechnologyContract.seller_organisation_id
        stmt = select(TechnologyContract).where(TechnologyContract.state == "registered",
                                                _in(TechnologyContract.registered_date, period))
    if org_id is not None:
        stmt = stmt.where(org_col == org_id)
    return list(session.scalars(stmt.order_by(model.id).limit(limit)))
