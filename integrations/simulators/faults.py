"""Per-endpoint fault injection for the simulators: latency, error rate, outage, bad payloads."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass


@dataclass
class Fault:
    """What to do to calls of one endpoint."""

    latency_ms: int = 0
    error_rate: float = 0.0
    error_status: int = 500
    outage: bool = False
    fail_next: int = 0
    retry_after: int | None = None
    malformed: bool = False
    drop_fields: tuple[str, ...] = ()


class FaultBoard:
    """Thread-safe store of faults, keyed by endpoint name ('*' applies to all)."""

    def __init__(self, seed: int = 7) -> None:
        self._faults: dict[str, Fault] = {}
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.calls: dict[str, int] = {}

    def set(self, endpoint: str, fault: Fault) -> None:
        """Install a fault for an endpoint."""
        with self._lock:
            self._faults[endpoint] = fault

    def clear(self) -> None:
        """Remove every fault and reset call counters."""
        with self._lock:
            self._faults.clear()
            self.calls.clear()

    def snapshot(self) -> dict:
        """Current faults and call counts, for the admin endpoint."""
        with self._lock:
            return {"faults": {k: vars(v) for k, v in self._faults.items()}, "calls": dict(self.calls)}

    def apply(self, endpoint: str) -> tuple[int, int | None] | str | None:
        """Sleep for latency; return (status, retry_after) to fail, 'malformed', or None to answer normally."""
        with self._lock:
            self.calls[endpoint] = self.calls.get(endpoint, 0) + 1
            fault = self._faults.get(endpoint) or self._faults.get("*")
            if fault is None:
                return None
            fail = fault.outage or (fault.fail_next > 0) or (self._rng.random() < fault.error_rate)
            if fault.fail_next > 0:
                fault.fail_next -= 1
        if fault.latency_ms:
            time.sleep(fault.latency_ms / 1000)
        if fail:
            return (503 if fault.outage else fault.error_status, fault.retry_after)
        if fault.malformed:
            return "malformed"
        return None

    def dropped_fields(self, endpoint: str) -> tuple[str, ...]:
        """Fields to leave out of a response (to test missing-field handling)."""
        with self._lock:
            fault = self._faults.get(endpoint) or self._faults.get("*")
            return fault.drop_fields if fault else ()
