"""A therapist's clients and their administrations (completed questionnaires).

Every function that reads client data takes the therapist's id and filters on it, so a view
cannot forget the ownership check: another therapist's client is simply not found (404).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.orm import Session, load_only

from ..scoring.engine import ScoreReport
from ..storage.tables import Client, Invite, Submission, aware, utcnow
from .audit import Page, audit, page_of
from .change import Administration

PER_PAGE = 25


class LabelTaken(ValueError):
    """This therapist already has a client with this label."""


def create_client(session: Session, therapist_id: int, label: str, note: str | None) -> Client:
    """Add a client (and its audit line); raises :class:`LabelTaken` for a label in use.

    Two requests adding the same label at the same moment both pass the check; the unique
    constraint then refuses the second at the flush (an ``IntegrityError``).
    """
    label = label.strip()
    taken = select(Client.id).where(Client.therapist_id == therapist_id, Client.label == label)
    if session.scalar(taken) is not None:
        raise LabelTaken(label)
    client = Client(therapist_id=therapist_id, label=label, note=(note or "").strip() or None)
    session.add(client)
    session.flush()
    audit(session, therapist_id, "create client", client_id=client.id)
    return client


def get_client(session: Session, therapist_id: int, client_id: int) -> Client | None:
    return session.scalars(
        select(Client).where(Client.id == client_id, Client.therapist_id == therapist_id)
    ).first()


def delete_client(session: Session, therapist_id: int, client_id: int) -> bool:
    """Delete a client with every invite, answer and stored report (ON DELETE CASCADE)."""
    result = session.execute(
        delete(Client).where(Client.id == client_id, Client.therapist_id == therapist_id)
    )
    if not getattr(result, "rowcount", 0):
        return False
    audit(session, therapist_id, "delete client and all their data", client_id=client_id)
    return True


@dataclass(frozen=True)
class ClientRow:
    id: int
    label: str
    administrations: int
    last_result: datetime | None
    open_invites: int
    last_activity: datetime


def _label_pattern(search: str, *, fold: bool) -> str:
    """A LIKE pattern matching ``search`` anywhere in a label, with LIKE's wildcards escaped;
    ``fold``: in lower case, for a database whose LIKE tells cases apart."""
    text = search.strip().lower() if fold else search.strip()
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_clients(
    session: Session, therapist_id: int, search: str = "", page: int = 1, per_page: int = PER_PAGE
) -> Page[ClientRow]:
    """One page of clients, most recently active first; ``search`` matches part of a label,
    whatever its case.

    Both read one index (therapist, activity, id, label) and no client row. The first page is
    read before the clients are counted, and a first page that is not full is the count: a
    search that finds a few clients passes over the index once, not twice. A later page needs
    the count first, to keep the page number within the pages there are."""
    searching = bool(search.strip())
    sqlite = session.get_bind().dialect.name == "sqlite"
    values: dict[str, Any] = {"therapist": therapist_id, "limit": per_page, "now": utcnow()}
    if searching:  # SQLite's LIKE ignores the case of ASCII letters, PostgreSQL's does not
        values["pattern"] = _label_pattern(search, fold=not sqlite)
    count, listing = _SEARCH[sqlite] if searching else (_COUNT, _PAGE)
    if page <= 1:
        page, clients = 1, session.execute(listing, values | {"offset": 0}).all()
        total = len(clients) if len(clients) < per_page else session.scalar(count, values) or 0
        pages = page_of(1, total, per_page)[1]
    else:
        total = session.scalar(count, values) or 0
        page, pages = page_of(page, total, per_page)
        clients = session.execute(listing, values | {"offset": (page - 1) * per_page}).all()
    rows = [
        ClientRow(c.id, c.label, c.results, aware(c.latest) if c.latest else None, c.waiting,
                  aware(c.last_activity_at))
        for c in clients
    ]  # fmt: skip
    return Page(rows, page, pages, total)


# The dashboard's statements, built once (with their cache keys): it runs them on every view.
_MINE = Client.therapist_id == bindparam("therapist")
_COUNT = select(func.count()).select_from(Client).where(_MINE)
_IN_ORDER = (Client.last_activity_at.desc(), Client.id.desc())
_CHOSEN = select(Client.id, Client.label, Client.last_activity_at).where(_MINE)


def _with_counts(
    chosen: Select[int, str, datetime],
) -> Select[int, str, datetime, int, datetime | None, int]:
    """One page of ``chosen`` clients in activity order, each with its number of results, its
    latest result and its open invitations: counted for the page's rows alone (the page is
    cut first, in a subquery), in the same statement: one round trip, not three."""
    page = chosen.order_by(*_IN_ORDER).limit(bindparam("limit")).offset(bindparam("offset"))
    c = page.subquery()
    mine = Submission.client_id == c.c.id
    waiting = (Invite.client_id == c.c.id, Invite.completed_at.is_(None),
               Invite.revoked_at.is_(None), Invite.expires_at > bindparam("now"))  # fmt: skip
    return select(
        c.c.id, c.c.label, c.c.last_activity_at,
        select(func.count()).where(mine).scalar_subquery().label("results"),
        select(func.max(Submission.finished_at)).where(mine).scalar_subquery().label("latest"),
        select(func.count()).where(*waiting).scalar_subquery().label("waiting"),
    ).order_by(c.c.last_activity_at.desc(), c.c.id.desc())  # fmt: skip


_PAGE = _with_counts(_CHOSEN)
_SEARCH = {  # by whether the database is SQLite: (count, page)
    sqlite: (_COUNT.where(matching), _with_counts(_CHOSEN.where(matching)))
    for sqlite, matching in (
        (True, Client.label.like(bindparam("pattern"), escape="\\")),
        (False, func.lower(Client.label).like(bindparam("pattern"), escape="\\")),
    )
}
_RECENT = (
    select(Submission, Client.label)
    .options(
        load_only(
            Submission.id,
            Submission.client_id,
            Submission.instrument_id,
            Submission.instrument_version,
            Submission.started_at,
            Submission.finished_at,
        )
    )  # no answers: the list shows stored scores
    .join(Client, Client.id == Submission.client_id)
    .where(Submission.therapist_id == bindparam("therapist"))
    .order_by(Submission.finished_at.desc())
    .limit(bindparam("limit"))
)


def touch(session: Session, client_id: int) -> None:
    client = session.get(Client, client_id)
    if client is not None:
        client.last_activity_at = utcnow()


def administrations(session: Session, client_id: int) -> list[Submission]:
    """Every completed questionnaire of a client, oldest first (caller checked ownership)."""
    return list(
        session.scalars(
            select(Submission)
            .where(Submission.client_id == client_id)
            .order_by(Submission.finished_at, Submission.id)
        )
    )


def get_administration(
    session: Session, therapist_id: int, client_id: int, submission_id: int
) -> tuple[Client, Submission] | None:
    client = get_client(session, therapist_id, client_id)
    if client is None:
        return None
    submission = session.scalars(
        select(Submission).where(Submission.id == submission_id, Submission.client_id == client.id)
    ).first()
    return (client, submission) if submission is not None else None


def recent_completed(
    session: Session, therapist_id: int, limit: int = 10
) -> list[tuple[Submission, str]]:
    rows = session.execute(_RECENT, {"therapist": therapist_id, "limit": limit}).all()
    return [(row[0], row[1]) for row in rows]


def scored_administrations(
    submissions: list[Submission], reports: Mapping[int, ScoreReport | None]
) -> tuple[list[Administration], list[str]]:
    """Scored administrations for the change and trend views, from their stored scores
    (``reports``, None where the instrument version is gone), and notes on any left out."""
    scored, notes = [], []
    for s in submissions:
        report = reports.get(s.id)
        if report is None:
            notes.append(
                f"Result {s.id} used {s.instrument_id} {s.instrument_version}, which "
                "this site no longer scores; it is left out of the chart."
            )
            continue
        scored.append(Administration(s.id, s.finished_at, s.instrument_id, report.scales))
    return scored, notes


def client_results(
    session: Session, client_id: int, page: int = 1, per_page: int = PER_PAGE
) -> Page[Submission]:
    """One page of a client's completed questionnaires, newest first (caller checked
    ownership); a page past the last is the last."""
    mine = Submission.client_id == client_id
    total = session.scalar(select(func.count()).select_from(Submission).where(mine)) or 0
    page, pages = page_of(page, total, per_page)
    rows = session.scalars(
        select(Submission).where(mine)
        .order_by(Submission.finished_at.desc(), Submission.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    )  # fmt: skip
    return Page(list(rows), page, pages, total)
