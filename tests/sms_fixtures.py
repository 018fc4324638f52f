"""Fixtures of the SMS tests (B2, B3), loaded with `pytest_plugins`: apps with fast SMS settings, rate limits."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests

from processes.platform import get_platform
from processes.sms import SmsOutbox
from processes.sms_templates import ensure_default_templates
from tests.sms_support import FAST


@pytest.fixture
def make_sms_app(make_app, app) -> Callable:
    """Factory of apps with fast SMS settings and the B3 templates; `app` empties the shared database after."""

    def factory(**overrides):
        application = make_app(**{**FAST, **overrides})
        platform = get_platform(application)
        platform.clients.setdefault("sms_outbox", SmsOutbox(platform))  # until the platform registers it
        with application.app_context():
            ensure_default_templates()
        return application

    return factory


@pytest.fixture
def sms_app(make_sms_app):
    """An app with fast SMS settings."""
    return make_sms_app()


@pytest.fixture
def sms_limits(simulator) -> Iterator[Callable[[int, float], None]]:
    """Set the SMS platform's per-mobile rate limit; the default comes back afterwards."""

    def set_limits(per_mobile: int, window_seconds: float) -> None:
        body = {"per_mobile": per_mobile, "window_seconds": window_seconds}
        requests.post(simulator.url + "/sms/_admin/limits", json=body, timeout=5).raise_for_status()

    yield set_limits
    requests.delete(simulator.url + "/sms/_admin/limits", timeout=5).raise_for_status()
