"""Background work on instances: run service tasks (retry, BPMN error, incident); timers: timer_jobs."""

from __future__ import annotations

import logging
import traceback
from datetime import timedelta
from functools import cache
from typing import Any

from SpiffWorkflow.task import TaskState
from sqlalchemy import Select, bindparam, select, update

from config.logging import request_id_var
from handlers.registry import DispatchError, dispatch, get_operator
from models import Incident, OutboxJob, ProcessEvent, ProcessInstance, db, utcnow
from processes.engine.runtime import ServiceFailure
from processes.errors import Conflict, NotFound, ProcessError
from processes.jobs.kinds import RUNNABLE, claim_job, finish_job, handler_for, job_kind
from processes.platform import Platform
from processes.step_writes import StepConflict
from processes.stepping import ACTIVE, Actor, lock_instance, persist_step
from processes.unit_of_work import after_commit, capture_calls, log_calls, read_in_autocommit, transaction

log = logging.getLogger(__name__)


def execute_job(platform: Platform, job_id: int) -> str:
    """Run one outbox job; safe to call twice (the second call does nothing). Returns the outcome."""
    read_in_autocommit()  # the reads of every job need no transaction
    row = db.session.execute(_job_read(), {"job_id": job_id}).first()
    if row is None or row.status not in RUNNABLE:
        db.session.rollback()
        return "skipped"
    request_id_var.set(row.request_id)
    handler = handler_for(row.kind)
    if handler is None:
        with transaction():
            finish_job(job_id, "dead", f"unknown job kind {row.kind}")
        return "dead"
    # The handler goes on from these autocommit reads (a service task uses the instance read above); a unit of
    # work it opens ends them first (unit_of_work.transaction).
    return handler(platform, job_id, row.instance_id, dict(row.payload), row.request_id)


@cache
def _job_read() -> Select:
    # Built once (this runs for every job). The job's instance comes along into the identity map: a service
    # task needs it next, without a query.
    return (
        select(
            OutboxJob.kind,
            OutboxJob.payload,
            OutboxJob.instance_id,
            OutboxJob.request_id,
            OutboxJob.status,
            ProcessInstance,
        )
        .outerjoin(ProcessInstance, ProcessInstance.id == OutboxJob.instance_id)
        .where(OutboxJob.id == bindparam("job_id"))
    )


def record_crash(platform: Platform, job_id: int, exc: BaseException) -> None:
    """A job raised unexpectedly: back off and retry, then give up with an incident (never loop)."""
    with transaction():
        job = db.session.get(OutboxJob, job_id)
        if job is None or job.status not in RUNNABLE:
            return
        job.attempts += 1
        job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if job.attempts < platform.settings.SERVICE_TASK_MAX_ATTEMPTS:
            job.status = "pending"
            job.available_at = utcnow() + timedelta(
                seconds=platform.settings.SERVICE_TASK_BACKOFF_SECONDS * (2 ** (job.attempts - 1))
            )
            return
        job.status, job.done_at = "dead", utcnow()
        if job.instance_id is None:
            return
        payload = job.payload or {}
        db.session.add(
            Incident(
                instance_id=job.instance_id,
                task_uuid=payload.get("task_uuid", ""),
                task_spec=payload.get("task_spec", job.kind),
                operator=payload.get("operator", job.kind),
                error_code="INTERNAL_ERROR",
                message=job.last_error,
                attempts=job.attempts,
                traceback="".join(traceback.format_exception(exc))[-8000:],
            )
        )
        instance = db.session.get(ProcessInstance, job.instance_id)
        if instance is not None and instance.status in ACTIVE:
            instance.status = "error"


@job_kind("service_task")
def _run_service_task(
    platform: Platform, job_id: int, instance_id: int, payload: dict[str, Any], request_id: str | None
) -> str:
    actor = Actor.system(request_id)
    op = get_operator(payload["operator"])
    transactional = op is not None and op.transactional
    outcome: tuple[dict[str, Any] | None, ServiceFailure | None] | None = None
    calls: list = []
    version = None
    if not transactional:
        instance = db.session.get(ProcessInstance, instance_id)
        reason = _not_runnable(instance)
        if reason:
            with transaction():
                finish_job(job_id, "done", reason)
            return "skipped"
        # The read ran in autocommit mode (execute_job): the external call below holds no transaction and no lock.
        version = instance.lock_version
        workflow = platform.engine.load(instance.snapshot, instance.public_id)
        task = platform.engine.task(workflow, payload["task_uuid"])
        if task is None or not task.has_state(TaskState.READY):
            with transaction():
                finish_job(job_id, "done", "task no longer ready")
            return "skipped"
        with capture_calls() as calls:
            outcome = _attempt(platform, workflow, task)
        if outcome[1] is None:
            try:  # the usual case: one guarded write on the state read above (step_writes)
                with transaction(autocommit=True):
                    log_calls(calls)
                    _persist_service_step(platform, instance, workflow, task, payload, actor, claim_job_id=job_id)
                return "done"
            except StepConflict as exc:
                if exc.code == "JOB_TAKEN":
                    return "skipped"  # another worker finished it first
                calls = []  # logged already; the instance moved on meanwhile: apply the result to its new state
    with transaction():  # ends the autocommit reads: this runs in a transaction under the instance's row lock
        log_calls(calls)
        instance = lock_instance(instance_id)
        if not claim_job(job_id):
            return "skipped"  # another worker finished it first
        reason = _not_runnable(instance) if transactional else None
        if reason:
            finish_job(job_id, "done", reason)
            return "skipped"
        if outcome is None or instance.lock_version != version:
            # Fresh state: a transactional operator always runs on it; an external result is applied to it.
            workflow = platform.engine.load(instance.snapshot, instance.public_id)
            task = platform.engine.task(workflow, payload["task_uuid"])
            if task is None or not task.has_state(TaskState.READY):
                finish_job(job_id, "done", "task no longer ready")
                return "skipped"
            if outcome is None:
                with db.session.begin_nested() as savepoint:  # a failed operator leaves no half-written rows
                    outcome = _attempt(platform, workflow, task)
                    if outcome[1] is not None:
                        savepoint.rollback()
            elif outcome[1] is None:
                platform.engine.complete_service_task(task, outcome[0])
        failure = outcome[1]
        if failure is not None:
            return _handle_failure(platform, job_id, instance, workflow, task, payload, failure, actor)
        _persist_service_step(platform, instance, workflow, task, payload, actor)
        return "done"


def _persist_service_step(
    platform: Platform,
    instance: ProcessInstance,
    workflow,
    task,
    payload: dict[str, Any],
    actor: Actor,
    claim_job_id: int | None = None,
) -> None:
    persist_step(
        platform,
        instance,
        workflow,
        actor,
        "service_completed",
        task_spec=task.task_spec.name,
        task_name=task.task_spec.bpmn_name,
        details={"operator": payload["operator"]},
        claim_job_id=claim_job_id,
    )


def _not_runnable(instance: ProcessInstance | None) -> str | None:
    """Why a service task of this instance must not run now, or None."""
    if instance is None or instance.status not in ACTIVE:
        return "not active"
    if instance.suspended:
        return "suspended: requeued on resume"
    return None


def _attempt(platform: Platform, workflow, task) -> tuple[dict[str, Any] | None, ServiceFailure | None]:
    """Run the service task once: (result, None) with the task completed, or (None, failure)."""
    try:
        return platform.engine.run_service_task(workflow, task, lambda op, params: _call(platform, op, params)), None
    except ServiceFailure as exc:
        return None, exc


def _call(platform: Platform, operator: str, params: dict[str, Any]) -> dict[str, Any]:
    try:
        return dispatch(operator, params, platform.clients)
    except DispatchError as exc:
        raise ServiceFailure(exc.code, exc.message, exc.transient, exc.details) from exc
    except ProcessError as exc:  # a process-level operator refused (e.g. RECORD_TAMPERED): retrying cannot help
        raise ServiceFailure(exc.code, exc.message, False, exc.details) from exc


def retry_policy(platform: Platform, operator: str) -> tuple[int, float]:
    """(max attempts, backoff base seconds): configuration over the handler's own over the defaults."""
    settings = platform.settings
    if operator in settings.retry_overrides:
        return settings.retry_overrides[operator]
    op = get_operator(operator)
    return (
        op.max_attempts if op and op.max_attempts else settings.SERVICE_TASK_MAX_ATTEMPTS,
        op.backoff_seconds if op and op.backoff_seconds is not None else settings.SERVICE_TASK_BACKOFF_SECONDS,
    )


def _handle_failure(
    platform: Platform,
    job_id: int,
    instance: ProcessInstance,
    workflow,
    task,
    payload: dict[str, Any],
    failure: ServiceFailure,
    actor: Actor,
) -> str:
    job = db.session.get(OutboxJob, job_id)
    job.attempts += 1
    job.last_error = f"{failure.code}: {failure.message}"[:2000]
    max_attempts, base = retry_policy(platform, payload["operator"])
    if failure.transient and job.attempts < max_attempts:
        job.status = "pending"
        job.available_at = utcnow() + timedelta(seconds=base * (2 ** (job.attempts - 1)))
        db.session.add(
            _event(
                instance,
                actor,
                "service_retry",
                task.task_spec.name,
                task.task_spec.bpmn_name,
                _failure_details(failure, job.attempts),
            )
        )
        after_commit(platform.jobs.notify)
        return "retry"
    if not failure.transient and platform.engine.throw_error(
        workflow, task, failure.code, failure.message, failure.details
    ):
        finish_job(job_id, "done", job.last_error)
        persist_step(
            platform,
            instance,
            workflow,
            actor,
            "bpmn_error",
            task_spec=task.task_spec.name,
            task_name=task.task_spec.bpmn_name,
            details={"code": failure.code, "message": failure.message},
        )
        return "bpmn_error"
    job.status, job.done_at = "dead", utcnow()
    db.session.add(
        Incident(
            instance_id=instance.id,
            task_uuid=payload["task_uuid"],
            task_spec=payload["task_spec"],
            operator=payload["operator"],
            error_code=failure.code,
            message=failure.message,
            traceback="".join(traceback.format_exception(failure))[-8000:],
            attempts=job.attempts,
        )
    )
    instance.status = "error"
    instance.updated_at = utcnow()
    db.session.add(
        _event(
            instance,
            actor,
            "incident",
            task.task_spec.name,
            task.task_spec.bpmn_name,
            _failure_details(failure, job.attempts),
        )
    )
    return "incident"


def _event(
    instance: ProcessInstance, actor: Actor, kind: str, spec_name: str, label: str | None, details: dict[str, Any]
) -> ProcessEvent:
    return ProcessEvent(
        instance_id=instance.id,
        actor=actor.name,
        kind=kind,
        task_spec=spec_name,
        task_name=label or spec_name,
        request_id=actor.request_id,
        details=details,
    )


def _failure_details(failure: ServiceFailure, attempts: int) -> dict[str, Any]:
    return {"code": failure.code, "message": failure.message, "attempts": attempts, "transient": failure.transient}


def retry_incident(platform: Platform, incident_id: int, actor: Actor) -> Incident:
    """Mark an incident resolved and run its service task again."""
    with transaction():
        incident = db.session.get(Incident, incident_id) if isinstance(incident_id, int) else None
        if incident is None:
            raise NotFound("INCIDENT_NOT_FOUND", "故障记录不存在", {"incident_id": incident_id})
        if incident.status != "open":
            raise Conflict("INCIDENT_RESOLVED", "故障已处理")
        if not incident.task_uuid:  # e.g. a dead end in the diagram: running it again would change nothing
            raise Conflict("INCIDENT_NOT_RETRYABLE", "该故障不是服务任务失败，不能重试；请修正流程图后撤销该实例")
        instance = lock_instance(incident.instance_id)
        incident.status, incident.resolved_at, incident.resolved_by = "resolved", utcnow(), actor.name
        job = db.session.execute(
            select(OutboxJob).where(OutboxJob.dedupe_key == f"svc:{incident.task_uuid}")
        ).scalar_one_or_none()
        if job is not None:
            job.status, job.attempts, job.available_at, job.done_at = "pending", 0, utcnow(), None
        instance.status = "running"
        db.session.add(
            _event(
                instance,
                actor,
                "incident_retry",
                incident.task_spec,
                None,
                {"incident_id": incident.id, "code": incident.error_code},
            )
        )
        after_commit(platform.jobs.notify)
    return incident


def requeue_service_tasks(platform: Platform, instance_id: int) -> None:
    """After a resume, reopen the jobs of service tasks that were skipped while suspended."""
    with transaction():
        instance = db.session.get(ProcessInstance, instance_id)
        uuids = [w["task_uuid"] for w in instance.waiting_on if w["kind"] == "service"]
        if not uuids:
            return
        db.session.execute(
            update(OutboxJob)
            .where(OutboxJob.dedupe_key.in_([f"svc:{u}" for u in uuids]), OutboxJob.status == "done")
            .values(status="pending", available_at=utcnow(), done_at=None)
        )
        after_commit(platform.jobs.notify)
