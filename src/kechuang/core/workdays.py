"""Working days in mainland China: Monday to Friday, minus the official public holidays, plus the weekend
days made working days (调休), as the State Council's yearly notices set them. The notices are data in
``core/data/cn_workdays.yaml``, each year with its source; a year without its notice there counts Monday
to Friday only, and :func:`covers` says so, so that a deadline can be flagged as provisional.

Pure: no database. Used by the deadline computations (policy: 公示 length and the confirmation deadline).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).parent / "data" / "cn_workdays.yaml"


@dataclass(frozen=True)
class Holiday:
    """A block of days off named in a notice."""

    name: str
    first: date
    last: date


@dataclass(frozen=True)
class Calendar:
    """Days off and swapped working days of the years whose notice is known."""

    holidays: frozenset[date]
    workdays: frozenset[date]
    years: dict[int, dict[str, Any]] = field(default_factory=dict)  # year → source of its notice
    blocks: tuple[Holiday, ...] = ()

    def covers(self, year: int) -> bool:
        """Whether the notice of ``year`` is in the calendar."""
        return year in self.years

    def is_working_day(self, d: date) -> bool:
        """A swapped weekend working day, else Monday–Friday that is not a holiday."""
        if d in self.workdays:
            return True
        return d.weekday() < 5 and d not in self.holidays

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted; 0 gives ``start``)."""
        if days < 0:
            raise ValueError("days must not be negative")
        d, left = start, days
        while left > 0:
            d += timedelta(days=1)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
        n, d = 0, start
        while d < end:
            d += timedelta(days=1)
            n += self.is_working_day(d)
        return n


def _day(value: Any, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: not a date: {value!r}") from None


def parse(doc: dict[Any, Any]) -> Calendar:
    """A calendar from the YAML document's data; refuses inconsistent entries with the year and the reason."""
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: dict[int, dict[str, Any]] = {}
    blocks = []
    for key, entry in sorted((doc or {}).items(), key=lambda kv: int(kv[0])):
        year = int(key)
        src = entry.get("source") or {}
        if not src.get("title") or not src.get("url"):
            raise ValueError(f"{year}: the source needs a title and a url")
        for h in entry.get("holidays") or []:
            first, last = _day(h.get("from"), f"{year} {h.get('name')}"), _day(h.get("to"), f"{year} {h.get('name')}")
            if last < first or first.year != year:
                raise ValueError(f"{year} {h.get('name')}: {first}..{last} is not a range in {year}")
            blocks.append(Holiday(str(h.get("name")), first, last))
            d = first
            while d <= last:
                holidays.add(d)
                d += timedelta(days=1)
        for w in entry.get("workdays") or []:
            d = _day(w, f"{year} workdays")
            if d.year != year or d.weekday() < 5:
                raise ValueError(f"{year}: swapped working day {d} must be a Saturday or Sunday of {year}")
            if d in holidays:
                raise ValueError(f"{year}: {d} is both a holiday and a working day")
            workdays.add(d)
        years[year] = dict(src)
    return Calendar(frozenset(holidays), frozenset(workdays), years, tuple(blocks))


@lru_cache(maxsize=4)
def _load(path: str, stamp: int) -> Calendar:
    with open(path, encoding="utf-8") as f:
        return parse(yaml.safe_load(f))


def calendar(path: Path | str = DATA) -> Calendar:
    """The calendar from ``path`` (the shipped notices by default), parsed once per file change."""
    p = Path(path)
    return _load(str(p), p.stat().st_mtime_ns)


def is_working_day(d: date) -> bool:
    """Whether ``d`` is a working day under the shipped calendar."""
    return calendar().is_working_day(d)


def add_working_days(start: date, days: int) -> date:
    """``days`` working days after ``start`` under the shipped calendar."""
    return calendar().add_working_days(start, days)


def covers(year: int) -> bool:
    """Whether the shipped calendar holds the notice of ``year``."""
    return calendar().covers(year)
