"""The ``quizapp`` command: run the service, migrate the database, check, calibrate and score
questionnaires, train the models and write reports.

Each command lives in a module of this package that is imported only when the command runs
(or its help is shown), and imports its heavy libraries inside the command, so
``quizapp --help`` and ``quizapp score`` start without Flask, scikit-learn or WeasyPrint.
Commands read their settings with :func:`quizapp.config.from_environment`; only ``run``,
``shell`` and ``routes`` (Flask's own) build the web app.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of each command; Flask's commands need the web app.
COMMANDS = {
    "run": "flask.cli:run_command",
    "shell": "flask.cli:shell_command",
    "routes": "flask.cli:routes_command",
    "db": "quizapp.cli.db:db",
    "items": "quizapp.cli.items:items",
    "score": "quizapp.cli.score:score_command",
    "model": "quizapp.cli.model:model",
    "report": "quizapp.cli.report:report",
}
FLASK_COMMANDS = ("run", "shell", "routes")


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command


def _create_app() -> Any:
    from ..app import create_app
    from ..scoring.instrument import InstrumentError

    try:
        return create_app()
    except (InstrumentError, RuntimeError, ValueError) as exc:
        raise click.ClickException(f"the service cannot start: {exc}") from exc


@click.group(cls=LazyGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Secure Base: run the service and work with its questionnaires."""
    if ctx.invoked_subcommand in FLASK_COMMANDS and ctx.obj is None:
        from flask.cli import ScriptInfo

        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


def settings() -> dict[str, Any]:
    """The settings from the environment, or a clear error for a malformed variable."""
    from ..config import SettingError, from_environment

    try:
        return from_environment()
    except SettingError as exc:
        raise click.ClickException(str(exc)) from exc
