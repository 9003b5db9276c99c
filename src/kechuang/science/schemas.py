"""Request and response shapes of the science API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DatasetRead(BaseModel):
    """Catalogue entry of one dataset version."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    version: str
    name: str
    description: str
    creators: list[dict[str, Any]]
    licence: str | None
    publisher: str
    publication_year: int
    identifier: str
    subjects: list[str]
    temporal_coverage: str | None
    spatial_coverage: str | None
    provenance: str | None
    related_identifiers: list[dict[str, Any]]
    access_level: str
    cross_border: bool
    cross_border_decision: str | None
    created_at: datetime


class DatasetFileRead(BaseModel):
    """A file with its checksum and size."""

    model_config = ConfigDict(from_attributes=True)
    name: str
    split: str | None
    media_type: str | None
    sha256: str
    size_bytes: int


class QualityReportRead(BaseModel):
    """A quality report: score and named checks."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    score: float
    checks: list[dict[str, Any]]
    created_at: datetime


class DatasetDetail(DatasetRead):
    """A dataset version with files and its latest quality report."""

    files: list[DatasetFileRead]
    quality: QualityReportRead | None
    can_download: bool


class AccessRequestIn(BaseModel):
    """Why access is needed."""

    purpose: str = Field(min_length=1, max_length=2000)


class DecisionIn(BaseModel):
    """Approve or reject."""

    approve: bool


class AccessRequestRead(BaseModel):
    """An access request and its state."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    dataset_id: int
    user_id: int
    purpose: str
    status: str
    decided_at: datetime | None


class RunIn(BaseModel):
    """Which model on which task (built-in tasks), and the seed."""

    task: str
    model: str
    seed: int = 0


class JobIn(BaseModel):
    """A run to queue: task, model, seed and time limit (seconds)."""

    task: str
    model: str
    seed: int = 0
    time_limit_s: float = Field(600.0, gt=0, le=6 * 3600)


class ModelRead(BaseModel):
    """A model version with its card and adapter (the adapter's file path is not shown)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    slug: str
    version: str
    name: str
    domain: str
    task_kind: str
    licence: str | None
    training_dataset_ids: list[int]
    training_data: str | None
    intended_use: str | None
    limits: str | None
    adapter: str
    is_builtin: bool
    file_sha256: str | None
    file_size_bytes: int | None
    created_at: datetime
