"""Bad input never yields a 500 on the staff pages either: every page and form, as several roles, hostile values.

GET pages get hostile query strings and path values; forms get hostile field values (with a valid CSRF
token, so that the values reach the views). Every answer is a page, a redirect or a Chinese error page
with a status below 500.
"""

from __future__ import annotations

import re

import pytest

from tests.webapp.auth_support import csrf_token, sign_in

ROLES = ("clerk01", "approver1", "analyst01", "operator01", "sysadmin", "auditadmin")
QUERY_VALUES = ["abc", "99999999999999999999999", "%00", "%ED%A0%80", "x" * 2000]
QUERY_NAMES = ("page", "per_page", "status", "q", "id_number", "business_key", "since", "until", "month", "role")
PATH_VALUES = ["0", "99999999999999999999999", "x" * 300, "%00", "%ED%A0%80", "..%2F.."]
FORM_VALUES = ["", "x" * 5000, "\x00", "a\x00b", "99999999999999999999999", "-1", "2026-13-45"]
SKIP_POST = ("auth.",)  # sign-out and the sign-in steps would end the session under test


@pytest.fixture
def client(app):
    return app.test_client()


def _pages(app) -> list[tuple[str, str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        path = str(rule)
        if path.startswith(("/api/", "/static", "/healthz", "/readyz")):
            continue
        out += [(method, path, rule.endpoint) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return sorted(out)


def _fill(rule: str, value: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?[a-z_]+>", value, rule)


def _problem(response, what: str) -> str | None:
    if response.status_code >= 500:
        return f"{what} -> {response.status_code}"
    return None


@pytest.mark.parametrize("username", ROLES)
def test_every_page_answers_hostile_query_strings_and_path_values_without_a_500(app, client, username):
    sign_in(client, username)
    problems = []
    for method, rule, _endpoint in _pages(app):
        if method != "GET":
            continue
        if "<" in rule:
            for value in PATH_VALUES:
                url = _fill(rule, value)
                problems.append(_problem(client.get(url), f"{username} GET {url[:120]}"))
            continue
        for name in QUERY_NAMES:
            for value in QUERY_VALUES:
                url = f"{rule}?{name}={value}"
                problems.append(_problem(client.get(url), f"{username} GET {url[:120]}"))
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40])


@pytest.mark.parametrize("username", ("clerk01", "operator01", "sysadmin", "analyst01", "approver1"))
def test_every_form_answers_hostile_field_values_without_a_500(app, client, username):
    sign_in(client, username)
    token = csrf_token(client)
    problems = []
    for method, rule, endpoint in _pages(app):
        if method != "POST" or endpoint.startswith(SKIP_POST):
            continue
        url = _fill(rule, "1")
        for value in FORM_VALUES:
            fields = {name: value for name in (*QUERY_NAMES, "reason", "comment", "decision", "name", "mobile")}
            response = client.post(url, data={"csrf_token": token, **fields})
            problems.append(_problem(response, f"{username} POST {url} value={value[:20]!r}"))
    found = [p for p in problems if p]
    assert not found, f"{len(found)} bad answers:\n" + "\n".join(found[:40])
