"""One convention for every list: ``page`` (1-based), ``per_page`` (max 200), ``sort`` (``field`` or
``-field``, from a whitelist), ``q`` free-text search; results carry ``total``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kechuang.core.errors import FieldError, ValidationFailed
from kechuang.core.i18n import N_

T = TypeVar("T")
MAX_PER_PAGE = 200


class PageParams(BaseModel):
    """Query parameters shared by every list."""

    page: int = Field(1, ge=1, description="1-based page number")
    per_page: int = Field(25, ge=1, le=MAX_PER_PAGE, description="Items per page (max 200)")
    sort: str | None = Field(None, description="Sort field, '-' prefix for descending", examples=["-founded_date"])
    q: str | None = Field(None, description="Free-text search", max_length=200)


class Page(BaseModel, Generic[T]):
    """One page of results."""

    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """Number of pages."""
        return max(1, -(-self.total // self.per_page))


@dataclass
class SortSpec:
    """Allowed sort keys mapped onto columns."""

    columns: dict[str, Any]
    default: str

    def apply(self, stmt: Select, sort: str | None) -> Select:
        """Order ``stmt`` by ``sort``; unknown keys are refused with the allowed list."""
        key = sort or self.default
        desc = key.startswith("-")
        name = key.lstrip("-")
        if name not in self.columns:
            raise ValidationFailed(
                errors=[
                    FieldError(
                        "sort",
                        N_("Unknown sort field '{name}'; allowed: {allowed}."),
                        {"name": name, "allowed": ", ".join(sorted(self.columns))},
                    )
                ]
            )
        col = self.columns[name]
        return stmt.order_by(col.desc() if desc else col.asc())


def paginate(session: Session, stmt: Select, params: PageParams, sort: SortSpec, id_column: Any) -> tuple[list, int]:
    """Run ``stmt`` for one page, sorted, with a stable tiebreak on ``id_column``; returns rows and total."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    ordered = sort.apply(stmt, params.sort).order_by(id_column.asc())
    rows = session.scalars(ordered.limit(params.per_page).offset((params.page - 1) * params.per_page)).all()
    return list(rows), int(total)
