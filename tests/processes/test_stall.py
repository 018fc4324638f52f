"""An unfinished instance with nothing to wait for becomes an incident, never a silent 'waiting'."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from models import Incident, ProcessInstance, db
from processes.deployment import deploy_files
from processes.errors import Conflict
from processes.instances import start_instance
from processes.service_jobs import retry_incident
from processes.stepping import Actor

BPMN = Path(__file__).resolve().parent.parent / "bpmn" / "test_dead_end.bpmn"
OPS = Actor(kind="ops", name="ops:test")


def test_a_dead_end_is_an_incident(ctx):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    instance, _ = start_instance(platform, "test_dead_end", "BK-DEAD1", {"take_b": False}, OPS)
    stored = db.session.get(ProcessInstance, instance.id, populate_existing=True)
    assert (stored.status, stored.waiting_on) == ("error", [])
    incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
    assert incident.error_code == "NO_WAIT_STATE" and incident.status == "open"
    with pytest.raises(Conflict) as refused:  # nothing to run again: the diagram must be fixed
        retry_incident(platform, incident.id, OPS)
    assert refused.value.code == "INCIDENT_NOT_RETRYABLE"


def test_the_same_diagram_completes_when_every_branch_reaches_the_join(ctx):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    instance, _ = start_instance(platform, "test_dead_end", "BK-DEAD2", {"take_b": True}, OPS)
    assert db.session.get(ProcessInstance, instance.id, populate_existing=True).status == "completed"
    assert db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).first() is None
