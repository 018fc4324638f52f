"""Process-level operators run inside the instance's transaction; a failure leaves none of their writes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from handlers.registry import HandlerError, operator
from models import ChannelClient, Incident, OutboxJob, db
from models.protection import TamperedRecord
from processes.deployment import deploy_files
from processes.instances import start_instance
from processes.stepping import Actor

BPMN = Path(__file__).resolve().parent.parent / "bpmn" / "test_transactional.bpmn"
OPS = Actor(kind="ops", name="ops:test")


@operator("test.write_record", transactional=True)
def _write_record(*, code: str, fail: bool) -> dict:
    """Write a row in the caller's transaction, then maybe fail."""
    if code == "tampered":  # a protected record failed its integrity check while the operator read it
        raise TamperedRecord("person", 1)
    db.session.add(ChannelClient(code=code, name="tx", kind="channel", api_key_digest=code * 4))
    db.session.flush()
    if fail:
        raise HandlerError("REFUSED", "拒绝")
    return {"code": code}


def _codes() -> list[str]:
    db.session.rollback()
    return db.session.execute(select(ChannelClient.code)).scalars().all()


def test_transactional_operator_commits_with_the_step(ctx, drain):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    instance, _ = start_instance(platform, "test_transactional", "BK-TX1", {"code": "txok", "fail": False}, OPS)
    drain()
    assert "txok" in _codes()
    assert db.session.get(type(instance), instance.id).status == "completed"


def test_failed_transactional_operator_writes_nothing(ctx, drain):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    instance, _ = start_instance(platform, "test_transactional", "BK-TX2", {"code": "txbad", "fail": True}, OPS)
    drain()
    assert "txbad" not in _codes()
    incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
    assert incident.error_code == "REFUSED"
    assert db.session.get(type(instance), instance.id).status == "error"


def test_a_tampered_record_is_an_incident_at_once_not_a_retry_loop(ctx, drain):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    instance, _ = start_instance(platform, "test_transactional", "BK-TX3", {"code": "tampered", "fail": False}, OPS)
    drain()
    incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
    assert (incident.error_code, incident.attempts) == ("RECORD_TAMPERED", 1)
    job = db.session.execute(select(OutboxJob).where(OutboxJob.instance_id == instance.id)).scalar_one()
    assert job.status == "dead"
