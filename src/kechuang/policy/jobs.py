"""Periodic jobs of the entitlements, run by the web process (see ``kechuang.app.PERIODIC_JOBS``) and
available to an external scheduler through ``kechuang policy lapse --execute``."""

from __future__ import annotations

import logging

from kechuang.core.auth import SYSTEM
from kechuang.db import session_scope
from kechuang.policy import service

log = logging.getLogger(__name__)


def lapse_overdue() -> int:
    """Lapse notified entitlements past their confirmation deadline; the number lapsed. The guarded UPDATE
    makes a concurrent run elsewhere (or an enterprise confirming at that moment) harmless."""
    with session_scope() as session:
        ids = service.lapse(session, SYSTEM)
    if ids:
        log.info("policy lapse: %d entitlement(s) lapsed", len(ids))
    return len(ids)
