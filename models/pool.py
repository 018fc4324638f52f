"""Connection-pool liveness checks that cost a round trip only when a connection may have gone stale."""

from __future__ import annotations

import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError

_STAMP = "permitflow_released_at"


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection on checkout only if it sat idle for `idle_seconds` or more.

    SQLAlchemy's pool_pre_ping pings on every checkout, i.e. once per transaction: a busy worker pays a
    round trip per step for connections it used a millisecond ago. A connection broken while in use
    (a server restart under load) still fails its next statement once; SQLAlchemy then invalidates the
    whole pool, so the retry gets fresh connections.
    """

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection, record) -> None:
        record.info[_STAMP] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _released(_dbapi_connection, record) -> None:
        record.info[_STAMP] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get(_STAMP, 0.0) < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("stale pooled connection") from exc
