"""Webhooks: a therapist registers an https endpoint and is told, by a signed POST, when a
client completes an invitation (``invitation.completed``), or when they press "Send test
event" (``ping``).

Events follow Standard Webhooks (standardwebhooks.com): ``webhook-id`` (the same on every
attempt), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">`` with the endpoint's secret ``whsec_<base64>``, shown once. The service
keeps the secret to sign, sealed (AES-256-GCM) with a key derived from the app's secret key.
An event carries ids, the instrument, scores with their bands and the closest pattern: never
answers, never notes. Database steps only (the caller commits); sending is ``deliveries``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..scoring.engine import ScoreReport
from ..storage import receipts
from ..storage.tables import (
    Client,
    Invite,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from . import outbound
from .audit import audit

PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_ENDPOINTS = 5
SCHEMA_VERSION = 1
COMPLETED, PING = "invitation.completed", "ping"


@cache
def _key(secret_key: str) -> bytes:
    return receipts.derive_key(secret_key, b"secure-base/webhook", b"signing-secret-v1")


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def shown(secret: bytes) -> str:
    """The secret as the therapist copies it: ``whsec_<base64>``."""
    return PREFIX + base64.b64encode(secret).decode("ascii")


def seal_secret(secret_key: str, secret: bytes) -> bytes:
    return receipts.encrypt(_key(secret_key), secret, b"webhook-secret")


def open_secret(secret_key: str, sealed: bytes, fallbacks: Sequence[str] = ()) -> bytes:
    """The signing secret, sealed with ``secret_key`` or, after a key rotation, one of the
    ``fallbacks`` (``InvalidTag`` if none opens it)."""
    for key in (secret_key, *fallbacks):
        try:
            return receipts.decrypt(_key(key), sealed, b"webhook-secret")
        except InvalidTag:
            continue
    raise InvalidTag


def reseal_endpoint(secret_key: str, fallbacks: Sequence[str], endpoint: WebhookEndpoint) -> bool:
    """Seal the endpoint's secret with ``secret_key`` if an older key sealed it; True if so."""
    try:
        receipts.decrypt(_key(secret_key), endpoint.secret, b"webhook-secret")
        return False
    except InvalidTag:
        endpoint.secret = seal_secret(
            secret_key, open_secret(secret_key, endpoint.secret, fallbacks)
        )
        return True


class TooMany(ValueError):
    """The therapist has the most endpoints one account may have."""


def register(
    session: Session,
    therapist_id: int,
    url: str,
    *,
    secret_key: str,
    allow_private: bool,
    resolver: outbound.Resolver | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret as shown once; ``outbound.Refused`` for an address the
    service will not send to, ``TooMany`` past ``MAX_ENDPOINTS``."""
    outbound.check(url, allow_private=allow_private, resolver=resolver)
    if len(endpoints(session, therapist_id)) >= MAX_ENDPOINTS:
        raise TooMany(f"an account can have {MAX_ENDPOINTS} endpoints")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        therapist_id=therapist_id, url=url, secret=seal_secret(secret_key, secret)
    )
    session.add(endpoint)
    session.flush()
    audit(session, therapist_id, "add webhook endpoint", detail=f"endpoint {endpoint.id}")
    return endpoint, shown(secret)


def endpoints(session: Session, therapist_id: int) -> list[WebhookEndpoint]:
    return list(
        session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.therapist_id == therapist_id)
            .order_by(WebhookEndpoint.id)
        )
    )


def own_endpoint(session: Session, therapist_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    """The therapist's own endpoint; None for another therapist's, like a missing one."""
    return session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.therapist_id == therapist_id
        )
    ).first()


def remove(session: Session, endpoint: WebhookEndpoint) -> None:
    """Delete an endpoint with its pending deliveries and its log."""
    session.delete(endpoint)
    session.flush()
    audit(
        session, endpoint.therapist_id, "remove webhook endpoint", detail=f"endpoint {endpoint.id}"
    )


def enable(endpoint: WebhookEndpoint) -> None:
    endpoint.disabled_at = endpoint.disabled_note = None


def delivery_log(session: Session, endpoint_id: int, limit: int = 30) -> list[dict[str, Any]]:
    """The newest attempts to an endpoint: when, which event, attempt, status or error, and
    whether it was the last (the event was given up)."""
    rows = session.execute(
        select(
            WebhookAttempt,
            WebhookDelivery.event,
            WebhookDelivery.message_id,
            WebhookDelivery.status,
            WebhookDelivery.attempts,
        )
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "at": a.at,
            "event": event,
            "message_id": message_id,
            "attempt": a.attempt,
            "status_code": a.status_code,
            "error": a.error,
            "given_up": status == "failed" and a.attempt == attempts,
        }
        for a, event, message_id, status, attempts in rows
    ]


def _event(kind: str, data: Mapping[str, Any], at: datetime) -> bytes:
    """A Standard Webhooks payload: ``type``, ``timestamp`` and ``data``."""
    stamp = at.isoformat(timespec="seconds").replace("+00:00", "Z")
    return orjson.dumps({"type": kind, "timestamp": stamp, "data": data})


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def scores(report: ScoreReport) -> dict[str, Any]:
    """Each scale's score with its SEM, 90% band and percentile, and the closest pattern."""
    scales = {
        key: {
            "label": s.label,
            "score": _round(s.score),
            "sem": _round(s.sem),
            "band_90": None if s.band is None else [_round(s.band[0]), _round(s.band[1])],
            "percentile": _round(s.percentile),
            "answered": s.answered,
            "items": s.n_items,
            "near_cutoff": s.near_cutoff,
        }
        for key, s in report.scales.items()
    }
    pattern = report.pattern
    closest = (
        None
        if pattern is None
        else {
            "pattern": pattern.closest,
            "label": pattern.label,
            "probability": _round(pattern.probability),
            "near_boundary": list(pattern.near_boundary),
        }
    )
    return {"scales": scales, "closest_pattern": closest}


def completed_event(
    invite: Invite,
    client: Client,
    submission_id: int,
    instrument: Mapping[str, str],
    report: ScoreReport | None,
) -> bytes:
    """The body of ``invitation.completed``: ids, the label the therapist gave the client,
    the instrument and the scores (None when the result could not be scored); no answers."""
    data = {
        "schema_version": SCHEMA_VERSION,
        "invitation_id": invite.id,
        "client": {"id": client.id, "label": client.label},
        "result_id": submission_id,
        "completed_at": (invite.completed_at or utcnow()).isoformat(timespec="seconds"),
        "shared_earlier_result": invite.shared_receipt,
        "instrument": dict(instrument),
        **(scores(report) if report is not None else {"scales": None, "closest_pattern": None}),
    }
    return _event(COMPLETED, data, utcnow())


def ping_event(endpoint: WebhookEndpoint) -> bytes:
    return _event(
        PING,
        {
            "schema_version": SCHEMA_VERSION,
            "endpoint_id": endpoint.id,
            "message": "A test event from Secure Base.",
        },
        utcnow(),
    )


def queue_event(
    session: Session,
    targets: Sequence[WebhookEndpoint],
    event: str,
    body: bytes,
    *,
    client_id: int | None = None,
    attempts: int,
) -> list[WebhookDelivery]:
    """A pending delivery of ``body`` for each endpoint that is on (the caller commits it
    with what the event is about, so an event exists exactly when its cause was stored)."""
    rows = [
        WebhookDelivery(
            endpoint_id=e.id,
            client_id=client_id,
            event=event,
            body=body,
            message_id="msg_" + secrets.token_urlsafe(18),
            status="pending",
            attempts=0,
            max_attempts=attempts,
        )
        for e in targets
        if e.disabled_at is None
    ]
    session.add_all(rows)
    session.flush()
    return rows


def active_endpoints(session: Session, therapist_id: int) -> list[WebhookEndpoint]:
    return [e for e in endpoints(session, therapist_id) if e.disabled_at is None]
