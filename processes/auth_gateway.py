"""Security gateway (S3) request checks that need storage: each signed request's nonce is accepted once.

Redis (SET NX EX) when REDIS_URL is set, else the `gateway_nonce` table whose primary key refuses a second
insert in any process. A store that cannot answer refuses the request rather than risk a replay.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from models import db, utcnow
from models.security import GatewayNonce


class NonceStoreDown(Exception):
    """The replay cache did not answer."""


class _RedisNonces:
    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, nonce: str, ttl_seconds: int) -> bool:
        import redis

        try:
            return bool(self._redis.set(f"permitflow:gateway:nonce:{nonce}", b"1", nx=True, ex=ttl_seconds))
        except redis.RedisError as exc:
            raise NonceStoreDown(str(exc)) from exc


class _DatabaseNonces:
    PURGE_EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self._next_purge = 0.0

    def add(self, nonce: str, ttl_seconds: int) -> bool:
        now, table = utcnow(), GatewayNonce.__table__
        try:
            # Own connection: the request's session must not decide whether the nonce sticks.
            with db.engine.begin() as connection:
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + self.PURGE_EVERY_SECONDS
                    connection.execute(delete(table).where(table.c.expires_at < now))
                else:
                    connection.execute(delete(table).where(table.c.nonce == nonce, table.c.expires_at < now))
                connection.execute(insert(table).values(nonce=nonce, expires_at=now + timedelta(seconds=ttl_seconds)))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise NonceStoreDown(str(exc)) from exc
        return True


_lock = threading.Lock()


def first_use(platform: Any, nonce: str, ttl_seconds: int) -> bool:
    """True the first time a gateway nonce is seen within ttl_seconds (any process), False on a replay."""
    store = platform.__dict__.get("_gateway_nonces")
    if store is None:
        with _lock:
            store = platform.__dict__.get("_gateway_nonces")
            if store is None:
                url = platform.settings.REDIS_URL
                store = _RedisNonces(url) if url else _DatabaseNonces()
                platform.__dict__["_gateway_nonces"] = store
    return store.add(nonce, ttl_seconds)
