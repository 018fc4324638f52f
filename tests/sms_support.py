"""Helpers shared by the SMS tests (B2, B3): draining, look-ups, serving an app over HTTP, fresh persons."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import select
from werkzeug.serving import make_server

from integrations.simulators.dataset import population
from models import OutboxJob, SmsMessage, db
from processes.platform import get_platform

SECRET = "sms-callback-secret-for-tests"
FAST = {
    "SMS_SEND_BACKOFF_SECONDS": 0.01,
    "SMS_SEND_MAX_ATTEMPTS": 3,
    "SMS_CALLBACK_SECRET": SECRET,
    "SMS_POLL_AFTER_SECONDS": 600.0,  # no poll inside a test unless it asks for one
}


def drain_app(application, timeout: float = 15.0) -> int:
    """Run every due job of this app now (eager or RQ)."""
    with application.app_context():
        return get_platform(application).jobs.drain(timeout)


def message_row(application, message_id: int) -> SmsMessage:
    """The message, freshly read."""
    with application.app_context():
        db.session.rollback()
        return db.session.get(SmsMessage, message_id, populate_existing=True)


def jobs_of(application, kind: str) -> list[OutboxJob]:
    """Outbox jobs of one kind, oldest first."""
    with application.app_context():
        db.session.rollback()
        return list(
            db.session.execute(select(OutboxJob).where(OutboxJob.kind == kind).order_by(OutboxJob.id)).scalars()
        )


def wait_for_status(application, message_id: int, status: str, timeout: float = 5.0) -> SmsMessage:
    """The message once it has the status (a callback arrives on another thread)."""
    deadline = time.monotonic() + timeout
    while True:
        message = message_row(application, message_id)
        if message.status == status or time.monotonic() > deadline:
            return message
        time.sleep(0.05)


@contextmanager
def served(build: Callable[[str], object]) -> Iterator[object]:
    """An app served over HTTP on a loopback port; `build(base_url)` makes it (so it may know its own URL)."""
    holder: dict[str, object] = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start), threaded=True)
    holder["app"] = build(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield holder["app"]
    finally:
        server.shutdown()
        server.server_close()


# From the end of the population: other tests take their applicants from its start, and the platform limits
# messages per mobile per minute (a shared simulator must not throttle these tests).
_living = iter([p for p in reversed(population()) if not p.deceased])


def fresh_person():
    """A living person not messaged yet in this run."""
    return next(_living)
