"""The deployment kit (issue 13, deliverable 4): the systemd units pass ``systemd-analyze
verify`` (with the install path pointed at this checkout, so their programs exist), the
environment template names every setting, and the container files install the way the tested
scripts do. Images cannot be pulled on the CI machine, so no image is built here; the nginx
site runs for real in tests/web/test_nginx.py (``nginx -t`` first)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from quizapp.config import SETTINGS

from .conftest import REPO

DEPLOY = REPO / "deploy"
UNITS = sorted((DEPLOY / "systemd").iterdir())
ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"


def installed_here(unit: Path, folder: Path) -> Path:
    """The unit as installed from this checkout: /opt/secure-base is here, the settings file
    is the template."""
    text = unit.read_text().replace("/opt/secure-base", str(REPO))
    template = DEPLOY / "secure-base.env.template"
    text = text.replace("/etc/secure-base/secure-base.env", str(template))
    copy = folder / unit.name
    copy.write_text(text)
    return copy


def verify(units: list[Path]) -> subprocess.CompletedProcess[str]:
    if not Path(ANALYZE).exists():
        pytest.fail("systemd-analyze is missing: apt-get install systemd", pytrace=False)
    return subprocess.run([ANALYZE, "verify", *map(str, units)], capture_output=True, text=True)


def test_the_units_verify(tmp_path: Path) -> None:
    assert {unit.name for unit in UNITS} == {
        "secure-base-web.service", "secure-base-renderer.service",
        "secure-base-purge.service", "secure-base-purge.timer"}  # fmt: skip
    checked = verify([installed_here(unit, tmp_path) for unit in UNITS])
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr


def test_verify_would_catch_a_broken_unit(tmp_path: Path) -> None:
    unit = installed_here(DEPLOY / "systemd" / "secure-base-renderer.service", tmp_path)
    unit.write_text(unit.read_text().replace(str(REPO / ".venv/bin/quizapp"), "/no/such/quizapp"))
    assert verify([unit]).returncode != 0


def test_the_units_run_what_the_procfile_runs() -> None:
    procfile = (REPO / "Procfile").read_text()
    web = (DEPLOY / "systemd" / "secure-base-web.service").read_text()
    renderer = (DEPLOY / "systemd" / "secure-base-renderer.service").read_text()
    assert "gunicorn --preload --workers 2 --no-control-socket" in procfile
    assert "gunicorn --preload --workers 2 --no-control-socket" in web
    assert "quizapp renderer" in procfile and "quizapp renderer" in renderer
    assert "quizapp purge --apply" in (DEPLOY / "systemd" / "secure-base-purge.service").read_text()


def test_the_environment_template_names_every_setting_once() -> None:
    template = (DEPLOY / "secure-base.env.template").read_text()
    named = re.findall(r"^#?([A-Z_]+)=", template, flags=re.MULTILINE)
    assert sorted(named) == sorted(setting.env for setting in SETTINGS)
    assert re.search(r"^QUIZAPP_SECRET_KEY=$", template, flags=re.MULTILINE)  # no usable default


def test_the_image_installs_as_the_tested_scripts_do() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "RUN scripts/install requirements.lock" in dockerfile
    for package in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert package in dockerfile and package in ci
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {"instance", ".venv", ".git"} <= set(ignored)  # no secret key or database in images
    compose = (DEPLOY / "compose.yaml").read_text()
    for service in ("web:", "renderer:", "db:", "redis:"):
        assert f"\n  {service}" in compose
    assert "dockerfile: deploy/Dockerfile" in compose
