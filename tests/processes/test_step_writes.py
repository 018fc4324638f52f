"""A step is written all or nothing: a guard that matches no row (stale version, task already closed, job
already taken) leaves every row as it was, in autocommit mode and inside a transaction alike."""

from __future__ import annotations

import pytest
from sqlalchemy import func, insert, select, update

from models import HumanTask, OutboxJob, ProcessEvent, ProcessInstance, db, utcnow
from processes.step_writes import StepConflict
from processes.stepping import Actor, persist_step
from processes.unit_of_work import transaction
from tests.support import clerk, ready_task, register_key, start_registration
from tests.support import person as sim_person

SYSTEM = Actor.system()


def _at_clerk_review(app, drain) -> tuple[int, int]:
    started = start_registration(app.test_client(), register_key(app), sim_person("long")).get_json()
    drain()
    task = ready_task(app, started["id"])
    return task.instance_id, task.id


def _state(instance_id: int) -> tuple:
    """Everything a step could have changed, read on a connection of its own."""
    with db.engine.connect() as connection:
        instance = connection.execute(
            select(ProcessInstance.lock_version, ProcessInstance.snapshot, ProcessInstance.status).where(
                ProcessInstance.id == instance_id
            )
        ).one()
        counts = tuple(
            connection.execute(select(func.count()).select_from(model).where(where)).scalar_one()
            for model, where in (
                (ProcessEvent, ProcessEvent.instance_id == instance_id),
                (HumanTask, (HumanTask.instance_id == instance_id) & (HumanTask.status == "ready")),
                (OutboxJob, (OutboxJob.instance_id == instance_id) & (OutboxJob.status == "pending")),
            )
        )
    return (*instance, *counts)


def _elsewhere(statement) -> None:
    """Another worker's write, committed on its own connection."""
    with db.engine.begin() as connection:
        connection.execute(statement)


def _complete_in_engine(platform, instance: ProcessInstance, task: HumanTask):
    workflow = platform.engine.load(instance.snapshot, instance.public_id)
    spiff_task = platform.engine.task(workflow, task.task_uuid)
    platform.engine.complete_user_task(workflow, spiff_task, {"decision": "approve"}, "review")
    return workflow


def _closing(actor: Actor) -> dict:
    return {"status": "completed", "completed_at": utcnow(), "completed_by": actor.name, "assignee": actor.name}


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_a_step_on_a_stale_version_writes_nothing(app, drain, autocommit):
    instance_id, task_id = _at_clerk_review(app, drain)
    platform = app.extensions["permitflow"]
    with app.app_context():
        before = _state(instance_id)
        with pytest.raises(StepConflict) as refused, transaction(autocommit=autocommit):
            instance, task = db.session.get(ProcessInstance, instance_id), db.session.get(HumanTask, task_id)
            workflow = _complete_in_engine(platform, instance, task)
            _elsewhere(
                update(ProcessInstance)
                .where(ProcessInstance.id == instance_id)
                .values(lock_version=ProcessInstance.lock_version + 1)
            )
            persist_step(platform, instance, workflow, clerk(), "task_completed", close_task=(task, _closing(clerk())))
        assert refused.value.code == "CONCURRENT_UPDATE" and refused.value.status == 409
        version, *rest = _state(instance_id)
        assert (version, *rest) == (before[0] + 1, *before[1:])  # only the other worker's bump


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_a_step_closing_a_task_someone_else_closed_writes_nothing(app, drain, autocommit):
    instance_id, task_id = _at_clerk_review(app, drain)
    platform = app.extensions["permitflow"]
    with app.app_context():
        with pytest.raises(StepConflict) as refused, transaction(autocommit=autocommit):
            instance, task = db.session.get(ProcessInstance, instance_id), db.session.get(HumanTask, task_id)
            workflow = _complete_in_engine(platform, instance, task)
            _elsewhere(update(HumanTask).where(HumanTask.id == task_id).values(status="cancelled"))
            before = _state(instance_id)
            persist_step(platform, instance, workflow, clerk(), "task_completed", close_task=(task, _closing(clerk())))
        assert refused.value.code == "TASK_NOT_READY"
        assert _state(instance_id) == before


@pytest.mark.parametrize("autocommit", [True, False], ids=["autocommit", "transaction"])
def test_a_step_claiming_a_job_someone_else_ran_writes_nothing(app, drain, autocommit):
    instance_id, _ = _at_clerk_review(app, drain)
    platform = app.extensions["permitflow"]
    with app.app_context():
        with db.engine.begin() as connection:  # a job another worker has finished meanwhile
            job_id = connection.execute(
                insert(OutboxJob)
                .values(kind="service_task", payload={}, instance_id=instance_id, status="done")
                .returning(OutboxJob.id)
            ).scalar_one()
        before = _state(instance_id)
        with pytest.raises(StepConflict) as refused, transaction(autocommit=autocommit):
            instance = db.session.get(ProcessInstance, instance_id)
            workflow = platform.engine.load(instance.snapshot, instance.public_id)
            persist_step(platform, instance, workflow, SYSTEM, "service_completed", claim_job_id=job_id, advance=False)
        assert refused.value.code == "JOB_TAKEN"
        assert _state(instance_id) == before


def test_a_written_step_updates_the_objects_the_caller_holds(app, drain):
    instance_id, task_id = _at_clerk_review(app, drain)
    platform = app.extensions["permitflow"]
    with app.app_context(), transaction(autocommit=True):
        instance, task = db.session.get(ProcessInstance, instance_id), db.session.get(HumanTask, task_id)
        version = instance.lock_version
        workflow = _complete_in_engine(platform, instance, task)
        persist_step(platform, instance, workflow, clerk(), "task_completed", close_task=(task, _closing(clerk())))
        assert (instance.lock_version, task.status) == (version + 1, "completed")
        # Nothing left for the session to flush after the step.
        assert not db.session.is_modified(instance) and not db.session.is_modified(task)
        # Already written (before any after-commit job runs on): what the caller holds is what is stored.
        assert _state(instance_id)[:3] == (instance.lock_version, instance.snapshot, instance.status)


def test_a_unit_of_work_after_autocommit_reads_gets_a_real_transaction(ctx):
    db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    db.session.execute(select(func.count()).select_from(OutboxJob))
    with transaction():
        # Row locks and all-or-nothing writes need a transaction: the earlier reads' mode must not leak in.
        assert db.session.connection().get_execution_options().get("isolation_level") != "AUTOCOMMIT"
