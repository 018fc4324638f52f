"""API: start processes, read instances, send messages, and (ops) suspend, resume, cancel, retry."""

from __future__ import annotations

from typing import Any

from flask import request

from processes import instances as service
from processes.errors import BadRequest
from processes.service_jobs import retry_incident
from webapp.api import actor, api_v1, json_body, platform, require_ops


def _wait_seconds() -> float:
    raw = request.args.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError as exc:
        raise BadRequest("BAD_WAIT", "wait 应为秒数") from exc
    limit = platform().settings.START_WAIT_MAX_SECONDS
    if not 0 <= wait <= limit:
        raise BadRequest("BAD_WAIT", f"wait 应在 0 到 {limit} 秒之间")
    return wait


@api_v1.post("/processes/<process_key>/instances")
def start(process_key: str) -> Any:
    """Start a process; repeating the same Idempotency-Key returns the first instance (200)."""
    body = json_body()
    wait = _wait_seconds()
    idempotency_key = request.headers.get("Idempotency-Key") or body.get("idempotency_key")
    instance, created = service.start_instance(
        platform(), process_key, body.get("business_key"), body.get("data", {}), actor(), idempotency_key
    )
    instance = service.wait_while_running(instance, wait)
    return service.describe(platform(), instance, actor()), 201 if created else 200


@api_v1.get("/instances/<instance_id>")
def read(instance_id: str) -> Any:
    """Status, current tasks and public result of an instance the caller may see."""
    instance = service.find_instance(instance_id, actor())
    return service.describe(platform(), instance, actor())


@api_v1.get("/instances/<instance_id>/history")
def history(instance_id: str) -> Any:
    """The instance's event history (operations clients only)."""
    require_ops()
    instance = service.find_instance(instance_id, actor())
    return {"events": service.history(instance)}


@api_v1.post("/messages")
def message() -> Any:
    """Correlate a message by name and business key."""
    body = json_body()
    instance = service.send_message(
        platform(), body.get("message_name"), body.get("business_key"), body.get("payload", {}), actor()
    )
    return service.describe(platform(), instance, actor())


def _state_change(instance_id: str, change) -> Any:
    require_ops()
    body = json_body()
    instance = change(platform(), instance_id, actor(), body.get("reason", ""))
    return service.describe(platform(), instance, actor())


@api_v1.post("/instances/<instance_id>/suspend")
def suspend(instance_id: str) -> Any:
    """Suspend an instance (reason required)."""
    return _state_change(instance_id, service.suspend_instance)


@api_v1.post("/instances/<instance_id>/resume")
def resume(instance_id: str) -> Any:
    """Resume a suspended instance."""
    return _state_change(instance_id, service.resume_instance)


@api_v1.post("/instances/<instance_id>/cancel")
def cancel(instance_id: str) -> Any:
    """Cancel an instance (reason required)."""
    return _state_change(instance_id, service.cancel_instance)


@api_v1.post("/incidents/<int:incident_id>/retry")
def retry(incident_id: int) -> Any:
    """Retry the failed service task of an incident once its cause is fixed."""
    require_ops()
    incident = retry_incident(platform(), incident_id, actor())
    return {"id": incident.id, "status": incident.status}
