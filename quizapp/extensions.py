"""Extension objects, created unbound and initialised in create_app."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

from .database import Database

csrf = CSRFProtect()
db = Database()
