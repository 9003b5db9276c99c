"""Periodic jobs of the accounts domain, run by the web process (see ``kechuang.app.PERIODIC_JOBS``) and
available to an external scheduler through ``kechuang audit seal``."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from kechuang.accounts import audit_service
from kechuang.core.auth import SYSTEM
from kechuang.db import session_scope

log = logging.getLogger(__name__)


def seal_finished_days() -> int:
    """Seal the Merkle root of every finished UTC day that has audit entries and no root yet; the number of
    days sealed. Safe to run from several processes: a day sealed concurrently elsewhere is left as it is."""
    try:
        with session_scope() as session:
            sealed = audit_service.seal_missing_days(session, SYSTEM)
    except IntegrityError:  # another worker sealed the same day first; its root stands
        log.info("audit seal: a day was sealed concurrently; will catch up on the next run")
        return 0
    if sealed:
        log.info("audit seal: sealed %d day(s), last %s", len(sealed), sealed[-1].day_date)
    return len(sealed)
