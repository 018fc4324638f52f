"""Helpers for the browser journeys: screenshots and the real two-factor sign-in through the pages."""

from __future__ import annotations

from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"


def shot(page, name: str) -> Path:
    """Write a full-page screenshot of a main page to tests/browser/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, server, role: str, factor: str = "ukey") -> str:
    """Sign a demo user in through the login pages: password, then the UKey signature or the SMS code."""
    from tests.webapp.auth_support import DEMO_LOGINS, TEST_PASSWORD, demo_key, ensure_demo_user, latest_sms_code

    username = DEMO_LOGINS[role]
    ensure_demo_user(server.app, username)
    page.goto(server.url + "/login")
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/login/factor**")
    if factor == "ukey":
        if page.locator("#ukey-challenge").count() == 0:
            page.click("#tab-ukey")
        challenge = page.get_attribute("#ukey-challenge", "data-challenge")
        page.fill("#signature", demo_key(username).sign(bytes.fromhex(challenge)).hex())
        page.click("#ukey-submit")
    else:
        if page.locator("#sms-send").count() == 0:
            page.click("#tab-sms")
        page.click("#sms-send")
        page.wait_for_selector("#code")
        page.fill("#code", latest_sms_code(server.app, username))
        page.click("#sms-submit")
    page.wait_for_selector("#current-user")
    return username
