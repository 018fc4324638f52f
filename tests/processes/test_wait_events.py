"""Timers fire once through the scheduler; messages correlate by name and business key."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from models import OutboxJob, ProcessTimer, db
from processes.deployment import deploy_files
from processes.errors import Conflict, NotFound
from processes.instances import send_message, start_instance
from processes.stepping import Actor
from processes.timer_jobs import claim_due_timers

BPMN = Path(__file__).resolve().parent.parent / "bpmn" / "test_wait_events.bpmn"
OPS = Actor(kind="ops", name="ops:test")


@pytest.fixture
def platform(ctx):
    platform = ctx.extensions["permitflow"]
    deploy_files(platform, [BPMN], "tests")
    return platform


def test_message_correlates_by_name_and_business_key(platform, drain):
    instance, _ = start_instance(platform, "test_wait_events", "BK-MSG", {"wait_for": "PT1H"}, OPS)
    assert {w["kind"] for w in instance.waiting_on} == {"message", "timer"}
    with pytest.raises(NotFound) as missing:
        send_message(platform, "materials_received", "BK-OTHER", {}, OPS)
    assert missing.value.code == "NO_WAITING_INSTANCE"
    done = send_message(platform, "materials_received", "BK-MSG", {"count": 2}, OPS)
    assert done.status == "completed" and done.result == {"outcome": "received"}
    timer = db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == done.id)).scalar_one()
    assert timer.status == "cancelled"  # the other branch of the event gateway was withdrawn


def test_two_instances_waiting_for_the_same_message_is_ambiguous(platform):
    start_instance(platform, "test_wait_events", "BK-DUP", {"wait_for": "PT1H"}, OPS)
    start_instance(platform, "test_wait_events", "BK-DUP", {"wait_for": "PT1H"}, OPS)
    with pytest.raises(Conflict) as ambiguous:
        send_message(platform, "materials_received", "BK-DUP", {}, OPS)
    assert ambiguous.value.code == "AMBIGUOUS_CORRELATION"


def test_timer_fires_once_even_with_two_schedulers(platform, drain):
    instance, _ = start_instance(platform, "test_wait_events", "BK-TIMER", {"wait_for": "PT1S"}, OPS)
    timer = db.session.execute(select(ProcessTimer).where(ProcessTimer.instance_id == instance.id)).scalar_one()
    assert timer.status == "pending"
    assert claim_due_timers(platform) == 0  # not due yet
    time.sleep(1.1)
    first, second = claim_due_timers(platform), claim_due_timers(platform)
    assert (first, second) == (1, 0)
    drain()
    jobs = db.session.execute(select(OutboxJob).where(OutboxJob.kind == "fire_timer")).scalars().all()
    assert [j.status for j in jobs] == ["done"]
    db.session.rollback()
    refreshed = db.session.get(type(instance), instance.id, populate_existing=True)
    assert refreshed.status == "completed" and refreshed.result == {"outcome": "timed_out"}
