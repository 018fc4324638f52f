"""Flask application factory: settings, database, platform, blueprints, errors, request ids."""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import Settings
from config.logging import configure_logging, request_id_var
from models import db
from models.pool import ping_when_idle
from processes.platform import init_app as init_platform

log = logging.getLogger("permitflow.web")


def create_app(settings: Settings | None = None, clients: dict[str, Any] | None = None) -> Flask:
    """Build a configured app; nothing starts until a command or server runs it."""
    settings = settings or Settings.from_env()
    configure_logging(settings.LOG_LEVEL, settings.LOG_JSON)
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.SECRET_KEY,
        SQLALCHEMY_DATABASE_URI=settings.DATABASE_URL,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(settings),
        MAX_CONTENT_LENGTH=settings.API_MAX_BODY_BYTES,
        JSON_AS_ASCII=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.PERMITFLOW_ENV == "production",
        PERMITFLOW_SETTINGS=settings,
    )
    app.json.ensure_ascii = False
    if settings.is_sqlite:
        _ensure_sqlite_pragmas()
    db.init_app(app)
    if not settings.is_sqlite:
        with app.app_context():
            ping_when_idle(db.engine, settings.DATABASE_PING_IDLE_SECONDS)
    init_platform(app, settings, clients)
    _register_request_ids(app)
    from webapp.input_guard import init_input_guard

    init_input_guard(app)  # before any route is added (the id converter) and before every other check
    from webapp.auth import init_auth

    init_auth(app)  # S2-S4: gateway, staff sessions, CSRF, audit actor, sign-in/user/audit pages

    from webapp.api import api_v1
    from webapp.api.mca import api_mca
    from webapp.errors import register_error_handlers
    from webapp.ops import ops
    from webapp.web import web

    app.register_blueprint(ops)
    app.register_blueprint(api_v1)
    app.register_blueprint(api_mca)  # MCA 3.0 interface (B1)
    app.register_blueprint(web)
    from webapp.staff.analyst import analyst

    app.register_blueprint(analyst)
    from webapp.staff import init_staff

    init_staff(app)  # staff shell helpers, inbox, approval queues, operations console (issue 6)
    register_error_handlers(app)
    return app


def _engine_options(settings: Settings) -> dict[str, Any]:
    if settings.is_sqlite:
        # The busy timeout lets concurrent writers queue instead of failing at once.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    return {
        "pool_size": settings.DATABASE_POOL_SIZE,
        "max_overflow": settings.DATABASE_POOL_SIZE,
        "pool_recycle": 1800,
    }


_pragmas_installed = False


def _ensure_sqlite_pragmas() -> None:
    global _pragmas_installed
    if _pragmas_installed:
        return

    @event.listens_for(Engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # pragma: no cover - exercised on every sqlite connect
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    _pragmas_installed = True


def _register_request_ids(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if 8 <= len(incoming) <= 64 and incoming.isascii() else secrets.token_hex(8)
        g.request_started = time.perf_counter()
        g.request_id_token = request_id_var.set(g.request_id)

    @app.after_request
    def _finish(response):
        response.headers["X-Request-ID"] = g.get("request_id", "")
        started = g.get("request_started")
        if started is not None:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
        return response

    @app.teardown_request
    def _reset(_exc) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)
