"""Benchmark of the PDF reports: render times, memory, and serving a stored PDF.

    .venv/bin/python benchmarks/reports.py [--renders 500] [--timed 30]

Prints medians and 95th percentiles (seconds or milliseconds), peak resident memory, the
memory growth between the 50th render and the last, and the time to serve a stored PDF next
to a plain page of the same app (a baseline measured in the same run). Targets on a 2-core
machine: client report <= 0.35 s median; stored PDF served <= 20 ms median; memory growth
<= 10% over 500 renders.
"""

from __future__ import annotations

import argparse
import re
import resource
import statistics
import tempfile
from pathlib import Path

from timing import summary, timed  # the timing loop all benchmarks share

from quizapp.pipeline.sample import sample_inputs
from quizapp.reports.data import report_data
from quizapp.reports.render import render_pdf


def rss_mib() -> float:
    """Current resident set size of this process, MiB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def bench_render(timed_n: int, renders: int) -> None:
    client = report_data(**sample_inputs("anxious"), kind="client")
    therapist = report_data(**sample_inputs("avoidant"), kind="therapist")
    render_pdf(client, "client")  # warm-up: fonts, templates, WeasyPrint caches
    render_pdf(therapist, "therapist")
    summary("client report, A4 (render_pdf)", timed(lambda: render_pdf(client, "client"), timed_n))
    summary("client report, US Letter", timed(
        lambda: render_pdf(client, "client", page_size="Letter"), timed_n))  # fmt: skip
    summary("therapist report, A4", timed(lambda: render_pdf(therapist, "therapist"), timed_n))
    base = None
    for i in range(renders):
        render_pdf(client if i % 2 else therapist, "client" if i % 2 else "therapist")
        if i + 1 == 50:
            base = rss_mib()
    end = rss_mib()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert base is not None
    print(f"{'memory over ' + str(renders) + ' renders':<44} after 50: {base:.1f} MiB, "
          f"after {renders}: {end:.1f} MiB, growth {100 * (end - base) / base:+.1f}%, "
          f"peak RSS {peak:.1f} MiB")  # fmt: skip


def bench_serve(n: int) -> None:
    from quizapp.app import create_app
    from quizapp.storage.database import alembic_config

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        from alembic import command

        command.upgrade(alembic_config(url), "head")
        config = {"SECRET_KEY": "bench", "DATABASE_URL": url,
                  "ITEMS_DIR": str(Path(__file__).parents[1] / "items"),
                  "DEFAULT_INSTRUMENT": "quick", "SESSION_COOKIE_SECURE": False,
                  "BASE_URL": "http://localhost"}  # fmt: skip
        app = create_app(config)
        client = app.test_client()
        page = client.get("/quiz/quick").get_data(as_text=True)
        fields = dict(re.findall(r'name="(csrf_token|started)"[^>]*value="([^"]+)"', page))
        answers = {f"q{i:02d}": str(1 + i % 5) for i in range(1, 13)}
        location = client.post("/quiz/quick", data=fields | answers).headers["Location"]
        pdf_url = f"{location}/report.pdf"
        from quizapp.pipeline.renderer import Renderer

        Renderer(app.extensions["pipeline"], app.extensions["database"].sessions, "bench").drain()
        assert client.get(pdf_url).status_code == 200  # queued at submission, rendered, stored

        def get(path: str) -> None:
            response = client.get(path)
            assert response.status_code == 200
            response.close()

        plain = timed(lambda: get("/privacy"), n)
        served = timed(lambda: get(pdf_url), n)
        summary("serve stored PDF (GET report.pdf)", served, "ms")
        summary("baseline: plain page (GET /privacy)", plain, "ms")
        print(
            f"{'ratio stored PDF / plain page (medians)':<44} "
            f"{statistics.median(served) / statistics.median(plain):.2f}"
        )
        app.extensions["database"].dispose()


def subsetter() -> str:
    """Which font subsetter WeasyPrint uses here: HarfBuzz's (fast) or fontTools'."""
    from weasyprint.text.ffi import harfbuzz, harfbuzz_subset

    if harfbuzz_subset and harfbuzz.hb_version_atleast(4, 1, 0):
        return "HarfBuzz (libharfbuzz-subset0)"
    return "fontTools: install libharfbuzz-subset0, it halves the render time"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=500)
    parser.add_argument("--timed", type=int, default=30)
    parser.add_argument("--serves", type=int, default=200)
    args = parser.parse_args()
    print(f"{'font subsetting':<44} {subsetter()}")
    bench_render(args.timed, args.renders)
    bench_serve(args.serves)


if __name__ == "__main__":
    main()
