"""Policy authoring JSON API under /api/v1/policy: versions (save, publish) and the sandbox (政策模拟).
Thin: every rule and permission is in :mod:`kechuang.policy.versions` and :mod:`kechuang.policy.sandbox`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from kechuang.core.auth import Principal
from kechuang.core.deps import DbSession, requires
from kechuang.core.tabular import XLSX_MEDIA
from kechuang.policy import sandbox, versions

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])

VersionReader = Annotated[Principal, Depends(requires(versions.READ_VERSIONS))]
Editor = Annotated[Principal, Depends(requires(versions.EDIT))]
Publisher = Annotated[Principal, Depends(requires(versions.PUBLISH))]
Simulator = Annotated[Principal, Depends(requires(sandbox.SANDBOX))]


class VersionRead(BaseModel):
    """One stored policy version."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    policy_key: str
    version: int
    title_zh: str
    status: str
    source: str
    sha256: str
    author_name: str
    reason: str
    created_at: datetime
    published_at: datetime | None
    published_by: str | None


class VersionDetail(VersionRead):
    """A version with its YAML text."""

    yaml_text: str


class PolicyVersionsRead(BaseModel):
    """One policy with its latest and published version."""

    key: str
    title_zh: str
    versions: int
    latest: VersionRead
    published: VersionRead | None


class VersionIn(BaseModel):
    """A new version: YAML text, the reason for the change, and the policy being edited (none for a new policy)."""

    yaml_text: str = Field(max_length=versions.TEXT_MAX)
    reason: str = Field(max_length=versions.REASON_MAX)
    policy_key: str | None = None


class SandboxIn(BaseModel):
    """What to simulate: a draft text, a stored version, or the policy in force with changed parameters."""

    yaml_text: str | None = Field(None, max_length=versions.TEXT_MAX)
    version_id: int | None = None
    policy_key: str | None = None
    params: dict[str, str] = Field(default_factory=dict, examples=[{"min_intensity": "0.04"}])
    year: int | None = Field(None, ge=2000, le=2100)


class GroupRead(BaseModel):
    """One category of a distribution: the simulated policy's entitlements, and the whole run's change."""

    key: str
    base_eligible: int
    base_fen: int
    draft_eligible: int
    draft_fen: int
    run_delta_fen: int


class PolicyEffectRead(BaseModel):
    """One policy of the simulated run: entitlements in force and simulated, exclusions and budget cuts."""

    policy_id: str
    payable: bool
    base_eligible: int
    base_fen: int
    draft_eligible: int
    draft_fen: int
    base_excluded: int
    draft_excluded: int
    base_cut: int
    draft_cut: int


class ChangeRead(BaseModel):
    """One enterprise × policy whose outcome changes (``excluded_by``: the policy it loses to)."""

    credit_code: str
    name_zh: str
    district: str | None
    policy_id: str
    base_eligible: bool | None
    base_fen: int
    draft_eligible: bool | None
    draft_fen: int
    delta_fen: int
    kind: str
    base_excluded_by: str | None
    draft_excluded_by: str | None
    base_budget_cut: bool
    draft_budget_cut: bool


class SandboxRead(BaseModel):
    """Figures of a simulated run (money in integer fen): the simulated policy (``eligible``, ``total_fen``),
    the whole run (``run_*``), and every enterprise × policy that changes."""

    policy_id: str
    baseline_version: int | None
    year: int
    enterprises: int
    snapshot_hash: str
    eligible: int
    unknown: int
    total_fen: int
    base_eligible: int
    base_unknown: int
    base_total_fen: int
    counts: dict[str, int]
    gained_fen: int
    lost_fen: int
    groups: dict[str, list[GroupRead]]
    changes: list[ChangeRead]
    district: str | None
    in_run: bool
    informational: bool
    base_policies: list[str]
    run_policies: list[str]
    run_base_eligible: int
    run_base_fen: int
    run_eligible: int
    run_fen: int
    winners: int
    losers: int
    by_policy: list[PolicyEffectRead]


def _simulate(session, principal, body: SandboxIn) -> sandbox.SandboxResult:
    return sandbox.simulate(session, principal, yaml_text=body.yaml_text, version_id=body.version_id,
                            policy_key=body.policy_key, overrides=body.params, year=body.year)


@router.get("/versions", response_model=list[PolicyVersionsRead])
def list_versions(session: DbSession, principal: VersionReader):
    """Every policy with its latest and published version (officers, auditors)."""
    return [PolicyVersionsRead(key=s.key, title_zh=s.title_zh, versions=s.versions,
                               latest=VersionRead.model_validate(s.latest),
                               published=VersionRead.model_validate(s.published) if s.published else None)
            for s in versions.list_policies(session, principal)]


@router.get("/versions/{version_id}", response_model=VersionDetail)
def get_version(session: DbSession, principal: VersionReader, version_id: int):
    """One version with its text."""
    return versions.access_version_by_id(session, principal, version_id)


@router.post("/versions", response_model=VersionDetail, status_code=201)
def save_version(session: DbSession, principal: Editor, body: VersionIn):
    """Save a new draft version (422 with every problem at line:column; the reason is required)."""
    return versions.save_version(session, principal, body.yaml_text, body.reason, body.policy_key)


@router.post("/versions/{version_id}/publish", response_model=VersionDetail)
def publish_version(session: DbSession, principal: Publisher, version_id: int):
    """Put a version in force (commission officers; its own tests must pass)."""
    return versions.publish(session, principal, version_id)


@router.post("/sandbox", response_model=SandboxRead)
def simulate(session: DbSession, principal: Simulator, body: SandboxIn):
    """Simulate the period's run as if the draft (or the changed parameters) were published, against the
    policies in force: same facts and programme inputs, excludes and budgets (nothing is written)."""
    r = _simulate(session, principal, body)
    return SandboxRead(
        policy_id=r.policy.id, baseline_version=r.baseline_version.version if r.baseline_version else None,
        year=r.year, enterprises=r.enterprises, snapshot_hash=r.snapshot_hash, eligible=r.eligible, unknown=r.unknown,
        total_fen=r.total_fen, base_eligible=r.base_eligible, base_unknown=r.base_unknown,
        base_total_fen=r.base_total_fen, counts=r.counts, gained_fen=r.gained_fen, lost_fen=r.lost_fen,
        groups={k: [GroupRead(**g.__dict__) for g in v] for k, v in r.groups.items()},
        changes=[ChangeRead(**c.__dict__) for c in r.changes], district=r.district, in_run=r.in_run,
        informational=r.informational, base_policies=r.base_policies, run_policies=r.run_policies,
        run_base_eligible=r.run_base_eligible, run_base_fen=r.run_base_fen, run_eligible=r.run_eligible,
        run_fen=r.run_fen, winners=r.winners, losers=r.losers,
        by_policy=[PolicyEffectRead(**e.__dict__) for e in r.by_policy])


@router.post("/sandbox/export", response_class=Response,
             responses={200: {"content": {XLSX_MEDIA: {}}, "description": "The simulation as XLSX."}})
def export_simulation(session: DbSession, principal: Simulator, body: SandboxIn):
    """The simulation as an XLSX workbook (summary, distributions, every changed enterprise)."""
    r = _simulate(session, principal, body)
    return Response(sandbox.to_xlsx(r), media_type=XLSX_MEDIA,
                    headers={"Content-Disposition": f'attachment; filename="sandbox-{r.policy.id}.xlsx"'})
