"""``quizapp therapist``: an operator's commands for therapist accounts. Each change asks for
confirmation (or ``--yes``) and is written to the account's audit log; a deletion, which takes
that log with it, is written to the service log by account number."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..config import from_environment

log = logging.getLogger("quizapp.admin")
yes_option = click.option("--yes", is_flag=True, help="Do it without asking.")


@click.group()
def therapist() -> None:
    """List, disable, enable and delete therapist accounts; reset a lost second factor."""


@contextmanager
def _session() -> Iterator[Any]:
    from .. import logs
    from ..storage.database import Database

    logs.configure()
    settings = from_environment()
    database = Database(settings["DATABASE_URL"])
    try:
        with database.sessions() as session:
            yield session
    finally:
        database.dispose()


def _account(session: Any, email: str) -> Any:
    from ..therapists.admin import find_account

    account = find_account(session, email)
    if account is None:
        raise click.ClickException(f"no therapist account uses {email.strip()!r}")
    return account


@therapist.command("list")
def list_command() -> None:
    """Every account: number, e-mail, name, two-factor, state and number of clients."""
    from ..therapists.admin import list_accounts

    with _session() as session:
        rows = list_accounts(session)
    if not rows:
        click.echo("No therapist accounts.")
        return
    click.echo(
        f"{'id':>5}  {'e-mail':<32} {'name':<24} {'2fa':<4} {'state':<9} {'clients':>7}  created"
    )
    for row in rows:
        state = "disabled" if row.disabled else "active"
        click.echo(f"{row.id:>5}  {row.email:<32} {row.display_name[:24]:<24} "
                   f"{'on' if row.two_factor else 'off':<4} {state:<9} {row.clients:>7}  "
                   f"{row.created_at:%Y-%m-%d}")  # fmt: skip


@therapist.command("reset-2fa")
@click.argument("email")
@yes_option
def reset_2fa(email: str, yes: bool) -> None:
    """Turn off two-factor sign-in for EMAIL, who lost both their phone and their recovery
    codes (check who is asking first). They set it up again at their next sign-in."""
    from ..therapists.admin import reset_two_factor

    with _session() as session:
        account = _account(session, email)
        if not yes:
            click.confirm(f"Turn off two-factor sign-in for {account.email} and end every "
                          "session of the account?", abort=True)  # fmt: skip
        reset_two_factor(session, account)
        session.commit()
    click.echo("Two-factor sign-in is off; every session of the account has ended.")


@therapist.command("disable")
@click.argument("email")
@yes_option
def disable_command(email: str, yes: bool) -> None:
    """Stop EMAIL from signing in (every session ends); their clients' data stays."""
    from ..therapists.admin import disable

    _switch(email, yes, "Disable", disable,
            "Disabled; every session has ended.", "It was disabled already.")  # fmt: skip


@therapist.command("enable")
@click.argument("email")
@yes_option
def enable_command(email: str, yes: bool) -> None:
    """Let EMAIL sign in again."""
    from ..therapists.admin import enable

    _switch(email, yes, "Enable", enable, "Enabled.", "It was not disabled.")


def _switch(email: str, yes: bool, verb: str, change: Any, done: str, unchanged: str) -> None:
    """Confirm, ``change`` the account (True if it changed), commit and say what happened."""
    with _session() as session:
        account = _account(session, email)
        if not yes:
            click.confirm(f"{verb} {account.email}?", abort=True)
        changed = change(session, account)
        session.commit()
    click.echo(done if changed else unchanged)


@therapist.command("delete")
@click.argument("email")
@yes_option
def delete_command(email: str, yes: bool) -> None:
    """Delete EMAIL's account with every client, invitation, answer, report and audit line."""
    from ..storage.database import wipe_wal
    from ..therapists.admin import delete_account

    with _session() as session:
        account = _account(session, email)
        number = account.id
        if not yes:
            click.confirm(f"Delete {account.email} and all of their clients' data? This "
                          "cannot be undone.", abort=True)  # fmt: skip
        clients = delete_account(session, account)
        session.commit()
        engine = session.get_bind()
        session.close()
        wipe_wal(engine)
    log.warning("operator deleted therapist account %d with %d clients", number, clients)
    click.echo(f"Deleted the account and the data of {clients} client{'s' * (clients != 1)}.")
