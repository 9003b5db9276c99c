"""Results-transfer (成果转化) tables: achievements and their owners/teams, the separate asset ledger
(单列管理), empowerment (赋权) applications, transfers, technology contracts (技术合同认定登记), income
events and their exact splits. Money is integer fen (BigInteger); shares are Decimal fractions 0..1."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kechuang.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")
SHARE = Numeric(7, 4)


class Achievement(Base):
    """A job-related result (职务科技成果): patent, software copyright, technical secret, registration..."""

    __tablename__ = "achievement"
    __table_args__ = (UniqueConstraint("kind", "number"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(300))
    number: Mapped[str | None] = mapped_column(String(64))  # patent / registration number
    trl: Mapped[int | None]  # technology readiness level 1..9
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    government_funding_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    is_classified: Mapped[bool] = mapped_column(default=False)  # 涉密: never listed, never empowered
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owners: Mapped[list[AchievementOwner]] = relationship(
        back_populates="achievement", lazy="raise", cascade="all, delete-orphan"
    )
    members: Mapped[list[AchievementMember]] = relationship(
        back_populates="achievement", lazy="raise", cascade="all, delete-orphan"
    )


class AchievementOwner(Base):
    """An owning institution and its share (shares of one achievement sum to 1)."""

    __tablename__ = "achievement_owner"
    __table_args__ = (UniqueConstraint("achievement_id", "organisation_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id", ondelete="CASCADE"))
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    share: Mapped[Decimal] = mapped_column(SHARE)

    achievement: Mapped[Achievement] = relationship(back_populates="owners", lazy="raise")


class AchievementMember(Base):
    """A team member and their contribution share (shares of one achievement sum to 1)."""

    __tablename__ = "achievement_member"
    __table_args__ = (UniqueConstraint("achievement_id", "person_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    contribution: Mapped[Decimal] = mapped_column(SHARE)

    achievement: Mapped[Achievement] = relationship(back_populates="members", lazy="raise")


class LedgerEntry(Base):
    """单列管理: an achievement on an institution's separate asset ledger, with its stage and book value."""

    __tablename__ = "ledger_entry"
    __table_args__ = (UniqueConstraint("organisation_id", "achievement_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(20), index=True)
    book_value_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    registered_date: Mapped[date]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ValuationEvent(Base):
    """A valuation of a ledger entry: date, method, value."""

    __tablename__ = "valuation_event"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    ledger_entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id", ondelete="CASCADE"), index=True)
    valuation_date: Mapped[date]
    method: Mapped[str] = mapped_column(String(20))
    value_fen: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(String(300))


class EmpowermentPilot(Base):
    """An institution on the 赋权 pilot list for a period (沪科规〔2023〕9号: unit plan → expert review → list)."""

    __tablename__ = "empowerment_pilot"
    __table_args__ = (UniqueConstraint("organisation_id", "start_date"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date | None]
    basis: Mapped[str] = mapped_column(String(200))


class EmpowermentApplication(Base):
    """A researcher's 赋权 application: full / partial ownership or a long-term use right."""

    __tablename__ = "empowerment_application"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    applicant_person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # full_ownership, partial_ownership, use_right
    ownership_share: Mapped[Decimal | None] = mapped_column(SHARE)  # partial: share granted to the team
    use_right_years: Mapped[int | None]
    agreed_income_share: Mapped[Decimal | None] = mapped_column(SHARE)  # 约定收益: institution's share
    state: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    submitted_at: Mapped[datetime | None]
    notice_start_date: Mapped[date | None]
    notice_end_date: Mapped[date | None]
    decision_date: Mapped[date | None] = mapped_column(index=True)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class EmpowermentObjection(Base):
    """An objection raised during the 公示 notice; it blocks the decision until resolved."""

    __tablename__ = "empowerment_objection"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("empowerment_application.id", ondelete="CASCADE"), index=True
    )
    raised_date: Mapped[date]
    objector: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    resolved_at: Mapped[datetime | None]
    resolution: Mapped[str | None] = mapped_column(Text)


class Transfer(Base):
    """A transfer of an achievement: 转让, 许可, 作价投资 or 自行实施, with its pricing route and evidence."""

    __tablename__ = "transfer"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)  # the institution
    counterparty_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    mode: Mapped[str] = mapped_column(String(20), index=True)  # assignment, licence, equity, self_implementation
    licence_type: Mapped[str | None] = mapped_column(String(20))  # exclusive, sole, ordinary
    licence_term_years: Mapped[int | None]
    territory: Mapped[str | None] = mapped_column(String(100))
    company_is_new: Mapped[bool | None]  # 作价投资 into a newly founded company
    equity_share: Mapped[Decimal | None] = mapped_column(SHARE)
    social_capital_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # capital attracted (作价投资)
    price_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    pricing_route: Mapped[str | None] = mapped_column(String(20))  # negotiated, listing, auction
    unit_notice_start_date: Mapped[date | None]
    unit_notice_end_date: Mapped[date | None]
    market_name: Mapped[str | None] = mapped_column(String(200))
    market_notice_start_date: Mapped[date | None]
    market_notice_end_date: Mapped[date | None]
    listing_record: Mapped[str | None] = mapped_column(String(300))
    auction_record: Mapped[str | None] = mapped_column(String(300))
    valuation_required: Mapped[bool] = mapped_column(default=False)
    valuation_report: Mapped[str | None] = mapped_column(String(300))
    valuation_fen: Mapped[int | None] = mapped_column(BigInteger)
    decision_record: Mapped[str | None] = mapped_column(String(300))  # 决策程序: meeting minutes reference
    conflicts_declared: Mapped[bool] = mapped_column(default=False)
    no_improper_gain_declared: Mapped[bool] = mapped_column(default=False)  # 未牟取非法利益 (国发〔2016〕16号)
    state: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    signed_date: Mapped[date | None] = mapped_column(index=True)
    completed_date: Mapped[date | None] = mapped_column(index=True)
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TechnologyContract(Base):
    """A technology contract and its registration (技术合同认定登记) by the seller."""

    __tablename__ = "technology_contract"
    __table_args__ = (
        # Covers the yearly statistics (stats.py): the aggregate reads the index only, never the table.
        Index("ix_technology_contract_stats", "registered_date", "state", "seller_organisation_id", "total_fen",
              "technical_fen", "is_synthetic"),
    )

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # the contract's own number
    category: Mapped[str] = mapped_column(String(32), index=True)
    seller_organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    buyer_organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    buyer_name: Mapped[str | None] = mapped_column(String(200))  # when the buyer is not in the registry
    subject: Mapped[str] = mapped_column(String(300))
    signed_date: Mapped[date]
    total_fen: Mapped[int] = mapped_column(BigInteger)  # 合同成交额
    non_technical_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # equipment, materials
    technical_fen: Mapped[int] = mapped_column(BigInteger)  # 技术交易额 = total − non-technical
    achievement_id: Mapped[int | None] = mapped_column(ForeignKey("achievement.id"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfer.id"), index=True)
    state: Mapped[str] = mapped_column(String(20), index=True, default="draft")
    submitted_date: Mapped[date | None]
    registration_deadline_date: Mapped[date | None]
    registered_date: Mapped[date | None]
    certificate_number: Mapped[str | None] = mapped_column(String(64), unique=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    payments: Mapped[list[ContractPayment]] = relationship(
        back_populates="contract", lazy="raise", cascade="all, delete-orphan", order_by="ContractPayment.due_date"
    )


class ContractPayment(Base):
    """One instalment of a contract's payment schedule."""

    __tablename__ = "contract_payment"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("technology_contract.id", ondelete="CASCADE"), index=True)
    due_date: Mapped[date]
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    contract: Mapped[TechnologyContract] = relationship(back_populates="payments", lazy="raise")


class RevenueRule(Base):
    """An institution's revenue-sharing rule from a date: team / department / institution shares."""

    __tablename__ = "revenue_rule"
    __table_args__ = (UniqueConstraint("organisation_id", "valid_from_date"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    valid_from_date: Mapped[date]
    team_share: Mapped[Decimal] = mapped_column(SHARE)
    department_share: Mapped[Decimal] = mapped_column(SHARE)
    institution_share: Mapped[Decimal] = mapped_column(SHARE)
    basis: Mapped[str] = mapped_column(String(300))  # the institution's document


class IncomeEvent(Base):
    """Income received for an achievement (e.g. a contract payment); split once into ``income_share`` rows."""

    __tablename__ = "income_event"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    achievement_id: Mapped[int] = mapped_column(ForeignKey("achievement.id"), index=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("technology_contract.id"), index=True)
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("transfer.id"), index=True)
    received_date: Mapped[date] = mapped_column(index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    costs_fen: Mapped[int] = mapped_column(BigInteger, default=0)  # documented costs
    cost_note: Mapped[str | None] = mapped_column(String(300))
    net_fen: Mapped[int] = mapped_column(BigInteger)
    rule_basis: Mapped[str] = mapped_column(String(300))  # which rule or agreement split it
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncomeShare(Base):
    """One part of a split income event: a team member, the department or the institution."""

    __tablename__ = "income_share"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    income_event_id: Mapped[int] = mapped_column(ForeignKey("income_event.id", ondelete="CASCADE"), index=True)
    party: Mapped[str] = mapped_column(String(20))  # member, department, institution
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    # Payout of a team member's share (NULL for the department and institution parts): 'unpaid' until the
    # TTO officer records the payment (date, reference such as a payroll batch number); always the whole share.
    payout_status: Mapped[str | None] = mapped_column(String(10))
    paid_date: Mapped[date | None]
    payout_reference: Mapped[str | None] = mapped_column(String(100))
