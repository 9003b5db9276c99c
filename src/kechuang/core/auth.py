"""Who is acting: roles and the ``Principal`` every service function receives."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from kechuang.core.i18n import N_


class Role(StrEnum):
    """The roles of kechuang (issue 3). Scopes: district, organisation or person bindings."""

    COMMISSION = "commission_officer"  # 市科委 officer: all data
    DISTRICT = "district_officer"  # own district only
    ENTERPRISE = "enterprise_user"  # bound to one organisation
    TTO = "tto_officer"  # institution technology-transfer office, bound to one institution
    RESEARCHER = "researcher"
    EXPERT = "expert"
    SERVICE_PROVIDER = "service_provider"
    INVESTOR = "investor"
    HANDLING_UNIT = "handling_unit_officer"  # 承办单位: a government unit co-handling proposals, bound to it
    AUDITOR = "auditor"  # read-only, audit log included
    ADMIN = "admin"  # accounts, not business decisions
    SYSTEM = "system"  # CLI commands and batch jobs run by an operator


ROLE_LABELS: dict[Role, str] = {
    Role.COMMISSION: N_("Commission officer"),
    Role.DISTRICT: N_("District officer"),
    Role.ENTERPRISE: N_("Enterprise user"),
    Role.TTO: N_("Technology-transfer officer"),
    Role.RESEARCHER: N_("Researcher"),
    Role.EXPERT: N_("Expert"),
    Role.SERVICE_PROVIDER: N_("Service provider"),
    Role.INVESTOR: N_("Investor"),
    Role.HANDLING_UNIT: N_("Handling-unit officer"),
    Role.AUDITOR: N_("Auditor"),
    Role.ADMIN: N_("Administrator"),
    Role.SYSTEM: N_("System"),
}


@dataclass(frozen=True)
class Principal:
    """The authenticated actor. Bindings narrow what the role may read or write."""

    role: Role
    user_id: int | None = None
    username: str = "system"
    organisation_id: int | None = None  # enterprise user, TTO officer, handling unit, service provider, investor
    person_id: int | None = None  # researcher, expert
    district: str | None = None  # district officer: district name, e.g. 浦东新区
    scopes: frozenset[str] = field(default_factory=frozenset)  # API token scopes; empty = role's full set
    request_id: str | None = None
    client_addr: str | None = None

    @property
    def is_system(self) -> bool:
        """True for operator commands (CLI, jobs)."""
        return self.role is Role.SYSTEM


SYSTEM = Principal(role=Role.SYSTEM, username="system")
