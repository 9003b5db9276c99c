"""JSON API for evaluations, dossiers, blind review, decisions, appeals and industry practice, under
/api/v1/talent (thin: every rule and scope is in ``dossier_service``). Reviewer endpoints (/reviews) answer
reviewer-facing shapes that carry no identity on blind schemes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.pagination import Page, PageParams
from kechuang.talent import dossier_service as svc
from kechuang.talent.dossier_schemas import (
    AppealDecisionIn,
    AppealIn,
    AppealRead,
    AssignIn,
    AssignmentRead,
    DecisionIn,
    DecisionRead,
    DeclineIn,
    DossierCreate,
    DossierDetail,
    DossierRead,
    DossierResult,
    DrawResult,
    EvaluationCreate,
    EvaluationRead,
    HostEvaluationIn,
    OverviewRow,
    PracticeCreate,
    PracticeRead,
    PracticeReportIn,
    PracticeUpdate,
    ResultsRead,
    ReturnIn,
    ReviewAck,
    ReviewerAssignment,
    ReviewerDossier,
    ReviewIn,
    ReviewRow,
    WorkCreate,
    WorkRead,
)

router = APIRouter(tags=["talent"])

Reader = Annotated[Principal, Depends(requires(svc.EVAL_READ))]
Officer = Annotated[Principal, Depends(requires(svc.EVAL_MANAGE))]
Candidate = Annotated[Principal, Depends(requires(svc.DOSSIER_WRITE))]
Reviewer = Annotated[Principal, Depends(requires(svc.REVIEW))]
PracticeReader = Annotated[Principal, Depends(requires(svc.PRACTICE_READ))]
PracticeOfficer = Annotated[Principal, Depends(requires(svc.PRACTICE_MANAGE))]
PracticeTeacher = Annotated[Principal, Depends(requires(svc.PRACTICE_REPORT))]
PracticeHost = Annotated[Principal, Depends(requires(svc.PRACTICE_HOST))]


def _page(model, items, total: int, params: PageParams):
    return Page[model](items=[model.model_validate(x) for x in items], total=total, page=params.page,
                       per_page=params.per_page)


def _dossier_page(session, principal: Principal, items, total: int, params: PageParams) -> Page[DossierRead]:
    return Page[DossierRead](items=[_dossier_out(session, principal, d, DossierRead) for d in items], total=total,
                             page=params.page, per_page=params.per_page)


def _dossier_out(session, principal: Principal, d, model=DossierDetail):
    out = model.model_validate(d)
    if not svc.scores_visible(session, principal, d):
        out = out.model_copy(update={"raw_score": None, "calibrated_score": None, "rank": None})
    return out


# ---------------------------------------------------------------- evaluations
@router.get("/evaluations", response_model=Page[EvaluationRead])
def list_evaluations(session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
                     organisation_id: int | None = None, category: str | None = None,
                     status: Literal["open", "reviewing", "published"] | None = None):
    """Evaluation rounds visible to the caller (``q``: title; sort ``id``, ``created_at``, ``round``)."""
    items, total = svc.list_evaluations(session, principal, params, organisation_id=organisation_id,
                                        category=category, status=status)
    return _page(EvaluationRead, items, total, params)


@router.post("/evaluations", response_model=EvaluationRead, status_code=201)
def create_evaluation(session: DbSession, principal: Officer, body: EvaluationCreate):
    """Open an evaluation round under a compliant scheme in force of the officer's unit."""
    return svc.create_evaluation(session, principal, svc.EvaluationIn(**body.model_dump()))


@router.get("/evaluations/{evaluation_id}", response_model=EvaluationRead)
def get_evaluation(session: DbSession, principal: Reader, evaluation_id: int):
    """One evaluation round (404 if missing or not visible)."""
    return svc.access_evaluation_by_id(session, principal, evaluation_id)


@router.post("/evaluations/{evaluation_id}/draw", response_model=DrawResult)
def draw_reviewers(session: DbSession, principal: Officer, evaluation_id: int):
    """Close submissions and draw reviewers (conflicts excluded, load caps, seeded); again to fill gaps."""
    return svc.draw_reviewers(session, principal, evaluation_id)


@router.post("/evaluations/{evaluation_id}/assignments", response_model=AssignmentRead, status_code=201)
def assign_reviewer(session: DbSession, principal: Officer, evaluation_id: int, body: AssignIn):
    """Add a named expert to a dossier (409 on a conflict of interest or a full load)."""
    return svc.assign_reviewer(session, principal, evaluation_id, body.dossier_id, body.reviewer_person_id)


@router.post("/evaluations/{evaluation_id}/results", response_model=ResultsRead)
def compute_results(session: DbSession, principal: Officer, evaluation_id: int):
    """Calibrate the reviewers' scores and rank the dossiers."""
    return svc.compute_results(session, principal, evaluation_id)


@router.post("/evaluations/{evaluation_id}/publish", response_model=EvaluationRead)
def publish(session: DbSession, principal: Officer, evaluation_id: int):
    """Publish the results (every submitted dossier needs a panel decision)."""
    return svc.publish(session, principal, evaluation_id)


@router.get("/evaluations/{evaluation_id}/dossiers", response_model=Page[DossierRead])
def list_dossiers(session: DbSession, principal: Reader, evaluation_id: int, params: Annotated[PageParams, Query()],
                  status: Literal["draft", "submitted"] | None = None):
    """Dossiers of an evaluation visible to the caller (sort ``id``, ``rank``, ``submitted_at``,
    ``calibrated_score``)."""
    svc.access_evaluation_by_id(session, principal, evaluation_id)
    items, total = svc.page_dossiers(session, principal, params, evaluation_id=evaluation_id, status=status)
    return _dossier_page(session, principal, items, total, params)


@router.get("/evaluations/{evaluation_id}/reviews", response_model=Page[ReviewRow])
def review_table(session: DbSession, principal: Reader, evaluation_id: int, params: Annotated[PageParams, Query()]):
    """The unit officer's table of reviewers and scores (never shown to candidates or the commission)."""
    rows, total = svc.page_review_table(session, principal, evaluation_id, params)
    return _page(ReviewRow, rows, total, params)


@router.get("/evaluations/{evaluation_id}/appeals", response_model=Page[AppealRead])
def list_appeals(session: DbSession, principal: Reader, evaluation_id: int, params: Annotated[PageParams, Query()],
                 status: Literal["filed", "upheld", "rejected"] | None = None):
    """Appeals filed in an evaluation (sort ``id``, ``filed_at``, ``status``)."""
    items, total = svc.page_appeals(session, principal, evaluation_id, params, status=status)
    return _page(AppealRead, items, total, params)


@router.get("/evaluation-overview", response_model=list[OverviewRow])
def evaluation_overview(session: DbSession, principal: Reader):
    """Per unit and category: evaluations, cycles, dossiers, verified share of works, appeals."""
    return svc.evaluation_overview(session, principal)


# ---------------------------------------------------------------- dossiers
@router.get("/dossiers", response_model=Page[DossierRead])
def list_my_dossiers(session: DbSession, principal: Reader, params: Annotated[PageParams, Query()],
                     evaluation_id: int | None = None, status: Literal["draft", "submitted"] | None = None):
    """Dossiers visible to the caller (a candidate: their own), optionally of one evaluation."""
    items, total = svc.page_dossiers(session, principal, params, evaluation_id=evaluation_id, status=status)
    return _dossier_page(session, principal, items, total, params)


@router.post("/dossiers", response_model=DossierDetail, status_code=201)
def create_dossier(session: DbSession, principal: Candidate, body: DossierCreate):
    """Start a dossier (the caller leads it) for an open evaluation of a unit the caller works at."""
    data = svc.DossierIn(evaluation_id=body.evaluation_id, kind=body.kind, team_name=body.team_name, field=body.field,
                         plan=body.plan, members=[svc.MemberIn(**m.model_dump()) for m in body.members])
    return _dossier_out(session, principal, svc.create_dossier(session, principal, data))


@router.get("/dossiers/{dossier_id}", response_model=DossierDetail)
def get_dossier(session: DbSession, principal: Reader, dossier_id: int):
    """A dossier with members, works (verified links) and evidence."""
    return _dossier_out(session, principal, svc.access_dossier_by_id(session, principal, dossier_id))


@router.post("/dossiers/{dossier_id}/works", response_model=WorkRead, status_code=201)
def add_work(session: DbSession, principal: Candidate, dossier_id: int, body: WorkCreate):
    """Add a representative work; a linked record is verified now (422 with the reason otherwise)."""
    return svc.add_work(session, principal, dossier_id, svc.WorkIn(**body.model_dump()))


@router.delete("/dossiers/{dossier_id}/works/{work_id}", status_code=204)
def remove_work(session: DbSession, principal: Candidate, dossier_id: int, work_id: int):
    """Remove a work from a draft dossier."""
    svc.remove_work(session, principal, dossier_id, work_id)
    return Response(status_code=204)


@router.post("/dossiers/{dossier_id}/submit", response_model=DossierDetail)
def submit_dossier(session: DbSession, principal: Candidate, dossier_id: int):
    """Submit: the scheme's representative-work rules are enforced (422 naming the rule)."""
    return _dossier_out(session, principal, svc.submit_dossier(session, principal, dossier_id))


@router.get("/dossiers/{dossier_id}/result", response_model=DossierResult)
def dossier_result(session: DbSession, principal: Reader, dossier_id: int):
    """The decision (candidates: once published) and the appeal."""
    d = svc.access_dossier_by_id(session, principal, dossier_id)
    return DossierResult(dossier=_dossier_out(session, principal, d, DossierRead),
                         decision=svc.decision_of(session, principal, dossier_id),
                         appeal=svc.appeal_of(session, principal, dossier_id))


@router.post("/dossiers/{dossier_id}/decision", response_model=DecisionRead)
def decide(session: DbSession, principal: Officer, dossier_id: int, body: DecisionIn):
    """The panel's decision with written reasons."""
    return svc.decide(session, principal, dossier_id, body.outcome, body.reasons)


@router.post("/dossiers/{dossier_id}/appeal", response_model=AppealRead, status_code=201)
def file_appeal(session: DbSession, principal: Candidate, dossier_id: int, body: AppealIn):
    """The candidate appeals a published decision."""
    return svc.file_appeal(session, principal, dossier_id, body.grounds)


@router.post("/appeals/{appeal_id}/decision", response_model=AppealRead)
def decide_appeal(session: DbSession, principal: Officer, appeal_id: int, body: AppealDecisionIn):
    """Record the appeal's outcome with reasons."""
    return svc.decide_appeal(session, principal, appeal_id, body.status, body.outcome_reason, body.new_outcome)


# ---------------------------------------------------------------- reviewers (no identity on blind schemes)
@router.get("/reviews", response_model=Page[ReviewerAssignment])
def my_reviews(session: DbSession, principal: Reviewer, params: Annotated[PageParams, Query()]):
    """The caller's review assignments (sort ``id``, ``status``, ``submitted_at``)."""
    rows, total = svc.page_assignments(session, principal, params)
    return _page(ReviewerAssignment, rows, total, params)


@router.get("/reviews/{assignment_id}", response_model=ReviewerDossier)
def review_dossier(session: DbSession, principal: Reviewer, assignment_id: int):
    """An assigned dossier as the reviewer sees it."""
    return svc.reviewer_view(session, principal, assignment_id)


@router.post("/reviews/{assignment_id}", response_model=ReviewAck)
def submit_review(session: DbSession, principal: Reviewer, assignment_id: int, body: ReviewIn):
    """Score every indicator of the scheme (0–100)."""
    return svc.submit_review(session, principal, assignment_id, body.scores, body.comment)


@router.post("/reviews/{assignment_id}/decline", response_model=ReviewAck)
def decline_review(session: DbSession, principal: Reviewer, assignment_id: int, body: DeclineIn):
    """Decline an assignment (e.g. a conflict of interest)."""
    return svc.decline_assignment(session, principal, assignment_id, body.reason)


# ---------------------------------------------------------------- industry practice (产学研践习)
@router.get("/practice", response_model=Page[PracticeRead])
def list_practice(session: DbSession, principal: PracticeReader, params: Annotated[PageParams, Query()],
                  person_id: int | None = None, kind: Literal["placement", "secondment", "entrepreneurship"] | None = None,
                  status: Literal["active", "completed"] | None = None):
    """Placements, secondments and leave for entrepreneurship visible to the caller (``q``: teacher's name;
    sort ``start_date``, ``end_date``, ``id``)."""
    items, total = svc.list_practice(session, principal, params, person_id=person_id, kind=kind, status=status)
    return _page(PracticeRead, items, total, params)


@router.post("/practice", response_model=PracticeRead, status_code=201)
def create_practice(session: DbSession, principal: PracticeOfficer, body: PracticeCreate):
    """Record a teacher's placement, secondment or leave (the home university's officer)."""
    return svc.create_practice(session, principal, svc.PracticeIn(**body.model_dump()))


@router.get("/practice/{practice_id}", response_model=PracticeRead)
def get_practice(session: DbSession, principal: PracticeReader, practice_id: int):
    """One practice record."""
    return svc.access_practice_by_id(session, principal, practice_id)


@router.patch("/practice/{practice_id}", response_model=PracticeRead)
def update_practice(session: DbSession, principal: PracticeOfficer, practice_id: int, body: PracticeUpdate):
    """Correct an active record: planned end, tasks, round, mentor (the home university's officer)."""
    return svc.update_practice(session, principal, practice_id, svc.PracticeEdit(**body.model_dump()))


@router.post("/practice/{practice_id}/report", response_model=PracticeRead)
def report_practice(session: DbSession, principal: PracticeTeacher, practice_id: int, body: PracticeReportIn):
    """The teacher's outcome report."""
    return svc.report_practice_outcome(session, principal, practice_id, body.outcome_report)


@router.post("/practice/{practice_id}/host-evaluation", response_model=PracticeRead)
def host_evaluate(session: DbSession, principal: PracticeHost, practice_id: int, body: HostEvaluationIn):
    """The host enterprise's evaluation."""
    return svc.host_evaluate_practice(session, principal, practice_id, body.host_rating, body.host_evaluation)


@router.post("/practice/{practice_id}/return", response_model=PracticeRead)
def record_return(session: DbSession, principal: PracticeOfficer, practice_id: int, body: ReturnIn):
    """The teacher's return from leave for entrepreneurship."""
    return svc.record_return(session, principal, practice_id, body.return_date, body.outcome_report)
