"""Statistics periods: a calendar year, a quarter, a month or any date range, each with its tag and the same
period one year earlier (pure: no database).

Tags (also the ``period`` query parameter): ``2024``, ``2024Q3``, ``2024-03``, ``2024-02-10..2024-05-31``.
A range that is exactly a calendar year, quarter or month gets that tag, so the same days always carry the
same tag whichever way they were asked for.

The comparison period is the same calendar days one year earlier. 29 February has no counterpart in a common
year: a period *starting* on 29 February is compared from 1 March, and a period *ending* on the last day of
February is compared up to the last day of February of the year before (28 or 29). So February 2025 compares
with the whole of February 2024 (29 days), February 2024 with February 2023 (28 days), and consecutive ranges
stay consecutive one year earlier (no day counted twice, none skipped). The single day 2024-02-29 has no
comparison period (``previous`` is ``None``).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_

MIN_YEAR, MAX_YEAR = 1950, 2199
MAX_SPAN_YEARS = 10  # a range covers at most ten years (bounds the scan and keeps the figures readable)

KINDS = ("year", "quarter", "month", "range")

_YEAR = re.compile(r"^\d{4}$")
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\S+)\s*\.\.\s*(\S+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _add_years(d: date, years: int) -> date:
    """``d`` moved by whole years; 29 February becomes 28 February in a common year."""
    y = d.year + years
    return d.replace(year=y, day=min(d.day, calendar.monthrange(y, d.month)[1]))


def _is_month_end(d: date) -> bool:
    return d.day == calendar.monthrange(d.year, d.month)[1]


@dataclass(frozen=True)
class Period:
    """Inclusive dates ``start``..``end`` with their ``kind`` (year, quarter, month, range) and tag."""

    start: date
    end: date
    kind: str = "range"

    # -------------------------------------------------------------- constructors
    @classmethod
    def year(cls, year: int) -> Period:
        """The calendar year."""
        return cls(date(year, 1, 1), date(year, 12, 31), "year")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        """Quarter 1–4 of ``year``."""
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), date(year, first + 2, calendar.monthrange(year, first + 2)[1]), "quarter")

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        """A calendar month."""
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), "month")

    @classmethod
    def between(cls, start: date, end: date) -> Period:
        """The dates ``start``..``end`` (inclusive), tagged as a year, quarter or month when they are one."""
        if start.day == 1 and _is_month_end(end) and start.year == end.year:
            months = end.month - start.month + 1
            if months == 12:
                return cls.year(start.year)
            if months == 3 and start.month % 3 == 1:
                return cls.quarter(start.year, start.month // 3 + 1)
            if months == 1:
                return cls.month(start.year, start.month)
        return cls(start, end, "range")

    # -------------------------------------------------------------- tags
    @property
    def label(self) -> str:
        """The tag: ``2024``, ``2024Q3``, ``2024-03`` or ``2024-02-10..2024-05-31``."""
        if self.kind == "year":
            return str(self.start.year)
        if self.kind == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        if self.kind == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"

    @property
    def slug(self) -> str:
        """The tag usable in a file name."""
        return self.label.replace("..", "_")

    @property
    def short_label(self) -> str:
        """A chart axis label: the tag, or for a range its year(s)."""
        if self.kind != "range":
            return self.label
        if self.start.year == self.end.year:
            return str(self.start.year)
        return f"{self.start.year}–{self.end.year}"

    def __str__(self) -> str:
        return self.label

    # -------------------------------------------------------------- comparison
    def shifted(self, years: int = -1) -> Period | None:
        """The same calendar days ``years`` away (see the module docstring for 29 February); ``None`` when
        nothing is left (the single day 29 February)."""
        if self.kind == "year":
            return Period.year(self.start.year + years)
        if self.kind == "quarter":
            return Period.quarter(self.start.year + years, (self.start.month - 1) // 3 + 1)
        if self.kind == "month":
            return Period.month(self.start.year + years, self.start.month)
        start = _add_years(self.start, years)
        if (self.start.month, self.start.day) == (2, 29) and start.day == 28:
            start += timedelta(days=1)  # 28 February belongs to the days before 29 February: start on 1 March
        end = _add_years(self.end, years)
        if self.end.month == 2 and _is_month_end(self.end):
            end = end.replace(day=calendar.monthrange(end.year, 2)[1])
        if start > end:
            return None
        return Period.between(start, end)

    @property
    def previous(self) -> Period | None:
        """The comparison period for year-on-year growth: the same days one year earlier."""
        return self.shifted(-1)

    # -------------------------------------------------------------- parsing
    @classmethod
    def parse(cls, text: str, field: str = "period") -> Period:
        """A tag back into a period (``2024``, ``2024Q3``, ``2024-03``, ``2024-02-10..2024-05-31``)."""
        s = (text or "").strip()
        if _YEAR.match(s):
            return from_params(year=int(s))
        if _QUARTER.match(s):
            return from_params(quarter=s)
        if _MONTH.match(s):
            return from_params(month=s)
        if m := _RANGE.match(s):
            return from_params(from_=m.group(1), to=m.group(2))
        raise ValidationFailed(errors=[FieldError(
            field, N_("A period is expected: a year (2024), a quarter (2024Q3), a month (2024-03) or dates "
                      "(2024-02-10..2024-05-31)."), value=s)])


def _year_error(field: str, value: Any) -> FieldError:
    return FieldError(field, N_("A year between {min} and {max} is expected, e.g. 2024."),
                      {"min": MIN_YEAR, "max": MAX_YEAR}, value=value)


def _parse_date(field: str, value: Any, errors: list[FieldError]) -> date | None:
    if isinstance(value, date):
        d: date | None = value
    else:
        s = str(value or "").strip()
        d = None
        if not s:
            errors.append(FieldError(field, N_("A date is required.")))
            return None
        if _DATE.match(s):
            try:
                d = date.fromisoformat(s)
            except ValueError:
                d = None
        if d is None:
            errors.append(FieldError(field, N_("A date is expected as YYYY-MM-DD, e.g. 2024-03-31."), value=s))
            return None
    if not MIN_YEAR <= d.year <= MAX_YEAR:
        errors.append(FieldError(field, N_("A date between {min} and {max} is expected."),
                                 {"min": f"{MIN_YEAR}-01-01", "max": f"{MAX_YEAR}-12-31"}, value=d.isoformat()))
        return None
    return d


def from_params(*, year: Any = None, quarter: Any = None, month: Any = None, from_: Any = None, to: Any = None,
                period: Any = None) -> Period:
    """One period from exactly one of: ``year``; ``quarter`` (``2024Q3``); ``month`` (``2024-03``); ``from_`` and
    ``to`` (inclusive dates, ``from_`` ≤ ``to``, at most ten years); ``period`` (a tag). Field errors name the
    parameter that is wrong."""

    def given(v: Any) -> bool:
        return v is not None and str(v).strip() != ""

    forms = [name for name, v in (("year", year), ("quarter", quarter), ("month", month), ("period", period))
             if given(v)]
    if given(from_) or given(to):
        forms.append("from")
    if len(forms) > 1:
        raise ValidationFailed(errors=[FieldError(
            "period",
            N_("Give one period: a year, a quarter, a month or a date range (from and to), not {given}."),
            {"given": " + ".join("from/to" if f == "from" else f for f in forms)})])
    if not forms:
        raise ValidationFailed(errors=[FieldError(
            "year", N_("A period is required: a year, a quarter, a month or a date range (from and to)."))])
    form = forms[0]
    if form == "period":
        return Period.parse(str(period))
    if form == "year":
        try:
            y = int(str(year).strip())
        except ValueError:
            raise ValidationFailed(errors=[_year_error("year", year)]) from None
        if not MIN_YEAR <= y <= MAX_YEAR:
            raise ValidationFailed(errors=[_year_error("year", year)])
        return Period.year(y)
    if form == "quarter":
        m = _QUARTER.match(str(quarter).strip())
        if not m:
            raise ValidationFailed(errors=[FieldError(
                "quarter", N_("A quarter is expected as YYYYQn, e.g. 2024Q3 (n from 1 to 4)."), value=quarter)])
        if not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
            raise ValidationFailed(errors=[_year_error("quarter", quarter)])
        return Period.quarter(int(m.group(1)), int(m.group(2)))
    if form == "month":
        m = _MONTH.match(str(month).strip())
        if not m or not 1 <= int(m.group(2)) <= 12:
            raise ValidationFailed(errors=[FieldError(
                "month", N_("A month is expected as YYYY-MM, e.g. 2024-03."), value=month)])
        if not MIN_YEAR <= int(m.group(1)) <= MAX_YEAR:
            raise ValidationFailed(errors=[_year_error("month", month)])
        return Period.month(int(m.group(1)), int(m.group(2)))
    errors: list[FieldError] = []
    start = _parse_date("from", from_, errors)
    end = _parse_date("to", to, errors)
    if errors:
        raise ValidationFailed(errors=errors)
    assert start is not None and end is not None
    if start > end:
        raise ValidationFailed(errors=[FieldError("to", N_("The end date must not be before the start date {start}."),
                                                  {"start": start.isoformat()}, value=end.isoformat())])
    limit = _add_years(start, MAX_SPAN_YEARS)  # the first day past ten years
    if (start.month, start.day) == (2, 29) and limit.day == 28:
        limit += timedelta(days=1)
    if end >= limit:
        raise ValidationFailed(errors=[FieldError(
            "to", N_("A date range covers at most {years} years (from {start}, the last day is {last})."),
            {"years": MAX_SPAN_YEARS, "start": start.isoformat(),
             "last": (limit - timedelta(days=1)).isoformat()}, value=end.isoformat())])
    return Period.between(start, end)
