"""Registry of outbox job kinds, and the one way to add a job to the outbox."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, update

from models import OutboxJob, db, utcnow
from processes.unit_of_work import after_commit_batch

# (platform, job id, instance id, payload, request id) -> outcome ('done', 'retry', 'skipped', …)
JobHandler = Callable[[Any, int, int | None, dict[str, Any], str | None], str]

# Modules whose import registers job kinds; loaded on first lookup so that importing this module is cheap.
BUILTIN_MODULES = (
    "processes.service_jobs",
    "processes.timer_jobs",
    "processes.sms",
    "processes.audit_verify",
    "processes.queries.exports",
)
RUNNABLE = ("pending", "enqueued")

_KINDS: dict[str, JobHandler] = {}
_loaded = False


def job_kind(name: str) -> Callable[[JobHandler], JobHandler]:
    """Register the function that runs outbox jobs of this kind."""

    def register(func: JobHandler) -> JobHandler:
        if name in _KINDS and _KINDS[name] is not func:
            raise ValueError(f"job kind {name!r} registered twice")
        _KINDS[name] = func
        return func

    return register


def handler_for(kind: str) -> JobHandler | None:
    """The function for a job kind, or None."""
    global _loaded
    if not _loaded:
        for module in BUILTIN_MODULES:
            importlib.import_module(module)
        _loaded = True
    return _KINDS.get(kind)


def job_row(
    kind: str,
    payload: dict[str, Any],
    *,
    instance_id: int | None = None,
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The column values of a new outbox job."""
    return {
        "kind": kind,
        "payload": payload,
        "instance_id": instance_id,
        "dedupe_key": dedupe_key,
        "available_at": available_at or utcnow(),
        "request_id": request_id,
    }


def enqueue(
    platform: Any,
    kind: str,
    payload: dict[str, Any],
    *,
    instance_id: int | None = None,
    dedupe_key: str | None = None,
    available_at: datetime | None = None,
    request_id: str | None = None,
) -> OutboxJob:
    """Add a job in the current transaction; it is relayed (or run) once the transaction commits."""
    row = job_row(
        kind, payload, instance_id=instance_id, dedupe_key=dedupe_key, available_at=available_at, request_id=request_id
    )
    job = OutboxJob(**row)
    db.session.add(job)
    notify_after_commit(platform, NewJob(row["available_at"], job=job))
    return job


def notify_after_commit(platform: Any, job: NewJob) -> None:
    """Name a new job to the runner once the current transaction commits."""
    if platform.jobs is not None:
        # One notification per transaction, naming its jobs, so an in-process runner need not poll the outbox.
        after_commit_batch("outbox", job, platform.jobs.notify_jobs)


class NewJob:
    """A job added by a committed transaction: its id and when it may run."""

    __slots__ = ("_id", "_job", "available_at")

    def __init__(self, available_at: datetime, *, job: OutboxJob | None = None, job_id: int | None = None) -> None:
        self._job, self._id, self.available_at = job, job_id, available_at

    @property
    def id(self) -> int | None:
        """The job's id: given, or from the identity map without a query (the row is expired after commit);
        None if it was never saved."""
        if self._id is not None or self._job is None:
            return self._id
        identity = inspect(self._job).identity
        return identity[0] if identity else None


def claim_job(job_id: int) -> bool:
    """Mark a runnable job done in the current transaction; False if another worker got there first."""
    return (
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id, OutboxJob.status.in_(RUNNABLE))
            .values(status="done", done_at=utcnow(), last_error=None)
        ).rowcount
        == 1
    )


def finish_job(job_id: int, status: str, error: str | None = None) -> None:
    """Mark a job done (or dead) in the current transaction."""
    db.session.execute(
        update(OutboxJob).where(OutboxJob.id == job_id).values(status=status, done_at=utcnow(), last_error=error)
    )


def retry_job(job: OutboxJob, error: str, delay_seconds: float) -> None:
    """Count a failed attempt and run the job again after a delay (in the current transaction)."""
    job.attempts += 1
    job.last_error = error[:2000]
    job.status = "pending"
    job.available_at = utcnow() + timedelta(seconds=delay_seconds)
