"""Sending webhook events: each ``webhook_deliveries`` row is a job, claimed and retried the
way render jobs are (``quizapp.pipeline.jobs``), by the ``quizapp renderer`` process (a
thread of its own beside the renders) or, with a broker, by a Celery task.

A delivery is claimed for a lease (``LEASE``), so one whose process died is taken up again;
each attempt checks the endpoint's address again (``outbound.check``), signs the body with a
fresh timestamp and the same ``webhook-id``, POSTs it with a timeout, and logs the attempt
(status or error, no body). A 2xx ends it; anything else is tried again after
``RETRY_AFTER`` (1 min, 5 min, 30 min, 2 h, 8 h), then given up, which turns the endpoint
off with a note. A test event is tried once. A delivery done is never sent again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import urllib3
from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from ..storage.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint, aware, utcnow
from . import outbound
from .webhooks import PING, open_secret

log = logging.getLogger(__name__)
RETRY_AFTER = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=8),
)
ATTEMPTS = len(RETRY_AFTER) + 1  # an event; a test event is tried once
LEASE = timedelta(seconds=60)  # an attempt takes at most outbound.TIMEOUT
TASK = "quizapp.deliver_webhook"


def signed_headers(secret: bytes, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body.decode()),
    }


def _claimable(now: datetime) -> list[ColumnElement[bool]]:
    return [
        WebhookDelivery.status == "pending",
        WebhookDelivery.attempts < WebhookDelivery.max_attempts,
        or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        or_(WebhookDelivery.not_before.is_(None), WebhookDelivery.not_before <= now),
    ]


def _give_up_abandoned(session: Session, now: datetime) -> None:
    """Deliveries whose sender died during their last attempt: given up."""
    session.execute(
        update(WebhookDelivery)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.claimed_until < now,
            WebhookDelivery.attempts >= WebhookDelivery.max_attempts,
        )
        .values(status="failed", body=None, claimed_until=None)
        .execution_options(synchronize_session=False)  # the session commits (expires) next
    )


def claim(session: Session, delivery_id: int | None = None) -> WebhookDelivery | None:
    """Claim one due delivery (this one, or the oldest) for ``LEASE``, counting the attempt;
    None if there is none. A delivery is claimed by one sender at a time."""
    now = utcnow()
    _give_up_abandoned(session, now)
    session.commit()
    while True:
        query = select(WebhookDelivery.id).where(*_claimable(now))
        if delivery_id is not None:
            query = query.where(WebhookDelivery.id == delivery_id)
        found = session.scalar(query.order_by(WebhookDelivery.id).limit(1))
        if found is None:
            return None
        taken = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == found, *_claimable(now))
            .values(claimed_until=now + LEASE, attempts=WebhookDelivery.attempts + 1)
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if getattr(taken, "rowcount", 0) == 1:
            return session.get(WebhookDelivery, found)
        if delivery_id is not None:
            return None  # another sender took it first


def _record(
    session: Session,
    row: WebhookDelivery,
    endpoint: WebhookEndpoint | None,
    status: int | None,
    error: str | None,
) -> None:
    """Log the attempt and move the delivery on: done, again later, or given up (then the
    endpoint is turned off, unless it was a test event)."""
    now = utcnow()
    session.add(
        WebhookAttempt(
            delivery_id=row.id,
            attempt=row.attempts,
            at=now,
            status_code=status,
            error=None if error is None else error[:200],
        )
    )
    row.claimed_until = None
    if error is None and status is not None and 200 <= status < 300:
        row.status, row.body, row.not_before = "done", None, None
    elif row.attempts < row.max_attempts and endpoint is not None and not endpoint.disabled_at:
        row.not_before = now + RETRY_AFTER[min(row.attempts, len(RETRY_AFTER)) - 1]
    else:
        row.status, row.body, row.not_before = "failed", None, None
        if endpoint is not None and endpoint.disabled_at is None and row.event != PING:
            last = f"HTTP {status}" if error is None else error
            endpoint.disabled_at = now
            endpoint.disabled_note = (
                f"Turned off on {now:%-d %B %Y at %H:%M} UTC: {row.event} {row.message_id} "
                f"failed {row.attempts} times (last: {last})."
            )[:300]
            log.warning(
                "webhook endpoint %s turned off after %d failed attempts", endpoint.id, row.attempts
            )
    session.commit()


class Deliverer:
    """Sends due webhook deliveries from the database of ``sessions``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        secret_key: str,
        fallbacks: Sequence[str] = (),
        *,
        allow_private: bool = False,
        resolver: outbound.Resolver | None = None,
        poll: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.secret_key = secret_key
        self.fallbacks = fallbacks
        self.allow_private = allow_private
        self.resolver = resolver
        self.poll = poll

    @classmethod
    def from_settings(cls, sessions: sessionmaker[Session], settings: Any) -> Deliverer:
        return cls(
            sessions,
            settings["SECRET_KEY"],
            settings["SECRET_KEY_FALLBACKS"],
            allow_private=settings["WEBHOOK_ALLOW_PRIVATE"],
        )

    def attempt(self, session: Session, row: WebhookDelivery) -> None:
        """One attempt of a claimed delivery, logged."""
        endpoint = session.get(WebhookEndpoint, row.endpoint_id)
        status: int | None = None
        error: str | None = None
        if endpoint is None or endpoint.disabled_at is not None or row.body is None:
            error = "the endpoint is turned off"
        else:
            try:
                target = outbound.check(
                    endpoint.url, allow_private=self.allow_private, resolver=self.resolver
                )
                secret = open_secret(self.secret_key, endpoint.secret, self.fallbacks)
                headers = signed_headers(secret, row.message_id, row.body, utcnow())
                status = outbound.post(target, row.body, headers, timeout=outbound.TIMEOUT)
            except outbound.Refused as exc:
                error = f"refused: {exc}"
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                error = _network_error(exc)
            except Exception as exc:  # a defect of ours: logged, and the delivery goes on
                log.exception("webhook delivery %s failed", row.id)
                error = type(exc).__name__
        log.info(
            "webhook %s (%s) to endpoint %s, attempt %d: %s",
            row.id,
            row.event,
            row.endpoint_id,
            row.attempts,
            error or f"HTTP {status}",
        )
        _record(session, row, endpoint, status, error)

    def run_once(self, delivery_id: int | None = None) -> bool:
        """Claim and send one due delivery (this one, or the oldest); False if none was due."""
        with self.sessions() as session:
            row = claim(session, delivery_id)
            if row is None:
                return False
            self.attempt(session, row)
            return True

    def retry_in(self, delivery_id: int) -> float | None:
        """Seconds until a delivery's next attempt, or None when it has ended."""
        with self.sessions() as session:
            row = session.get(WebhookDelivery, delivery_id)
            if row is None or row.status != "pending" or row.not_before is None:
                return None
            return max(0.0, (aware(row.not_before) - utcnow()).total_seconds())

    def drain(self) -> int:
        """Send every delivery due now; how many attempts were made."""
        done = 0
        while self.run_once():
            done += 1
        return done

    def run(self, stop: threading.Event) -> None:
        """Send deliveries as they fall due until ``stop`` is set."""
        while not stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database went away: wait, and try again
                log.exception("the webhook queue could not be read")
                worked = False
            if not worked:
                stop.wait(self.poll)


def _network_error(exc: BaseException) -> str:
    """A short, host-free description of a failed connection."""
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionError):
        return "could not connect"  # (urllib3's NewConnectionError is also a TimeoutError)
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return f"no answer within {outbound.TIMEOUT:g} s"
    if isinstance(exc, urllib3.exceptions.SSLError):
        return "TLS failed (certificate or handshake)"
    return f"connection failed ({type(exc).__name__})"


def serve(celery: Any, deliverer: Deliverer) -> None:
    """Register the delivery task on a Celery app (``quizapp.worker``): one attempt, then a
    retry at the delivery's next due time, until it ends. Only a run that made the attempt
    schedules the next one, so a message the broker delivers twice (Redis redelivers a
    countdown longer than its visibility timeout) makes no second chain; beat's sweep
    (``quizapp.worker``) sends any delivery whose message was lost."""

    @celery.task(name=TASK, bind=True, max_retries=ATTEMPTS, shared=False)  # type: ignore[untyped-decorator]
    def deliver_webhook(task: Any, delivery_id: int) -> None:
        if not deliverer.run_once(delivery_id):
            return  # not due, already sent, or another worker has it
        wait = deliverer.retry_in(delivery_id)
        if wait is not None:
            raise task.retry(countdown=wait)
