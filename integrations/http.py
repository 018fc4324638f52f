"""JSON-over-HTTP client base: timeouts, retries with backoff, Retry-After, circuit breaker, call log."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from integrations.crypto import sm3_hex
from integrations.errors import PermanentError, TransientError

MAX_RETRY_AFTER_SECONDS = 30.0


@dataclass
class CallRecord:
    """One call to an external system, as the call log keeps it: digests, never clear personal data."""

    system: str
    operation: str
    direction: str
    business_key: str | None
    request_sm3: str
    response_sm3: str | None
    status: str
    http_status: int | None
    latency_ms: float
    attempts: int
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    error: str | None = None


CallSink = Callable[[CallRecord], None]


def discard_record(record: CallRecord) -> None:
    """A sink that keeps nothing (for command-line use without a database)."""


@dataclass
class HttpSettings:
    """Timeouts and retry policy of one client."""

    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    retries: int = 2
    backoff_seconds: float = 0.2
    circuit_failures: int = 5
    circuit_reset_seconds: float = 30.0


class CircuitBreaker:
    """Opens after N consecutive transient failures; lets one trial call through after a pause."""

    def __init__(self, failures: int, reset_seconds: float) -> None:
        self.failures = failures
        self.reset_seconds = reset_seconds
        self._count = 0
        self._opened_at: float | None = None
        self._lock = threading.Lock()

    def check(self) -> float | None:
        """None when a call may go ahead; else the seconds until the next trial."""
        with self._lock:
            if self._opened_at is None:
                return None
            waited = time.monotonic() - self._opened_at
            if waited >= self.reset_seconds:
                self._opened_at = time.monotonic()  # half-open: this caller is the trial
                return None
            return self.reset_seconds - waited

    def success(self) -> None:
        """Close the circuit."""
        with self._lock:
            self._count = 0
            self._opened_at = None

    def failure(self) -> None:
        """Count a transient failure; open the circuit at the threshold."""
        with self._lock:
            self._count += 1
            if self._count >= self.failures:
                self._opened_at = time.monotonic()

    @property
    def is_open(self) -> bool:
        """True while calls are being refused."""
        return self._opened_at is not None


class JsonHttpClient:
    """Base of every external-system client. Subclasses add typed operations."""

    system = "external"

    def __init__(
        self,
        base_url: str,
        settings: HttpSettings | None = None,
        sink: CallSink = discard_record,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.settings = settings or HttpSettings()
        self.sink = sink
        self.session = session or requests.Session()
        self.breaker = CircuitBreaker(self.settings.circuit_failures, self.settings.circuit_reset_seconds)

    def call(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        business_key: str | None = None,
        required: Iterable[str] = (),
        parse: Callable[[dict[str, Any]], Any] | None = None,
    ) -> Any:
        """Send one request (retrying transient failures); return the JSON object, or `parse` of it.

        `parse` runs inside the call so that an answer it rejects is logged with its error code.
        """
        payload = json.dumps(body or {}, ensure_ascii=False, sort_keys=True).encode("utf-8")
        started = time.perf_counter()
        attempts = 0
        response_bytes: bytes | None = None
        http_status: int | None = None
        try:
            while True:
                attempts += 1
                try:
                    http_status, response_bytes = self._send_once(method, path, payload)
                    result = self._decode(response_bytes, http_status, required)
                    if parse is not None:
                        result = parse(result)
                    self.breaker.success()
                    self._log(operation, business_key, payload, response_bytes, "ok", http_status, started, attempts)
                    return result
                except TransientError as exc:
                    if exc.code != "CIRCUIT_OPEN":
                        self.breaker.failure()
                    if attempts > self.settings.retries or exc.code == "CIRCUIT_OPEN":
                        raise
                    time.sleep(self._delay(attempts, exc.retry_after))
        except (TransientError, PermanentError) as exc:
            self._log(
                operation,
                business_key,
                payload,
                response_bytes,
                exc.code,
                exc.status,
                started,
                attempts,
                error=str(exc),
            )
            raise

    def _send_once(self, method: str, path: str, payload: bytes) -> tuple[int, bytes]:
        wait = self.breaker.check()
        if wait is not None:
            raise TransientError("CIRCUIT_OPEN", f"{self.system} circuit open", system=self.system, retry_after=wait)
        try:
            response = self.session.request(
                method,
                self.base_url + path,
                data=payload if method != "GET" else None,
                headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"},
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
            )
        except requests.Timeout as exc:
            raise TransientError("TIMEOUT", f"{self.system} timed out", system=self.system) from exc
        except requests.ConnectionError as exc:
            raise TransientError("CONNECTION_FAILED", f"{self.system} unreachable", system=self.system) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            raise TransientError(
                "RATE_LIMITED" if status == 429 else "SERVER_ERROR",
                f"{self.system} answered {status}",
                system=self.system,
                status=status,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 400:
            code = _error_code(response.content) or f"HTTP_{status}"
            raise PermanentError(
                code, f"{self.system} refused the request ({status} {code})", system=self.system, status=status
            )
        return status, response.content

    def _decode(self, content: bytes, status: int, required: Iterable[str]) -> dict[str, Any]:
        try:
            value = json.loads(content)
        except ValueError as exc:
            raise PermanentError(
                "MALFORMED_RESPONSE", f"{self.system} sent invalid JSON", system=self.system, status=status
            ) from exc
        if not isinstance(value, dict):
            raise PermanentError(
                "MALFORMED_RESPONSE", f"{self.system} sent a non-object", system=self.system, status=status
            )
        missing = [name for name in required if name not in value]
        if missing:
            raise PermanentError(
                "INCOMPLETE_RESPONSE",
                f"{self.system} response lacks {', '.join(missing)}",
                system=self.system,
                status=status,
            )
        return value

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, MAX_RETRY_AFTER_SECONDS)
        return self.settings.backoff_seconds * (2 ** (attempt - 1))

    def _log(
        self,
        operation: str,
        business_key: str | None,
        request: bytes,
        response: bytes | None,
        status: str,
        http_status: int | None,
        started: float,
        attempts: int,
        error: str | None = None,
    ) -> None:
        self.sink(
            CallRecord(
                system=self.system,
                operation=operation,
                direction="outbound",
                business_key=business_key,
                request_sm3=sm3_hex(request),
                response_sm3=sm3_hex(response) if response is not None else None,
                status=status,
                http_status=http_status,
                latency_ms=round((time.perf_counter() - started) * 1000, 2),
                attempts=attempts,
                error=error,
            )
        )


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        return None


def _error_code(content: bytes) -> str | None:
    try:
        value = json.loads(content)
    except ValueError:
        return None
    code = value.get("code") if isinstance(value, dict) else None
    return str(code) if code else None
