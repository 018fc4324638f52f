"""Errors raised by the process services; each maps to one HTTP status and a machine-readable code."""

from __future__ import annotations

from typing import Any


class ProcessError(Exception):
    """Base of every expected error: a code, a Chinese message for people, details for machines."""

    status = 400

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def as_dict(self) -> dict[str, Any]:
        """The JSON error body."""
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequest(ProcessError):
    """Malformed input (400)."""

    status = 400


class Unauthorized(ProcessError):
    """No or wrong credentials (401)."""

    status = 401


class Forbidden(ProcessError):
    """Authenticated but not allowed (403)."""

    status = 403


class NotFound(ProcessError):
    """The thing does not exist or is not visible to the caller (404)."""

    status = 404


class Conflict(ProcessError):
    """The state changed underneath the caller: already done, or done by someone else (409)."""

    status = 409


class PayloadTooLarge(ProcessError):
    """The request body is over the limit (413)."""

    status = 413


class ValidationFailed(ProcessError):
    """Well-formed input that breaks a rule: field errors in details (422)."""

    status = 422


class EngineError(ProcessError):
    """The engine met something a valid deployment should have prevented (500-class, logged)."""

    status = 500


class DeploymentError(ProcessError):
    """A diagram failed validation; details list each problem."""

    status = 422
