"""Benchmark of the therapist dashboard with 10,000 clients: list pages, search, a client page.

    .venv/bin/python benchmarks/dashboard.py [--clients 10000] [--n 100] [--database-url URL]

Builds a therapist with ``--clients`` clients, two results each and an open invitation for one
in five, on a fresh SQLite file (or the PostgreSQL database given, whose tables it replaces),
signs in through the real routes (password, then a TOTP code) and times requests through the
app's test client. Prints medians and 95th percentiles in milliseconds, next to a plain page
measured in the same run, interleaved with each case (the ratio shows the cost of the data), and
peak memory.
"""

from __future__ import annotations

import argparse
import random
import re
import resource
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import timing  # the timing loop all benchmarks share
from sqlalchemy import Connection, insert, select, text

from quizapp.app import create_app
from quizapp.config import defaults
from quizapp.pipeline.pipeline import Pipeline
from quizapp.pipeline.records import to_record
from quizapp.storage.database import make_engine, migrate_fresh
from quizapp.storage.receipts import digest, new_code
from quizapp.storage.tables import (
    Client,
    ContentSnapshot,
    Invite,
    StoredAnalysis,
    Submission,
    Therapist,
)

REPO = Path(__file__).resolve().parents[1]


def summary(label: str, times: list[float]) -> float:
    return timing.summary(label, times, "ms", width=48)


def store_analyses(conn: Connection, therapist_id: int) -> None:
    """The stored analysis of every result, as a submission stores it (analyse once)."""
    pipeline = Pipeline.load(defaults())
    content = pipeline.interpreter.content
    conn.execute(insert(ContentSnapshot).values(version=content.version, source=content.source))
    rows = conn.execute(select(Submission.id, Submission.answers, Submission.started_at,
                               Submission.finished_at)
                        .where(Submission.therapist_id == therapist_id)).all()  # fmt: skip
    quick = pipeline.bank["quick"]
    analyses = []
    for sid, answers, started, finished in rows:
        analysis = pipeline.analyse("quick", quick.version, answers, started_at=started,
                                    finished_at=finished)  # fmt: skip
        analyses.append({
            "submission_id": sid, "record": to_record(analysis),
            "rules_version": analysis.interpretation.rules_version,
            "content_version": content.version,
            "model_version": analysis.interpretation.model_version,
            "computed_at": finished,
        })  # fmt: skip
    conn.execute(insert(StoredAnalysis), analyses)


def fill(url: str, therapist_id: int, clients: int) -> None:
    """Bulk-insert clients, two quick-form results each, and some open invitations."""
    rng = random.Random(7)
    engine = make_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(Client), [
            {"therapist_id": therapist_id, "label": f"C-{i:05d}", "note": None,
             "created_at": now - timedelta(days=400),
             "last_activity_at": now - timedelta(minutes=i)}
            for i in range(clients)
        ])  # fmt: skip
        ids = list(
            conn.execute(select(Client.id).where(Client.therapist_id == therapist_id)).scalars()
        )
        submissions = []
        for cid in ids:
            for k in range(2):
                finished = now - timedelta(days=90 * (2 - k), minutes=cid % 1000)
                submissions.append({
                    "receipt_hash": digest(new_code()), "form_nonce": f"{cid:08d}{k:024d}",
                    "instrument_id": "quick", "instrument_version": "1.0.0",
                    "answers": {f"q{j:02d}": rng.randint(1, 5) for j in range(1, 13)},
                    "started_at": finished - timedelta(minutes=3), "finished_at": finished,
                    "client_id": cid, "therapist_id": therapist_id,
                })  # fmt: skip
        conn.execute(insert(Submission), submissions)
        store_analyses(conn, therapist_id)
        conn.execute(insert(Invite), [
            {"client_id": cid, "therapist_id": therapist_id, "token_hash": digest(new_code()),
             "instrument_id": "quick",
             "client_sees": "results", "created_at": now, "expires_at": now + timedelta(days=14),
             "shared_receipt": False}
            for cid in ids[::5]
        ])  # fmt: skip
    if engine.dialect.name == "postgresql":  # as autovacuum does after a change this size
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # statistics, and the visibility map
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/dashboard.db"
        migrate_fresh(url)
        app = create_app({
            "SECRET_KEY": "bench", "DATABASE_URL": url, "ITEMS_DIR": str(REPO / "items"),
            "BASE_URL": "http://localhost",
            "DEFAULT_INSTRUMENT": "quick", "SESSION_COOKIE_SECURE": False,
            "WTF_CSRF_ENABLED": False, "REPORT_PRERENDER": False, "MAIL_OUTBOX": f"{tmp}/outbox",
        })  # fmt: skip
        web = app.test_client()
        password = "benchmark passphrase"
        web.post("/account/sign-up", data={"display_name": "Bench", "email": "b@example.org",
                                           "password": password, "confirm": password})  # fmt: skip
        page = web.get("/account/two-factor/setup").get_data(as_text=True)
        secret = re.search(r'class="secret">([A-Z2-7]+)<', page).group(1)  # type: ignore[union-attr]
        pending = re.search(r'name="pending"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        ok = web.post("/account/two-factor/setup",
                      data={"pending": pending, "code": pyotp.TOTP(secret).now()})  # fmt: skip
        assert ok.status_code == 200, ok.status_code
        with app.app_context():
            from quizapp.web.extensions import db

            therapist_id = db.session.scalars(select(Therapist.id)).one()
        start = time.perf_counter()
        fill(url, therapist_id, args.clients)
        seconds = time.perf_counter() - start
        print(f"{'data':<48} {args.clients:,} clients, {2 * args.clients:,} results, "
              f"{args.clients // 5:,} open invitations ({seconds:.1f} s to insert)")  # fmt: skip
        print(f"{'database':<48} {url.split(':', 1)[0]}")
        middle = args.clients // 2

        def get(path: str, expect: str) -> Callable[[], None]:
            def run() -> None:
                response = web.get(path)
                assert response.status_code == 200, (path, response.status_code)
                assert expect in response.get_data(as_text=True), (path, expect)

            return run

        with app.app_context():
            from quizapp.web.extensions import db

            some_client = db.session.scalars(
                select(Client.id).where(Client.label == f"C-{middle:05d}")).one()  # fmt: skip
        pages = -(-args.clients // 25)
        cases = [
            ("dashboard, first page", "/therapist/", f"All clients ({args.clients})"),
            (f"dashboard, page {pages // 2} of {pages}", f"/therapist/?page={pages // 2}",
             f"Page {pages // 2} of {pages}"),
            ("dashboard, search one label", f"/therapist/?q=C-{middle:05d}", f"C-{middle:05d}"),
            ("dashboard, search matching 1,000+ labels", "/therapist/?q=C-01", "Page 1 of"),
            ("client page (2 results, trend, RCI)", f"/therapist/clients/{some_client}",
             "Reliable"),
        ]  # fmt: skip
        plain = get("/privacy", "<h1")
        for label, path, expect in cases:  # each against the plain page, interleaved
            page = get(path, expect)
            for _ in range(3):
                page(), plain()
            mine, base = [], []
            for _ in range(args.n):
                mine += timing.timed(page, 1)
                base += timing.timed(plain, 1)
            median = summary(label, mine)
            baseline = summary("  baseline: plain page (GET /privacy)", base)
            print(f"{'':<48} ratio to baseline {median / baseline:6.1f} (target <= 5)")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'peak RSS':<48} {peak:.1f} MiB")
        app.extensions["database"].dispose()


if __name__ == "__main__":
    main()
