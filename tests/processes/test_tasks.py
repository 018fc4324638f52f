"""Human tasks: role-scoped queues with filters and paging; claim, unclaim, delegate; claimed tasks."""

from __future__ import annotations

import pytest

from models import db
from processes.errors import BadRequest, Conflict, Forbidden, NotFound
from processes.instances import start_instance
from processes.stepping import Actor
from processes.tasks import TaskFilter, assign_task, claim_task, complete_task, get_task, list_tasks, unclaim_task
from tests.support import application, clerk
from tests.support import person as sim_person

OPS = Actor(kind="ops", name="ops:test")
APPROVER = Actor(kind="user", name="approver1", roles=("approver_l1",))


@pytest.fixture
def tasks(ctx, drain):
    platform = ctx.extensions["permitflow"]
    for i in range(3):
        start_instance(platform, "residence_registration", f"BK-Q{i}", application(sim_person("long", i)), OPS)
    drain()
    rows, total = list_tasks(clerk(), TaskFilter(), 1, 50)
    assert total == 3
    return platform, rows


def test_queue_is_scoped_by_role_filtered_and_paged(tasks):
    _, rows = tasks
    assert list_tasks(APPROVER, TaskFilter(), 1, 50) == ([], 0)
    page, total = list_tasks(clerk(), TaskFilter(), 2, 2)
    assert total == 3 and len(page) == 1
    assert list_tasks(clerk(), TaskFilter(business_key="BK-Q1"), 1, 50)[1] == 1
    assert list_tasks(clerk(), TaskFilter(overdue=True), 1, 50)[1] == 0
    assert list_tasks(clerk(), TaskFilter(overdue=False), 1, 50)[1] == 3
    with pytest.raises(BadRequest):
        list_tasks(clerk(), TaskFilter(status="weird"), 1, 50)
    with pytest.raises(NotFound):
        get_task(rows[0].id, APPROVER)


def test_claim_unclaim_and_delegate(tasks, drain):
    platform, rows = tasks
    task = claim_task(rows[0].id, clerk("clerk01"))
    assert task.assignee == "clerk01" and task.claimed_at is not None
    with pytest.raises(Conflict) as taken:
        claim_task(rows[0].id, clerk("clerk02"))
    assert taken.value.code == "TASK_CLAIMED"
    with pytest.raises(Forbidden):
        complete_task(platform, rows[0].id, {"decision": "approve"}, clerk("clerk02"))
    with pytest.raises(Conflict):
        unclaim_task(rows[0].id, clerk("clerk02"))
    assert unclaim_task(rows[0].id, clerk("clerk01")).assignee is None
    assert assign_task(rows[0].id, clerk("clerk01"), "clerk02").assignee == "clerk02"
    _, instance = complete_task(platform, rows[0].id, {"decision": "approve"}, clerk("clerk02"))
    drain()
    db.session.rollback()
    assert db.session.get(type(instance), instance.id, populate_existing=True).status == "completed"
    with pytest.raises(Conflict) as done:
        claim_task(rows[0].id, clerk("clerk01"))
    assert done.value.code == "TASK_NOT_READY"
    assert list_tasks(clerk(), TaskFilter(status="completed"), 1, 50)[0][0].completed_by == "clerk02"
