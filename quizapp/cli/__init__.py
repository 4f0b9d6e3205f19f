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

# name -> "module:attribute" of each command.
COMMANDS = {
    "run": "quizapp.cli:run",
    "shell": "quizapp.cli:shell",
    "routes": "quizapp.cli:routes",
    "db": "quizapp.cli.db:db",
    "items": "quizapp.cli.items:items",
    "score": "quizapp.cli.score:score_command",
    "model": "quizapp.cli.model:model",
    "renderer": "quizapp.cli.renderer:renderer",
    "report": "quizapp.cli.report:report",
    "results": "quizapp.cli.results:results",
    "purge": "quizapp.cli.purge:purge",
    "keys": "quizapp.cli.keys:keys",
    "therapist": "quizapp.cli.therapist:therapist",
}


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
def cli() -> None:
    """Secure Base: run the service and work with its questionnaires."""


def _flask_command(name: str, summary: str) -> click.Command:
    """Flask's own ``name`` command (all its options, its --help), on the app built from the
    settings; Flask is imported only when the command runs."""

    passed_on = {"ignore_unknown_options": True, "allow_extra_args": True}

    @click.command(name, short_help=summary, add_help_option=False, context_settings=passed_on)
    @click.pass_context
    def command(ctx: click.Context) -> None:
        import flask.cli

        flask_command: click.Command = getattr(flask.cli, f"{name}_command")
        info = flask.cli.ScriptInfo(create_app=_create_app, set_debug_flag=False)
        with flask_command.make_context(
            name, ctx.args, parent=ctx.parent, obj=info, auto_envvar_prefix=f"FLASK_{name.upper()}"
        ) as sub:  # FLASK_RUN_PORT and the like work as with the flask command
            flask_command.invoke(sub)

    return command


run = _flask_command("run", "Run a development server.")
shell = _flask_command("shell", "Run a shell in the app context.")
routes = _flask_command("routes", "Show the routes for the app.")


def settings() -> dict[str, Any]:
    """The settings from the environment, or a clear error for a malformed variable."""
    from ..config import SettingError, from_environment

    try:
        return from_environment()
    except SettingError as exc:
        raise click.ClickException(str(exc)) from exc
