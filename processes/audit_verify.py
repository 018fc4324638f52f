"""Audit-chain check in the background (S4): /audit starts a job and polls its progress/result record.

A check walks every audit row, which takes long on a big log: a web request would time out. The CLI
`permitflow audit verify` stays synchronous.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import AuditLog, db, utcnow
from models.security import AuditVerifyRun
from processes.errors import NotFound
from processes.jobs.kinds import claim_job, enqueue, job_kind
from processes.unit_of_work import transaction

JOB_KIND = "audit_verify"
MAX_PROBLEMS_KEPT = 200


def start_check(platform: Any, requested_by: str | None) -> int:
    """Queue a chain check; returns the id of its progress/result record (audited as `audit.verify_start`)."""
    from processes import audit

    with transaction():
        run = AuditVerifyRun(requested_by=requested_by, status="queued", checked=0, total=0, problem_count=0)
        db.session.add(run)
        db.session.flush()
        run_id = run.id
        enqueue(platform, JOB_KIND, {"run_id": run_id})
        audit.record("audit.verify_start", object_type="audit_verify_run", object_id=str(run_id))
    return run_id


def get_check(run_id: int) -> AuditVerifyRun:
    """The progress/result record, or 404."""
    run = db.session.get(AuditVerifyRun, run_id)
    if run is None:
        raise NotFound("AUDIT_CHECK_NOT_FOUND", "校验任务不存在")
    return run


def problems_of(run: AuditVerifyRun) -> list[dict[str, Any]]:
    """The problems a finished check recorded (at most MAX_PROBLEMS_KEPT)."""
    return json.loads(run.problems or "[]")


def _set(run_id: int, **values: Any) -> None:
    # Own connection: progress must be visible to the polling page while the walk goes on.
    with Session(db.engine) as session, session.begin():
        session.execute(update(AuditVerifyRun).where(AuditVerifyRun.id == run_id).values(**values))


@job_kind(JOB_KIND)
def run_check(platform: Any, job_id: int, instance_id: int | None, payload: dict[str, Any], request_id: str | None):
    """The job: walk the chain, recording progress, then the result (and audit it)."""
    from processes import audit

    run_id = int(payload["run_id"])
    with transaction():
        if not claim_job(job_id):  # another worker has it: at most once
            return "skipped"
    total = db.session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    db.session.rollback()
    _set(run_id, status="running", total=total)
    try:
        report = audit.verify_chain(progress=lambda checked: _set(run_id, checked=checked))
    except Exception:
        _set(run_id, status="failed", finished_at=utcnow())
        raise
    _set(
        run_id,
        status="done",
        checked=report.checked,
        problem_count=len(report.problems),
        problems=json.dumps(report.problems[:MAX_PROBLEMS_KEPT], ensure_ascii=False),
        finished_at=utcnow(),
    )
    audit.log(
        "audit.verify",
        result="ok" if report.ok else "fail",
        object_type="audit_log",
        details={"checked": report.checked, "problems": len(report.problems), "run": run_id},
    )
    return "done"
