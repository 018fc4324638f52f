"""Load-balancer probes: /healthz (process alive) and /readyz (database and Redis reachable)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from processes.health import readiness

ops = Blueprint("ops", __name__)


@ops.get("/healthz")
def healthz() -> Any:
    """The process answers."""
    return {"status": "ok"}


@ops.get("/readyz")
def readyz() -> Any:
    """Ready when every dependency answers; 503 names the one that does not."""
    checks = readiness()
    ok = all(c["ok"] for c in checks.values())
    return {"status": "ready" if ok else "not_ready", "checks": checks}, 200 if ok else 503
