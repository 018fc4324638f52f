"""API: SMS templates, messages and their history (operations clients); the SMS platform's delivery webhook."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from processes import sms as service
from processes import sms_messages as messages
from processes import sms_templates as templates
from webapp.api import api_v1, json_body, paging, platform, require_ops

# The SMS platform calls back without an API key: it proves itself with the per-message signature in the URL
# we gave it (see processes.sms.callback_url). So the webhook lives outside api_v1 and its key check.
callbacks = Blueprint("sms_callbacks", __name__, url_prefix="/api/v1/callbacks")


@api_v1.record_once
def _register_callbacks(state) -> None:
    # Registered along with api_v1, so that the app factory needs no SMS-specific line.
    state.app.register_blueprint(callbacks)


@callbacks.post("/sms")
def sms_delivery_report() -> Any:
    """Delivery report from the SMS platform: ?sig=<HMAC-SM3 of the message> authenticates it."""
    return service.record_delivery_report(platform(), json_body(), request.args.get("sig"))


@api_v1.get("/sms/templates")
def list_templates() -> Any:
    """Every SMS template (operations clients only)."""
    require_ops()
    return {"items": [templates.describe_template(t) for t in templates.list_templates()]}


@api_v1.get("/sms/templates/<code>")
def read_template(code: str) -> Any:
    """One SMS template."""
    require_ops()
    return templates.describe_template(templates.get_template(code))


@api_v1.put("/sms/templates/<code>")
def save_template(code: str) -> Any:
    """Create (201) or change (200) a template; 422 lists each problem, 409 when expected_version is stale."""
    actor = require_ops()
    template, created = templates.save_template(code, json_body(), actor)
    return templates.describe_template(template), 201 if created else 200


@api_v1.post("/sms/messages")
def send_message() -> Any:
    """Send a (test) message; repeating the Idempotency-Key returns the first message (200)."""
    actor = require_ops()
    body = json_body()
    message, created = service.request_sms(
        platform(),
        body.get("template_code"),
        body.get("mobile"),
        body.get("params", {}),
        id_number=body.get("id_number"),
        business_key=body.get("business_key"),
        actor=actor,
        dedupe_key=request.headers.get("Idempotency-Key"),
    )
    return messages.describe_message(message), 202 if created else 200


@api_v1.get("/sms/messages")
def list_messages() -> Any:
    """A page of messages, newest first, filtered by status, template_code, business_key or mobile."""
    require_ops()
    page, per_page = paging(platform().settings.API_PAGE_SIZE_MAX)
    filters = messages.MessageFilter(
        status=request.args.get("status") or None,
        template_code=request.args.get("template_code") or None,
        business_key=request.args.get("business_key") or None,
        mobile=request.args.get("mobile") or None,
    )
    rows, total = messages.list_messages(filters, page, per_page)
    return {"items": [messages.describe_message(m) for m in rows], "page": page, "per_page": per_page, "total": total}


@api_v1.get("/sms/messages/<int:message_id>")
def read_message(message_id: int) -> Any:
    """One message with its text and status history."""
    require_ops()
    message = messages.get_message(message_id)
    return messages.describe_message(message, messages.message_history(message.id))
