"""Writing and reading tables as CSV (UTF-8 with BOM, so Excel opens Chinese) and XLSX (openpyxl)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA = "text/csv; charset=utf-8"


def _cell(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    return value


def to_csv(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV bytes with a UTF-8 BOM."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, date) else _cell(v)) for v in row])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def to_xlsx(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "data",
            note: str | None = None) -> bytes:
    """XLSX bytes with one sheet (write-only mode: constant memory); ``note`` goes in the first row."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    if note:
        ws.append([note])
    ws.append(list(headers))
    for row in rows:
        ws.append([_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
