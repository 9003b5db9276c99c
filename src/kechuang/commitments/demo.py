"""Demo step of the commitments domain: compute the indicators from the freshly loaded synthetic records, so
the progress view shows computed values (labelled as synthetic) next to the letter's reported figures."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kechuang.commitments import service
from kechuang.core.auth import SYSTEM
from kechuang.registry.models import OrganisationFact

SEED_LETTER = Path(__file__).resolve().parent / "seed" / "hukeitifu-2025-56.txt"


def compute_latest(session: Session) -> str | None:
    """Compute every computable indicator for the latest year that has facts; returns that year."""
    year = session.scalar(select(func.max(OrganisationFact.year)))
    if year is None:
        return None
    service.compute_indicators(session, SYSTEM, str(year))
    return str(year)
