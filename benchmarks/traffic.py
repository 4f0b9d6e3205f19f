"""Benchmark of the service under real traffic: gunicorn (2 workers, --preload), the renderer
beside it, and a bare Flask app as the baseline, all over HTTP on 127.0.0.1.

    .venv/bin/python benchmarks/traffic.py [--database-url URL] [--rate 100] [--seconds 30]
    .venv/bin/python benchmarks/traffic.py --kill-run [--submissions 5000]

Each figure is measured against its baseline in the same run, interleaved (A, B, A, B), and
printed as median and p95: the results page against a plain page of the same app, quiet and
while submissions arrive; a submission (as shipped: analysis and render job included)
against the bare app's "check 12 answers, two means, insert a row" route; the time from a
submission to its PDF; open-loop submissions at ``--rate`` per second (latency counted from
when each was due, so a stall is not hidden); web worker memory; cold start to the first
page against the bare app's. ``--kill-run`` sends ``--submissions`` submissions, kills a web
worker and the renderer half-way (both come back: gunicorn starts a new worker, the run
starts a new renderer), and then counts the stored PDFs against the acknowledged results.
SQLite by default; ``--database-url`` for PostgreSQL (its tables are dropped and rebuilt).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select
from timing import summary  # the timing loop all benchmarks share

from quizapp.config import DEFAULT_RATE_LIMITS
from quizapp.storage.database import Database, make_engine, migrate_fresh
from quizapp.storage.tables import RenderedReport, Submission

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# A real person's answers (a held-out calibration row): a settled result that needs no check,
# as most submissions are; a follow-up offered would only add its statements to the row.
SETTLED = [3, 5, 2, 1, 2, 5, 1, 1, 1, 5, 2, 2]
ANSWERS = "&".join(f"q{i:02d}={v}" for i, v in enumerate(SETTLED, 1))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, method: str, path: str, body: str = "",
         cookie: str = "") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": cookie} if cookie else {}
    if body:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def timed_call(port: int, method: str, path: str, body: str = "", cookie: str = "") -> float:
    start = time.perf_counter()
    status, _, _ = call(port, method, path, body, cookie)
    assert status < 400, (method, path, status)
    return time.perf_counter() - start


def new_form(port: int) -> tuple[str, str]:
    """A visitor's cookie and the body of a complete quick-form submission."""
    status, headers, page = call(port, "GET", "/quiz/quick")
    assert status == 200
    cookie = headers["set-cookie"].split(";", 1)[0]
    html = page.decode()
    fields = dict(re.findall(r'name="(csrf_token|started)"[^>]*value="([^"]+)"', html))
    return cookie, "&".join(f"{k}={v}" for k, v in fields.items()) + "&" + ANSWERS


def submit(port: int, form: tuple[str, str]) -> str:
    status, headers, _ = call(port, "POST", "/quiz/quick", form[1], form[0])
    assert status == 303, status
    return headers["location"].removesuffix("/more").rsplit("/", 1)[1]


class Services:
    """The app (gunicorn and the renderer) and the bare app, on free ports."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.url, self.folder = database_url, folder
        self.port, self.bare_port = free_port(), free_port()
        self.env = {**os.environ, "DATABASE_URL": database_url, "QUIZAPP_SECRET_KEY": "bench",
                    "QUIZAPP_INSECURE_COOKIES": "1", "QUIZAPP_INSTANCE_DIR": str(folder),
                    "QUIZAPP_BASE_URL": f"http://127.0.0.1:{self.port}",
                    # every request comes from 127.0.0.1: limits far above the load, still counted
                    "QUIZAPP_RATE_LIMITS": " ".join(f"{name}=1000000/minute"
                                                    for name in DEFAULT_RATE_LIMITS),
                    "PYTHONPATH": str(REPO / "benchmarks")}  # fmt: skip
        self.web: subprocess.Popen[bytes] | None = None
        self.bare: subprocess.Popen[bytes] | None = None
        self.renderer: subprocess.Popen[bytes] | None = None

    def gunicorn(self, target: str, port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(BIN / "gunicorn"), "--preload", "--workers", "2", "--no-control-socket", "--bind",
             f"127.0.0.1:{port}", "--log-level", "warning", target],
            env=self.env, cwd=REPO / "benchmarks",
        )  # fmt: skip

    def start_web(self) -> float:
        start = time.perf_counter()
        self.web = self.gunicorn("quizapp.app:create_app()", self.port)
        return wait_for(self.port, "/", start)

    def start_bare(self) -> float:
        start = time.perf_counter()
        self.bare = self.gunicorn(f"bare_app:create({self.url!r})", self.bare_port)
        return wait_for(self.bare_port, "/plain", start)

    def start_renderer(self) -> None:
        quiet = subprocess.DEVNULL
        self.renderer = subprocess.Popen([str(BIN / "quizapp"), "renderer"], env=self.env,
                                         stdout=quiet, stderr=quiet)  # fmt: skip

    def stop(self) -> None:
        for proc in (self.web, self.bare, self.renderer):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=60)
        self.web = self.bare = self.renderer = None

    def workers(self) -> list[int]:
        assert self.web is not None
        out = subprocess.run(["pgrep", "-P", str(self.web.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def bare_workers(self) -> list[int]:
        assert self.bare is not None
        out = subprocess.run(["pgrep", "-P", str(self.bare.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]


def wait_for(port: int, path: str, start: float, timeout: float = 120) -> float:
    while time.perf_counter() - start < timeout:
        try:
            if call(port, "GET", path)[0] == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.01)
    raise TimeoutError(f"nothing answered on port {port} in {timeout} s")


def rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def interleaved(n: int, *calls: Callable[[], float]) -> list[list[float]]:
    times: list[list[float]] = [[] for _ in calls]
    for _ in range(n):
        for i, fn in enumerate(calls):
            times[i].append(fn())
    return times


def ratio(label: str, mine: list[float], baseline: list[float], target: str) -> None:
    m, b = statistics.median(mine), statistics.median(baseline)
    print(f"{'':<52} {m / b:.2f} x the baseline (target {target})")


def open_loop(rate: float, seconds: float, send: Callable[[int], None]) -> tuple[list[float], int]:
    """Send ``rate`` requests a second for ``seconds``; latency from when each was due."""
    total = int(rate * seconds)
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    start = time.perf_counter() + 0.5

    def one(i: int) -> None:
        nonlocal failures
        due = start + i / rate
        time.sleep(max(0.0, due - time.perf_counter()))
        try:
            send(i)
            done = time.perf_counter() - due
        except Exception:
            with lock:
                failures += 1
            return
        with lock:
            latencies.append(done)

    with ThreadPoolExecutor(max_workers=min(256, int(rate * 2) + 8)) as pool:
        list(pool.map(one, range(total)))
    return latencies, failures


def pending_jobs(url: str) -> int:
    database = Database(url)
    with database.sessions() as session:
        n = session.scalar(select(func.count()).select_from(RenderedReport)
                           .where(RenderedReport.status == "pending")) or 0  # fmt: skip
    database.dispose()
    return n


def bench(args: argparse.Namespace, url: str, folder: Path) -> None:
    services = Services(url, folder)
    web_starts, bare_starts = [], []
    for _ in range(3):  # cold start to the first 200, interleaved with the bare app's
        web_starts.append(services.start_web())
        services.stop()
        bare_starts.append(services.start_bare())
        services.stop()
    summary("cold start to first 200: the app", web_starts, width=52)
    summary("baseline: the bare Flask app", bare_starts, width=52)
    ratio("", web_starts, bare_starts, "<= 5")
    services.start_web()
    services.start_bare()
    services.start_renderer()
    try:
        for pid in services.workers():
            print(f"{'web worker RSS at start':<52} {rss_mib(pid):8.1f} MiB (pid {pid})")
        for pid in services.bare_workers():
            print(f"{'baseline: bare Flask worker RSS':<52} {rss_mib(pid):8.1f} MiB (pid {pid})")
        port, bare = services.port, services.bare_port
        code = submit(port, new_form(port))
        time.sleep(2)
        for _ in range(20):  # warm both workers of both apps
            call(port, "GET", f"/r/{code}"), call(port, "GET", "/privacy")
        n = args.n
        page, plain = interleaved(n, lambda: timed_call(port, "GET", f"/r/{code}"),
                                  lambda: timed_call(port, "GET", "/privacy"))  # fmt: skip
        summary("results page /r/<code>, quiet", page, "ms", 52)
        summary("baseline: plain page /privacy, quiet", plain, "ms", 52)
        ratio("", page, plain, "<= 3")
        forms = [new_form(port) for _ in range(n)]
        mine, base = interleaved(n, lambda: _post(port, forms),
                                 lambda: timed_call(bare, "POST", "/submit", ANSWERS))  # fmt: skip
        summary("submit, as shipped (analysis + render job)", mine, "ms", 52)
        summary("baseline: bare submit route", base, "ms", 52)
        ratio("", base, mine, ">= 0.5 (throughput: bare time / ours)")
        wait_idle(url)
        ready = []
        for _ in range(10):  # one visitor at a time: submit, then the PDF
            form = new_form(port)
            start = time.perf_counter()
            code = submit(port, form)
            call(port, "GET", f"/r/{code}")
            while call(port, "GET", f"/r/{code}/report.pdf")[0] != 200:
                time.sleep(0.05)
            ready.append(time.perf_counter() - start)
        summary("PDF downloadable after submit (idle service)", ready, "s", 52)
        database = Database(url)
        with database.sessions() as session:
            attempts = session.execute(select(func.max(RenderedReport.attempts),
                                              func.count())).one()  # fmt: skip
        database.dispose()
        print(f"{'':<52} renders per PDF: at most {attempts[0]} ({attempts[1]} PDFs)")
        # loaded: submissions arriving at a steady rate while pages are read
        loaded_forms = [new_form(port) for _ in range(int(args.load_rate * args.seconds))]
        background = threading.Thread(target=open_loop, args=(
            args.load_rate, args.seconds, lambda i: submit(port, loaded_forms[i])))  # fmt: skip
        background.start()
        time.sleep(1)
        page_l, plain_l = interleaved(n, lambda: timed_call(port, "GET", f"/r/{code}"),
                                      lambda: timed_call(port, "GET", "/privacy"))  # fmt: skip
        background.join()
        summary(f"results page, {args.load_rate:g} submits/s arriving", page_l, "ms", 52)
        summary("baseline: plain page, same load", plain_l, "ms", 52)
        ratio("", page_l, plain_l, "<= 3")
        print(f"{'render backlog after the loaded phase':<52} {pending_jobs(url)} jobs")
        rate_forms = [new_form(port) for _ in range(int(args.rate * args.seconds))]
        ours, failed = open_loop(args.rate, args.seconds, lambda i: submit(port, rate_forms[i]))
        bare_l, bare_failed = open_loop(args.rate, args.seconds,
                                        lambda i: _bare_post(bare))  # fmt: skip
        summary(f"submits at {args.rate:g}/s for {args.seconds:g} s (open loop)", ours, "ms", 52)
        print(f"{'':<52} {len(ours)} acknowledged, {failed} failed; target p95 < 50 ms")
        summary(f"baseline: bare submits at {args.rate:g}/s", bare_l, "ms", 52)
        print(f"{'':<52} {len(bare_l)} acknowledged, {bare_failed} failed")
        print(f"{'render backlog after it':<52} {pending_jobs(url)} jobs")
        for pid in services.workers():
            print(f"{'web worker RSS after it all':<52} {rss_mib(pid):8.1f} MiB (pid {pid})")
        if services.renderer is not None:
            print(f"{'renderer RSS':<52} {rss_mib(services.renderer.pid):8.1f} MiB")
    finally:
        services.stop()


def _post(port: int, forms: list[tuple[str, str]]) -> float:
    cookie, body = forms.pop()
    return timed_call(port, "POST", "/quiz/quick", body, cookie)


def _bare_post(port: int) -> None:
    status, _, _ = call(port, "POST", "/submit", ANSWERS)
    assert status == 303


def wait_idle(url: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while pending_jobs(url) and time.monotonic() < deadline:
        time.sleep(0.5)


def kill_run(args: argparse.Namespace, url: str, folder: Path) -> None:
    services = Services(url, folder)
    services.start_web()
    services.start_renderer()
    port = services.port
    try:
        forms = [new_form(port) for _ in range(args.submissions)]
        acknowledged: list[str] = []
        lock = threading.Lock()

        def send(i: int) -> None:
            code = submit(port, forms[i])
            with lock:
                acknowledged.append(code)

        def killer() -> None:
            time.sleep(args.submissions / args.kill_rate / 2)
            victim = services.workers()[0]
            os.kill(victim, signal.SIGKILL)
            assert services.renderer is not None
            services.renderer.kill()
            print(f"half-way: killed web worker {victim} and the renderer; starting a new one")
            services.start_renderer()

        threading.Thread(target=killer).start()
        latencies, failed = open_loop(args.kill_rate, args.submissions / args.kill_rate, send)
        print(f"{len(acknowledged)} results acknowledged (303), {failed} requests failed "
              f"(cut off with the killed worker: never acknowledged)")  # fmt: skip
        summary("submit latency during the run", latencies, "ms", 52)
        start = time.monotonic()
        wait_idle(url, timeout=3600)
        database = Database(url)
        with database.sessions() as session:
            stored = session.scalar(select(func.count()).select_from(Submission)) or 0
            done = session.scalar(select(func.count()).select_from(RenderedReport)
                                  .where(RenderedReport.status == "done")) or 0  # fmt: skip
            twice = session.scalar(select(func.count()).select_from(RenderedReport)
                                   .where(RenderedReport.attempts > 1)) or 0  # fmt: skip
        database.dispose()
        print(f"renderer caught up {time.monotonic() - start:.0f} s after the last submission")
        print(f"results stored: {stored}; acknowledged: {len(acknowledged)}; PDFs stored: {done}; "
              f"rendered more than once: {twice}")  # fmt: skip
        missing = [c for c in acknowledged if call(port, "GET", f"/r/{c}/report.pdf")[0] != 200]
        print(f"acknowledged results without a downloadable PDF: {len(missing)}")
    finally:
        services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--n", type=int, default=200, help="requests per interleaved figure")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--load-rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-run", action="store_true")
    parser.add_argument("--submissions", type=int, default=5000)
    parser.add_argument("--kill-rate", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/traffic.db"
        migrate_fresh(url)
        print(f"{'database':<52} {url.split(':', 1)[0]}")
        try:
            (kill_run if args.kill_run else bench)(args, url, Path(tmp))
        finally:  # leave the database as it was found: no baseline table behind
            from bare_app import results as bare_table

            engine = make_engine(url)
            bare_table.drop(engine, checkfirst=True)
            engine.dispose()


if __name__ == "__main__":
    main()
