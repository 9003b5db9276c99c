"""Policy versions: save (every save a new version with author and reason), publish (commission
officers; the policy's own tests must pass; the previous published version is retired), retire, and
sync the shipped library into the database (idempotent). Officers change data, not code.

The catalogue (:mod:`kechuang.policy.catalog`) reads the published versions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kechuang.core import audit
from kechuang.core.auth import SYSTEM, Principal, Role
from kechuang.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from kechuang.core.i18n import N_
from kechuang.core.permissions import permission, require
from kechuang.db import utcnow
from kechuang.policy.language import (
    LIBRARY_DIR,
    Policy,
    PolicyError,
    Problem,
    check_references,
    load_text,
    policy_files,
)
from kechuang.policy.version_models import PolicyVersion

# Officers read and draft policy versions and use the sandbox; only commission officers publish.
READ_VERSIONS = permission("policy.versions", Role.COMMISSION, Role.DISTRICT, Role.AUDITOR)
EDIT = permission("policy.edit", Role.COMMISSION, Role.DISTRICT)
PUBLISH = permission("policy.publish", Role.COMMISSION)
REASON_MAX = 2000
TEXT_MAX = 200_000


def sha256(text: str) -> str:
    """Hex SHA-256 of a version's text (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def version_label(key: str, version: int) -> str:
    """The "file" name of a stored version in problems: ``policy-id@v3``."""
    return f"{key}@v{version}"


_PARSED: dict[tuple[str, str], Policy] = {}


def parse_version(v: PolicyVersion) -> Policy:
    """The parsed policy of a stored version (cached by text hash)."""
    label = version_label(v.policy_key, v.version)
    key = (v.sha256, label)
    hit = _PARSED.get(key)
    if hit is None:
        hit = load_text(v.yaml_text, label)
        if len(_PARSED) > 512:
            _PARSED.clear()
        _PARSED[key] = hit
    return hit


@dataclass
class Validation:
    """Outcome of checking YAML text: the policy (if it loads), load problems, its own tests' results."""

    policy: Policy | None
    problems: list[Problem] = field(default_factory=list)
    tests_total: int = 0
    tests_failed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Loads without problems and every test passes."""
        return self.policy is not None and not self.problems and not self.tests_failed


def validate(session: Session, text: str, label: str = "<policy>") -> Validation:
    """Load ``text``, check its references against the published policies, run its own tests."""
    from kechuang.policy.testing import run_policy_tests

    try:
        policy = load_text(text, label)
    except PolicyError as exc:
        return Validation(None, exc.problems)
    others = [p for p in published_policies(session) if p.id != policy.id]
    problems = [p for p in check_references([*others, policy]) if p.file == label]
    outcomes = run_policy_tests(policy)
    failed = [f"{label}:{o.line}: {o.name}: {o.message}" for o in outcomes if not o.ok]
    return Validation(policy, problems, len(outcomes), failed)


# --------------------------------------------------------------------------- reads


def access_version_by_id(session: Session, principal: Principal, version_id: int) -> PolicyVersion:
    """A stored version; the same 404 for missing and for a caller who may not read versions."""
    v = session.get(PolicyVersion, version_id)
    if v is None or not READ_VERSIONS.allows(principal):
        raise NotFound()
    return v


def versions_of(session: Session, principal: Principal, policy_key: str) -> list[PolicyVersion]:
    """Every version of one policy, newest first (404 if there is none)."""
    require(principal, READ_VERSIONS)
    rows = list(session.scalars(select(PolicyVersion).where(PolicyVersion.policy_key == policy_key)
                                .order_by(PolicyVersion.version.desc())))
    if not rows:
        raise NotFound()
    return rows


@dataclass
class PolicySummary:
    """One policy in the editor's list: latest version and the published one."""

    key: str
    title_zh: str
    latest: PolicyVersion
    published: PolicyVersion | None
    versions: int


def list_policies(session: Session, principal: Principal) -> list[PolicySummary]:
    """Every policy key with its latest and published version."""
    require(principal, READ_VERSIONS)
    rows = list(session.scalars(select(PolicyVersion).order_by(PolicyVersion.policy_key, PolicyVersion.version)))
    by_key: dict[str, list[PolicyVersion]] = {}
    for r in rows:
        by_key.setdefault(r.policy_key, []).append(r)
    out = []
    for key, vs in sorted(by_key.items()):
        pub = next((v for v in reversed(vs) if v.status == "published"), None)
        out.append(PolicySummary(key, vs[-1].title_zh, vs[-1], pub, len(vs)))
    return out


def published_versions(session: Session) -> list[PolicyVersion]:
    """The published version of every policy (no permission check: the catalogue is public data)."""
    return list(session.scalars(select(PolicyVersion).where(PolicyVersion.status == "published")
                                .order_by(PolicyVersion.policy_key)))


def published_policies(session: Session) -> list[Policy]:
    """Parsed published versions, in policy id order."""
    return [parse_version(v) for v in published_versions(session)]


def published_version_of(session: Session, policy_key: str) -> PolicyVersion | None:
    """The version of ``policy_key`` in force, if any."""
    return session.scalar(select(PolicyVersion).where(PolicyVersion.policy_key == policy_key,
                                                      PolicyVersion.status == "published"))


# --------------------------------------------------------------------------- writes


def _problems_as_errors(problems: list[Problem]) -> list[FieldError]:
    return [FieldError("yaml_text", N_("{place}: {reason}"),
                       {"place": f"{p.file}:{p.line}:{p.col}", "reason": p.reason}) for p in problems]


def _next_version(session: Session, key: str) -> int:
    return (session.scalar(select(func.max(PolicyVersion.version)).where(PolicyVersion.policy_key == key)) or 0) + 1


def _snapshot(v: PolicyVersion) -> dict:
    return {"policy_key": v.policy_key, "version": v.version, "sha256": v.sha256, "status": v.status,
            "source": v.source, "reason": v.reason}


def save_version(session: Session, principal: Principal, yaml_text: str, reason: str,
                 policy_key: str | None = None, source: str = "editor") -> PolicyVersion:
    """Store ``yaml_text`` as a new draft version of its policy (the ``id`` in the YAML).

    Refused with every load problem as ``file:line:col: reason`` when it does not load; ``reason`` is
    required; ``policy_key`` (the policy being edited) must match the YAML id. Saving the text of the
    latest version again stores nothing and returns that version."""
    require(principal, EDIT)
    errors: list[FieldError] = []
    reason = (reason or "").strip()
    if not reason:
        errors.append(FieldError("reason", N_("Give the reason for this change.")))
    elif len(reason) > REASON_MAX:
        errors.append(FieldError("reason", N_("At most {n} characters."), {"n": REASON_MAX}))
    text = (yaml_text or "").replace("\r\n", "\n")
    if not text.strip():
        errors.append(FieldError("yaml_text", N_("The policy text is empty.")))
    elif len(text) > TEXT_MAX:
        errors.append(FieldError("yaml_text", N_("At most {n} characters."), {"n": TEXT_MAX}))
    if errors:
        raise ValidationFailed(errors=errors)
    label = version_label(policy_key or "new", _next_version(session, policy_key) if policy_key else 1)
    try:
        policy = load_text(text, label)
    except PolicyError as exc:
        raise ValidationFailed(errors=_problems_as_errors(exc.problems)) from None
    if policy_key is not None and policy.id != policy_key:
        raise ValidationFailed(errors=[FieldError("yaml_text", N_(
            "The id in the text ({found}) must stay {expected}; create a new policy for a new id."),
            {"found": policy.id, "expected": policy_key})])
    others = [p for p in published_policies(session) if p.id != policy.id]
    # The library's cross-references are checked as a whole by `kechuang policy check`.
    ref = [p for p in check_references([*others, policy]) if p.file == label] if source == "editor" else []
    if ref:
        raise ValidationFailed(errors=_problems_as_errors(ref))
    key = policy.id
    digest = sha256(text)
    latest = session.scalar(select(PolicyVersion).where(PolicyVersion.policy_key == key)
                            .order_by(PolicyVersion.version.desc()).limit(1))
    if latest is not None and latest.sha256 == digest:
        return latest
    if policy_key is None and latest is not None and source == "editor":
        raise Conflict(N_("A policy with the id {id} exists already; edit it instead."), id=key)
    v = PolicyVersion(policy_key=key, version=(latest.version + 1) if latest else 1, yaml_text=text, sha256=digest,
                      title_zh=policy.title.get("zh") or key, status="draft", source=source,
                      author_id=principal.user_id, author_name=principal.username, reason=reason,
                      created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(v)
            session.flush()
    except IntegrityError:
        raise Conflict(N_("Someone saved this policy at the same moment; reload and try again.")) from None
    audit.record(session, principal, "policy.version.save", "policy_version", v.id, after=_snapshot(v))
    return v


def publish(session: Session, principal: Principal, version_id: int) -> PolicyVersion:
    """Put a version in force (commission officers). Its own tests must pass and its ``excludes`` must
    name published policies; the previously published version of the policy is retired. Publishing the
    version already in force changes nothing."""
    v = access_version_by_id(session, principal, version_id)
    require(principal, PUBLISH)
    if v.status == "published":
        return v
    val = validate(session, v.yaml_text, version_label(v.policy_key, v.version))
    if not val.ok:
        errs = _problems_as_errors(val.problems)
        errs += [FieldError("yaml_text", N_("Policy test failed: {detail}"), {"detail": d}) for d in val.tests_failed]
        raise ValidationFailed(N_("This version cannot be published."), errors=errs)
    now = utcnow()
    current = session.scalar(select(PolicyVersion).where(PolicyVersion.policy_key == v.policy_key,
                                                         PolicyVersion.status == "published")
                             .with_for_update())
    if current is not None:
        before = _snapshot(current)
        current.status, current.retired_at = "retired", now
        session.flush()
        audit.record(session, principal, "policy.version.retire", "policy_version", current.id, before=before,
                     after=_snapshot(current))
    before = _snapshot(v)
    v.status, v.published_at, v.published_by, v.retired_at = "published", now, principal.username, None
    session.flush()
    audit.record(session, principal, "policy.version.publish", "policy_version", v.id, before=before,
                 after=_snapshot(v))
    return v


def retire(session: Session, principal: Principal, policy_key: str) -> PolicyVersion | None:
    """Take a policy out of force (commission officers); returns the retired version (None if none was)."""
    require(principal, PUBLISH)
    current = published_version_of(session, policy_key)
    if current is None:
        return None
    before = _snapshot(current)
    current.status, current.retired_at = "retired", utcnow()
    session.flush()
    audit.record(session, principal, "policy.version.retire", "policy_version", current.id, before=before,
                 after=_snapshot(current))
    return current


@dataclass
class SyncResult:
    """What a library sync did, by policy id."""

    published: list[str] = field(default_factory=list)
    drafted: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def sync_library(session: Session, principal: Principal = SYSTEM, directory: str | Path = LIBRARY_DIR
                 ) -> SyncResult:
    """Bring the shipped library into the database (idempotent).

    A file whose text is already a version of its policy changes nothing. Otherwise it becomes a new
    version: published when the policy has no version in force or the one in force came from the
    library; a draft when an officer's edit is in force (the officer decides)."""
    result = SyncResult()
    files = policy_files(directory)
    texts = {f: f.read_text(encoding="utf-8").replace("\r\n", "\n") for f in files}
    for f, text in texts.items():
        try:
            policy = load_text(text, str(f))
        except PolicyError:
            continue  # `kechuang policy check` reports it; a broken file never enters the catalogue
        digest = sha256(text)
        known = session.scalar(select(PolicyVersion.id).where(PolicyVersion.policy_key == policy.id,
                                                              PolicyVersion.sha256 == digest).limit(1))
        if known is not None:
            result.unchanged.append(policy.id)
            continue
        current = published_version_of(session, policy.id)
        v = save_version(session, principal, text, f"shipped library: {f.name}", source="library")
        if current is None or current.source == "library":
            _publish_unchecked(session, principal, v, current)
            result.published.append(policy.id)
        else:
            result.drafted.append(policy.id)
    return result


def _publish_unchecked(session: Session, principal: Principal, v: PolicyVersion,
                       current: PolicyVersion | None) -> None:
    # The library is checked by `kechuang policy check` in CI; its excludes may name files synced later.
    now = utcnow()
    if current is not None and current.id != v.id:
        before = _snapshot(current)
        current.status, current.retired_at = "retired", now
        session.flush()
        audit.record(session, principal, "policy.version.retire", "policy_version", current.id, before=before,
                     after=_snapshot(current))
    before = _snapshot(v)
    v.status, v.published_at, v.published_by = "published", now, principal.username
    session.flush()
    audit.record(session, principal, "policy.version.publish", "policy_version", v.id, before=before,
                 after=_snapshot(v))
