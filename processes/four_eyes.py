"""Four-eyes rule for approval tasks (issue 6 item 5), read from the case's own history.

An approval task (approval level ≥ 1) may not be claimed, delegated to or completed by:
- the person who submitted the case (the instance's starter);
- anyone who completed an earlier step of the case at another level (the clerk who prepared it, or the
  level-1 approver when the task is level 2). Re-deciding at one's own level after a return is allowed.
The history is the append-only process_event table: who completed which task spec, and the spec's level
comes from the deployed definition's metadata.
"""

from __future__ import annotations

from sqlalchemy import select

from models import HumanTask, ProcessEvent, ProcessInstance, db
from processes.errors import Forbidden
from processes.platform import Platform
from processes.stepping import Actor, definition_meta

_ROLE_IN_CASE = {0: "本案前序经办人", 1: "本案一级审批人"}


def conflicts(platform: Platform, task: HumanTask) -> dict[str, str]:
    """{person: reason} of everyone the four-eyes rule excludes from this task (empty below level 1)."""
    if not task.approval_level:
        return {}
    instance = db.session.get(ProcessInstance, task.instance_id)
    excluded: dict[str, str] = {}
    if instance is not None and instance.started_by:
        excluded[instance.started_by] = "本案提交人"
    levels = {
        spec: int(info.get("approval_level") or 0)
        for spec, info in definition_meta(platform, instance.definition_id).get("user_tasks", {}).items()
    }
    events = db.session.execute(
        select(ProcessEvent.actor, ProcessEvent.task_spec).where(
            ProcessEvent.instance_id == task.instance_id, ProcessEvent.kind == "task_completed"
        )
    ).all()
    for actor_name, spec in events:
        level = levels.get(spec or "", 0)
        if level == task.approval_level or actor_name in excluded:
            continue
        excluded[actor_name] = (
            "本案一级审批人" if level == 1 else ("本案二级审批人" if level >= 2 else "本案前序经办人")
        )
    return excluded


def check(platform: Platform, task: HumanTask, actor: Actor, person: str | None = None) -> None:
    """Refuse (403 FOUR_EYES) when `person` (default: the actor) may not decide this approval task."""
    if actor.kind != "user" or not task.approval_level:
        return
    who = person or actor.name
    reason = conflicts(platform, task).get(who)
    if reason:
        raise Forbidden(
            "FOUR_EYES",
            f"双人复核：{who} 是{reason}，不能办理本级审批",
            {"task_id": task.id, "person": who, "approval_level": task.approval_level},
        )
