"""Industry-practice pages (产学研践习: placements, secondments 挂职, leave for entrepreneurship 离岗创业), thin
like the API: every rule and scope is in ``dossier_service``. The home university's officer records, corrects
and closes its teachers' records; the teacher files the outcome report; the host enterprise rates the
placement; the commission and auditors read. Teacher and host are chosen with search-as-you-type pickers
(htmx; without JavaScript the form's "Search" button re-renders it with the matches)."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.errors import AppError, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_, gettext
from kechuang.core.pagination import Page, PageParams
from kechuang.core.permissions import has
from kechuang.registry import service as registry_service
from kechuang.registry.models import Organisation, Person
from kechuang.talent import dossier_service as svc
from kechuang.talent.models import PracticeRecord
from kechuang.web.pageutil import field_errors, form_date, pages_router, redirect
from kechuang.web.templating import format_date, render

router = pages_router()

PracticeReader = Annotated[Principal, Depends(requires(svc.PRACTICE_READ))]
PracticeOfficer = Annotated[Principal, Depends(requires(svc.PRACTICE_MANAGE))]
PracticeTeacher = Annotated[Principal, Depends(requires(svc.PRACTICE_REPORT))]
PracticeHost = Annotated[Principal, Depends(requires(svc.PRACTICE_HOST))]

PRACTICE_STATUS = {"active": N_("Under way"), "completed": N_("Completed")}
FORM_FIELDS = ("person_q", "person_id", "host_q", "host_organisation_id", "kind", "round_label", "start_date",
               "end_date", "tasks", "mentor_name")
DONE = {"created": N_("Practice record saved."), "updated": N_("Changes saved."),
        "returned": N_("Return recorded: the leave is completed."), "reported": N_("Outcome report saved."),
        "rated": N_("Evaluation saved.")}


def _ctx(**kw: Any) -> dict[str, Any]:
    from kechuang.talent.pages import VOCAB

    rounds = [("", gettext(N_("Not part of a programme round")))] + [
        (key, gettext(N_("{round} round: {start} to {end} at least"), round=key, start=format_date(start),
                      end=format_date(end))) for key, (start, end) in svc.PLACEMENT_ROUNDS.items()]
    return {"active_nav": "talent-practice", "v": VOCAB, "practice_status": PRACTICE_STATUS,
            "round_options": rounds, "kind_options": [(k, gettext(t)) for k, t in svc.PRACTICE_KINDS.items()], **kw}


def _people(session, ids: set[int]) -> dict[int, Person]:
    from kechuang.talent.review_pages import _names

    return _names(session, {i for i in ids if i})


def _orgs(session, ids: set[int]) -> dict[int, Organisation]:
    from kechuang.talent.pages import _org_names

    return _org_names(session, ids)


def _shows_synthetic(records, people: dict, orgs: dict) -> bool:
    """Whether the page shows synthetic demo data: a synthetic record, teacher or unit (a record entered by
    hand about a synthetic teacher still describes no real person)."""
    return any(x.is_synthetic for x in [*records, *people.values(), *orgs.values()])


def _flash(request: Request) -> list[tuple[str, str]]:
    done = request.query_params.get("done")
    return [("success", gettext(DONE[done]))] if done in DONE else []


# ---------------------------------------------------------------- list
@router.get("/practice")
def practice_list(request: Request, session: DbSession, principal: PracticeReader,
                  params: Annotated[PageParams, Query()], kind: str | None = None, status: str | None = None):
    """Visible practice records, paginated and filterable; htmx swaps the results only."""
    kind = kind if kind in svc.PRACTICE_KINDS else None
    status = status if status in PRACTICE_STATUS else None
    items, total = svc.list_practice(session, principal, params, kind=kind, status=status)
    people = _people(session, {p.person_id for p in items})
    orgs = _orgs(session, {p.host_organisation_id for p in items} | {p.organisation_id for p in items})
    ctx = _ctx(title=N_("Industry practice"), page=Page(items=items, total=total, page=params.page,
                                                         per_page=params.per_page),
               params=params, filters={"kind": kind or "", "status": status or "", "q": params.q or ""},
               people=people, orgs=orgs, can_manage=has(principal, svc.PRACTICE_MANAGE),
               synthetic=_shows_synthetic(items, people, orgs))
    template = "talent/_practice_results.html" if request.headers.get("hx-request") else "talent/practice_list.html"
    return render(request, template, ctx)


# ---------------------------------------------------------------- pickers (htmx partials)
def _teacher_rows(session, principal: Principal, q: str, selected: int | None) -> list[dict[str, Any]]:
    """People of the officer's university matching ``q`` (the registry's people search, scoped to the
    caller), the chosen one first."""
    page = registry_service.list_people(session, principal, PageParams(q=q.strip() or None, per_page=svc.PICK_LIMIT),
                                        organisation_id=principal.organisation_id or -1)
    found = list(page.items)
    if selected and all(p.id != selected for p in found):
        with contextlib.suppress(NotFound):
            found.insert(0, registry_service.access_person_by_id(session, principal, selected))
    return [{"id": p.id, "obj": p, "detail": " · ".join(x for x in (f"#{p.id}", p.orcid) if x)} for p in found]


def _host_rows(session, principal: Principal, q: str, selected: int | None) -> list[dict[str, Any]]:
    found = svc.practice_hosts(session, principal, q)
    if selected and all(o.id != selected for o in found):
        org = session.get(Organisation, selected)
        if org is not None and org.id != principal.organisation_id:
            found.insert(0, org)
    return [{"id": o.id, "obj": o, "detail": " · ".join(x for x in (o.credit_code, o.district) if x)} for o in found]


def _int_or_none(text: str | None) -> int | None:
    try:
        return int(text) if text not in (None, "") else None
    except ValueError:
        return None


@router.get("/practice/people")
def pick_teacher(request: Request, session: DbSession, principal: PracticeOfficer, person_q: str = "",
                 person_id: str = ""):
    """Picker: teachers of the officer's university (htmx partial)."""
    selected = _int_or_none(person_id)
    return render(request, "talent/_pick_results.html", _ctx(
        name="person_id", rows=_teacher_rows(session, principal, person_q, selected), selected=selected,
        kind="teacher"))


@router.get("/practice/hosts")
def pick_host(request: Request, session: DbSession, principal: PracticeOfficer, host_q: str = "",
              host_organisation_id: str = ""):
    """Picker: host organisations by name or credit code (htmx partial)."""
    selected = _int_or_none(host_organisation_id)
    return render(request, "talent/_pick_results.html", _ctx(
        name="host_organisation_id", rows=_host_rows(session, principal, host_q, selected), selected=selected,
        kind="host", query=host_q))


# ---------------------------------------------------------------- record
def _new_form(request: Request, session, principal: Principal, values: dict[str, str], *, errors=None,
              status_code: int = 200):
    person = _int_or_none(values.get("person_id"))
    host = _int_or_none(values.get("host_organisation_id"))
    return render(request, "talent/practice_form.html", _ctx(
        title=N_("Record industry practice"), values=values, errors=errors or {}, obj=None,
        teacher_rows=_teacher_rows(session, principal, values.get("person_q", ""), person), person_selected=person,
        host_rows=_host_rows(session, principal, values.get("host_q", ""), host), host_selected=host),
        status_code=status_code)


@router.get("/practice/new")
def new_practice(request: Request, session: DbSession, principal: PracticeOfficer):
    """The form to record a teacher's placement, secondment or leave."""
    return _new_form(request, session, principal, {"kind": "placement"})


def _date(values: dict[str, str], name: str, errors: list[FieldError], required: bool = True) -> date | None:
    return form_date(values.get(name), name, errors, required)


@router.post("/practice/new")
def create_practice(request: Request, session: DbSession, principal: PracticeOfficer,
                    action: Annotated[str, Form()] = "", person_q: Annotated[str, Form()] = "",
                    person_id: Annotated[str, Form()] = "", host_q: Annotated[str, Form()] = "",
                    host_organisation_id: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "",
                    round_label: Annotated[str, Form()] = "", start_date: Annotated[str, Form()] = "",
                    end_date: Annotated[str, Form()] = "", tasks: Annotated[str, Form()] = "",
                    mentor_name: Annotated[str, Form()] = ""):
    """Save the record (``action=search`` only re-renders the form with the pickers' matches)."""
    values = {"person_q": person_q, "person_id": person_id, "host_q": host_q,
              "host_organisation_id": host_organisation_id, "kind": kind, "round_label": round_label,
              "start_date": start_date, "end_date": end_date, "tasks": tasks, "mentor_name": mentor_name}
    if action == "search":
        return _new_form(request, session, principal, values)
    try:
        errors: list[FieldError] = []
        pid, hid = _int_or_none(person_id), _int_or_none(host_organisation_id)
        if pid is None:
            errors.append(FieldError("person_id", N_("Choose the teacher from the list.")))
        if hid is None:
            errors.append(FieldError("host_organisation_id", N_("Choose the host from the list.")))
        start, end = _date(values, "start_date", errors), _date(values, "end_date", errors)
        if errors:
            raise ValidationFailed(errors=errors)
        obj = svc.create_practice(session, principal, svc.PracticeIn(
            person_id=pid, host_organisation_id=hid, kind=kind, start_date=start, end_date=end, tasks=tasks,
            round_label=(round_label.strip() or None) if kind == "placement" else None,
            mentor_name=mentor_name.strip() or None))
    except ValidationFailed as exc:
        return _new_form(request, session, principal, values, errors=field_errors(exc), status_code=422)
    return redirect(f"/talent/practice/{obj.id}?done=created")


# ---------------------------------------------------------------- one record
def _detail(request: Request, session, principal: Principal, practice_id: int, *, errors=None, values=None,
            status_code: int = 200):
    obj = svc.access_practice_by_id(session, principal, practice_id)
    orgs = _orgs(session, {obj.organisation_id, obj.host_organisation_id})
    people = _people(session, {obj.person_id, obj.mentor_person_id or 0})
    active = obj.status == "active"
    return render(request, "talent/practice.html", _ctx(
        title=N_("Industry practice"), p=obj, orgs=orgs, people=people, errors=errors or {}, values=values or {},
        flashes=_flash(request), synthetic=_shows_synthetic([obj], people, orgs),
        can_edit=active and has(principal, svc.PRACTICE_MANAGE) and principal.organisation_id == obj.organisation_id,
        can_report=active and has(principal, svc.PRACTICE_REPORT) and principal.person_id == obj.person_id,
        can_rate=(active and obj.kind != "entrepreneurship" and has(principal, svc.PRACTICE_HOST)
                  and principal.organisation_id == obj.host_organisation_id)), status_code=status_code)


@router.get("/practice/{practice_id}")
def practice_detail(request: Request, session: DbSession, principal: PracticeReader, practice_id: int):
    """One record: period, host, tasks, mentor, outcome report, host evaluation; the actions of the role."""
    return _detail(request, session, principal, practice_id)


def _edit_values(p: PracticeRecord) -> dict[str, str]:
    return {"end_date": p.end_date.isoformat(), "tasks": p.tasks, "round_label": p.round_label or "",
            "mentor_name": p.mentor_name or ""}


def _edit_form(request: Request, session, principal: Principal, obj: PracticeRecord, values: dict[str, str], *,
               errors=None, status_code: int = 200):
    orgs = _orgs(session, {obj.organisation_id, obj.host_organisation_id})
    return render(request, "talent/practice_form.html", _ctx(
        title=N_("Correct the practice record"), obj=obj, values=values, errors=errors or {}, orgs=orgs,
        people=_people(session, {obj.person_id})), status_code=status_code)


def _editable(session, principal: Principal, practice_id: int) -> PracticeRecord:
    obj = svc.access_practice_by_id(session, principal, practice_id)
    if obj.organisation_id != principal.organisation_id and not principal.is_system:
        raise NotFound()
    return obj


@router.get("/practice/{practice_id}/edit")
def edit_practice(request: Request, session: DbSession, principal: PracticeOfficer, practice_id: int):
    """Correct an active record (planned end, tasks, round, mentor)."""
    obj = _editable(session, principal, practice_id)
    return _edit_form(request, session, principal, obj, _edit_values(obj))


@router.post("/practice/{practice_id}/edit")
def save_practice(request: Request, session: DbSession, principal: PracticeOfficer, practice_id: int,
                  end_date: Annotated[str, Form()] = "", tasks: Annotated[str, Form()] = "",
                  round_label: Annotated[str, Form()] = "", mentor_name: Annotated[str, Form()] = ""):
    """Save the corrections (the same rules as at creation)."""
    obj = _editable(session, principal, practice_id)
    values = {"end_date": end_date, "tasks": tasks, "round_label": round_label, "mentor_name": mentor_name}
    try:
        errors: list[FieldError] = []
        end = _date(values, "end_date", errors)
        if errors:
            raise ValidationFailed(errors=errors)
        svc.update_practice(session, principal, practice_id, svc.PracticeEdit(
            end_date=end, tasks=tasks, round_label=round_label if obj.kind == "placement" else None,
            mentor_name=mentor_name))
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _edit_form(request, session, principal, obj, values, errors=field_errors(exc),
                          status_code=422 if isinstance(exc, ValidationFailed) else exc.status_code)
    return redirect(f"/talent/practice/{practice_id}?done=updated")


def _action(request: Request, session, principal: Principal, practice_id: int, fn, values: dict[str, str],
            done: str):
    try:
        fn()
    except (ValidationFailed, AppError) as exc:
        if isinstance(exc, NotFound):
            raise
        return _detail(request, session, principal, practice_id, errors=field_errors(exc), values=values,
                       status_code=422 if isinstance(exc, ValidationFailed) else exc.status_code)
    return redirect(f"/talent/practice/{practice_id}?done={done}")


@router.post("/practice/{practice_id}/return")
def record_return(request: Request, session: DbSession, principal: PracticeOfficer, practice_id: int,
                  return_date: Annotated[str, Form()] = "", outcome_report: Annotated[str, Form()] = ""):
    """The teacher is back from leave for entrepreneurship: the record completes."""
    values = {"return_date": return_date, "outcome_report": outcome_report}

    def run():
        errors: list[FieldError] = []
        back = _date(values, "return_date", errors)
        if errors:
            raise ValidationFailed(errors=errors)
        svc.record_return(session, principal, practice_id, back, outcome_report.strip() or None)

    return _action(request, session, principal, practice_id, run, values, "returned")


@router.post("/practice/{practice_id}/report")
def report(request: Request, session: DbSession, principal: PracticeTeacher, practice_id: int,
           outcome_report: Annotated[str, Form()] = ""):
    """The teacher's outcome report."""
    return _action(request, session, principal, practice_id,
                   lambda: svc.report_practice_outcome(session, principal, practice_id, outcome_report),
                   {"outcome_report": outcome_report}, "reported")


@router.post("/practice/{practice_id}/host-evaluation")
def host_evaluation(request: Request, session: DbSession, principal: PracticeHost, practice_id: int,
                    host_rating: Annotated[str, Form()] = "", host_evaluation: Annotated[str, Form()] = ""):
    """The host enterprise rates the placement or secondment."""
    return _action(request, session, principal, practice_id,
                   lambda: svc.host_evaluate_practice(session, principal, practice_id, host_rating, host_evaluation),
                   {"host_rating": host_rating, "host_evaluation": host_evaluation}, "rated")
