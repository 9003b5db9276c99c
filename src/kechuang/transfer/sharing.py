"""Revenue sharing of transfer income in integer fen (pure: no database).

Rounding rule (stated once, tested by properties): amounts are split by the **largest-remainder method**.
Each part first gets the floor of its exact quota (``whole × weight / Σweights``, computed with exact
fractions); the fen left over go one each to the parts with the largest fractional remainders; equal
remainders are broken by a stable key — the order of the parties (team, department, institution) at the
first level and the members' keys (ascending) within the team. So the parts always sum exactly to the
whole, no part differs from its exact quota by one fen or more, and the result does not depend on the
order the inputs are given in.

Legal floor: without an agreement, the team receives at least ``min_team_share`` of net income
(促进科技成果转化法 art. 45, default 50%; see ``params``) — rounded *up* to the next fen, taking the
difference from the institution's (then the department's) part.

With a 全部赋权 + 约定收益 agreement the researchers own the result and the institution receives the agreed
share of future net income; the rest goes to the team, and no department share applies.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

TEAM, DEPARTMENT, INSTITUTION = "team", "department", "institution"
_PARTY_ORDER = (TEAM, DEPARTMENT, INSTITUTION)


class SharingError(ValueError):
    """Inputs that cannot be split (negative amounts, shares not summing to 1, rule under the floor)."""


def allocate(whole: int, weights: Sequence[tuple[Hashable, Decimal | Fraction | int]]) -> dict[Hashable, int]:
    """Split ``whole`` fen by ``weights`` with the largest-remainder method; ties go to the earlier key
    in ``sorted`` order of ``(str(type(key)), key)``. The result sums exactly to ``whole``."""
    if whole < 0:
        raise SharingError("amount to allocate is negative")
    if not weights:
        if whole:
            raise SharingError("nobody to allocate to")
        return {}
    keys = [k for k, _w in weights]
    if len(set(keys)) != len(keys):
        raise SharingError("duplicate key")
    fr = [(k, Fraction(w) if not isinstance(w, Decimal) else Fraction(w)) for k, w in weights]
    if any(w < 0 for _k, w in fr):
        raise SharingError("negative weight")
    total_w = sum((w for _k, w in fr), Fraction(0))
    if total_w == 0:
        raise SharingError("weights sum to zero")
    out: dict[Hashable, int] = {}
    remainders: list[tuple[Fraction, Hashable]] = []
    for k, w in fr:
        quota = whole * w / total_w
        base = math.floor(quota)
        out[k] = base
        remainders.append((quota - base, k))
    left = whole - sum(out.values())
    # Largest remainder first; ties: the stable key order.
    remainders.sort(key=lambda rk: (-rk[0], _stable(rk[1])))
    for _r, k in remainders[:left]:
        out[k] += 1
    return out


def _stable(key: Hashable) -> tuple:
    if isinstance(key, tuple):
        return tuple(_stable(k) for k in key)
    if key in _PARTY_ORDER:
        return (0, _PARTY_ORDER.index(key), "")
    if isinstance(key, int):
        return (1, key, "")
    return (2, 0, str(key))


def net_income(amount_fen: int, costs_fen: int) -> int:
    """Net income = income − documented costs; both non-negative and costs not above the income."""
    if amount_fen < 0 or costs_fen < 0:
        raise SharingError("income and costs must not be negative")
    if costs_fen > amount_fen:
        raise SharingError("documented costs exceed the income")
    return amount_fen - costs_fen


@dataclass(frozen=True)
class Rule:
    """An institution's split of net income (fractions summing to 1)."""

    team: Decimal
    department: Decimal
    institution: Decimal

    def check(self, min_team_share: Decimal) -> None:
        """Raise ``SharingError`` unless the shares are in 0..1, sum to 1 and the team share meets the floor."""
        parts = (self.team, self.department, self.institution)
        if any(p < 0 or p > 1 for p in parts):
            raise SharingError("shares must be between 0 and 1")
        if sum(parts) != 1:
            raise SharingError("shares must sum to 1")
        if self.team < min_team_share:
            raise SharingError("team share below the legal minimum")


@dataclass
class Split:
    """The result: first-level parts and each member's part, all in fen, summing to ``net_fen``."""

    net_fen: int
    team_fen: int
    department_fen: int
    institution_fen: int
    members: dict[Hashable, int] = field(default_factory=dict)
    basis: str = "rule"  # "rule" or "agreement"

    @property
    def total(self) -> int:
        """Sum of the first-level parts (always ``net_fen``)."""
        return self.team_fen + self.department_fen + self.institution_fen


def split_income(
    net_fen: int,
    members: Sequence[tuple[Hashable, Decimal]],
    *,
    rule: Rule | None = None,
    agreed_institution_share: Decimal | None = None,
    min_team_share: Decimal = Decimal("0.5"),
) -> Split:
    """Split ``net_fen`` between team members (by contribution), department and institution, by the
    agreement (``agreed_institution_share``) if there is one, otherwise by ``rule`` (or, without a rule,
    the legal default: ``min_team_share`` to the team, the rest to the institution)."""
    if net_fen < 0:
        raise SharingError("net income is negative")
    if not members:
        raise SharingError("the achievement has no team members")
    contributions = [c for _k, c in members]
    if any(c <= 0 for c in contributions) or sum(contributions) != 1:
        raise SharingError("contributions must be positive and sum to 1")
    if agreed_institution_share is not None:
        if not 0 <= agreed_institution_share <= 1:
            raise SharingError("agreed share must be between 0 and 1")
        weights = [(TEAM, 1 - agreed_institution_share), (INSTITUTION, agreed_institution_share)]
        first = allocate(net_fen, weights)
        first.setdefault(DEPARTMENT, 0)
        basis = "agreement"
    else:
        rule = rule or Rule(min_team_share, Decimal(0), 1 - min_team_share)
        rule.check(min_team_share)
        first = allocate(net_fen, [(TEAM, rule.team), (DEPARTMENT, rule.department),
                                   (INSTITUTION, rule.institution)])
        floor = math.ceil(Fraction(net_fen) * Fraction(min_team_share))
        short = floor - first[TEAM]
        for donor in (INSTITUTION, DEPARTMENT):  # round the legal minimum up, never down
            take = min(short, first[donor])
            if take > 0:
                first[donor] -= take
                first[TEAM] += take
                short -= take
        basis = "rule"
    team_parts = allocate(first[TEAM], list(members))
    split = Split(net_fen, first[TEAM], first[DEPARTMENT], first[INSTITUTION], team_parts, basis)
    assert split.total == net_fen and sum(team_parts.values()) == split.team_fen  # the invariant
    return split


EQUITY_UNIT = Decimal("0.000001")  # equity is split in millionths of the company


def split_equity(equity_share: Decimal, members: Sequence[tuple[Hashable, Decimal]], team_share: Decimal,
                 min_team_share: Decimal = Decimal("0.5")) -> tuple[Decimal, dict[Hashable, Decimal]]:
    """Equity awards from 作价投资: the team receives ``team_share`` (≥ ``min_team_share``, art. 45) of the
    institution's ``equity_share`` of the company, split by contribution. Works in millionths of the
    company with the same largest-remainder rule; returns (institution's remaining share, member shares)."""
    if not 0 < equity_share <= 1:
        raise SharingError("equity share must be above 0 and at most 1")
    if team_share < min_team_share or team_share > 1:
        raise SharingError("team share below the legal minimum")
    units = int((equity_share / EQUITY_UNIT).to_integral_value())
    first = allocate(units, [(TEAM, team_share), (INSTITUTION, 1 - team_share)])
    floor = math.ceil(Fraction(units) * Fraction(min_team_share))
    if first[TEAM] < floor:  # never round the legal minimum down
        first[INSTITUTION] -= floor - first[TEAM]
        first[TEAM] = floor
    team = allocate(first[TEAM], list(members))
    return first[INSTITUTION] * EQUITY_UNIT, {k: v * EQUITY_UNIT for k, v in team.items()}
