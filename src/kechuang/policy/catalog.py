"""Which policies are in force: the parsed policies valid on a date.

Published policy versions live in the database (table ``policy_version``) once the shipped library
has been synced in; before that (or for a database without the table), the shipped library directory
is the catalogue.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from kechuang.policy.language import LIBRARY_DIR, Policy, load_directory


@lru_cache(maxsize=4)
def _library(directory: str, stamp: tuple) -> tuple[Policy, ...]:
    return tuple(load_directory(directory))


def library_policies(directory: str | Path = LIBRARY_DIR) -> list[Policy]:
    """Every policy of the shipped library (parsed once per file change)."""
    d = Path(directory)
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(d.glob("*.y*ml")))
    return list(_library(str(d), stamp))


def in_force(policy: Policy, as_of: date) -> bool:
    """Whether ``policy`` is valid on ``as_of``."""
    return policy.valid_from <= as_of and (policy.valid_to is None or as_of <= policy.valid_to)


def active_policies(session: Session | None, as_of: date) -> list[Policy]:
    """The parsed policies in force on ``as_of``, in id order."""
    return sorted((p for p in library_policies() if in_force(p, as_of)), key=lambda p: p.id)
