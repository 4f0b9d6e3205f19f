"""The README's API examples, run as written with the real curl against the app served on a
local port: each answers with the status the README's prose promises."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from ..conftest import REPO
from ..therapists.journey import Therapist, add_client
from .conftest import make_token


def api_examples() -> list[str]:
    """The curl commands of the README's API section, in order: continuation lines joined,
    and lines inside a quoted argument kept with their command, as the shell reads them."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    commands, pending = [], ""
    for line in "\n".join(blocks).replace("\\\n", " ").splitlines():
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        if pending.strip().startswith("curl "):
            commands.append(pending.strip())
        pending = ""
    return commands


@pytest.fixture
def base(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def run(command: str, env: dict[str, str]) -> tuple[int, Any]:
    """Run a README command in bash with these variables; its status and JSON body."""
    done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"],
                          env=os.environ | env, capture_output=True, text=True, timeout=60,
                          check=True)  # fmt: skip
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body) if body.strip() else None


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_the_readme_s_curl_examples_work_as_written(base: str, therapist: Therapist) -> None:
    commands = api_examples()
    assert len(commands) == 10
    env = {"BASE": base}
    statuses = []
    for command in commands[:6]:  # a visitor's
        status, body = run(command, env)
        statuses.append(status)
        if "/api/v1/instruments/quick" in command:
            env["START"] = body["start_token"]
        if "/api/v1/results" in command:
            assert body["follow_up_pending"] is True  # as the comment says
            env["CODE"] = body["receipt_code"]
    assert statuses == [200, 200, 201, 200, 200, 204]
    env |= {"TOKEN": make_token(therapist, ["results:read", "invitations:write"]),
            "CLIENT": str(add_client(therapist, "C-001"))}  # fmt: skip
    statuses = []
    for command in commands[6:]:  # a therapist's
        status, body = run(command, env)
        statuses.append(status)
        if "/invitations" in command and status == 201:
            env["INVITATION"] = str(body["id"])
    assert statuses == [200, 200, 201, 204]
