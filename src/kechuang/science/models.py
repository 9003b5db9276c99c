"""AI for Science tables: datasets (one row per version) with files, quality reports and access requests;
models (one row per version) with cards and adapters; evaluation tasks (per version) and runs.
A leaderboard is a query over runs, not a table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kechuang.db import Base, utcnow

_ID = BigInteger().with_variant(Integer, "sqlite")

ACCESS_LEVELS = ("open", "registered", "approval")
CROSS_BORDER_DECISIONS = ("approved", "rejected")
MODEL_DOMAINS = ("weather", "life", "matter", "general")
ADAPTER_KINDS = ("python", "openai", "onnx", "predictions")
RUN_STATUSES = ("ok", "failed")
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


class Dataset(Base):
    """One version of a scientific dataset. Metadata covers Croissant's required and DataCite's mandatory
    properties. Semantic versions: a data change bumps at least the minor version, a schema change the major."""

    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[str] = mapped_column(String(32))  # semver
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    creators: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # {name, orcid?, affiliation?}
    licence: Mapped[str | None] = mapped_column(String(120))  # SPDX id or URL
    publisher: Mapped[str] = mapped_column(String(300))
    publication_year: Mapped[int]
    identifier: Mapped[str] = mapped_column(String(300))  # DOI or platform identifier
    subjects: Mapped[list[str]] = mapped_column(JSON, default=list)
    temporal_coverage: Mapped[str | None] = mapped_column(String(100))  # ISO 8601 interval
    spatial_coverage: Mapped[str | None] = mapped_column(String(300))
    provenance: Mapped[str | None] = mapped_column(Text)
    related_identifiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    schema: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # fields, ranges, label, splits
    access_level: Mapped[str] = mapped_column(String(16), default="open")
    cross_border: Mapped[bool] = mapped_column(default=False)  # 科研数据跨境流动: review before export
    cross_border_decision: Mapped[str | None] = mapped_column(String(16))
    cross_border_reviewer_id: Mapped[int | None]
    cross_border_decided_at: Mapped[datetime | None]
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    created_by_user_id: Mapped[int | None]
    is_synthetic: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    files: Mapped[list[DatasetFile]] = relationship(back_populates="dataset", lazy="raise",
                                                    cascade="all, delete-orphan")


class DatasetFile(Base):
    """A file of a dataset version: name, optional split, SHA-256 and size (bytes)."""

    __tablename__ = "dataset_file"
    __table_args__ = (UniqueConstraint("dataset_id", "name"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    path: Mapped[str] = mapped_column(String(1000))  # where the platform stores it
    media_type: Mapped[str | None] = mapped_column(String(100))
    split: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)

    dataset: Mapped[Dataset] = relationship(back_populates="files", lazy="raise")


class DatasetQualityReport(Base):
    """Named checks (result pass|warn|fail|n/a, evidence) and a score for one dataset version."""

    __tablename__ = "dataset_quality_report"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)  # share of applicable checks passed (warn = half)
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetAccessRequest(Base):
    """A request to use an approval-required dataset; pending until the owner decides."""

    __tablename__ = "dataset_access_request"
    __table_args__ = (Index("ix_dataset_access_request_dataset_user", "dataset_id", "user_id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    user_id: Mapped[int]
    purpose: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|approved|rejected
    decided_by_user_id: Mapped[int | None]
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScienceModel(Base):
    """One version of a scientific model with its card and adapter."""

    __tablename__ = "science_model"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)  # e.g. baseline-persistence
    version: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str] = mapped_column(String(16))  # weather | life | matter | general
    task_kind: Mapped[str] = mapped_column(String(120))
    licence: Mapped[str | None] = mapped_column(String(120))
    training_dataset_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    training_data: Mapped[str | None] = mapped_column(Text)
    intended_use: Mapped[str | None] = mapped_column(Text)
    limits: Mapped[str | None] = mapped_column(Text)
    adapter: Mapped[str] = mapped_column(String(16))  # python | openai | onnx | predictions
    adapter_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_builtin: Mapped[bool] = mapped_column(default=False)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), index=True)
    file_sha256: Mapped[str | None] = mapped_column(String(64))  # uploaded ONNX or forecast file
    file_size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_by_user_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluationTask(Base):
    """One version of an evaluation task: data + split + specs + metrics + baselines, with a content hash."""

    __tablename__ = "evaluation_task"
    __table_args__ = (UniqueConstraint("slug", "version"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), index=True)
    version: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str] = mapped_column(String(16))
    suite: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("dataset.id"))
    split: Mapped[str] = mapped_column(String(32))
    input_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    target_spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[list[str]] = mapped_column(JSON, default=list)
    headline_metric: Mapped[str] = mapped_column(String(64))
    higher_is_better: Mapped[bool]
    baselines: Mapped[list[str]] = mapped_column(JSON, default=list)
    content_hash: Mapped[str] = mapped_column(String(64))
    is_builtin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluationRun(Base):
    """One scored run, written once at the end in one transaction: ok with scores, or failed with the error."""

    __tablename__ = "evaluation_run"
    __table_args__ = (Index("ix_evaluation_run_task_status", "task_id", "status"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("evaluation_task.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("science_model.id"), index=True)
    split: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # ok | failed
    error: Mapped[str | None] = mapped_column(Text)
    n_items: Mapped[int] = mapped_column(default=0)
    n_nonfinite: Mapped[int] = mapped_column(default=0)
    n_exploding: Mapped[int] = mapped_column(default=0)
    scores: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    ci: Mapped[dict[str, list[float]]] = mapped_column(JSON, default=dict)
    environment: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # python, platform, packages
    seed: Mapped[int] = mapped_column(default=0)
    input_hash: Mapped[str] = mapped_column(String(64))
    predictions: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {item_id: value} when small
    predictions_path: Mapped[str | None] = mapped_column(String(1000))
    predictions_hash: Mapped[str | None] = mapped_column(String(64))
    timings: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)  # seconds: load, predict, score
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # e.g. non-finite values per variable
    created_by_user_id: Mapped[int | None]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class EvaluationJob(Base):
    """A run waiting for, or executed by, a background worker: queued → running → succeeded | failed, with
    progress (0–1) and the error. The run itself is written once at the end (``run_id``). Cancelling a queued
    job makes it ``cancelled`` at once; a running one keeps running until its worker sees
    ``cancel_requested_at`` and stops (``cancelled``, no run)."""

    __tablename__ = "evaluation_job"
    __table_args__ = (Index("ix_evaluation_job_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    task_slug: Mapped[str] = mapped_column(String(120))
    model_slug: Mapped[str] = mapped_column(String(120))
    seed: Mapped[int] = mapped_column(default=0)
    time_limit_s: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued|running|succeeded|failed|cancelled
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    phase: Mapped[str | None] = mapped_column(String(32))  # load | predict | score | store
    error: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_run.id"))
    worker: Mapped[str | None] = mapped_column(String(120))
    created_by_user_id: Mapped[int | None] = mapped_column(index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    heartbeat_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    cancelled_by_user_id: Mapped[int | None]
