"""Dated parameters of results transfer, each with its legal basis and confirmation status.

Rules as data (GUIDE): a parameter has values that apply from a date; ``value(name, on)`` returns the one in
force. Status ✅ = rule text seen in a source; ❌ = not confirmed, kept editable until the official text is
checked (SPEC section 8). Officers change these values, not the code that uses them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from kechuang.core import workdays


@dataclass(frozen=True)
class DatedValue:
    """One value of a parameter from ``start`` on."""

    start: date
    value: Any
    status: str  # "confirmed" or "unconfirmed"
    source: str
    note: str = ""


PARAMETERS: dict[str, list[DatedValue]] = {
    # Minimum team share of net transfer/licence income where no rule or agreement exists.
    "reward.min_team_share": [
        DatedValue(date(2015, 10, 1), Decimal("0.5"), "confirmed",
                   "促进科技成果转化法 (2015) art. 45; SPEC section 4",
                   "Shanghai 条例 (2017) 70% floor is NOT confirmed (its text was not found); national 50% applies."),
    ],
    # 赋权 use right: at least this many years (national 9-department pilot 2020; 沪科规〔2023〕9号).
    "empowerment.use_right_min_years": [
        DatedValue(date(2020, 5, 9), 10, "confirmed", "国科发区〔2020〕128号; 沪科规〔2023〕9号; SPEC section 4"),
    ],
    # 公示 period of an empowerment decision, in calendar days.
    "empowerment.notice_days": [
        DatedValue(date(2023, 8, 1), 15, "unconfirmed", "沪科规〔2023〕9号 (period not found); SPEC section 8",
                   "Placeholder until the Shanghai 赋权 workflow text is confirmed."),
    ],
    # Negotiated price (协议定价): minimum days the price is published in the unit and on a technology market
    # before signing (国发〔2016〕16号 (十) requires publication; the period is not stated there).
    "transfer.negotiated_notice_min_days": [
        DatedValue(date(2016, 2, 26), 15, "unconfirmed", "国发〔2016〕16号 (十); SPEC section 4",
                   "Period not given in the source; common institutional practice is 15 days."),
    ],
    # Registration (技术合同认定登记) review period after the seller submits.
    "contract.registration_period": [
        DatedValue(date(2000, 2, 16), {"days": 30, "working_days": False}, "confirmed",
                   "国科发政字〔2000〕063号 办法; SPEC section 3"),
        DatedValue(date(2026, 1, 23), {"days": 15, "working_days": True, "large_days": 30,
                                       "large_threshold_fen": 500_0000_00}, "unconfirmed",
                   "MIIT draft 2024-12-18; final 2026 办法 (2026-01-23); SPEC section 3",
                   "Reform: 15 working days, 30 if 技术交易额 ≥ 500万; final numbers and start date unconfirmed. "
                   "Working days follow the official holiday calendar (core/data/cn_workdays.yaml)."),
    ],
}


def entry(name: str, on: date) -> DatedValue:
    """The value of parameter ``name`` in force on ``on`` (the latest start not after it)."""
    values = [v for v in PARAMETERS[name] if v.start <= on]
    if not values:
        return PARAMETERS[name][0]
    return max(values, key=lambda v: v.start)


def value(name: str, on: date) -> Any:
    """The bare value of parameter ``name`` in force on ``on``."""
    return entry(name, on).value


def add_working_days(start: date, days: int) -> date:
    """``start`` plus ``days`` working days under the official calendar (holidays and 调休 working weekends,
    ``core.workdays``; Monday–Friday for years whose notice is not shipped yet)."""
    return workdays.add_working_days(start, days)


def registration_deadline(submitted: date, technical_fen: int) -> date:
    """The date by which the registration body must decide on a contract submitted on ``submitted``."""
    rule = value("contract.registration_period", submitted)
    days = rule["days"]
    if "large_threshold_fen" in rule and technical_fen >= rule["large_threshold_fen"]:
        days = rule["large_days"]
    if rule["working_days"]:
        return add_working_days(submitted, days)
    return submitted + timedelta(days=days)


def as_table() -> list[dict[str, Any]]:
    """Every parameter value with its status and source (for display and export)."""
    return [{"name": name, "start": v.start, "value": v.value, "status": v.status, "source": v.source,
             "note": v.note} for name, values in PARAMETERS.items() for v in values]
