"""Failures of external systems: transient ones are worth retrying, permanent ones are not."""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every external-system failure; `code` is machine-readable."""

    def __init__(self, code: str, message: str, *, system: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.system = system
        self.status = status


class TransientError(IntegrationError):
    """Timeouts, connection failures, 5xx, 429 and an open circuit: try again later."""

    def __init__(
        self, code: str, message: str, *, system: str = "", status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(code, message, system=system, status=status)
        self.retry_after = retry_after


class PermanentError(IntegrationError):
    """The request was refused or the answer is unusable: retrying the same call will not help."""
