"""Replay protection: a nonce is accepted once per app within its lifetime (Redis SET NX EX, or a database table).

Both work across processes and web nodes; the in-process store remains for unit use only.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from models import db, utcnow
from models.mca import McaNonce
from processes.errors import ProcessError


class NonceStoreUnavailable(ProcessError):
    """The nonce store cannot answer: refuse the call rather than risk a replay (503)."""

    status = 503


class MemoryNonceStore:
    """In-process store for the embedded single-process setup; expired nonces are pruned as time passes."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_prune = 0.0

    def add(self, key: str, ttl_seconds: int) -> bool:
        """True when the key was new (now stored until it expires), False when seen before."""
        now = time.monotonic()
        with self._lock:
            if now >= self._next_prune:
                self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
                self._next_prune = now + 10
            expires = self._seen.get(key)
            if expires is not None and expires > now:
                return False
            self._seen[key] = now + ttl_seconds
            return True


class RedisNonceStore:
    """Shared store for many web nodes: SET key 1 NX EX ttl is atomic, so two nodes never both accept."""

    def __init__(self, url: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def add(self, key: str, ttl_seconds: int) -> bool:
        """True when the key was new, False when seen before; NonceStoreUnavailable when Redis is down."""
        import redis

        try:
            return bool(self._redis.set(f"permitflow:mca:nonce:{key}", b"1", nx=True, ex=ttl_seconds))
        except redis.RedisError as exc:
            raise NonceStoreUnavailable("MCA_NONCE_STORE_UNAVAILABLE", "防重放服务暂不可用，请稍后重试") from exc


class DatabaseNonceStore:
    """Shared store without Redis: the primary key of mca_nonce refuses a second insert in any process."""

    PURGE_EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self._next_purge = 0.0

    def add(self, key: str, ttl_seconds: int) -> bool:
        """True when the key was new (stored until it expires), False when seen and not yet expired."""
        now = utcnow()
        table = McaNonce.__table__
        try:
            # Own connection and transaction: the request's session must not decide whether the nonce sticks.
            with db.engine.begin() as connection:
                if time.monotonic() >= self._next_purge:
                    self._next_purge = time.monotonic() + self.PURGE_EVERY_SECONDS
                    connection.execute(delete(table).where(table.c.expires_at < now))
                else:  # an expired row of this very key must not block it
                    connection.execute(delete(table).where(table.c.nonce_key == key, table.c.expires_at < now))
                connection.execute(insert(table).values(nonce_key=key, expires_at=now + timedelta(seconds=ttl_seconds)))
        except IntegrityError:
            return False
        except SQLAlchemyError as exc:
            raise NonceStoreUnavailable("MCA_NONCE_STORE_UNAVAILABLE", "防重放服务暂不可用，请稍后重试") from exc
        return True


_lock = threading.Lock()


def nonce_store(platform: Any) -> DatabaseNonceStore | RedisNonceStore:
    """The platform's nonce store: Redis when REDIS_URL is set, else the database table (created once)."""
    store = platform.__dict__.get("_mca_nonce_store")
    if store is None:
        with _lock:
            store = platform.__dict__.get("_mca_nonce_store")
            if store is None:
                url = platform.settings.REDIS_URL
                store = RedisNonceStore(url) if url else DatabaseNonceStore()
                platform.__dict__["_mca_nonce_store"] = store
    return store
