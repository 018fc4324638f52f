"""Replay protection: a nonce is accepted once per app within its lifetime (Redis SET NX EX, or in-process)."""

from __future__ import annotations

import threading
import time
from typing import Any

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


_lock = threading.Lock()


def nonce_store(platform: Any) -> MemoryNonceStore | RedisNonceStore:
    """The platform's nonce store: Redis when REDIS_URL is set, else in-process (created once)."""
    store = platform.__dict__.get("_mca_nonce_store")
    if store is None:
        with _lock:
            store = platform.__dict__.get("_mca_nonce_store")
            if store is None:
                url = platform.settings.REDIS_URL
                store = RedisNonceStore(url) if url else MemoryNonceStore()
                platform.__dict__["_mca_nonce_store"] = store
    return store
