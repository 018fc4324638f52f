"""BPMN timers: due timers become jobs (each claimed by one scheduler), and a timer job advances its instance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from models import OutboxJob, ProcessTimer, db, utcnow
from processes.jobs.kinds import RUNNABLE, enqueue, finish_job, job_kind
from processes.platform import Platform
from processes.stepping import ACTIVE, Actor, lock_instance, persist_step
from processes.unit_of_work import transaction


def claim_due_timers(platform: Platform, limit: int = 200) -> int:
    """Turn due timers into jobs; a timer is claimed by exactly one scheduler (conditional update)."""
    now = utcnow()
    due = db.session.execute(
        select(ProcessTimer.id, ProcessTimer.instance_id, ProcessTimer.task_uuid)
        .where(ProcessTimer.status == "pending", ProcessTimer.due_at <= now)
        .order_by(ProcessTimer.due_at)
        .limit(limit)
    ).all()
    db.session.rollback()
    claimed = 0
    for timer_id, instance_id, task_uuid in due:
        with transaction():
            won = db.session.execute(
                update(ProcessTimer)
                .where(ProcessTimer.id == timer_id, ProcessTimer.status == "pending")
                .values(status="fired", fired_at=now)
            ).rowcount
            if won:
                enqueue(
                    platform,
                    "fire_timer",
                    {"task_uuid": task_uuid},
                    instance_id=instance_id,
                    dedupe_key=f"timer:{timer_id}",
                )
                claimed += 1
    return claimed


@job_kind("fire_timer")
def _fire_timer(
    platform: Platform, job_id: int, instance_id: int, payload: dict[str, Any], request_id: str | None
) -> str:
    with transaction():
        job = db.session.get(OutboxJob, job_id)
        instance = lock_instance(instance_id)
        if job.status not in RUNNABLE:
            return "skipped"
        if instance is None or instance.status not in ACTIVE:
            finish_job(job_id, "done", "instance not active")
            return "skipped"
        if instance.suspended:
            job.available_at = utcnow() + timedelta(seconds=60)  # fire once resumed
            job.status = "pending"
            return "deferred"
        workflow = platform.engine.load(instance.snapshot, instance.public_id)
        finish_job(job_id, "done")
        persist_step(
            platform,
            instance,
            workflow,
            Actor.system(request_id),
            "timer_fired",
            details={"task_uuid": payload["task_uuid"]},
        )
    return "done"
