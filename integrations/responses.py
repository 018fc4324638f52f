"""Strict conversion of decoded answers into the frozen dataclasses the clients return, and file helpers."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

from integrations.crypto import sm3_hex
from integrations.errors import PermanentError
from integrations.http import JsonHttpClient

T = TypeVar("T")


def malformed(system: str, where: str) -> PermanentError:
    """The error for an answer whose shape or types are wrong."""
    return PermanentError("MALFORMED_RESPONSE", f"{system} {where} is malformed", system=system)


def required_fields(cls: type) -> tuple[str, ...]:
    """Names of the dataclass fields without a default: the keys an answer must carry."""
    return tuple(
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def build(cls: type[T], data: Any, system: str, **given: Any) -> T:
    """An instance of `cls` from a JSON object, type-checked field by field; `given` fields taken as is."""
    if not isinstance(data, dict):
        raise malformed(system, cls.__name__)
    hints, values = _hints(cls), {}
    for f in dataclasses.fields(cls):
        if f.name in given:
            values[f.name] = given[f.name]
        elif f.name in data:
            values[f.name] = _convert(data[f.name], hints[f.name], system, f"{cls.__name__}.{f.name}")
        elif f.name in required_fields(cls):
            raise malformed(system, f"{cls.__name__}.{f.name}")
    return cls(**values)


def call_as(
    client: JsonHttpClient,
    cls: type[T],
    operation: str,
    method: str,
    path: str,
    *,
    body: dict[str, Any] | None = None,
    business_key: str | None = None,
) -> T:
    """One call whose answer is exactly a `cls`: its fields without default are the required ones."""
    return client.call(
        operation,
        method,
        path,
        body=body,
        business_key=business_key,
        required=required_fields(cls),
        parse=lambda data: build(cls, data, client.system),
    )


def build_all(cls: type[T], items: Any, system: str) -> tuple[T, ...]:
    """A tuple of `cls` instances from a JSON array of objects."""
    if not isinstance(items, list):
        raise malformed(system, f"list of {cls.__name__}")
    return tuple(build(cls, item, system) for item in items)


def _convert(value: Any, hint: Any, system: str, where: str) -> Any:
    # JSON has one number type and no tuples: check strictly, then convert to the declared type.
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (arm,) = [a for a in args if a is not type(None)]
        return _convert(value, arm, system, where)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, system)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if not isinstance(value, list):
            raise malformed(system, where)
        return tuple(_convert(item, args[0], system, where) for item in value)
    if origin is Mapping:
        if not isinstance(value, dict):
            raise malformed(system, where)
        return types.MappingProxyType({k: _convert(v, args[1], system, where) for k, v in value.items()})
    if hint in (bool, str) and isinstance(value, hint):
        return value
    if hint in (int, float) and isinstance(value, int | float) and not isinstance(value, bool):
        if hint is int and not float(value).is_integer():
            raise malformed(system, where)
        return hint(value)
    if hint not in (bool, str, int, float):
        raise TypeError(f"{where}: unsupported field type {hint!r}")  # a programming error, not a bad answer
    raise malformed(system, where)


def encode_file(data: bytes) -> str:
    """Base64 text of file bytes, for request bodies."""
    return base64.b64encode(data).decode("ascii")


def decode_file(system: str, content: Any, digest: Any) -> bytes:
    """File bytes from base64, checked against the SM3 digest the system sent with them."""
    try:
        data = base64.b64decode(content, validate=True) if isinstance(content, str) else None
    except (binascii.Error, ValueError):
        data = None
    if data is None:
        raise malformed(system, "file content")
    if not isinstance(digest, str) or sm3_hex(data) != digest.lower():
        raise PermanentError("DIGEST_MISMATCH", f"{system} file content does not match its SM3 digest", system=system)
    return data
