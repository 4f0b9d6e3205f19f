"""A time limit on every round trip to a PostgreSQL server, for processes that serve people.

A server that is down refuses at once, and libpq's ``connect_timeout`` bounds a new connection
to one that does not answer. But a server or a link that freezes while a connection is open
leaves the call waiting for ever: no timeout of libpq or of the server covers it (the server's
``statement_timeout`` needs a server that runs). So each statement, commit, rollback and
checkout ping is armed with a deadline; a watcher thread shuts down the socket of any call still
waiting at its deadline, the call fails as a lost connection (``OperationalError``: a 503 in the
web app), and the pool throws that connection away. The server's own ``statement_timeout``,
a little shorter, ends slow statements more gently (the connection stays usable).

The checkout ping replaces SQLAlchemy's ``pool_pre_ping`` (which cannot be given a deadline):
a connection that fails it is replaced once, as with ``pool_pre_ping``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

PING_SECONDS = 1.5  # a SELECT 1 on a live server takes milliseconds
CONNECT_SECONDS = 2  # libpq's smallest connect_timeout


class Deadlines:
    """The armed calls of one engine's connections, and the thread that ends overdue ones."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._armed: dict[int, tuple[float, int]] = {}  # id(connection): (deadline, socket)
        self._lock = threading.Lock()
        self._work = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_connection: Any, seconds: float | None = None) -> None:
        limit = time.monotonic() + (self.seconds if seconds is None else seconds)
        with self._lock:
            self._armed[id(dbapi_connection)] = (limit, dbapi_connection.fileno())
            self._work.set()
        if self._thread is None or not self._thread.is_alive():  # also after a fork
            self._start()

    def disarm(self, dbapi_connection: Any, *_: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_connection), None)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="db-deadlines",
                                                daemon=True)  # fmt: skip
                self._thread.start()

    def _watch(self) -> None:
        while True:
            self._work.wait()
            time.sleep(0.05)
            now = time.monotonic()
            with self._lock:
                overdue = [(key, fd) for key, (limit, fd) in self._armed.items() if limit <= now]
                for key, _fd in overdue:
                    del self._armed[key]
                if not self._armed:
                    self._work.clear()
            for _key, fd in overdue:
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    """End the connection on socket ``fd``: the call blocked on it returns with an error."""
    try:
        sock = socket.socket(fileno=os.dup(fd))
    except OSError:  # closed meanwhile: nothing left to end
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def limit_round_trips(engine: Engine, seconds: float) -> Deadlines:
    """Arm every statement, commit and rollback of ``engine`` (PostgreSQL) with ``seconds``,
    and ping each connection as it is checked out."""
    deadlines = Deadlines(seconds)

    def before_statement(conn: Any, *_: Any) -> None:
        deadlines.arm(conn.connection.dbapi_connection)

    def before_end(conn: Any) -> None:  # a commit or rollback: disarmed at check-in
        deadlines.arm(conn.connection.dbapi_connection)

    def after_statement(conn: Any, *_: Any) -> None:
        deadlines.disarm(conn.connection.dbapi_connection)

    def on_error(context: Any) -> None:
        if context.connection is not None and context.connection.connection is not None:
            deadlines.disarm(context.connection.connection.dbapi_connection)

    def ping(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        deadlines.arm(dbapi_connection, PING_SECONDS)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure: replace the connection (SQLAlchemy retries once)
            raise DisconnectionError("the connection failed its ping") from exc
        finally:
            deadlines.disarm(dbapi_connection)

    event.listen(engine, "before_cursor_execute", before_statement)
    event.listen(engine, "after_cursor_execute", after_statement)
    event.listen(engine, "commit", before_end)
    event.listen(engine, "rollback", before_end)
    event.listen(engine, "handle_error", on_error)
    event.listen(engine.pool, "checkout", ping)
    for name in ("checkin", "close", "close_detached", "invalidate"):
        event.listen(engine.pool, name, deadlines.disarm)
    return deadlines
