"""One logging set-up for the web app, the renderer and the commands, with secrets masked.

Every line goes through :class:`RedactingFormatter`, which masks receipt codes (also in a
``Receipt-Code`` header), the tokens of invitation and password-reset links, API tokens (also
in an ``Authorization`` header, whatever their length), and e-mail addresses in the whole
formatted text: the
message, its arguments, the request path of an error ("Exception on /r/<code> [GET]") and any
traceback. The log says that something happened to a result, never which one. Lines are plain
text, or JSON objects one per line (``QUIZAPP_LOG_FORMAT=json``) for a log collector; either
way each text is masked before it is written. Plain Python.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import TextIO

# 28 letters and digits, in groups of four with or without dashes, as a person may type one.
RECEIPT = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{4}(?:-?[0-9A-Za-z]{4}){6}(?![0-9A-Za-z])")
LINK_TOKEN = re.compile(r"(/(?:invite|reset)/)[A-Za-z0-9_~.%-]+")
LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])")
BEARER = re.compile(r"(?i)(\bbearer\s+|receipt-code[\"']?\s*[:=]\s*[\"']?)[^\s\"',;]+")
API_TOKEN = re.compile(r"sbpat_[A-Za-z0-9_-]*")
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def redact(text: str) -> str:
    """``text`` with header credentials, receipt codes, link tokens, API tokens, long random
    tokens and e-mail addresses replaced by a mark of their kind."""
    text = BEARER.sub(r"\1[secret]", text)
    text = API_TOKEN.sub("[token]", text)
    text = EMAIL.sub("[e-mail]", text)
    text = LINK_TOKEN.sub(r"\1[token]", text)
    text = RECEIPT.sub("[receipt code]", text)
    return LONG_TOKEN.sub("[token]", text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and, after a failure, the
    traceback, each masked before it is encoded (so a mask never breaks the JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                 "level": record.levelname, "logger": record.name,
                 "message": redact(record.getMessage())}  # fmt: skip
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False)


def configure(
    level: int = logging.INFO, stream: TextIO | None = None, json_lines: bool = False
) -> logging.Handler:
    """Send every log line to ``stream`` (stderr) through :class:`RedactingFormatter` (or
    :class:`JsonLinesFormatter`), as the only handler of the root logger; Flask's own handler
    on the app logger is removed by the app (records reach the root logger instead). Safe to
    call again: it replaces itself."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter() if json_lines else RedactingFormatter(FORMAT))
    handler.name = "quizapp"
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.name == "quizapp"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in ("weasyprint", "fontTools"):  # a line per layout step of every report
        logging.getLogger(chatty).setLevel(logging.WARNING)
    return handler
