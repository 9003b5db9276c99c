"""Working days with the official holidays and swapped working days (调休) of the State Council notices
for 2025 (国办发明电〔2024〕12号) and 2026 (notice of 2025-11-04)."""

from __future__ import annotations

from datetime import date

import pytest

from kechuang.core import workdays

CAL = workdays.calendar()


def _weekdays_only(start: date, days: int) -> date:
    return workdays.Calendar(frozenset(), frozenset()).add_working_days(start, days)


def test_the_notices_are_entered_as_published():
    assert sorted(CAL.years) == [2025, 2026]
    assert CAL.years[2025]["doc"] == "国办发明电〔2024〕12号" and CAL.years[2026]["issued"] == date(2025, 11, 4)
    length = {(b.first.year, b.name): (b.last - b.first).days + 1 for b in CAL.blocks}
    # Days off as each notice counts them ("共8天" ...).
    assert (length[(2025, "春节")], length[(2025, "劳动节")], length[(2025, "国庆节、中秋节")]) == (8, 5, 8)
    assert (length[(2026, "元旦")], length[(2026, "春节")], length[(2026, "国庆节")]) == (3, 9, 7)
    assert sorted(d for d in CAL.workdays if d.year == 2025) == [
        date(2025, 1, 26), date(2025, 2, 8), date(2025, 4, 27), date(2025, 9, 28), date(2025, 10, 11)]
    assert sorted(d for d in CAL.workdays if d.year == 2026) == [
        date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9), date(2026, 9, 20), date(2026, 10, 10)]
    assert all(d.weekday() >= 5 for d in CAL.workdays)


@pytest.mark.parametrize("start, days, expected, weekdays_only", [
    # Spring Festival 2025: 1/28 (除夕) to 2/4 off; Sunday 1/26 and Saturday 2/8 are working days.
    (date(2025, 1, 24), 1, date(2025, 1, 26), date(2025, 1, 27)),
    (date(2025, 1, 24), 5, date(2025, 2, 7), date(2025, 1, 31)),
    (date(2025, 1, 27), 1, date(2025, 2, 5), date(2025, 1, 28)),
    (date(2025, 2, 7), 3, date(2025, 2, 11), date(2025, 2, 12)),
    # National Day and Mid-Autumn 2025: 10/1 to 10/8 off; Sunday 9/28 and Saturday 10/11 are working days.
    (date(2025, 9, 26), 3, date(2025, 9, 30), date(2025, 10, 1)),
    (date(2025, 9, 26), 5, date(2025, 10, 10), date(2025, 10, 3)),
    (date(2025, 10, 10), 1, date(2025, 10, 11), date(2025, 10, 13)),
    # Spring Festival 2026: 2/15 to 2/23 off; Saturdays 2/14 and 2/28 are working days.
    (date(2026, 2, 13), 1, date(2026, 2, 14), date(2026, 2, 16)),
    (date(2026, 2, 13), 3, date(2026, 2, 25), date(2026, 2, 18)),
    (date(2026, 2, 27), 1, date(2026, 2, 28), date(2026, 3, 2)),
    # National Day 2026: 10/1 to 10/7 off; Sunday 9/20 and Saturday 10/10 are working days.
    (date(2026, 9, 18), 1, date(2026, 9, 20), date(2026, 9, 21)),
    (date(2026, 9, 30), 1, date(2026, 10, 8), date(2026, 10, 1)),
    (date(2026, 10, 9), 1, date(2026, 10, 10), date(2026, 10, 12)),
    # 元旦 2026 (1/1 to 1/3 off, Sunday 1/4 worked), reached from the last days of 2025.
    (date(2025, 12, 31), 1, date(2026, 1, 4), date(2026, 1, 1)),
    (date(2025, 3, 3), 0, date(2025, 3, 3), date(2025, 3, 3)),
])
def test_add_working_days_around_the_holidays(start, days, expected, weekdays_only):
    assert workdays.add_working_days(start, days) == expected
    assert _weekdays_only(start, days) == weekdays_only


def test_is_working_day_and_counting():
    assert not workdays.is_working_day(date(2025, 1, 28)) and workdays.is_working_day(date(2025, 1, 26))
    assert not workdays.is_working_day(date(2026, 10, 7)) and workdays.is_working_day(date(2026, 10, 10))
    assert CAL.working_days_between(date(2025, 9, 26), date(2025, 10, 12)) == 6  # 9/28-30, 10/9-11
    assert CAL.working_days_between(date(2025, 1, 1), date(2025, 1, 1)) == 0


def test_years_without_a_notice_count_monday_to_friday():
    assert workdays.covers(2026) and not workdays.covers(2027) and not workdays.covers(2024)
    assert workdays.add_working_days(date(2027, 2, 5), 1) == date(2027, 2, 8)  # Spring Festival 2027 not entered
    with pytest.raises(ValueError):
        workdays.add_working_days(date(2025, 1, 1), -1)


@pytest.mark.parametrize("doc, reason", [
    ({2025: {"source": {"title": "t", "url": "u"}, "workdays": ["2025-01-29"]}}, "Saturday or Sunday"),
    ({2025: {"source": {"title": "t", "url": "u"}, "holidays": [{"name": "x", "from": "2025-02-04",
                                                                  "to": "2025-01-28"}]}}, "not a range"),
    ({2025: {"source": {"title": "t", "url": "u"}, "holidays": [{"name": "x", "from": "2025-01-25",
                                                                  "to": "2025-01-26"}],
             "workdays": ["2025-01-26"]}}, "both a holiday and a working day"),
    ({2025: {"source": {"title": "t"}}}, "needs a title and a url"),
    ({2025: {"source": {"title": "t", "url": "u"}, "workdays": ["2026-01-04"]}}, "Saturday or Sunday of 2025"),
])
def test_bad_calendar_data_is_refused_with_the_reason(doc, reason):
    with pytest.raises(ValueError, match=reason):
        workdays.parse(doc)
