"""Commitments pages (thin): replies, a reply's progress view with tracking forms, import, printable report.
Public by intent for replies marked 主动公开 (the service filters what anonymous visitors see)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse

from kechuang.commitments import report as report_render
from kechuang.commitments import service
from kechuang.commitments.models import ProposalReply
from kechuang.commitments.schemas import LinkIn, StatusChange
from kechuang.core.auth import Principal
from kechuang.core.deps import PUBLIC_ROUTES, DbSession, get_optional_principal, requires
from kechuang.core.errors import AppError, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.permissions import has
from kechuang.web.pageutil import field_errors, pages_router, redirect
from kechuang.web.templating import NavItem, register_nav, render

router = pages_router(prefix="/commitments")
PUBLIC_ROUTES.update({"/commitments", "/commitments/replies/{reply_id}", "/commitments/replies/{reply_id}/report"})

Editor = Annotated[Principal, Depends(requires(service.EDIT))]
Tracker = Annotated[Principal, Depends(requires(service.TRACK))]
Reader = Annotated[Principal | None, Depends(get_optional_principal)]

register_nav(NavItem("commitments", N_("Proposals & commitments"), "/commitments", order=60))


def _chart(report: dict[str, Any]) -> dict[str, Any]:
    # Two labelled series; a reported and a computed value are never drawn as one series.
    rows = [i for i in report["indicators"]]
    periods = sorted({i["period"] for i in rows})
    series: dict[str, dict[str, Any]] = {}
    for i in rows:
        entry = series.setdefault(i["code"], {"name": f'{i["name"]} ({i["unit"]})',
                                              "reported": {}, "computed": {}})
        if i["reported_value"] is not None:
            entry["reported"][i["period"]] = float(i["reported_value"])
        if i["computed_value"] is not None:
            entry["computed"][i["period"]] = float(i["computed_value"])
    return {
        "periods": periods,
        "indicators": [{"code": k, "name": v["name"],
                        "reported": [v["reported"].get(p) for p in periods],
                        "computed": [v["computed"].get(p) for p in periods]} for k, v in series.items()],
        "categories": [f'{i["name"]} ({i["unit"]}, {i["period"]})' for i in rows],
        "reported": [None if i["reported_value"] is None else float(i["reported_value"]) for i in rows],
        "computed": [None if i["computed_value"] is None else float(i["computed_value"]) for i in rows],
        "labels": {"reported": gettext(N_("Reported value")), "computed": gettext(N_("Computed value"))},
        "status": [{"name": gettext(report_render.STATUS_LABELS[s]), "value": n}
                   for s, n in report["by_status"].items()],
    }


@router.get("")
def replies(request: Request, session: DbSession, principal: Reader):
    """Replies to proposals visible to the visitor."""
    items = service.list_replies(session, principal)
    return render(request, "commitments/replies.html", {
        "title": N_("Proposals & commitments"), "active_nav": "commitments", "replies": items,
        "may_edit": principal is not None and has(principal, service.EDIT)}, principal=principal)


def _progress(request: Request, session, principal: Principal | None, reply: ProposalReply,
              errors: dict[str, Any] | None = None, status_code: int = 200):
    report = service.progress_report(session, principal, reply.doc_no)
    unit = request.query_params.get("unit") or None
    shown = [c for c in report["commitments"] if unit is None or unit == c["lead_unit"] or unit in c["co_units"]]
    return render(request, "commitments/reply.html", {
        "title": reply.doc_no, "active_nav": "commitments", "reply": reply, "r": report, "chart": _chart(report),
        "may_edit": principal is not None and has(principal, service.EDIT), "errors": errors or {},
        "status_label": lambda s: gettext(report_render.STATUS_LABELS[s]),
        "kind_label": lambda k: gettext(report_render.KIND_LABELS.get(k, k)),
        "statuses": service.STATUSES, "deliverable_types": service.DELIVERABLE_TYPES,
        "unit": unit, "shown": shown,
        "trackable": {c.id for c in service.list_commitments(session, principal, reply.doc_no)
                      if service.may_track(session, principal, c)},
        "synthetic": any(i["computed_from_synthetic_data"] for i in report["indicators"]),
    }, status_code=status_code, principal=principal)


@router.get("/replies/{reply_id}")
def reply_page(request: Request, session: DbSession, principal: Reader, reply_id: int):
    """A reply's progress: commitments by status, evidence, links, indicators reported vs computed."""
    return _progress(request, session, principal, service.access_reply_by_id(session, principal, reply_id))


@router.get("/replies/{reply_id}/report", response_class=HTMLResponse)
def printable(session: DbSession, principal: Reader, reply_id: int):
    """The printable progress report (self-contained HTML)."""
    reply = service.access_reply_by_id(session, principal, reply_id)
    return HTMLResponse(report_render.to_html(service.progress_report(session, principal, reply.doc_no)))


@router.post("/commitments/{commitment_id}/status")
def status(request: Request, session: DbSession, principal: Tracker, commitment_id: int,
           status: Annotated[str, Form()], note: Annotated[str, Form()] = "",
           evidence: Annotated[str, Form()] = ""):
    """Change a commitment's status from the progress page."""
    c = service.access_commitment(session, principal, commitment_id)
    try:
        service.change_status(session, principal, commitment_id,
                              StatusChange(status=status, note=note or None, evidence=evidence or None))
    except AppError as exc:
        reply = service.access_reply_by_id(session, principal, c.reply_id)
        return _progress(request, session, principal, reply, {c.id: field_errors(exc)}, exc.status_code)
    return redirect(f"/commitments/replies/{c.reply_id}#c{c.id}")


@router.post("/commitments/{commitment_id}/links")
def add_link(request: Request, session: DbSession, principal: Editor, commitment_id: int,
             deliverable_type: Annotated[str, Form()], deliverable_key: Annotated[str, Form()]):
    """Link a commitment to what delivers it."""
    c = service.access_commitment(session, principal, commitment_id)
    try:
        service.link(session, principal, commitment_id, LinkIn(deliverable_type=deliverable_type,
                                                               deliverable_key=deliverable_key.strip()))
    except AppError as exc:
        reply = service.access_reply_by_id(session, principal, c.reply_id)
        return _progress(request, session, principal, reply, {c.id: field_errors(exc)}, exc.status_code)
    return redirect(f"/commitments/replies/{c.reply_id}#c{c.id}")


@router.get("/import")
def import_form(request: Request, principal: Editor):
    """Paste or upload a reply letter's text."""
    return render(request, "commitments/import.html", {"title": N_("Import a reply"), "active_nav": "commitments",
                                                       "values": {}}, principal=principal)


@router.post("/import")
def import_post(request: Request, session: DbSession, principal: Editor, text: Annotated[str, Form()],
                execute: Annotated[str, Form()] = ""):
    """Preview what the parser recognised (dry run), then save on confirmation."""
    ctx: dict[str, Any] = {"title": N_("Import a reply"), "active_nav": "commitments", "values": {"text": text}}
    try:
        result, parsed = service.import_reply(session, principal, text, execute=bool(execute))
    except ValidationFailed as exc:
        ctx.update(errors=field_errors(exc), message=exc.render_message())
        return render(request, "commitments/import.html", ctx, status_code=422, principal=principal)
    if execute or result.unchanged:
        return redirect(f"/commitments/replies/{result.reply_id}")
    ctx.update(result=result, parsed=parsed)
    return render(request, "commitments/import.html", ctx, principal=principal)
