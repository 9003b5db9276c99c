"""The server secret: ``settings.secret_key`` or a key generated once into ``var/secret_key`` (mode 600).

Never logged or printed. Used to derive CSRF tokens (``core.web_security``).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from kechuang.config import PROJECT_ROOT, settings

SECRET_FILE = PROJECT_ROOT / "var" / "secret_key"


def _read_or_create(path: Path) -> str:
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker created it first
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key + "\n")
    return key


@lru_cache(maxsize=1)
def get_secret_key() -> bytes:
    """The server secret as bytes (configured, or generated once into ``var/secret_key``)."""
    configured = settings.secret_key.get_secret_value()
    return (configured or _read_or_create(SECRET_FILE)).encode("utf-8")


def csrf_token_for(material: str) -> str:
    """The CSRF token bound to ``material`` (a session token, or an anonymous CSRF cookie): HMAC-SHA-256."""
    return hmac.new(get_secret_key(), b"csrf:" + material.encode("utf-8"), hashlib.sha256).hexdigest()
