"""API: a channel's (or ops client's) user tasks: list, read, complete."""

from __future__ import annotations

from typing import Any

from flask import request

from processes import tasks as service
from processes.errors import BadRequest
from processes.instances import describe, task_summary
from webapp.api import actor, api_v1, json_body, paging, platform


@api_v1.get("/tasks")
def list_tasks() -> Any:
    """A page of the caller's tasks with filters status, process_key, business_key."""
    page, per_page = paging(platform().settings.API_PAGE_SIZE_MAX)
    filters = service.TaskFilter(
        process_key=request.args.get("process_key") or None,
        business_key=request.args.get("business_key") or None,
        status=request.args.get("status", "ready"),
    )
    rows, total = service.list_tasks(actor(), filters, page, per_page)
    return {"items": [task_summary(platform(), t) for t in rows], "page": page, "per_page": per_page, "total": total}


@api_v1.get("/tasks/<int:task_id>")
def read_task(task_id: int) -> Any:
    """One task with its form definition."""
    return task_summary(platform(), service.get_task(task_id, actor()))


@api_v1.post("/tasks/<int:task_id>/complete")
def complete(task_id: int) -> Any:
    """Complete a task with form data; 422 lists each bad field, 409 if it was already done."""
    body = json_body()
    if "data" not in body:
        raise BadRequest("FIELD_REQUIRED", "缺少 data", {"field": "data"})
    task, instance = service.complete_task(platform(), task_id, body["data"], actor())
    return {"task": task_summary(platform(), task), "instance": describe(platform(), instance, actor())}
