"""The staff inbox: a small Flask app over :mod:`bot.staff.handoff` and :mod:`bot.staff.accounts`.

``create_app(settings, engine)`` builds it; ``python -m web`` serves it on
loopback. It keeps no state in the process (logins live in the database, live
updates are polled), so several workers can serve one practice. Every page and
API needs a login; every POST needs the login's CSRF token.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable

from flask import Flask
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from bot.db import engine_for
from bot.settings import Settings, get_settings


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               clock: Callable[[], datetime] | None = None) -> Flask:
    """The inbox app; ``clock`` (aware datetimes) lets tests stand on any date."""
    settings = settings or get_settings()
    engine = engine or engine_for(settings.database_url)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.staff_secret_key,  # signs flashed messages only
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.staff_cookie_secure,  # Flask's own cookie carries flashed messages
        MAX_CONTENT_LENGTH=256 * 1024,
        STAFF_SETTINGS=settings,
        STAFF_CLOCK=clock or (lambda: datetime.now(timezone.utc)),
    )
    app.extensions["staff_engine"] = engine
    if settings.staff_trusted_proxies:
        # Behind a reverse proxy the client address (the login lockout's key) and https come from its headers.
        n = settings.staff_trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]

    from web import admin, auth, bills_api, broadcasts, inbox, reports

    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(inbox.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(bills_api.bp)
    app.register_blueprint(broadcasts.bp)
    return app
