"""What the system simulators share: request validation, person look-up and idempotent stores."""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from integrations import idnumber
from integrations.simulators.app import _error
from integrations.simulators.dataset import Person, by_id_number, population

MOBILE = re.compile(r"^1[3-9]\d{9}$")
SM3_HEX = re.compile(r"^[0-9a-f]{64}$")


class Invalid(Exception):
    """A request the simulated system refuses: answered as {code, message} with the status."""

    def __init__(self, code: str, message: str, status: int = 422, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after


def blueprint(name: str, url_prefix: str) -> Blueprint:
    """A simulator blueprint whose views may raise Invalid."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)
    bp.register_error_handler(Invalid, _answer_invalid)
    return bp


def _answer_invalid(exc: Invalid) -> Response:
    response = _error(exc.code, exc.message, exc.status)
    if exc.retry_after is not None:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def now() -> str:
    """The current UTC time, ISO formatted, for receipts."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def json_body() -> dict[str, Any]:
    """The request's JSON object, or 400."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("BAD_REQUEST", "the body must be a JSON object", 400)
    return body


def text(body: dict[str, Any], name: str, *, max_len: int = 200, required: bool = True) -> str:
    """A string field, non-empty when required, at most max_len characters."""
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise Invalid("INVALID_FIELD", f"{name} must be a string of 1-{max_len} characters", 400)
    return value


def flag(body: dict[str, Any], name: str) -> bool:
    """An optional boolean field (false when absent)."""
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise Invalid("INVALID_FIELD", f"{name} must be true or false", 400)
    return value


def id_number(body: dict[str, Any], name: str = "id_number") -> str:
    """A valid resident ID number field."""
    value = body.get(name, "")
    if not isinstance(value, str) or idnumber.id_number_problem(value):
        raise Invalid("INVALID_ID", f"{name} is not a valid id number", 400)
    return value


def mobile(body: dict[str, Any], name: str = "mobile") -> str:
    """A mainland mobile number field (11 digits starting with 1)."""
    value = body.get(name, "")
    if not isinstance(value, str) or not MOBILE.match(value):
        raise Invalid("INVALID_MOBILE", f"{name} is not a valid mobile number", 400)
    return value


def iso_date(value: Any, name: str) -> date:
    """A YYYY-MM-DD value."""
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid("INVALID_DATE", f"{name} must be YYYY-MM-DD", 400) from None


def iso_datetime(value: Any, name: str) -> datetime:
    """An ISO 8601 date-time value."""
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise Invalid("INVALID_DATETIME", f"{name} must be an ISO 8601 date-time", 400) from None


def integer(value: Any, name: str, low: int, high: int) -> int:
    """An integer (or its decimal text, for query strings) between low and high."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if isinstance(value, bool) or not low <= number <= high:
        raise Invalid("INVALID_FIELD", f"{name} must be an integer from {low} to {high}", 400)
    return number


def sm3_field(body: dict[str, Any], name: str) -> str:
    """A lower-case hex SM3 digest field."""
    value = body.get(name, "")
    if not isinstance(value, str) or not SM3_HEX.match(value):
        raise Invalid("INVALID_FIELD", f"{name} must be 64 lower-case hex characters", 400)
    return value


def content(body: dict[str, Any], name: str = "content", max_bytes: int = 2 * 1024 * 1024) -> bytes:
    """A base64 file field, decoded."""
    value = body.get(name, "")
    try:
        data = base64.b64decode(value, validate=True) if isinstance(value, str) and value else None
    except (binascii.Error, ValueError):
        data = None
    if data is None or len(data) > max_bytes:
        raise Invalid("INVALID_CONTENT", f"{name} must be base64 of at most {max_bytes} bytes", 400)
    return data


def b64(data: bytes) -> str:
    """Base64 text of bytes, for answers."""
    return base64.b64encode(data).decode("ascii")


def seed() -> int:
    """The seed of the running simulators."""
    return current_app.config["SIM_SEED"]


def persons() -> tuple[Person, ...]:
    """The seeded population."""
    return population(seed())


def lookup(id_no: str, name: str = "") -> Person | None:
    """The person with this ID number (None if unknown); 422 when a given name does not match."""
    person = by_id_number(seed()).get(id_no)
    if person is not None and name and name != person.name:
        raise Invalid("NAME_MISMATCH", "name does not match the id number", 422)
    return person


def known(id_no: str, name: str = "") -> Person:
    """Like lookup, but 404 for an unknown person."""
    person = lookup(id_no, name)
    if person is None:
        raise Invalid("PERSON_NOT_FOUND", "no such person", 404)
    return person


class Store:
    """Records created by requests, idempotent on the caller's reference, found again by the id we gave."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._by_ref: dict[str, tuple[str, dict[str, Any]]] = {}
        self._by_id: dict[str, dict[str, Any]] = {}

    def remember(
        self, ref: str, body: dict[str, Any], create: Callable[[str], dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """(record, duplicate): the record made for `ref`, created with a new id on the first call."""
        fingerprint = json.dumps(body, sort_keys=True, ensure_ascii=False)
        with self._lock:
            if ref in self._by_ref:
                known_fingerprint, record = self._by_ref[ref]
                if known_fingerprint != fingerprint:
                    # The same reference with another content is a caller bug, not a retry.
                    raise Invalid("IDEMPOTENCY_CONFLICT", f"{ref} was already used with other content", 409)
                return record, True
            record = create(f"{self.prefix}{len(self._by_id) + 1:08d}")
            self._by_ref[ref] = (fingerprint, record)
            self._by_id[record["id"]] = record
            return record, False

    def has(self, ref: str) -> bool:
        """True when a record was already made for `ref`."""
        with self._lock:
            return ref in self._by_ref

    def get(self, record_id: str) -> dict[str, Any]:
        """The record with this id, or 404."""
        with self._lock:
            record = self._by_id.get(record_id)
        if record is None:
            raise Invalid("NOT_FOUND", f"{record_id} is unknown", 404)
        return record


def store(name: str, prefix: str) -> Store:
    """The app's store of that name (one per simulators app, so tests with their own app start clean)."""
    stores = current_app.extensions.setdefault("sim_stores", {})
    with _STORES_LOCK:
        return stores.setdefault(name, Store(prefix))


_STORES_LOCK = threading.Lock()
