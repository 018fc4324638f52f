"""A Redis outage in the middle of a run: the API keeps accepting, and afterwards every job runs once."""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from integrations.simulators.server import free_port
from models import OutboxJob, db, utcnow
from tests.support import instance_row, register_key, sim_calls, start_registration
from tests.support import person as sim_person

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary")


class PrivateRedis:
    """A throw-away redis-server on a free loopback port that the test can stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        import redis

        for _ in range(100):
            try:
                redis.Redis(port=self.port).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


def test_redis_outage_loses_no_job_and_runs_each_once(make_app, private_redis, simulator):
    from tests.conftest import clean

    app = make_app(JOB_MODE="rq", REDIS_URL=f"redis://127.0.0.1:{private_redis.port}/0", JOB_QUEUE="outage")
    runner = app.extensions["permitflow"].jobs
    client = app.test_client()
    try:
        key = register_key(app)
        before = [start_registration(client, key, sim_person("long", i)) for i in range(3)]
        assert all(r.status_code == 201 for r in before)
        private_redis.stop()  # Redis goes away with the first three jobs in it (it keeps nothing on disk)
        during = [start_registration(client, key, sim_person("long", i + 3)) for i in range(3)]
        assert [r.status_code for r in during] == [201, 201, 201]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.get_json()["checks"]["redis"]["ok"] is False
        with app.app_context():
            statuses = dict(db.session.execute(select(OutboxJob.status, func.count()).group_by(OutboxJob.status)).all())
        assert statuses == {"enqueued": 3, "pending": 3}
        private_redis.start()
        with app.app_context():
            # The lost jobs come back after the redelivery delay; age them instead of waiting five minutes.
            long_ago = utcnow() - timedelta(hours=1)
            db.session.execute(update(OutboxJob).where(OutboxJob.status == "enqueued").values(enqueued_at=long_ago))
            db.session.commit()
            assert runner.scheduler_pass()["redelivered"] == 3
            runner.drain(30)
            runner.drain(5)  # a second pass must find nothing left to do
            # The B3 "registration submitted" SMS has its own timing (the platform's per-mobile rate limit, a
            # delivery-report poll minutes ahead): its jobs may wait, the process steps may not.
            sms_jobs = db.session.execute(select(OutboxJob.status).where(OutboxJob.kind.like("sms%"))).scalars().all()
            jobs = db.session.execute(
                select(OutboxJob.status, OutboxJob.attempts).where(OutboxJob.kind.not_like("sms%"))
            ).all()
        assert sms_jobs and set(sms_jobs) <= {"pending", "done"}
        assert len(jobs) > 6 and set(jobs) == {("done", 0)}  # every step of the six registrations ran once
        for response in before + during:
            assert instance_row(app, response.get_json()["id"]).status == "waiting"
        assert sim_calls(simulator, "hrss.insurance_status") == 6  # each job ran exactly once
    finally:
        clean(app)
