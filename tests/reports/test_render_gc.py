"""The cycle collector is held off while a report renders, and only then.

A fetcher that records ``gc.isenabled()`` when WeasyPrint loads an image (a ``data:`` URL, in
the middle of the layout) shows the state inside a render.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from quizapp.reports.render import TEMPLATES_DIR, SafeFetcher, html_to_pdf

PIXEL = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' width='4' height='4'/>"
PAGE = f"<p>Before</p><img src=\"{PIXEL}\" alt=''><p>After</p>"


class Recorder(SafeFetcher):
    """Notes whether the collector runs at each fetch; optionally waits at a barrier there."""

    def __init__(self, barrier: threading.Barrier | None = None) -> None:
        super().__init__(TEMPLATES_DIR)
        self.barrier = barrier
        self.seen: list[bool] = []

    def fetch(self, url: str, headers: Any = None) -> Any:
        self.seen.append(gc.isenabled())
        if self.barrier is not None:
            self.barrier.wait(timeout=30)
        return super().fetch(url, headers)


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_during_a_render_and_on_after() -> None:
    fetcher = Recorder()
    html_to_pdf(PAGE, url_fetcher=fetcher)
    assert fetcher.seen == [False]
    assert gc.isenabled()


def test_overlapping_renders_keep_it_off_until_the_last_one_ends() -> None:
    """Both renders meet at a barrier mid-layout; the second one then stays open until the
    first has finished, which must not turn the collector back on under it."""
    barrier = threading.Barrier(2)
    first_done = threading.Event()

    class HeldOpen(Recorder):
        def fetch(self, url: str, headers: Any = None) -> Any:
            response = super().fetch(url, headers)
            first_done.wait(timeout=30)
            return response

    first, second = Recorder(barrier), HeldOpen(barrier)
    after_first: list[bool] = []

    def run_first() -> None:
        html_to_pdf(PAGE, url_fetcher=first)
        after_first.append(gc.isenabled())
        first_done.set()

    threads = [
        threading.Thread(target=run_first),
        threading.Thread(target=lambda: html_to_pdf(PAGE, url_fetcher=second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert (first.seen, second.seen, after_first) == ([False], [False], [False])
    assert gc.isenabled()


def test_a_collector_the_application_turned_off_stays_off() -> None:
    gc.disable()
    fetcher = Recorder()
    html_to_pdf(PAGE, url_fetcher=fetcher)
    assert fetcher.seen == [False]
    assert not gc.isenabled()
