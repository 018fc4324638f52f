"""Job runners: eager (same thread, after commit), thread (in-process background) and rq (Redis workers)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select

from config.logging import request_id_var
from models import OutboxJob, db, utcnow
from processes.jobs.kinds import NewJob
from processes.jobs.relay import due_job_ids, redeliver_stale, relay_to_rq
from processes.service_jobs import execute_job, record_crash
from processes.timer_jobs import claim_due_timers

log = logging.getLogger(__name__)


def run_job(platform: Any, job_id: int) -> str:
    """Execute one outbox job (its request id joins the log context); errors are logged, not raised."""
    token = request_id_var.set(None)
    try:
        outcome = execute_job(platform, job_id)
        log.info("job %s %s", job_id, outcome, extra={"job_id": job_id, "status": outcome})
        return outcome
    except Exception as exc:
        db.session.rollback()
        log.exception("job %s failed unexpectedly", job_id, extra={"job_id": job_id})
        record_crash(platform, job_id, exc)
        return "failed"
    finally:
        request_id_var.reset(token)
        db.session.remove()


class JobRunner:
    """Base: `notify` is called after a commit that added jobs."""

    mode = "base"

    def __init__(self, app: Flask, platform: Any) -> None:
        self.app = app
        self.platform = platform

    def notify(self) -> None:
        raise NotImplementedError

    def notify_jobs(self, jobs: list[NewJob]) -> None:
        """A transaction committed these new jobs; by default, the same as any notification."""
        self.notify()

    def run_due(self, limit: int = 200) -> int:
        """Run every due job in this process once; returns how many ran."""
        ran = 0
        for job_id in due_job_ids(limit):
            run_job(self.platform, job_id)
            ran += 1
        return ran

    def drain(self, timeout: float = 10.0) -> int:
        """Fire due timers and run due jobs until none are left or the timeout passes (tests, CLI)."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            claim_due_timers(self.platform)
            ran = self.run_due()
            total += ran
            if not ran and not self._pending_soon():
                break
            if not ran:
                time.sleep(0.02)
        return total

    def _pending_soon(self) -> bool:
        soon = db.session.execute(
            select(OutboxJob.id)
            .where(OutboxJob.status == "pending", OutboxJob.available_at <= utcnow() + timedelta(seconds=5))
            .limit(1)
        ).first()
        db.session.rollback()
        return soon is not None

    def stop(self) -> None:
        """Stop background work, if any."""


class EagerRunner(JobRunner):
    """Runs jobs right after the commit that created them, in the same thread (tests, benchmarks)."""

    mode = "eager"

    def __init__(self, app: Flask, platform: Any) -> None:
        super().__init__(app, platform)
        self._local = threading.local()

    def notify(self) -> None:
        if getattr(self._local, "busy", False):
            self._local.again = True  # the outer loop picks the new jobs up
            return
        self._run(poll=True, named=[])

    def notify_jobs(self, jobs: list[NewJob]) -> None:
        """Run the named jobs that are due now, without polling the outbox (the hot path of every step)."""
        now = utcnow()
        due = [job.id for job in jobs if job.available_at <= now]
        if None in due:  # enqueued outside a transaction, not saved yet: find it by polling instead
            self.notify()
            return
        if getattr(self._local, "busy", False):
            self._local.named.extend(due)  # the outer loop runs them
            return
        if due:
            self._run(poll=False, named=due)

    def _run(self, poll: bool, named: list[int]) -> None:
        self._local.busy, self._local.named, self._local.again = True, named, poll
        try:
            while self._local.named or self._local.again:
                if self._local.named:
                    run_job(self.platform, self._local.named.pop(0))
                    continue
                self._local.again = False
                if self.run_due():
                    self._local.again = True
        finally:
            self._local.busy = False


class ThreadRunner(JobRunner):
    """One background thread in this process runs jobs and fires timers (the embedded default)."""

    mode = "thread"

    def __init__(self, app: Flask, platform: Any) -> None:
        super().__init__(app, platform)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the background thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="permitflow-jobs", daemon=True)
            self._thread.start()

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        interval = self.platform.settings.SCHEDULER_INTERVAL
        while not self._stopping.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            try:
                with self.app.app_context():
                    claim_due_timers(self.platform)
                    while self.run_due() and not self._stopping.is_set():
                        pass
            except Exception:
                log.exception("in-process job loop failed; retrying")

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class RqRunner(JobRunner):
    """Relays jobs to Redis right after commit; `permitflow worker` processes run them."""

    mode = "rq"

    def __init__(self, app: Flask, platform: Any) -> None:
        super().__init__(app, platform)
        from redis import Redis
        from rq import Queue

        settings = platform.settings
        self.redis = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
        self.queue = Queue(settings.JOB_QUEUE, connection=self.redis)

    def notify(self) -> None:
        relay_to_rq(self.queue, self.platform.settings.OUTBOX_BATCH)

    def drain(self, timeout: float = 10.0) -> int:
        """Relay and work the queue in this process until nothing is due (tests, CLI)."""
        from rq import SimpleWorker

        deadline = time.monotonic() + timeout
        total = 0
        worker = SimpleWorker([self.queue], connection=self.redis)
        while time.monotonic() < deadline:
            claim_due_timers(self.platform)
            relay_to_rq(self.queue, self.platform.settings.OUTBOX_BATCH)
            queued = len(self.queue)
            if queued:
                worker.work(burst=True, logging_level="WARNING")
                total += queued
            elif not self._pending_soon():
                break
            else:
                time.sleep(0.02)
        return total

    def scheduler_pass(self) -> dict[str, int]:
        """One scheduler pass: fire due timers, relay due jobs, redeliver lost ones."""
        return {
            "timers": claim_due_timers(self.platform),
            "redelivered": redeliver_stale(),
            "relayed": relay_to_rq(self.queue, self.platform.settings.OUTBOX_BATCH),
        }


def make_runner(app: Flask, platform: Any) -> JobRunner:
    """The runner for the configured job mode (a thread runner is started by `permitflow web`/run)."""
    mode = platform.settings.job_mode
    if mode == "rq":
        return RqRunner(app, platform)
    if mode == "eager":
        return EagerRunner(app, platform)
    return ThreadRunner(app, platform)
