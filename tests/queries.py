"""Count the SQL statements a block runs on the test session's connection (query-count caps on list pages)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.orm import Session


@contextmanager
def count_queries(session: Session) -> Iterator[list[str]]:
    """The statements executed inside the ``with`` block, in order."""
    conn = session.connection()
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_a):
        seen.append(statement)

    event.listen(conn, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(conn, "before_cursor_execute", before)
