"""The audit log: who viewed, exported or changed which client data, and when."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..storage.tables import AuditEntry, Client

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    pages: int
    total: int


def page_of(page: int, total: int, per_page: int) -> tuple[int, int]:
    """The page number clamped to the pages there are, and how many pages there are."""
    pages = max(1, math.ceil(total / per_page))
    return min(max(1, page), pages), pages


def audit(
    session: Session,
    therapist_id: int,
    action: str,
    *,
    client_id: int | None = None,
    submission_id: int | None = None,
    detail: str = "",
) -> None:
    """Add one audit line; it is saved with the change it records, by the caller's commit."""
    session.add(
        AuditEntry(
            therapist_id=therapist_id,
            action=action,
            client_id=client_id,
            submission_id=submission_id,
            detail=detail[:200],
        )
    )
    session.flush()


def audit_log(
    session: Session,
    therapist_id: int,
    page: int = 1,
    client_id: int | None = None,
    per_page: int = 50,
) -> Page[AuditEntry]:
    where = [AuditEntry.therapist_id == therapist_id]
    if client_id is not None:
        where.append(AuditEntry.client_id == client_id)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
    page, pages = page_of(page, total, per_page)
    entries = list(
        session.scalars(
            select(AuditEntry)
            .where(*where)
            .order_by(AuditEntry.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return Page(entries, page, pages, total)


def client_labels(session: Session, therapist_id: int, entries: list[AuditEntry]) -> dict[int, str]:
    """The labels of the therapist's clients named in ``entries`` (a deleted client has none:
    the log keeps only its number)."""
    wanted = {e.client_id for e in entries if e.client_id is not None}
    if not wanted:
        return {}
    rows = session.execute(
        select(Client.id, Client.label).where(Client.therapist_id == therapist_id,
                                              Client.id.in_(wanted))
    ).all()  # fmt: skip
    return {client_id: label for client_id, label in rows}
