"""``scripts/run`` as a person starts it (issue 14, finding 8): it says what it is doing, skips
the install when the lock file has not changed, and prints the address only once the server
answers; Ctrl-C stops the web server and the renderer. Before, it printed nothing for minutes,
reinstalled on every start and said "running" before gunicorn listened."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from .conftest import REPO


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_scripts_run_talks_and_says_running_only_once_it_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "QUIZAPP_INSTANCE_DIR": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'run.db'}"}  # fmt: skip
    env.pop("QUIZAPP_BASE_URL", None)
    subprocess.run([str(REPO / "scripts" / "install"), "requirements.lock"], check=True, env=env)
    run = subprocess.Popen([str(REPO / "scripts" / "run")], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, start_new_session=True)  # fmt: skip
    lines: list[str] = []
    try:
        assert run.stdout is not None
        deadline = time.monotonic() + 180
        for line in run.stdout:
            lines.append(line)
            if "Secure Base is running at" in line:
                # The moment it says so, the address answers.
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                break
            assert time.monotonic() < deadline, "".join(lines)
        else:
            raise AssertionError("it stopped before it ran:\n" + "".join(lines))
    finally:
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=60)
        if run.stdout is not None:
            run.stdout.close()
    said = "".join(lines)
    assert "Installing" not in said, "the lock file did not change: no install"
    assert "Bringing the database up to date" in said and "Starting the web server" in said
    assert f"Secure Base is running at http://127.0.0.1:{port}" in said
    with socket.socket() as probe:  # Ctrl-C stopped everything
        assert probe.connect_ex(("127.0.0.1", port)) != 0
