"""Statistics for any period (issue 5 §8): quarters, months and date ranges against a hand-computed fixture with
records on the boundary dates, year-on-year growth against the same days one year earlier (29 February),
validation, the API, the page with its picker and drill-down, XLSX, and the CLI's --quarter and --from/--to."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete
from typer.testing import CliRunner

from kechuang.core.auth import SYSTEM
from kechuang.core.errors import ValidationFailed
from kechuang.registry.models import Organisation
from kechuang.transfer import stats
from kechuang.transfer.models import Achievement, EmpowermentApplication, TechnologyContract, Transfer
from kechuang.transfer.period import Period, from_params
from tests.factories import make_organisation, make_person
from tests.transfer.test_stats import WAN, _contract, by_code
from tests.transfer.test_stats import fixture as yearly_fixture

# ---------------------------------------------------------------- the period type (pure)


@pytest.mark.parametrize(("tag", "start", "end", "kind", "previous"), [
    ("2024", date(2024, 1, 1), date(2024, 12, 31), "year", "2023"),
    ("2024Q3", date(2024, 7, 1), date(2024, 9, 30), "quarter", "2023Q3"),
    ("2024Q1", date(2024, 1, 1), date(2024, 3, 31), "quarter", "2023Q1"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "month", "2023-02"),
    ("2024-02-10..2024-05-31", date(2024, 2, 10), date(2024, 5, 31), "range", "2023-02-10..2023-05-31"),
    # a range that is exactly a calendar year, quarter or month carries that tag
    ("2024-01-01..2024-12-31", date(2024, 1, 1), date(2024, 12, 31), "year", "2023"),
    ("2024-04-01..2024-06-30", date(2024, 4, 1), date(2024, 6, 30), "quarter", "2023Q2"),
    ("2025-02-01..2025-02-28", date(2025, 2, 1), date(2025, 2, 28), "month", "2024-02"),
    # 29 February: a period starting on it compares from 1 March, one ending at February's end compares up to
    # February's end (28 or 29)
    ("2024-02-29..2024-03-10", date(2024, 2, 29), date(2024, 3, 10), "range", "2023-03-01..2023-03-10"),
    ("2023-11-15..2024-02-29", date(2023, 11, 15), date(2024, 2, 29), "range", "2022-11-15..2023-02-28"),
    ("2025-01-10..2025-02-28", date(2025, 1, 10), date(2025, 2, 28), "range", "2024-01-10..2024-02-29"),
    ("2024-02-29..2024-02-29", date(2024, 2, 29), date(2024, 2, 29), "range", None),
    # longer than a year: the comparison period overlaps the period
    ("2023-01-01..2024-12-31", date(2023, 1, 1), date(2024, 12, 31), "range", "2022-01-01..2023-12-31"),
])
def test_period_tags_and_comparison_period(tag, start, end, kind, previous):
    p = Period.parse(tag)
    assert (p.start, p.end, p.kind) == (start, end, kind)
    assert Period.parse(p.label) == p  # the tag parses back
    assert (p.previous.label if p.previous else None) == previous


def test_consecutive_ranges_stay_consecutive_a_year_earlier():
    """No day is counted twice or skipped in the comparison periods of adjacent ranges around 29 February."""
    for cut in (date(2024, 2, 28), date(2024, 2, 29)):
        a = from_params(from_="2024-01-01", to=cut.isoformat())
        b = from_params(from_=date.fromordinal(cut.toordinal() + 1).isoformat(), to="2024-12-31")
        assert a.previous.end.toordinal() + 1 == b.previous.start.toordinal()
    a, b = Period.parse("2025-01-01..2025-02-28"), Period.parse("2025-03-01..2025-12-31")
    assert (a.previous.end, b.previous.start) == (date(2024, 2, 29), date(2024, 3, 1))


def _fields(exc: pytest.ExceptionInfo) -> dict[str, str]:
    return {e.field: e.render("en")["reason"] for e in exc.value.errors}


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"from_": "2024-05-31", "to": "2024-02-10"}, "to", "must not be before the start date 2024-05-31"),
    ({"from_": "2015-01-01", "to": "2025-01-01"}, "to", "at most 10 years (from 2015-01-01, the last day is "
                                                       "2024-12-31)"),
    ({"from_": "2024-02-29", "to": "2034-03-01"}, "to", "the last day is 2034-02-28"),
    ({"from_": "2024-02-30", "to": "2024-03-01"}, "from", "YYYY-MM-DD"),
    ({"from_": "2024/01/01", "to": "2024-03-01"}, "from", "YYYY-MM-DD"),
    ({"from_": "2024-01-01"}, "to", "A date is required"),
    ({"from_": "1900-01-01", "to": "1900-02-01"}, "from", "between 1950-01-01 and 2199-12-31"),
    ({"quarter": "2024Q5"}, "quarter", "YYYYQn"),
    ({"month": "2024-13"}, "month", "YYYY-MM"),
    ({"year": 1800}, "year", "between 1950 and 2199"),
    ({"year": 2024, "quarter": "2024Q1"}, "period", "not year + quarter"),
    ({"quarter": "2024Q1", "from_": "2024-01-01", "to": "2024-02-01"}, "period", "not quarter + from/to"),
    ({}, "year", "A period is required"),
    ({"period": "last year"}, "period", "A period is expected"),
])
def test_period_validation_names_the_field(params, field, words):
    with pytest.raises(ValidationFailed) as exc:
        from_params(**params)
    reasons = _fields(exc)
    assert field in reasons and words in reasons[field], reasons


def test_ten_years_is_the_limit():
    p = from_params(from_="2015-01-01", to="2024-12-31")
    assert (p.kind, p.previous.label) == ("range", "2014-01-01..2023-12-31")
    assert from_params(from_="2024-02-29", to="2034-02-28").end == date(2034, 2, 28)


# ---------------------------------------------------------------- figures against a hand-computed fixture


def period_fixture(session):
    """Records on both sides of every boundary (values in 万元; see the tests for the expected sums)."""
    uni = make_organisation(session, kind="university", name_zh="期间大学")
    inst = make_organisation(session, kind="research_institute", name_zh="期间研究所")
    co = make_organisation(session, kind="enterprise")
    contracts = [
        # 2024Q3 = 2024-07-01..2024-09-30
        (uni, 11, 0, date(2024, 6, 30)), (uni, 100, 10, date(2024, 7, 1)), (inst, 40, 0, date(2024, 9, 30)),
        (uni, 13, 0, date(2024, 10, 1)),
        # 2023Q3
        (inst, 17, 0, date(2023, 6, 30)), (uni, 50, 0, date(2023, 7, 1)), (inst, 30, 5, date(2023, 9, 30)),
        (uni, 19, 0, date(2023, 10, 1)),
        # the range 2024-02-10..2024-05-31 (includes 29 February)
        (uni, 7, 0, date(2024, 2, 9)), (uni, 60, 0, date(2024, 2, 10)), (inst, 20, 0, date(2024, 2, 29)),
        (inst, 25, 5, date(2024, 5, 31)), (uni, 3, 0, date(2024, 6, 1)),
        # its comparison period 2023-02-10..2023-05-31
        (uni, 9, 0, date(2023, 2, 9)), (uni, 40, 0, date(2023, 2, 10)), (inst, 24, 0, date(2023, 5, 31)),
        (inst, 2, 0, date(2023, 6, 1)),
        # 2022 and 2021 (for the two-year range)
        (uni, 5, 0, date(2022, 12, 31)), (uni, 1000, 0, date(2021, 12, 31)),
    ]
    for org, total, non_tech, registered in contracts:
        _contract(session, org, co, total * WAN, non_tech * WAN, registered)
    _contract(session, uni, co, 999 * WAN, 0, None, state="submitted")
    person = make_person(session)
    a = Achievement(kind="invention_patent", title="期间成果", number="ZLP2024000001")
    session.add(a)
    session.flush()
    for org, mode, price, completed, extra in [
        (uni, "licence", 300, date(2024, 7, 1), {}),
        (inst, "equity", 500, date(2024, 9, 30), {"company_is_new": True, "equity_share": Decimal("0.2"),
                                                  "social_capital_fen": 2000 * WAN}),
        (uni, "assignment", 70, date(2024, 10, 1), {}),
        (uni, "assignment", 100, date(2023, 8, 15), {}),
    ]:
        session.add(Transfer(achievement_id=a.id, organisation_id=org.id, mode=mode, price_fen=price * WAN,
                             state="completed", completed_date=completed, **extra))
    for decided in (date(2024, 9, 30), date(2024, 6, 30), date(2023, 7, 1), date(2023, 7, 2)):
        session.add(EmpowermentApplication(achievement_id=a.id, organisation_id=uni.id,
                                           applicant_person_id=person.id, kind="full_ownership", state="approved",
                                           decision_date=decided))
    session.flush()
    return uni, inst


def test_quarter_hand_computed(session):
    uni, inst = period_fixture(session)
    r = by_code(stats.compute(session, SYSTEM, Period.quarter(2024, 3)))
    t = r["contract_turnover"]
    # 2024Q3: 100 (07-01) + 40 (09-30); 2023Q3: 50 (07-01) + 30 (09-30); 06-30 and 10-01 are outside
    assert (t["value"], t["previous"], t["yoy"]) == (140 * WAN, 80 * WAN, 0.75)
    assert (r["contract_technical"]["value"], r["contract_technical"]["previous"]) == (130 * WAN, 75 * WAN)
    assert (r["contracts_registered"]["value"], r["contracts_registered"]["previous"]) == (2, 2)
    assert (r["transfer_amount"]["value"], r["transfer_amount"]["previous"]) == (800 * WAN, 100 * WAN)
    assert r["transfer_amount"]["yoy"] == 7.0
    assert (r["companies_founded"]["value"], r["social_capital"]["value"]) == (1, 2000 * WAN)
    assert (r["empowered_results"]["value"], r["empowered_results"]["previous"], r["empowered_results"]["yoy"]) \
        == (1, 2, -0.5)
    assert t["by_institution_type"] == {"research_institute": {"value": 40 * WAN, "previous": 30 * WAN},
                                        "university": {"value": 100 * WAN, "previous": 50 * WAN}}
    for x in r.values():
        assert (x["period"], x["previous_period"], x["period_from"], x["period_to"], x["scope"]) == \
            ("2024Q3", "2023Q3", "2024-07-01", "2024-09-30", "all")
        assert x["source"] == "kechuang records"
    # one institution, the same quarter given as a tag and as dates
    one = by_code(stats.compute(session, SYSTEM, "2024Q3", inst.credit_code))
    assert (one["contract_turnover"]["value"], one["contract_turnover"]["previous"]) == (40 * WAN, 30 * WAN)
    same = stats.compute(session, SYSTEM, from_params(from_="2024-07-01", to="2024-09-30"))
    assert same == stats.compute(session, SYSTEM, "2024Q3")


def test_custom_range_hand_computed_with_boundaries_and_leap_day(session):
    period_fixture(session)
    r = by_code(stats.compute(session, SYSTEM, from_params(from_="2024-02-10", to="2024-05-31")))
    t = r["contract_turnover"]
    # 60 (02-10, first day) + 20 (02-29) + 25 (05-31, last day) = 105; a year earlier 40 (02-10) + 24 (05-31) = 64;
    # 02-09 and 06-01 are outside on both sides
    assert (t["value"], t["previous"]) == (105 * WAN, 64 * WAN)
    assert t["yoy"] == 0.6406  # 41 / 64 = 0.640625, rounded half-even to 4 places
    assert (r["contract_technical"]["value"], r["contracts_registered"]["value"]) == (100 * WAN, 3)
    assert (t["period"], t["previous_period"]) == ("2024-02-10..2024-05-31", "2023-02-10..2023-05-31")
    assert r["transfer_amount"]["value"] == 0 and r["transfer_amount"]["yoy"] is None


def test_range_longer_than_a_year_overlaps_its_comparison_period(session):
    period_fixture(session)
    t = by_code(stats.compute(session, SYSTEM, "2023-01-01..2024-12-31"))["contract_turnover"]
    # 2024: 11+100+40+13+7+60+20+25+3 = 279; 2023: 17+50+30+19+9+40+24+2 = 191; 2022: 5 (2021 is outside)
    assert (t["value"], t["previous"]) == ((279 + 191) * WAN, (191 + 5) * WAN)
    assert t["yoy"] == 1.398  # 274 / 196 = 1.39795…


def test_yoy_across_29_february(session):
    uni = make_organisation(session, kind="university")
    co = make_organisation(session, kind="enterprise")
    for total, day in ((10, date(2023, 2, 28)), (20, date(2023, 3, 1)), (30, date(2024, 2, 28)),
                       (40, date(2024, 2, 29)), (50, date(2024, 3, 1)), (60, date(2025, 2, 28))):
        _contract(session, uni, co, total * WAN, 0, day)
    session.flush()

    def turnover(period: str) -> tuple[int, int, float | None]:
        t = by_code(stats.compute(session, SYSTEM, period, uni.credit_code))["contract_turnover"]
        return t["value"] // WAN, t["previous"] // WAN, t["yoy"]

    # February 2025 compares with the whole of February 2024, the leap day included
    assert turnover("2025-02-01..2025-02-28") == (60, 70, -0.1429)
    # a range ending on 29 February compares up to 28 February; one starting on it compares from 1 March
    assert turnover("2024-02-20..2024-02-29") == (70, 10, 6.0)
    assert turnover("2024-02-29..2024-03-01") == (90, 20, 3.5)
    # the leap day alone has no comparison period
    t = by_code(stats.compute(session, SYSTEM, "2024-02-29..2024-02-29"))["contract_turnover"]
    assert (t["value"], t["previous"], t["yoy"], t["previous_period"]) == (40 * WAN, 0, None, None)


def test_year_results_unchanged(session):
    """The yearly figures are the same whether asked as a year, a tag or the year's dates."""
    yearly_fixture(session)
    as_int = stats.compute(session, SYSTEM, 2024)
    assert as_int == stats.compute(session, SYSTEM, Period.year(2024))
    assert as_int == stats.compute(session, SYSTEM, from_params(from_="2024-01-01", to="2024-12-31"))
    t = by_code(as_int)["contract_turnover"]
    assert (t["value"], t["previous"], t["yoy"], t["period"], t["previous_period"]) == \
        (230 * WAN, 150 * WAN, 0.5333, "2024", "2023")


def test_drill_down_respects_the_period(session):
    uni, _inst = period_fixture(session)
    q3 = Period.quarter(2024, 3)
    rows = stats.records_behind(session, SYSTEM, "contract_turnover", q3)
    assert sorted(c.registered_date for c in rows) == [date(2024, 7, 1), date(2024, 9, 30)]
    assert sum(c.total_fen for c in rows) == 140 * WAN
    rows = stats.records_behind(session, SYSTEM, "contract_turnover", "2024-02-10..2024-05-31")
    assert sorted(c.registered_date for c in rows) == [date(2024, 2, 10), date(2024, 2, 29), date(2024, 5, 31)]
    assert [t.completed_date for t in stats.records_behind(session, SYSTEM, "transfer_amount", q3)] == \
        [date(2024, 7, 1), date(2024, 9, 30)]
    assert [a.decision_date for a in stats.records_behind(session, SYSTEM, "empowered_results", q3,
                                                          uni.credit_code)] == [date(2024, 9, 30)]


# ---------------------------------------------------------------- API, page, XLSX


def test_api_accepts_every_period_form(session, client_as):
    period_fixture(session)
    from tests.transfer.helpers import world

    c = client_as(world(session).commission)

    def turnover(**params):
        r = c.get("/api/v1/transfer/stats", params=params)
        assert r.status_code == 200, r.text
        return next(i for i in r.json() if i["indicator"] == "contract_turnover")

    assert turnover(quarter="2024Q3")["value"] == 140 * WAN
    assert turnover(period="2024Q3")["value"] == 140 * WAN
    t = turnover(**{"from": "2024-02-10", "to": "2024-05-31"})
    assert (t["value"], t["previous"], t["period"]) == (105 * WAN, 64 * WAN, "2024-02-10..2024-05-31")
    assert turnover(month="2024-07")["value"] == 100 * WAN
    assert turnover(year=2024)["period"] == "2024"
    bad = c.get("/api/v1/transfer/stats", params={"from": "2024-05-31", "to": "2024-02-10"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "to"
    bad = c.get("/api/v1/transfer/stats", params={"year": 2024, "quarter": "2024Q1"})
    assert bad.status_code == 422 and bad.json()["error"]["errors"][0]["field"] == "period"
    assert c.get("/api/v1/transfer/stats").status_code == 422
    recs = c.get("/api/v1/transfer/stats/records", params={"indicator": "contract_turnover",
                                                           "from": "2024-02-10", "to": "2024-05-31"})
    assert recs.status_code == 200 and sorted(x["registered_date"] for x in recs.json()) == \
        ["2024-02-10", "2024-02-29", "2024-05-31"]
    x = c.get("/api/v1/transfer/stats", params={"quarter": "2024Q3", "format": "xlsx"})
    assert x.status_code == 200 and 'filename="transfer-stats-2024Q3.xlsx"' in x.headers["content-disposition"]


def _html(client):
    client.headers["accept"] = "text/html"
    return client


def test_page_period_picker_drill_down_and_export(session, client_as):
    period_fixture(session)
    from tests.transfer.helpers import world

    w = world(session)
    c = _html(client_as(w.commission))
    page = c.get("/transfer/stats", params={"kind": "quarter", "year": "2024", "q": "3", "lang": "en"})
    assert page.status_code == 200
    text = page.text
    assert "Period 2024Q3" in text and "compared with 2023Q3" in text
    assert 'href="/transfer/stats/records?indicator=contract_turnover&period=2024Q3"' in text
    assert 'href="/transfer/stats.xlsx?period=2024Q3"' in text
    assert '<option value="quarter" selected>' in text and '<option value="3" selected>Q3</option>' in text
    # htmx: the results swap in and the address becomes the short tag
    hx = c.get("/transfer/stats", params={"kind": "range", "from": "2024-02-10", "to": "2024-05-31"},
               headers={"HX-Request": "true"})
    assert hx.headers["HX-Push-Url"] == "/transfer/stats?period=2024-02-10..2024-05-31"
    assert 'id="stats-main"' in hx.text and 'value="2024-02-10"' in hx.text
    # a month in Chinese
    zh = c.get("/transfer/stats", params={"kind": "month", "year": "2024", "m": "7"}).text
    assert "<strong>期间 2024-07</strong>" in zh and "对比 2023-07" in zh
    assert '<option value="7" selected>七月</option>' in zh and "上年同期（2023-07）" in zh
    # drill-down for the same period, with the way back keeping it
    rec = c.get("/transfer/stats/records", params={"indicator": "contract_turnover", "period": "2024Q3"})
    assert rec.status_code == 200
    assert 'href="/transfer/stats?period=2024Q3"' in rec.text
    assert rec.text.count('href="/transfer/contracts/') == 2
    # XLSX of the same period
    x = c.get("/transfer/stats.xlsx", params={"period": "2024-02-10..2024-05-31"})
    assert x.status_code == 200
    assert 'filename="transfer-stats-2024-02-10_2024-05-31.xlsx"' in x.headers["content-disposition"]
    sheet = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    head = list(sheet[0])
    row = next(r for r in sheet if r[0] == "contract_turnover")
    assert (row[head.index("value")], row[head.index("previous")], row[head.index("period")],
            row[head.index("previous_period")]) == (105 * WAN, 64 * WAN, "2024-02-10..2024-05-31",
                                                    "2023-02-10..2023-05-31")


def test_page_shows_period_errors_beside_the_fields(session, client_as):
    from tests.transfer.helpers import world

    c = _html(client_as(world(session).commission))
    bad = c.get("/transfer/stats", params={"kind": "range", "from": "2024-05-31", "to": "2024-02-10", "lang": "en"})
    assert bad.status_code == 200
    assert 'id="f-to-error"' in bad.text and "must not be before the start date 2024-05-31" in bad.text
    assert 'value="2024-05-31"' in bad.text and 'value="2024-02-10"' in bad.text  # typed values kept
    bad = c.get("/transfer/stats", params={"kind": "range", "from": "2010-01-01", "to": "2024-12-31"})
    assert 'id="f-to-error"' in bad.text
    bad = c.get("/transfer/stats", params={"kind": "quarter", "year": "2024", "q": "7"})
    assert 'id="f-q-error"' in bad.text
    bad = c.get("/transfer/stats", params={"year": "abc"})
    assert 'id="f-year-error"' in bad.text
    bad = c.get("/transfer/stats", params={"period": "sometime"})
    assert 'id="f-kind-error"' in bad.text
    assert c.get("/transfer/stats/records", params={"indicator": "contract_turnover",
                                                    "from": "2024-05-31", "to": "2024-01-01"}).status_code == 422


# ---------------------------------------------------------------- CLI


def test_cli_from_to_and_quarter(engine, tmp_path):
    """--from/--to and --quarter next to the unchanged --year (committed data, cleaned up)."""
    from kechuang.cli import app
    from kechuang.db import session_scope

    with session_scope(engine) as s:
        a = make_organisation(s, kind="university")
        b = make_organisation(s, kind="enterprise")
        for total, day in ((70, date(2024, 2, 9)), (120, date(2024, 2, 10)), (30, date(2024, 5, 31)),
                           (11, date(2024, 6, 1)), (100, date(2023, 2, 10)), (5, date(2023, 6, 1))):
            _contract(s, a, b, total * WAN, 0, day)
        ids = (a.id, b.id)
        code = a.credit_code
    def run(app, args):
        return CliRunner().invoke(app, ["--lang", "en", *args])

    def said(res) -> str:
        return " ".join(res.stderr.split())  # the console wraps long lines

    try:
        res = run(app, ["transfer", "stats", "--from", "2024-02-10", "--to", "2024-05-31", "--institution", code])
        assert res.exit_code == 0, res.output
        data = json.loads(res.stdout)
        assert len(data) == len(stats.INDICATORS)
        for item in data:
            assert {"indicator", "value", "unit", "previous", "yoy", "period", "scope", "source"} <= set(item)
            assert (item["period"], item["scope"]) == ("2024-02-10..2024-05-31", f"institution:{code}")
        t = next(i for i in data if i["indicator"] == "contract_turnover")
        assert (t["value"], t["previous"], t["yoy"], t["unit"], t["previous_period"]) == \
            (150 * WAN, 100 * WAN, 0.5, "fen", "2023-02-10..2023-05-31")
        res = run(app, ["transfer", "stats", "--quarter", "2024Q2", "--institution", code])
        assert res.exit_code == 0, res.output
        t = next(i for i in json.loads(res.stdout) if i["indicator"] == "contract_turnover")
        assert (t["period"], t["value"], t["previous"], t["yoy"]) == ("2024Q2", 41 * WAN, 5 * WAN, 7.2)  # 05-31 and 06-01
        res = run(app, ["transfer", "stats", "--year", "2024", "--institution", code])
        t = next(i for i in json.loads(res.stdout) if i["indicator"] == "contract_turnover")
        assert (t["period"], t["value"], t["previous"]) == ("2024", 231 * WAN, 105 * WAN)
        out = tmp_path / "q.xlsx"
        res = run(app, ["transfer", "stats", "--quarter", "2024Q2", "--institution", code, "--format", "xlsx",
                        "--out", str(out)])
        assert res.exit_code == 0 and out.read_bytes()[:2] == b"PK"
        # alternatives, not combinations; clear errors
        for args in (["--year", "2024", "--quarter", "2024Q1"], ["--year", "2024", "--from", "2024-01-01",
                                                                 "--to", "2024-02-01"], []):
            res = run(app, ["transfer", "stats", *args])
            assert res.exit_code == 2 and "Give exactly one period" in said(res), res.output
        res = run(app, ["transfer", "stats", "--from", "2024-01-01"])
        assert res.exit_code == 2 and "--from and --to go together" in said(res)
        res = run(app, ["transfer", "stats", "--from", "2024-05-31", "--to", "2024-02-10"])
        assert res.exit_code == 1 and "to (2024-02-10): The end date must not be before the start date" in said(res)
        res = run(app, ["transfer", "stats", "--quarter", "2024Q5"])
        assert res.exit_code == 1 and "quarter (2024Q5): A quarter is expected as YYYYQn" in said(res)
    finally:
        with session_scope(engine) as s:
            s.execute(delete(TechnologyContract).where(TechnologyContract.seller_organisation_id.in_(ids)))
            s.execute(delete(Organisation).where(Organisation.id.in_(ids)))
