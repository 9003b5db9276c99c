"""Which policies are in force: the parsed policies valid on a date.

The published policy versions in the database (table ``policy_version``, see
:mod:`kechuang.policy.versions`) are the catalogue once the shipped library has been synced in
(``kechuang policy sync-library``, also run by ``demo load``); a database without any published
version falls back to the shipped library directory.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path

from sqlalchemy.orm import Session

from kechuang.policy.language import LIBRARY_DIR, Policy, load_directory
from kechuang.policy.version_models import PolicyVersion


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


def active_versions(session: Session | None, as_of: date, draft: Policy | None = None
                    ) -> list[tuple[Policy, PolicyVersion | None]]:
    """The policies in force on ``as_of`` with their published version (``None`` when the catalogue
    is the shipped library because the database holds no published version), in id order.

    With ``draft``: the policies that would be in force if ``draft`` were published — it takes the place of
    the published version of its id (its version is ``None``); publishing it ends the library fallback."""
    from kechuang.policy import versions

    pairs: list[tuple[Policy, PolicyVersion | None]]
    published = versions.published_versions(session) if session is not None else []
    if published or draft is not None:
        pairs = [(versions.parse_version(v), v) for v in published if draft is None or v.policy_key != draft.id]
        if draft is not None:
            pairs.append((draft, None))
    else:
        pairs = [(p, None) for p in library_policies()]
    return sorted(((p, v) for p, v in pairs if in_force(p, as_of)), key=lambda pv: pv[0].id)


def active_policies(session: Session | None, as_of: date) -> list[Policy]:
    """The parsed policies in force on ``as_of``, in id order."""
    return [p for p, _ in active_versions(session, as_of)]
