"""Every staff endpoint is guarded by require_permission; only a short, explicit list is public."""

from __future__ import annotations

# Endpoints reachable without a staff session, each public by design: signing in (and the demo-only software
# UKey that signs the sign-in challenge; 404 in production), signing out, health probes, static files, and the
# landing page (which shows only the process names until someone signs in).
PUBLIC_ENDPOINTS = {
    "static",
    "auth.login",
    "auth.factor",
    "auth.send_code",
    "auth.verify",
    "auth.logout",
    "auth.software_ukey",
    "ops.healthz",
    "ops.readyz",
    "web.index",
}
# Interfaces with their own authentication (API clients, MCA signatures, SMS callbacks), never staff sessions.
PUBLIC_PREFIXES = ("/api/v1/", "/api/mca/v3/")


def _unguarded(app) -> list[str]:
    missing = []
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in PUBLIC_ENDPOINTS or rule.rule.startswith(PUBLIC_PREFIXES):
            continue
        view = app.view_functions[endpoint]
        if getattr(view, "required_permissions", None) is None:
            missing.append(f"{endpoint} {rule.rule}")
    return sorted(missing)


def test_every_endpoint_needs_a_permission_or_is_on_the_public_list(app):
    assert _unguarded(app) == []


def test_the_public_list_names_real_endpoints(app):
    """A renamed sign-in view must not leave a stale allowance behind."""
    assert set(app.view_functions) >= PUBLIC_ENDPOINTS


def test_the_check_finds_an_unguarded_view(make_app):
    app = make_app()
    app.add_url_rule("/_test/open", "test_open", lambda: "open")
    assert _unguarded(app) == ["test_open /_test/open"]
