"""The overdue work list: contracts submitted for registration whose decision deadline passed (SPEC section 3:
30 days under the 2000 办法; 15 working days, 30 from 500万 technical amount under the 2026 reform). Scope (a
TTO officer sees its own institution's submissions only), API, page, exports, and a query-count cap."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import PermissionDenied
from kechuang.core.pagination import PageParams
from kechuang.transfer import params, service
from tests.conftest import principal
from tests.queries import count_queries
from tests.transfer.helpers import contract, world
from tests.transfer.test_pages import _html


def _submitted(session, w, on: date, *, seller=None, buyer=None, total=1_000_000_00, register=False):
    c = contract(session, w, seller=seller, buyer=buyer, total=total, signed=on - timedelta(days=5))
    service.submit_contract(session, SYSTEM, c.id, on=on)
    if register:
        service.register_contract(session, w.commission, c.id, f"CERT-{c.id}", on=on + timedelta(days=3))
    return c


def _ids(rows):
    return [r["contract_id"] for r in rows]


def test_legacy_and_reform_deadlines_and_what_each_role_sees(session):
    w = world(session)
    late = _submitted(session, w, date(2024, 3, 4))  # deadline 2024-04-03 (30 calendar days)
    _submitted(session, w, date(2024, 4, 20))  # deadline 2024-05-20: not yet
    _submitted(session, w, date(2024, 3, 1), register=True)  # decided in time
    other = _submitted(session, w, date(2024, 3, 10), seller=w.uni_b, buyer=w.uni_a)  # uni_a is only the buyer
    on = date(2024, 5, 1)
    rows, total = service.list_overdue(session, w.tto_a, PageParams(), on)
    assert (_ids(rows), total) == ([late.id], 1)  # not the contract another institution sold to uni_a
    row = rows[0]
    assert (row["deadline_date"], row["days_overdue"], row["rule_days"], row["rule_working_days"],
            row["rule_status"]) == (date(2024, 4, 3), 28, 30, False, "confirmed")
    assert "063号" in row["rule_source"] and "SPEC section 3" in row["rule_source"]
    assert _ids(service.list_overdue(session, w.tto_b, PageParams(), on)[0]) == [other.id]
    assert _ids(service.list_overdue(session, w.commission, PageParams(), on)[0]) == [late.id, other.id]
    assert service.count_overdue(session, w.tto_a, on) == 1 and service.count_overdue(session, w.commission, on) == 2
    for p in (w.researcher, w.enterprise, principal(Role.AUDITOR)):
        with pytest.raises(PermissionDenied):
            service.list_overdue(session, p, PageParams(), on)
        assert service.count_overdue(session, p, on) == 0


def test_reform_period_counts_working_days_and_the_larger_period_from_500_wan(session):
    w = world(session)
    # Monday; 15 working days under the 2026 calendar (Spring Festival off, Saturday 02-28 worked) → 02-28
    small = _submitted(session, w, date(2026, 2, 2), total=4_999_999_99)
    large = _submitted(session, w, date(2026, 2, 2), total=5_000_000_00)  # 30 working days → 03-20
    assert (small.registration_deadline_date, large.registration_deadline_date) == (date(2026, 2, 28),
                                                                                  date(2026, 3, 20))
    rows, _ = service.list_overdue(session, w.commission, PageParams(), date(2026, 3, 6))
    assert _ids(rows) == [small.id] and rows[0]["days_overdue"] == 6
    assert (rows[0]["rule_days"], rows[0]["rule_working_days"], rows[0]["rule_status"]) == (15, True, "unconfirmed")
    rows, _ = service.list_overdue(session, w.commission, PageParams(), date(2026, 3, 21))
    assert _ids(rows) == [small.id, large.id] and rows[1]["rule_days"] == 30 and rows[1]["days_overdue"] == 1


def test_search_sort_and_pages(session):
    w = world(session)
    cs = [_submitted(session, w, date(2024, 1, 10) + timedelta(days=i)) for i in range(5)]
    on = date(2024, 6, 1)
    rows, total = service.list_overdue(session, w.tto_a, PageParams(per_page=2, page=2), on)
    assert total == 5 and _ids(rows) == [cs[2].id, cs[3].id]  # oldest deadline first
    rows, _ = service.list_overdue(session, w.tto_a, PageParams(sort="-deadline", per_page=1), on)
    assert _ids(rows) == [cs[4].id]
    rows, total = service.list_overdue(session, w.tto_a, PageParams(q=cs[1].number), on)
    assert (_ids(rows), total) == ([cs[1].id], 1)


# ---------------------------------------------------------------- API and pages (deadlines relative to today)
def _world_with_overdue(session):
    w = world(session)
    today = service.today()
    mine = _submitted(session, w, today - timedelta(days=80))
    theirs = _submitted(session, w, today - timedelta(days=70), seller=w.uni_b, buyer=w.uni_a)
    _submitted(session, w, today)  # not due yet
    return w, mine, theirs


def test_api_lists_and_exports_within_scope(session, client_as):
    w, mine, theirs = _world_with_overdue(session)
    r = client_as(w.tto_a).get("/api/v1/transfer/overdue")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1 and [i["number"] for i in body["items"]] == [mine.number]
    expected = params.registration_deadline(service.today() - timedelta(days=80), mine.technical_fen)
    assert body["items"][0]["deadline_date"] == expected.isoformat()
    assert body["items"][0]["days_overdue"] == (service.today() - expected).days
    assert client_as(w.tto_b).get("/api/v1/transfer/overdue").json()["items"][0]["number"] == theirs.number
    assert client_as(w.commission).get("/api/v1/transfer/overdue").json()["total"] == 2
    assert client_as(w.enterprise).get("/api/v1/transfer/overdue").status_code == 403
    assert client_as(w.researcher).get("/api/v1/transfer/overdue").status_code == 403
    x = client_as(w.tto_a).get("/api/v1/transfer/overdue?format=xlsx")
    rows = list(load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert any(mine.number in (r or ()) for r in rows) and not any(theirs.number in (r or ()) for r in rows)


def test_page_scope_sorting_htmx_and_exports(session, client_as):
    w, mine, theirs = _world_with_overdue(session)
    tto = _html(client_as(w.tto_a))
    page = tto.get("/transfer/overdue")
    assert page.status_code == 200 and mine.number in page.text and theirs.number not in page.text
    assert 'href="/transfer/overdue"' in tto.get("/transfer").text
    commission = _html(client_as(w.commission))
    text = commission.get("/transfer/overdue?sort=-deadline&lang=en").text
    assert text.index(theirs.number) < text.index(mine.number)  # later deadline first
    assert "Days overdue" in text and "working days" in text and "Export CSV" in text
    partial = commission.get("/transfer/overdue?per_page=1&page=2", headers={"hx-request": "true"})
    assert partial.text.lstrip().startswith('<div id="overdue-results">') and "<html" not in partial.text
    assert theirs.number in partial.text and mine.number not in partial.text
    data = commission.get("/transfer/overdue/export?format=csv&q=" + mine.number)
    assert data.status_code == 200 and data.content.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.content.decode("utf-8-sig"))))
    assert lines[0][:3] == ["条目", "合同编号", "合同类别"] and len(lines) == 2 and lines[1][1] == mine.number
    assert _html(client_as(w.tto_b)).get("/transfer/overdue/export?format=csv").content.decode(
        "utf-8-sig").count("\n") == 2  # header and uni_b's own contract only
    for p in (w.researcher, w.enterprise, principal(Role.AUDITOR)):
        assert _html(client_as(p)).get("/transfer/overdue").status_code == 403


def test_page_queries_do_not_grow_with_the_rows(session, client_as):
    w = world(session)
    counts = []
    for n in (2, 12):
        for _ in range(n - (counts and 2 or 0)):
            _submitted(session, w, service.today() - timedelta(days=90))
        client = _html(client_as(w.commission))
        with count_queries(session) as seen:
            assert client.get("/transfer/overdue?per_page=50").status_code == 200
        counts.append(len(seen))
    assert counts[0] == counts[1] and counts[1] <= 4, counts
