"""Accounts test helpers: a fast argon2id profile (the production one is checked in test_service) and users."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from kechuang.accounts import service
from kechuang.accounts.models import UserAccount
from kechuang.accounts.schemas import UserCreate
from kechuang.core.auth import SYSTEM, Role

PASSWORD = "Correct-horse-42"
PRODUCTION_HASHER = service._hasher


@pytest.fixture(autouse=True)
def fast_hasher(monkeypatch):
    """argon2id with tiny costs so throttling tests stay fast."""
    monkeypatch.setattr(service, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    service._dummy_hash.cache_clear()
    yield
    service._dummy_hash.cache_clear()


_n = iter(range(1, 1_000_000))


def make_user(session, role: Role = Role.COMMISSION, password: str = PASSWORD, **kw: Any) -> UserAccount:
    """An account created through the service (binding rules apply)."""
    username = kw.pop("username", f"user{next(_n)}")
    return service.create_user(session, SYSTEM, UserCreate(username=username, display_name=kw.pop(
        "display_name", username), password=password, role=role, **kw))


@pytest.fixture
def browser(app) -> TestClient:
    """A client that authenticates for real (session cookie or Bearer token), not by override."""
    return TestClient(app, headers={"accept": "application/json"})


def log_in(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the API; returns the CSRF token."""
    r = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["csrf_token"]
