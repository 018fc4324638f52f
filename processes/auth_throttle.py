"""Sign-in flood limits (S2): attempts per client IP and per username in a sliding window, checked before any
password hashing so a flood costs the server almost nothing.

The window is kept in this process (each web worker counts on its own: the effective limit is the setting times
the number of workers), which needs no shared store and no write per attempt.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import deque
from typing import Any

from processes.errors import ProcessError


class TooManySignIns(ProcessError):
    """Too many sign-in attempts from this address or for this account (429)."""

    status = 429


class SlidingWindow:
    """Attempt times per key within the last `window` seconds (thread-safe; idle keys are dropped)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float, now: float | None = None) -> bool:
        """Count one attempt; False (not counted) when `limit` attempts already fall in the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            if len(self._hits) > 10_000:  # a flood of distinct keys: forget the ones with nothing in the window
                for stale in [k for k, v in self._hits.items() if not v or v[-1] <= now - window]:
                    del self._hits[stale]
            return True

    def clear(self) -> None:
        """Forget every count (tests, or an operator after a false alarm)."""
        with self._lock:
            self._hits.clear()


# One window per platform (i.e. per app in this process): apps made for tests start from zero.
_windows: weakref.WeakKeyDictionary[Any, SlidingWindow] = weakref.WeakKeyDictionary()
_windows_lock = threading.Lock()


def _window() -> SlidingWindow:
    from processes.platform import get_platform

    platform = get_platform()
    with _windows_lock:
        return _windows.setdefault(platform, SlidingWindow())


def admit(settings: Any, ip: str | None, username: str) -> str | None:
    """Count a sign-in attempt; the limit it broke ("ip" or "username"), or None when it may go ahead."""
    window, seconds = _window(), settings.LOGIN_RATE_WINDOW_SECONDS
    if ip and not window.hit("ip:" + ip, settings.LOGIN_RATE_PER_IP, seconds):
        return "ip"
    if username and not window.hit("user:" + username, settings.LOGIN_RATE_PER_USERNAME, seconds):
        return "username"
    return None


def reset() -> None:
    """Forget every count of this app."""
    _window().clear()
