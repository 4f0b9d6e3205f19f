"""What an operator does to therapist accounts (``quizapp therapist``): list them, reset a lost
second factor, disable, enable and delete. Each change ends the account's sessions where it
should, and is written to the account's audit log (a deletion, which takes the audit log with
it, to the service log, by account number only). Database steps only; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..storage.tables import Client, Therapist, utcnow
from .accounts import normalise_email
from .audit import audit
from .two_factor import disable_totp


@dataclass(frozen=True)
class AccountRow:
    id: int
    email: str
    display_name: str
    two_factor: bool
    disabled: bool
    clients: int
    created_at: datetime


def list_accounts(session: Session) -> list[AccountRow]:
    clients = (
        select(Client.therapist_id, func.count().label("n")).group_by(Client.therapist_id)
    ).subquery()
    rows = session.execute(
        select(Therapist, func.coalesce(clients.c.n, 0))
        .outerjoin(clients, clients.c.therapist_id == Therapist.id)
        .order_by(Therapist.id)
    ).all()  # fmt: skip
    return [
        AccountRow(
            t.id,
            t.email,
            t.display_name,
            t.totp_secret is not None,
            t.disabled_at is not None,
            int(n),
            t.created_at,
        )
        for t, n in rows
    ]


def find_account(session: Session, email: str) -> Therapist | None:
    return session.scalars(
        select(Therapist).where(Therapist.email == normalise_email(email))
    ).first()


def reset_two_factor(session: Session, therapist: Therapist) -> None:
    """For a therapist who lost their phone and their recovery codes: two-factor off (they set
    it up again at their next sign-in), every session ended."""
    disable_totp(session, therapist)
    audit(session, therapist.id, "operator reset two-factor sign-in")


def disable(session: Session, therapist: Therapist) -> bool:
    """No sign-in and no password reset until enabled; every session ends. False if it was
    disabled already."""
    if therapist.disabled_at is not None:
        return False
    therapist.disabled_at = utcnow()
    therapist.session_epoch += 1
    audit(session, therapist.id, "operator disabled the account")
    return True


def enable(session: Session, therapist: Therapist) -> bool:
    if therapist.disabled_at is None:
        return False
    therapist.disabled_at = None
    audit(session, therapist.id, "operator enabled the account")
    return True


def delete_account(session: Session, therapist: Therapist) -> int:
    """Delete the account with every client, invitation, answer, stored report and audit line
    (ON DELETE CASCADE); returns how many clients went with it."""
    clients = session.scalar(
        select(func.count()).select_from(Client).where(Client.therapist_id == therapist.id)
    )  # fmt: skip
    session.execute(delete(Therapist).where(Therapist.id == therapist.id))
    session.expunge(therapist)
    return int(clients or 0)
