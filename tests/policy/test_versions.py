"""Policy versions in the database: save, publish, retire, library sync, catalogue from the database."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kechuang.core.audit import AuditEntry
from kechuang.core.auth import SYSTEM, Role
from kechuang.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kechuang.policy import catalog, versions
from kechuang.policy.language import LIBRARY_DIR
from kechuang.policy.version_models import PolicyVersion
from tests.conftest import principal
from tests.policy.helpers import policy_yaml

COMMISSION = principal(Role.COMMISSION, user_id=7, username="officer7")
DISTRICT = principal(Role.DISTRICT, user_id=8, username="district8", district="浦东新区")
ENTERPRISE = principal(Role.ENTERPRISE, user_id=9, organisation_id=1)

GOOD = policy_yaml([("c1", "province = '上海'")], amount="grant_fen", params="  grant_fen: {2024-01-01: 100}\n",
                   pid="p-edit") + (
    "tests:\n  - {facts: {province: 上海}, eligible: true, amount_fen: 100}\n")


def _audits(session, action):
    return session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def test_save_creates_numbered_drafts_with_author_reason_and_audit(session):
    v1 = versions.save_version(session, DISTRICT, GOOD, "first draft")
    assert (v1.policy_key, v1.version, v1.status, v1.author_name, v1.reason) == (
        "p-edit", 1, "draft", "district8", "first draft")
    assert v1.sha256 == versions.sha256(GOOD) and v1.author_id == 8
    again = versions.save_version(session, DISTRICT, GOOD, "same text", policy_key="p-edit")
    assert again.id == v1.id  # no change, no new version
    v2 = versions.save_version(session, COMMISSION, GOOD.replace("{2024-01-01: 100}", "{2024-01-01: 200}"),
                               "raise the amount", policy_key="p-edit")
    assert v2.version == 2 and v2.status == "draft"
    assert _audits(session, "policy.version.save") >= 2
    assert [v.version for v in versions.versions_of(session, COMMISSION, "p-edit")] == [2, 1]


def test_save_refuses_with_file_line_col_and_missing_reason(session):
    bad = GOOD.replace("province = '上海'", "provinse = '上海'")
    with pytest.raises(ValidationFailed) as exc:
        versions.save_version(session, COMMISSION, bad, "")
    fields = {e.field for e in exc.value.errors}
    assert fields == {"reason"}  # the reason is checked first, before parsing
    with pytest.raises(ValidationFailed) as exc:
        versions.save_version(session, COMMISSION, bad, "typo")
    msg = exc.value.errors[0].render("en")["reason"]
    assert msg.startswith("new@v1:11:12: unknown name") and "provinse" in msg
    with pytest.raises(ValidationFailed) as exc:
        versions.save_version(session, COMMISSION, GOOD, "rename", policy_key="other-id")
    assert "other-id" in exc.value.errors[0].render("en")["reason"]
    versions.save_version(session, COMMISSION, GOOD, "ok")
    with pytest.raises(Conflict):
        versions.save_version(session, COMMISSION, GOOD.replace("{2024-01-01: 100}", "{2024-01-01: 5}"), "new policy, same id")
    with pytest.raises(ValidationFailed) as exc:
        versions.save_version(session, COMMISSION, GOOD.replace("p-edit", "p-x") + "excludes: [nowhere]\n", "x")
    assert "nowhere" in exc.value.errors[0].render("en")["reason"]


def test_only_officers_edit_and_only_commission_publishes(session):
    with pytest.raises(PermissionDenied):
        versions.save_version(session, ENTERPRISE, GOOD, "x")
    v = versions.save_version(session, DISTRICT, GOOD, "draft")
    with pytest.raises(PermissionDenied):
        versions.publish(session, DISTRICT, v.id)
    with pytest.raises(NotFound):
        versions.publish(session, ENTERPRISE, v.id)  # cannot even see it
    with pytest.raises(NotFound):
        versions.access_version_by_id(session, COMMISSION, 10**9)


def test_publish_runs_tests_retires_previous_and_is_idempotent(session):
    v1 = versions.save_version(session, COMMISSION, GOOD, "v1")
    versions.publish(session, COMMISSION, v1.id)
    assert v1.status == "published" and v1.published_by == "officer7"
    failing = GOOD.replace("amount_fen: 100}", "amount_fen: 101}")
    v2 = versions.save_version(session, COMMISSION, failing, "wrong test", policy_key="p-edit")
    with pytest.raises(ValidationFailed) as exc:
        versions.publish(session, COMMISSION, v2.id)
    assert "101" in exc.value.errors[0].render("en")["reason"] or "100" in exc.value.errors[0].render("en")["reason"]
    assert v1.status == "published" and v2.status == "draft"
    v3 = versions.save_version(session, COMMISSION, GOOD + "# same amount\n", "comment",
                               policy_key="p-edit")
    versions.publish(session, COMMISSION, v3.id)
    assert (v1.status, v3.status) == ("retired", "published") and v1.retired_at is not None
    n = _audits(session, "policy.version.publish")
    assert versions.publish(session, COMMISSION, v3.id) is v3
    assert _audits(session, "policy.version.publish") == n
    assert session.scalar(select(func.count()).select_from(PolicyVersion).where(
        PolicyVersion.policy_key == "p-edit", PolicyVersion.status == "published")) == 1
    versions.retire(session, COMMISSION, "p-edit")
    assert v3.status == "retired" and versions.published_version_of(session, "p-edit") is None


def test_sync_library_is_idempotent_and_feeds_the_catalogue(session):
    shipped = {p.id for p in catalog.library_policies()}
    first = versions.sync_library(session, SYSTEM)
    assert set(first.published) == shipped and not first.drafted
    second = versions.sync_library(session, SYSTEM)
    assert not second.published and set(second.unchanged) == shipped
    pairs = catalog.active_versions(session, date(2026, 1, 1))
    assert pairs and all(v is not None and v.status == "published" for _, v in pairs)
    # An officer's published edit is in force; a changed library file then only becomes a draft.
    key = "innovation-voucher"
    text = (LIBRARY_DIR / f"{key}.yaml").read_text(encoding="utf-8")
    edited = versions.save_version(session, COMMISSION, text.replace("2023-01-01: 50000000", "2023-01-01: 30000000")
                                   .replace("amount_fen: 20000000\n", "amount_fen: 0\n"), "cap 30万", policy_key=key)
    assert edited.version == 2
    # A policy test expects the 50万 cap: the edit cannot be published until its tests agree.
    with pytest.raises(ValidationFailed):
        versions.publish(session, COMMISSION, edited.id)
    ok = versions.save_version(session, COMMISSION, text + "\n# reviewed 2026\n", "reviewed", policy_key=key)
    versions.publish(session, COMMISSION, ok.id)
    lib_dir_text = text + "\n# next release\n"
    # The next release ships a changed file: it becomes a draft beside the officer's version in force.
    with tempfile.TemporaryDirectory() as d:
        Path(d, f"{key}.yaml").write_text(lib_dir_text, encoding="utf-8")
        res = versions.sync_library(session, SYSTEM, d)
    assert res.drafted == [key]
    assert versions.published_version_of(session, key).id == ok.id
    active = {p.id: p for p in catalog.active_policies(session, date(2026, 1, 1))}
    assert active[key].file == f"{key}@v3"
