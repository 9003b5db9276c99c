"""Accounts API schemas: ``XCreate`` / ``XRead`` per GUIDE."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kechuang.core.auth import Role


class UserCreate(BaseModel):
    """A new account; the password is checked against the policy and only its argon2id hash is kept."""

    username: str = Field(min_length=3, max_length=64, examples=["li.wei"])
    display_name: str = Field(min_length=1, max_length=120, examples=["李伟"])
    password: str = Field(min_length=1, max_length=256, examples=["Shanghai-2026-kc"])
    role: Role
    organisation_id: int | None = None
    person_id: int | None = None
    district: str | None = Field(None, examples=["浦东新区"])
    language: Literal["zh", "en"] = "zh"


class RoleUpdate(BaseModel):
    """A new role with its binding (organisation, person or district as the role requires)."""

    role: Role
    organisation_id: int | None = None
    person_id: int | None = None
    district: str | None = None


class UserRead(BaseModel):
    """An account as shown to administrators and to its owner (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    display_name: str
    role: str
    organisation_id: int | None
    person_id: int | None
    district: str | None
    language: str
    is_active: bool
    is_demo: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    created_at: datetime


class LoginIn(BaseModel):
    """Username and password."""

    username: str = Field(min_length=1, max_length=64, examples=["demo_enterprise"])
    password: str = Field(min_length=1, max_length=256)


class LoginOut(BaseModel):
    """The logged-in user and the CSRF token to send as ``X-CSRF-Token`` with cookie-authenticated writes."""

    user: UserRead
    csrf_token: str
    expires_at: datetime


class MeOut(BaseModel):
    """The current principal."""

    user: UserRead | None
    role: str
    scopes: list[str]
    csrf_token: str | None = None


class PasswordChange(BaseModel):
    """Own password change."""

    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class LanguageIn(BaseModel):
    """Preferred UI language, remembered per user."""

    language: Literal["zh", "en"]


class TokenCreate(BaseModel):
    """A new API token: scopes are permission names (``registry.read``) or whole domains (``registry.*``)."""

    name: str = Field(min_length=1, max_length=80, examples=["nightly export"])
    scopes: list[str] = Field(min_length=1, examples=[["registry.read", "registry.export"]])
    expires_in_days: int = Field(90, ge=1, le=365)


class TokenRead(BaseModel):
    """A token as listed: prefix only, never the secret."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int
    name: str
    token_prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    """A new token with its plaintext, shown this once."""

    token: str = Field(examples=["kc_3q2v..."])


class AuditEntryRead(BaseModel):
    """One audit log entry."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_user_id: int | None
    actor_name: str
    actor_role: str
    action: str
    object_type: str
    object_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_addr: str | None
    prev_hash: str
    hash: str


class DayCheck(BaseModel):
    """A sealed day's stored Merkle root compared with the root recomputed now."""

    day_date: date
    entry_count: int
    ok: bool


class VerifyOut(BaseModel):
    """Result of recomputing the hash chain and the sealed daily roots."""

    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str | None = None
    message: str
    days: list[DayCheck] = []


class ProofOut(BaseModel):
    """RFC 6962 inclusion proof of one entry in its day's Merkle tree (hex SHA-256 values)."""

    entry_id: int
    entry_hash: str
    day_date: date
    leaf_index: int
    tree_size: int
    path: list[str]
    root_hash: str
    sealed: bool
    verified: bool
