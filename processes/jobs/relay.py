"""Moving due outbox rows to where they run: RQ when configured, else straight into this process."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select, update

from models import OutboxJob, db, utcnow

log = logging.getLogger(__name__)

# An 'enqueued' job not finished after this long is relayed again (Redis may have lost it).
REDELIVER_AFTER = timedelta(minutes=5)
JOB_FUNCTION = "processes.jobs.tasks.execute_outbox_job"


def due_job_ids(limit: int) -> list[int]:
    """Ids of pending jobs whose time has come, oldest first (an indexed range read)."""
    ids = (
        db.session.execute(
            select(OutboxJob.id)
            .where(OutboxJob.status == "pending", OutboxJob.available_at <= utcnow())
            .order_by(OutboxJob.available_at, OutboxJob.id)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    db.session.rollback()
    return list(ids)


def relay_to_rq(queue, limit: int) -> int:
    """Claim due jobs and push them to RQ; on a Redis failure put the claim back. Returns jobs pushed."""
    pushed = 0
    for job_id in due_job_ids(limit):
        attempts = db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id, OutboxJob.status == "pending")
            .values(status="enqueued", enqueued_at=utcnow())
            .returning(OutboxJob.attempts)
        ).scalar()
        db.session.commit()
        if attempts is None:  # another relay claimed it first
            continue
        try:
            # Job ids live in one Redis namespace: qualify them by queue so databases sharing Redis never clash.
            queue.enqueue(
                JOB_FUNCTION,
                job_id,
                job_id=f"{queue.name}-{job_id}-{attempts}",
                result_ttl=0,
                failure_ttl=7 * 24 * 3600,
            )
        except Exception as exc:  # Redis is down: the row stays pending and is relayed on a later pass
            db.session.execute(
                update(OutboxJob)
                .where(OutboxJob.id == job_id, OutboxJob.status == "enqueued")
                .values(status="pending", enqueued_at=None)
            )
            db.session.commit()
            log.warning("relay to redis failed, will retry: %s", exc)
            break
        pushed += 1
    return pushed


def redeliver_stale() -> int:
    """Return long-'enqueued' jobs to pending so that they are relayed again (execution is idempotent)."""
    count = db.session.execute(
        update(OutboxJob)
        .where(OutboxJob.status == "enqueued", OutboxJob.enqueued_at < utcnow() - REDELIVER_AFTER)
        .values(status="pending")
    ).rowcount
    db.session.commit()
    return count
