"""change.apply checks the approvals itself, from the request's own history: a forged path applies nothing."""

from __future__ import annotations

import pytest

from handlers.registry import HandlerError, registry
from tests.processes.change_factories import make_holder, person_row
from tests.processes.change_request_support import (
    OPERATOR,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    decide,
    request_row,
    submit,
)

NEW_MOBILE = "13911112222"


def _contact(holder, **extra):
    return {"id_number": holder.id_number, "name": holder.name, **extra}


def _apply_directly(app, number: str) -> HandlerError:
    """Call the operator as a forged diagram would, with the request's real id and token."""
    from models import ProcessInstance, db
    from processes.case_scope import case_data

    row = request_row(app, number)
    with app.app_context():
        instance = db.session.get(ProcessInstance, row.instance_id)
        token = case_data(app.extensions["permitflow"], instance)["change"]["token"]
        with pytest.raises(HandlerError) as info:
            registry()["change.apply"].func(request_id=row.id, token=token)
        db.session.rollback()
    return info.value


def _forge_decision(app, number: str, task_spec: str, level: int, actor: str) -> None:
    """Write an approving step into the request's history as if `actor` had decided it."""
    from models import ProcessEvent, db

    row = request_row(app, number)
    with app.app_context():
        db.session.add(
            ProcessEvent(
                instance_id=row.instance_id,
                actor=actor,
                kind="task_completed",
                task_spec=task_spec,
                task_name=f"伪造的第{level}级审批",
                details={
                    "form": f"change_request_review_l{level}",
                    "changes": {"decision": [None, "approve"], "comment": [None, "同意"]},
                },
            )
        )
        db.session.commit()


def test_apply_without_any_approval_is_refused_and_changes_nothing(app):
    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile=NEW_MOBILE))
    error = _apply_directly(app, number)
    assert error.code == "CHANGE_NOT_APPROVED" and "第1级" in error.message
    assert request_row(app, number).status == "pending"
    assert person_row(app, holder.person_id).mobile != NEW_MOBILE


def test_apply_with_one_of_two_levels_is_refused(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_identity", _contact(holder, new_name="王小明"))
    decide(app, drain, number, 1)
    error = _apply_directly(app, number)
    assert error.code == "CHANGE_NOT_APPROVED" and "第2级" in error.message
    assert person_row(app, holder.person_id).name == holder.name


def test_apply_approved_by_the_submitter_is_refused(app):
    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile=NEW_MOBILE))
    _forge_decision(app, number, "Task_review_l1", 1, OPERATOR.name)
    error = _apply_directly(app, number)
    assert error.code == "FOUR_EYES" and OPERATOR.name in error.message
    assert person_row(app, holder.person_id).mobile != NEW_MOBILE


def test_apply_with_one_person_at_both_levels_is_refused(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_identity", _contact(holder, new_name="王小明"))
    decide(app, drain, number, 1)
    _forge_decision(app, number, "Task_review_l2", 2, "approver1")
    error = _apply_directly(app, number)
    assert error.code == "FOUR_EYES" and "approver1" in error.message
    assert person_row(app, holder.person_id).name == holder.name


def test_properly_approved_request_still_applies(app, drain):
    holder = make_holder(app, "issued")
    number = submit(app, "person_identity", _contact(holder, new_name="王小明"))
    decide(app, drain, number, 1)
    decide(app, drain, number, 2)
    row = request_row(app, number)
    assert row.status == "applied" and row.decided_by == "approver1,approver2"
    assert person_row(app, holder.person_id).name == "王小明"


# -- who may list and read change requests (finding 22) ------------------------------------------------------


def _scoped(role: str, district: str | None):
    from processes.stepping import Actor

    return Actor(kind="user", name=f"{role}-{district}", roles=(role,), extra={"district": district})


def test_reading_change_requests_needs_change_view_and_stays_in_district(app):
    from processes.changes.service import list_requests, request_detail
    from processes.errors import Forbidden, NotFound
    from tests.processes.change_factories import DISTRICT

    holder = make_holder(app, "issued")
    number = submit(app, "person_contact", _contact(holder, new_mobile=NEW_MOBILE))
    with app.app_context():
        for actor in (_scoped("clerk", DISTRICT), _scoped("analyst", None)):
            with pytest.raises(Forbidden):
                list_requests(actor)
            with pytest.raises(Forbidden):
                request_detail(actor, number)
        unscoped = _scoped("approver_l1", None)
        assert [r.number for r in list_requests(unscoped).items] == [number]
        assert request_detail(unscoped, number)["request"].number == number
        # A district-scoped reader sees the requests whose subject lives in their district only.
        same = _scoped("approver_l1", DISTRICT)
        assert [r.number for r in list_requests(same).items] == [number]
        assert request_detail(same, number)["request"].number == number
        other = _scoped("approver_l1", "浦东新区" if DISTRICT != "浦东新区" else "徐汇区")
        assert list_requests(other).items == [] and list_requests(other).total == 0
        with pytest.raises(NotFound):
            request_detail(other, number)
        with pytest.raises(NotFound):
            request_detail(_scoped("approver_l1", ""), number)  # scoped without a district: sees nothing
