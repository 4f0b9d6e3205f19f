"""Extension objects, created unbound and initialised in ``create_app``: CSRF protection, and
the database with one session per request (the view commits it; teardown closes it, which
rolls back whatever was not committed).

A request that changes things (POST) runs in one transaction: its change and its audit line
are saved together or not at all. A GET only reads, and writes at most single rows (the audit
line of a page it showed, a render job it queued), so its session has no transaction of its
own (each statement commits by itself): on PostgreSQL that spares the BEGIN and ROLLBACK round
trips of every page view."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from ..storage.database import Database, wipe_wal

# No page waits longer than this for the database (PostgreSQL; SQLite waits up to its 4 s busy
# timeout for a lock): then it is a 503 that says the database cannot be reached.
DATABASE_DEADLINE = 4.0


class RequestDatabase:
    """Holds the app's :class:`~quizapp.storage.database.Database` in
    ``app.extensions['database']`` and opens one session per app context on first use."""

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"]
        app.extensions["database"] = Database(url, deadline=DATABASE_DEADLINE)
        app.teardown_appcontext(self._close)

    @staticmethod
    def database_of(app: Flask) -> Database:
        database: Database = app.extensions["database"]
        return database

    @property
    def database(self) -> Database:
        return self.database_of(current_app)

    @property
    def session(self) -> Session:
        """The session of the current app context, opened on first use."""
        if "db_session" not in g:
            reading = has_request_context() and request.method in ("GET", "HEAD")
            database = self.database
            g.db_session = (database.reading_sessions if reading else database.sessions)()
        session: Session = g.db_session
        return session

    def wipe_deleted(self) -> None:
        """After a deletion has committed: leave none of it in SQLite's write-ahead log."""
        self.session.close()  # its connection back to the pool: no snapshot of ours is open
        if not wipe_wal(self.database.engine):
            current_app.logger.warning("the write-ahead log was busy; it is wiped later")

    @staticmethod
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


csrf = CSRFProtect()
db = RequestDatabase()
