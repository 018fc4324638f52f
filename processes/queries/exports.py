"""Query exports as background jobs (C3.4): requested → streamed to an .xlsx file → downloaded.

The page creates an ExportJob and polls it; an outbox job ("query_export") streams the rows from a
server-side cursor into xlsxwriter's constant-memory writer and records its progress every few thousand
rows through a separate connection (committing on the reading session would close its cursor).

Files at rest are SM4-GCM-encrypted (handlers.sealed_files: key id in the header, "export:<id>" as associated
data); the workbook is written in the clear only to an owner-only working file in the export folder, which is
removed as soon as it is sealed. Downloads are decrypted in memory. Exports older than EXPORT_KEEP_HOURS are
deleted (`purge_expired_exports`: on every request and run, and by the hourly report schedule).
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from handlers.sealed_files import SealedFileError, open_bytes, write_sealed
from models import OutboxJob, db, utcnow
from models.reports import ExportJob
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.excel import stream_rows
from processes.jobs.kinds import RUNNABLE, enqueue, finish_job, job_kind
from processes.queries.base import _jsonable, count_rows, describe_filters, export_rows
from processes.queries.definitions import QUERIES
from processes.unit_of_work import transaction

log = logging.getLogger(__name__)
JOB_KIND = "query_export"
STATUS_LABELS = {"queued": "排队中", "running": "导出中", "done": "已完成", "failed": "失败"}


def export_dir(settings: Any) -> Path:
    """Where export files live (EXPORT_DIR, default DATA_DIR/exports)."""
    path = Path(settings.EXPORT_DIR or Path(settings.DATA_DIR) / "exports").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def purge_expired_exports(settings: Any) -> int:
    """Delete export files (and stray working files) older than EXPORT_KEEP_HOURS; how many were deleted."""
    cutoff = time.time() - settings.EXPORT_KEEP_HOURS * 3600
    deleted = 0
    for file in export_dir(settings).iterdir():
        if not file.name.endswith((".xlsx", ".part", ".plain")) or not file.is_file():
            continue
        try:
            if file.stat().st_mtime < cutoff:
                file.unlink()
                deleted += 1
        except OSError:  # another node removed it first
            pass
    return deleted


def _storage_key(public_id: str) -> str:
    return f"export:{public_id}"


def request_export(platform: Any, name: str, filters: dict[str, Any], unmask: bool, username: str) -> ExportJob:
    """Create an export job for a query (audited as export.excel) and queue its background run."""
    spec = QUERIES.get(name)
    if spec is None:
        raise NotFound("QUERY_NOT_FOUND", "没有这个查询")
    purge_expired_exports(platform.settings)
    with transaction():
        running = db.session.execute(
            select(ExportJob.id).where(
                ExportJob.requested_by == username,
                ExportJob.status.in_(("queued", "running")),
                ExportJob.created_at > utcnow() - timedelta(hours=1),
            )
        ).first()
        if running is not None:
            raise ValidationFailed("EXPORT_BUSY", "您已有一个导出任务正在进行，请等待其完成后再导出")
        job = ExportJob(
            public_id=secrets.token_hex(8),
            kind=name,
            params={k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in filters.items()},
            unmask=unmask and spec.personal(),
            requested_by=username,
        )
        db.session.add(job)
        db.session.flush()
        enqueue(platform, JOB_KIND, {"export_id": job.id})
        _audit().record(
            "export.excel",
            object_type="query",
            object_id=name,
            details={"export": job.public_id, "filters": _jsonable(filters), "unmask": job.unmask},
        )
    return job


def _filters(job: ExportJob) -> dict[str, Any]:
    from datetime import date

    out = {}
    for key, value in (job.params or {}).items():
        out[key] = date.fromisoformat(value) if key.endswith(("_from", "_to")) else value
    return out


def _set(export_id: int, **values: Any) -> None:
    # Progress goes through its own short transaction on another connection (the reader's cursor stays open).
    with db.engine.begin() as connection:
        connection.execute(update(ExportJob).where(ExportJob.id == export_id).values(**values))


def run_export(platform: Any, export_id: int) -> ExportJob:
    """Stream one export to its file now (the job body; the benchmark calls it directly)."""
    job = db.session.get(ExportJob, export_id)
    spec = QUERIES[job.kind]
    filters, unmask, public_id = _filters(job), job.unmask, job.public_id
    limit = platform.settings.EXPORT_MAX_ROWS
    total = count_rows(spec, filters, limit)
    db.session.rollback()
    _set(export_id, status="running", total=total, done=0)
    folder = export_dir(platform.settings)
    purge_expired_exports(platform.settings)
    target = folder / f"{public_id}.xlsx"
    plain = folder / f".{public_id}.{os.getpid()}.plain"  # the clear workbook, only until it is sealed
    try:
        os.close(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        meta = [f"导出人：{job.requested_by}", *describe_filters(spec, filters)]
        count = stream_rows(
            str(plain),
            spec.title,
            [c.label for c in spec.columns],
            export_rows(spec, filters, unmask, limit),
            meta=meta,
            progress=lambda n: _set(export_id, done=n),
            tmpdir=str(folder),
        )
        db.session.rollback()  # ends the reading transaction (and its server-side cursor)
        write_sealed(target, plain.read_bytes(), _storage_key(public_id), platform.keys)
        _set(export_id, status="done", done=count, total=count, file_name=target.name, finished_at=utcnow())
    except Exception as exc:
        db.session.rollback()
        log.exception("export %s failed", public_id)
        _set(export_id, status="failed", error=str(exc)[:500], finished_at=utcnow())
    finally:
        plain.unlink(missing_ok=True)
    db.session.expire_all()
    return db.session.get(ExportJob, export_id)


@job_kind(JOB_KIND)
def _export_job(platform: Any, job_id: int, instance_id: int | None, payload: dict[str, Any], request_id) -> str:
    with transaction():
        status = db.session.execute(select(OutboxJob.status).where(OutboxJob.id == job_id)).scalar()
        export = db.session.get(ExportJob, payload["export_id"])
        if status not in RUNNABLE or export is None or export.status != "queued":
            finish_job(job_id, "done", "export no longer queued")
            return "skipped"
        finish_job(job_id, "done")  # an export is never retried: a failure is shown to the user instead
    run_export(platform, payload["export_id"])
    return "done"


def export_status(public_id: str, username: str) -> ExportJob:
    """The export job of this user (another user's jobs are invisible)."""
    job = db.session.execute(select(ExportJob).where(ExportJob.public_id == public_id[:32])).scalar_one_or_none()
    if job is None or job.requested_by != username:
        raise NotFound("EXPORT_NOT_FOUND", "没有找到该导出任务")
    return job


def export_file(platform: Any, public_id: str, username: str) -> tuple[io.BytesIO, ExportJob]:
    """The finished workbook of an export, decrypted in memory (audited download)."""
    job = export_status(public_id, username)
    purge_expired_exports(platform.settings)
    path = export_dir(platform.settings) / f"{job.public_id}.xlsx"
    try:
        blob = path.read_bytes() if job.status == "done" else None
    except FileNotFoundError:
        blob = None
    if blob is None:
        raise NotFound("EXPORT_NOT_READY", "导出文件尚未生成或已过期，请重新导出")
    try:
        content = open_bytes(blob, _storage_key(job.public_id), platform.keys)
    except SealedFileError as exc:
        log.error("export file %s refused: %s (%s)", job.public_id, exc.code, exc)
        message = "导出文件完整性校验未通过（疑似被篡改），已拒绝下载，请重新导出"
        raise Conflict("EXPORT_FILE_TAMPERED", message, {"reason": exc.code}) from exc
    _audit().log("export.download", object_type="export", object_id=job.public_id, details={"query": job.kind})
    return io.BytesIO(content), job


def recent_exports(username: str, limit: int = 10) -> list[ExportJob]:
    """This user's latest export jobs."""
    return list(
        db.session.execute(
            select(ExportJob).where(ExportJob.requested_by == username).order_by(ExportJob.id.desc()).limit(limit)
        ).scalars()
    )


def _audit():  # imported late: processes.audit imports the platform module, which imports this package
    from processes import audit

    return audit
