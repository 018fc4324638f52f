"""Bad input never yields a 500: every /api/v1 route, with hostile bodies, path values and query strings.

Each answer must be a JSON error (or a success) with a status below 500; nothing a client sends may crash a
request. The values are the kinds that break naive code: wrong JSON types, NUL characters (PostgreSQL text
cannot hold them), lone surrogates (not encodable as UTF-8), integers beyond 64 bits, very long strings.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.support import person as sim_person
from tests.support import register_key, start_registration

HOSTILE_VALUES = [None, 0, -1, 1.5, True, [], {}, "", "x" * 5000, "\u0000", "a\u0000b", "\ud800", 2**70, "１２３"]
DEEP = [b"[" * 5000 + b"]" * 5000, b'{"a":' * 40 + b"1" + b"}" * 40]
RAW_BODIES = [*DEEP, b"", b"{", b"[]", b"null", b'"text"', b"1e999", b"\xff\xfe", b'{"a": NaN}', b'{"data": "\\ud800"}']
PATH_VALUES = ["0", "-1", "99999999999999999999999", "x" * 300, "%00", "a%00b", "%ED%A0%80", "..%2F..", "null"]
QUERY_VALUES = ["", "-1", "0", "abc", "99999999999999999999999", "%00", "%ED%A0%80", "x" * 2000]
JSON = {"Content-Type": "application/json"}
FIELDS = (
    "business_key", "idempotency_key", "data", "message_name", "reason", "variables", "page", "per_page",
    "template_code", "mobile", "params", "name", "body", "placeholders", "active", "expected_version",
    "status", "message_id", "instance_id", "process_key",
)  # fmt: skip


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def keys(app):
    return {"channel": register_key(app, "channel_line"), "ops": register_key(app, kind="ops")}


def _routes(app) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if str(rule).startswith("/api/v1/") and "openapi" not in str(rule):
            out += [(method, str(rule)) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(out)


def _fill(rule: str, value: str) -> str:
    return re.sub(r"<(?:int:)?[a-z_]+>", value, rule)


def _problem(response, what: str) -> str | None:
    """Why this answer is wrong, or None: a 5xx, or an error without its code and Chinese message."""
    status = response.status_code
    if status >= 500:
        return f"{what} -> {status}: {response.get_data(as_text=True)[:200]}"
    if status >= 400:
        body = response.get_json(silent=True) or {}
        if not (body.get("code") and body.get("message")):
            return f"{what} -> {status} without code/message: {response.get_data(as_text=True)[:200]}"
    return None


def _send(client, method: str, url: str, key: str, **kwargs):
    return client.open(url, method=method, headers={"X-Api-Key": key, **kwargs.pop("headers", {})}, **kwargs)


def test_hostile_json_bodies_on_every_route_get_a_4xx_never_a_500(app, client, keys, drain):
    problems: list[str | None] = []
    started = start_registration(client, keys["channel"], sim_person("long")).get_json()
    drain()
    for method, rule in _routes(app):
        if method == "GET":
            continue
        url = _fill(rule, started["id"] if "instance_id" in rule else "1")
        for who, key in keys.items():
            for raw in RAW_BODIES:
                response = _send(client, method, url, key, data=raw, headers={"Content-Type": "application/json"})
                problems.append(_problem(response, f"{who} {method} {url} raw={raw!r}"))
            for field in FIELDS:
                for value in HOSTILE_VALUES:
                    body = json.dumps({field: value, "business_key": "BK-HOSTILE"})
                    response = _send(client, method, url, key, data=body, headers={"Content-Type": "application/json"})
                    problems.append(_problem(response, f"{who} {method} {url} {field}={value!r}"[:300]))
            data = dict(zip(FIELDS, HOSTILE_VALUES, strict=False))
            nested = json.dumps({"business_key": "BK-HOSTILE-2", "data": data, "variables": data})
            response = _send(client, method, url, key, data=nested, headers={"Content-Type": "application/json"})
            problems.append(_problem(response, f"{who} {method} {url} nested data"))
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40])


def test_hostile_path_values_and_query_strings_get_a_4xx_never_a_500(app, client, keys):
    problems: list[str | None] = []
    for method, rule in _routes(app):
        for who, key in keys.items():
            for value in PATH_VALUES:
                url = _fill(rule, value)
                if url == rule:
                    continue
                problems.append(_problem(_send(client, method, url, key, json={}), f"{who} {method} {url}"))
            if method != "GET" or "<" in rule:
                continue
            for name in ("page", "per_page", "status", "process_key", "business_key", "since", "until", "mobile"):
                for value in QUERY_VALUES:
                    url = f"{rule}?{name}={value}"
                    problems.append(_problem(_send(client, method, url, key), f"{who} GET {url[:200]}"))
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40])


def test_a_nul_character_or_a_lone_surrogate_is_refused_as_bad_characters_and_nothing_is_written(app, client, keys):
    from sqlalchemy import func, select

    from models import ProcessInstance, db

    start = "/api/v1/processes/residence_registration/instances"
    for value in ("BK\u0000", "BK\ud800"):
        body = json.dumps({"business_key": value, "data": {"name": "张三"}})
        response = _send(client, "POST", start, keys["channel"], data=body, headers=JSON)
        assert response.status_code == 400 and response.get_json()["code"] == "BAD_CHARACTERS"
        assert "不允许的字符" in response.get_json()["message"]
    listed = _send(client, "GET", "/api/v1/tasks?business_key=a%00b", keys["channel"])
    assert listed.status_code == 400 and listed.get_json()["code"] == "BAD_CHARACTERS"
    assert _send(client, "GET", "/api/v1/tasks/99999999999999999999999", keys["channel"]).status_code == 404
    for deep in DEEP:
        refused = _send(client, "POST", start, keys["channel"], data=deep, headers=JSON)
        assert refused.status_code == 400 and refused.get_json()["code"] == "JSON_TOO_DEEP"
    with app.app_context():
        assert db.session.execute(select(func.count()).select_from(ProcessInstance)).scalar_one() == 0
