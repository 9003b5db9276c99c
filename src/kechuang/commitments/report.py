"""Render a reply's progress report as JSON, printable HTML or XLSX. Reported and computed values are
always separate, labelled columns."""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook

from kechuang.core.i18n import N_, get_locale, gettext
from kechuang.web.templating import env

STATUS_LABELS = {"planned": N_("Planned"), "in_progress": N_("In progress"), "done": N_("Done"),
                 "dropped": N_("Dropped")}
KIND_LABELS = {"policy": N_("Policy"), "programme": N_("Programme"), "platform": N_("Platform capability"),
               "reform": N_("Reform"), "statistic": N_("Statistic")}
SYNTHETIC = N_("computed from synthetic demo data")


def to_json(report: dict[str, Any]) -> str:
    """The report as JSON."""
    return json.dumps(report, ensure_ascii=False, indent=2, default=str)


def to_html(report: dict[str, Any]) -> str:
    """A printable, self-contained HTML report in the current language."""
    return env.get_template("commitments/report.html").render(
        r=report, lang=get_locale(), status_label=lambda s: gettext(STATUS_LABELS[s]),
        kind_label=lambda k: gettext(KIND_LABELS.get(k, k)), synthetic_note=gettext(SYNTHETIC))


def to_xlsx(report: dict[str, Any]) -> bytes:
    """Two sheets: commitments, and indicators with reported and computed values in separate columns."""
    wb = Workbook()
    ws = wb.active
    ws.title = gettext("Commitments")[:31]
    ws.append([gettext("Reply"), report["reply"]["doc_no"], gettext("Handling result"),
               report["reply"]["handling_result"]])
    ws.append([gettext("No."), gettext("Section"), gettext("Item"), gettext("Commitment"), gettext("Kind"),
               gettext("Lead unit"), gettext("Co-handling units"), gettext("Status"), gettext("Target date"),
               gettext("Overdue"), gettext("Evidence"), gettext("Delivered by")])
    for c in report["commitments"]:
        ws.append([c["ordinal"], c["section"], c["item_label"], c["phrase"], gettext(KIND_LABELS.get(c["kind"],
                                                                                                     c["kind"])),
                   c["lead_unit"], "、".join(c["co_units"]), gettext(STATUS_LABELS[c["status"]]), c["target_date"],
                   gettext("Yes") if c["overdue"] else "", "\n".join(c["evidence"]),
                   "; ".join(f'{lk["type"]}:{lk["key"]}' for lk in c["links"])])
    wi = wb.create_sheet(gettext("Indicators")[:31])
    wi.append([gettext("Indicator"), gettext("Unit"), gettext("Period"), gettext("Reported value"),
               gettext("Reported source"), gettext("Computed value"), gettext("Computed at"),
               gettext("Computed from"), gettext("Difference (computed − reported)")])
    for i in report["indicators"]:
        reported = None if i["reported_value"] is None else f'{"＞" if i["reported_qualifier"] == ">" else ""}' \
                                                              f'{i["reported_value"]}'
        source = None
        if i["computed_value"] is not None:
            source = gettext("kechuang records") + (f' ({gettext(SYNTHETIC)})' if i["computed_from_synthetic_data"]
                                                     else "")
        wi.append([i["name"], i["unit"], i["period"], reported, i["reported_source"], i["computed_value"],
                   i["computed_at"], source, i["difference"]])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
