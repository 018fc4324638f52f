"""SMS-platform (大数据中心短信平台) simulator: templates, a per-mobile rate limit, delivery reports."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from typing import Any

import requests
from flask import current_app

from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid

blueprint = common.blueprint("sim_sms", "/sms")

# Template code → (text, parameters). The platform keeps the texts; callers send only codes and values.
TEMPLATES: dict[str, tuple[str, tuple[str, ...]]] = {
    "REG_SUBMITTED": (
        "【上海居住证】{name}您好，您的居住登记申请（{business_no}）已提交成功。",
        ("name", "business_no"),
    ),
    "PRODUCTION_PROGRESS": ("【上海居住证】{name}您好，您的居住证制证进度：{stage}。", ("name", "stage")),
    "ENDORSE_REMIND": (
        "【上海居住证】{name}您好，您的居住证将于{due_date}到期，请及时办理签注。",
        ("name", "due_date"),
    ),
    "MATERIALS_SUPPLEMENT": ("【上海居住证】{name}您好，请补充以下材料：{materials}。", ("name", "materials")),
    "CARD_READY": ("【上海居住证】{name}您好，您的居住证已制作完成，请到{office}领取。", ("name", "office")),
    "CARD_ISSUED": ("【上海居住证】{name}您好，您的居住证（{permit_no}）已发放。", ("name", "permit_no")),
    "ENDORSE_DONE": (
        "【上海居住证】{name}您好，您的居住证已完成签注，有效期至{valid_until}。",
        ("name", "valid_until"),
    ),
    "DEREG_DONE": ("【上海居住证】{name}您好，您的居住登记（{registration_no}）已注销。", ("name", "registration_no")),
    "VERIFY_CODE": ("【上海居住证】您的验证码为{code}，5分钟内有效。", ("code",)),
}
MAX_TEXT = 500
DEFAULT_LIMIT = {"per_mobile": 5, "window_seconds": 60.0}


class RateLimiter:
    """At most `per_mobile` new messages to one mobile within a sliding window."""

    def __init__(self, per_mobile: int, window_seconds: float) -> None:
        self.per_mobile = per_mobile
        self.window_seconds = window_seconds
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, mobile: str) -> int:
        """0 and count the message when it may go now; else whole seconds until it may."""
        with self._lock:
            now = time.monotonic()
            sent = self._sent.setdefault(mobile, deque())
            while sent and now - sent[0] >= self.window_seconds:
                sent.popleft()
            if len(sent) >= self.per_mobile:
                return max(1, math.ceil(self.window_seconds - (now - sent[0])))
            sent.append(now)
            return 0


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault("sim_sms_limiter", RateLimiter(**DEFAULT_LIMIT))


@blueprint.post("/_admin/limits")
def set_limits() -> Any:
    """Change the rate limit (tests use short windows); counters restart."""
    body = common.json_body()
    per_mobile = common.integer(body.get("per_mobile"), "per_mobile", 1, 10_000)
    window = body.get("window_seconds")
    if not isinstance(window, int | float) or isinstance(window, bool) or not 0 < window <= 3600:
        raise Invalid("INVALID_FIELD", "window_seconds must be a number from 0 to 3600", 400)
    current_app.extensions["sim_sms_limiter"] = RateLimiter(per_mobile, float(window))
    return {"per_mobile": per_mobile, "window_seconds": float(window)}


@blueprint.delete("/_admin/limits")
def reset_limits() -> Any:
    """Back to the default rate limit, counters cleared."""
    current_app.extensions["sim_sms_limiter"] = RateLimiter(**DEFAULT_LIMIT)
    return dict(DEFAULT_LIMIT)


def _render(template_code: str, params: Any) -> str:
    if template_code not in TEMPLATES:
        raise Invalid("TEMPLATE_NOT_FOUND", f"no template {template_code}", 422)
    text, names = TEMPLATES[template_code]
    if not isinstance(params, dict) or not all(isinstance(params.get(n), str) and params[n] for n in names):
        raise Invalid("TEMPLATE_PARAMS", f"{template_code} needs the parameters {', '.join(names)}", 422)
    rendered = text.format(**{n: params[n] for n in names})
    if len(rendered) > MAX_TEXT:
        raise Invalid("TEXT_TOO_LONG", f"the message exceeds {MAX_TEXT} characters", 422)
    return rendered


@blueprint.post("/v1/messages")
def send() -> Any:
    """Accept a templated message; the same client_msg_id again returns the first answer and sends nothing."""
    body = common.json_body()
    client_msg_id = common.text(body, "client_msg_id", max_len=64)
    mobile = common.mobile(body)
    template_code = common.text(body, "template_code", max_len=40)
    _render(template_code, body.get("params"))
    callback_url = common.text(body, "callback_url", max_len=300, required=False)
    if callback_url and not callback_url.startswith(("http://", "https://")):
        raise Invalid("INVALID_FIELD", "callback_url must be an http(s) URL", 400)
    messages = common.store("sms.messages", "SMS")
    if not messages.has(client_msg_id):
        wait = _limiter().wait_seconds(mobile)
        if wait:
            raise Invalid("RATE_LIMITED", "too many messages to this mobile", 429, retry_after=wait)

    def create(msg_id: str) -> dict[str, Any]:
        # The platform knows the numbers in service: those of the seeded population.
        in_service = any(p.mobile == mobile for p in common.persons())
        return {
            "id": msg_id,
            "client_msg_id": client_msg_id,
            "accepted_at": common.now(),
            "status": "delivered" if in_service else "failed",
            "error_code": None if in_service else "EMPTY_NUMBER",
            "reported_at": common.now(),
        }

    record, duplicate = messages.remember(client_msg_id, body, create)
    if callback_url and not duplicate:
        threading.Thread(target=_report, args=(callback_url, _delivery(record)), daemon=True).start()
    return _guarded(
        "sms.send",
        {
            "msg_id": record["id"],
            "client_msg_id": client_msg_id,
            "status": "accepted",
            "accepted_at": record["accepted_at"],
            "duplicate": duplicate,
        },
    )


def _delivery(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "msg_id": record["id"],
        "client_msg_id": record["client_msg_id"],
        "status": record["status"],
        "error_code": record["error_code"],
        "reported_at": record["reported_at"],
    }


def _report(url: str, report: dict[str, Any]) -> None:
    # Best effort, like the real platform: an unreachable callback is the receiver's problem.
    with contextlib.suppress(requests.RequestException):
        requests.post(url, json=report, timeout=2)


@blueprint.get("/v1/messages/<msg_id>")
def delivery_status(msg_id: str) -> Any:
    """The delivery report of a message."""
    record = common.store("sms.messages", "SMS").get(msg_id)
    return _guarded("sms.status", _delivery(record))
