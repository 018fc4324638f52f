"""Dependency checks for readiness probes."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from models import db
from processes.platform import get_platform


def readiness() -> dict[str, dict[str, Any]]:
    """{'database': {...}, 'redis': {...}} with ok flags and latency in ms."""
    checks: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
        checks["database"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    except Exception as exc:
        db.session.rollback()
        checks["database"] = {"ok": False, "error": type(exc).__name__}
    runner = get_platform().jobs
    redis = getattr(runner, "redis", None)
    if redis is not None:
        started = time.perf_counter()
        try:
            redis.ping()
            checks["redis"] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
        except Exception as exc:
            checks["redis"] = {"ok": False, "error": type(exc).__name__}
    return checks
