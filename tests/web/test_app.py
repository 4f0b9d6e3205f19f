"""Start-up checks, migrations and error pages."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from flask import Flask

from quizapp.app import create_app
from quizapp.scoring.instrument import InstrumentError

from ..conftest import REPO, app_config


def test_refuses_to_start_without_a_secret_key(database_url: str) -> None:
    with pytest.raises(RuntimeError, match="secret key"):
        create_app(app_config(database_url, SECRET_KEY=None))


def test_the_app_logs_under_the_package_name(app: Flask) -> None:
    import logging

    assert app.logger.name == "quizapp"
    assert logging.getLogger("quizapp.pipeline.jobs").parent is app.logger


def test_refuses_to_start_with_a_broken_item_bank(database_url: str, tmp_path: Path) -> None:
    shutil.copytree(REPO / "items", tmp_path / "items")
    quick = tmp_path / "items" / "quick.toml"
    quick.write_text(quick.read_text().replace('scale = "anxiety"', 'scale = "anxeity"', 1))
    with pytest.raises(InstrumentError) as error:
        create_app(app_config(database_url, ITEMS_DIR=str(tmp_path / "items")))
    assert "unknown scale 'anxeity'" in str(error.value)


def test_an_unexpected_error_gets_a_friendly_500_page(app: Flask) -> None:
    @app.get("/boom")
    def boom() -> str:
        raise ZeroDivisionError

    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "Nothing you entered was stored half-way" in response.get_data(as_text=True)
    assert "ZeroDivisionError" not in response.get_data(as_text=True)


def test_static_assets_are_served_locally(app: Flask) -> None:
    css = app.test_client().get("/static/style.css")
    assert css.status_code == 200
    assert b"@import" not in css.data and b"url(http" not in css.data
    css.close()
