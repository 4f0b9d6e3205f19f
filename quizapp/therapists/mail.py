"""Outgoing e-mail: through SMTP when ``MAIL_SMTP_HOST`` is set, else into an outbox folder.

The outbox default (``instance/outbox``, one ``.eml`` file per message, also logged) lets the
whole therapist journey, password resets included, work on a fresh install with no mail server.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def build(config: dict[str, Any] | Any, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="secure-base.local")
    message.set_content(body)
    return message


def send(config: dict[str, Any] | Any, to: str, subject: str, body: str) -> None:
    """Send one plain-text message; SMTP errors propagate so the caller can say so."""
    message = build(config, to, subject, body)
    host = config.get("MAIL_SMTP_HOST")
    if host:
        port = int(config.get("MAIL_SMTP_PORT") or 587)
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            if config.get("MAIL_SMTP_STARTTLS"):
                smtp.starttls(context=ssl.create_default_context())
            if config.get("MAIL_SMTP_USER"):
                smtp.login(config["MAIL_SMTP_USER"], config.get("MAIL_SMTP_PASSWORD", ""))
            smtp.send_message(message)
        log.info("mail to %s sent through %s: %s", to, host, subject)
        return
    outbox = Path(config["MAIL_OUTBOX"])
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}.eml"
    path.write_bytes(bytes(message))
    log.warning("no SMTP server configured: mail to %s written to %s\n%s", to, path, body)
