"""Approval services: level queues, mandatory reasons, four-eyes from the case history, decision history."""

from __future__ import annotations

import pytest

from processes import approvals
from processes.errors import Forbidden, ValidationFailed
from processes.platform import get_platform
from processes.stepping import Actor
from processes.tasks import TaskFilter, assign_task, claim_task, complete_task
from tests.processes.permit_support import act, apply, card_person, seed_registration
from tests.support import ready_task

L1 = Actor("user", "approver_l101", roles=("approver_l1",))
L2 = Actor("user", "approver_l201", roles=("approver_l2",))


@pytest.fixture
def at_level1(permit_app, drain):
    """A risky permit application (goes to level 2 after level 1), reviewed by clerk01, waiting at level 1."""
    p = card_person("long", nth=2)
    seed_registration(permit_app, p, months=2, legality="illegal")
    public_id = apply(permit_app, drain, p)
    act(permit_app, drain, public_id, "clerk", {"decision": "approve", "comment": "材料齐全"}, "permit_review")
    return public_id


def test_queues_are_per_level_and_reasons_are_mandatory(permit_app, drain, at_level1):
    with permit_app.app_context():
        platform = get_platform(permit_app)
        page = approvals.queue(L1, 1, TaskFilter(), 1, 20)
        assert page.total == 1 and page.items[0]["approval_level"] == 1
        assert approvals.queue(L2, 2, TaskFilter(), 1, 20).total == 0
        task_id = page.items[0]["id"]
        with pytest.raises(Forbidden) as denied:
            approvals.decide(platform, task_id, L1, set(), "approve", "同意")
        assert denied.value.code == "APPROVAL_LEVEL_DENIED"
        for decision, reason in (("approve", ""), ("approve", "   "), ("maybe", "理由"), ("approve", "长" * 501)):
            with pytest.raises(ValidationFailed) as bad:
                approvals.decide(platform, task_id, L1, {1}, decision, reason)
            assert bad.value.code == "DECISION_INVALID"
        approvals.decide(platform, task_id, L1, {1}, "approve", "核验无误，同意")
    drain()
    with permit_app.app_context():
        assert approvals.queue(L2, 2, TaskFilter(), 1, 20).total == 1


def test_four_eyes_previous_step_and_level1_approver_cannot_decide(permit_app, drain, at_level1):
    platform = get_platform(permit_app)
    level1 = ready_task(permit_app, at_level1, "approver_l1")
    clerk_as_approver = Actor("user", "clerk01", roles=("approver_l1",))  # e.g. promoted since the review
    with permit_app.app_context():
        for attempt in (
            lambda: claim_task(level1.id, clerk_as_approver),
            lambda: complete_task(platform, level1.id, {"decision": "approve"}, clerk_as_approver),
            lambda: assign_task(level1.id, L1, "clerk01"),
        ):
            with pytest.raises(Forbidden) as refused:
                attempt()
            assert refused.value.code == "FOUR_EYES"
        approvals.decide(platform, level1.id, L1, {1}, "approve", "同意")
    drain()
    level2 = ready_task(permit_app, at_level1, "approver_l2")
    same_person = Actor("user", L1.name, roles=("approver_l2",))
    with permit_app.app_context():
        with pytest.raises(Forbidden) as refused:
            approvals.decide(platform, level2.id, same_person, {2}, "approve", "同意")
        assert refused.value.code == "FOUR_EYES" and "一级审批人" in refused.value.message
        approvals.decide(platform, level2.id, L2, {2}, "return", "请一级再核对居住房屋情况")
    drain()
    # After a return the level-1 approver decides again at their own level: allowed.
    again = ready_task(permit_app, at_level1, "approver_l1")
    with permit_app.app_context():
        approvals.decide(platform, again.id, L1, {1}, "approve", "已再次核对")
        history = approvals.decision_history(platform, _instance(again.instance_id))
    assert [(row["actor"], row["level"], row["decision"], row["comment"]) for row in history] == [
        ("clerk01", 0, "approve", "材料齐全"),
        ("approver_l101", 1, "approve", "同意"),
        ("approver_l201", 2, "return", "请一级再核对居住房屋情况"),
        ("approver_l101", 1, "approve", "已再次核对"),
    ]
    assert history[2]["decision_label"] == "退回一级审核"


def _instance(instance_id: int):
    from models import ProcessInstance, db

    return db.session.get(ProcessInstance, instance_id)


def test_the_submitter_cannot_approve_their_own_case(permit_app, drain):
    from processes.instances import start_instance

    p = card_person("long", nth=3)
    seed_registration(permit_app, p, months=7, legality="legal")
    starter = Actor("user", "staff-submitter", roles=("approver_l1",))
    data = {"id_number": p.id_number, "name": p.name, "mobile": p.mobile, "delivery": "counter"}
    with permit_app.app_context():
        instance, _ = start_instance(get_platform(permit_app), "permit_application", "PA-OWN", data, starter)
        public_id = instance.public_id
    drain()
    act(permit_app, drain, public_id, "clerk", {"decision": "approve"}, "permit_review")
    task = ready_task(permit_app, public_id, "approver_l1")
    with permit_app.app_context(), pytest.raises(Forbidden) as refused:
        approvals.decide(get_platform(permit_app), task.id, starter, {1}, "approve", "同意")
    assert refused.value.code == "FOUR_EYES" and "提交人" in refused.value.message
