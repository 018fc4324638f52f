"""Approval pages: level-1/level-2 queues, decide with a mandatory reason, four-eyes, the decision history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditLog, HumanTask, db
from processes.users import upsert_user
from tests.processes.permit_support import act, apply, card_person, seed_registration
from tests.support import ready_task
from tests.webapp.auth_support import TEST_PASSWORD, csrf_token, sign_in

FLOOR = {"seq": 0}


@pytest.fixture(autouse=True)
def audit_floor(app):
    """The audit log outlives the per-test cleanup (append-only): assertions look only at this test's rows."""
    with app.app_context():
        FLOOR["seq"] = db.session.execute(select(func.coalesce(func.max(AuditLog.seq), 0))).scalar_one()


@pytest.fixture
def at_level1(permit_app, drain):
    """A risky permit application (level 2 follows level 1), reviewed by clerk01, waiting at level 1."""
    p = card_person("long", nth=2)
    seed_registration(permit_app, p, months=2, legality="illegal")
    public_id = apply(permit_app, drain, p)
    act(permit_app, drain, public_id, "clerk", {"decision": "approve", "comment": "材料齐全"}, "permit_review")
    return public_id


def _decide(client, task_id: int, decision: str, reason: str):
    return client.post(
        f"/approvals/tasks/{task_id}/decide",
        data={"csrf_token": csrf_token(client), "decision": decision, "reason": reason},
    )


def test_two_level_approval_with_reasons_and_history(permit_app, drain, at_level1):
    app = permit_app
    level1 = ready_task(app, at_level1, "approver_l1")
    approver1 = app.test_client()
    sign_in(approver1, "approver1")
    home = approver1.get("/").get_data(as_text=True)
    assert 'id="nav-approval-l1"' in home and 'id="nav-approval-l2"' not in home and 'id="tile-level1"' in home
    queue = approver1.get("/approvals/level1").get_data(as_text=True)
    assert f'id="task-{level1.id}"' in queue and "共 1 条" in queue
    assert approver1.get("/approvals/level2").status_code == 403
    page = approver1.get(f"/approvals/tasks/{level1.id}").get_data(as_text=True)
    assert 'id="decision-form"' in page and 'value="return"' in page and 'id="decision-history"' in page
    assert "材料齐全" in page  # the clerk's review is in the decision history
    assert "所属区 闵行区" in page  # from the housing check, worked out for an (unscoped) approver too
    assert 'id="photo-missing"' in page  # the seeded photo rows have no files behind them
    missing = _decide(approver1, level1.id, "approve", "  ")
    assert missing.status_code == 422 and 'data-code="DECISION_INVALID"' in missing.get_data(as_text=True)
    assert "请填写审批意见" in missing.get_data(as_text=True)
    assert _decide(approver1, level1.id, "approve", "房屋情况已核实，同意").status_code == 302
    drain()
    level2 = ready_task(app, at_level1, "approver_l2")
    approver2 = app.test_client()
    sign_in(approver2, "approver2")
    assert f'id="task-{level2.id}"' in approver2.get("/approvals/level2").get_data(as_text=True)
    assert approver2.get(f"/approvals/tasks/{level1.id}").status_code == 404  # finished level-1 task: not theirs
    assert _decide(approver2, level2.id, "reject", "").status_code == 422
    assert _decide(approver2, level2.id, "approve", "复核通过").status_code == 302
    drain()
    with app.app_context():
        assert db.session.get(HumanTask, level2.id).completed_by == "approver2"
        mine = select(AuditLog.event).where(AuditLog.event.like("approval.%"), AuditLog.seq > FLOOR["seq"])
        events = list(db.session.execute(mine).scalars())
    assert events == ["approval.approve", "approval.approve"]
    done = approver2.get("/approvals/level2?status=completed").get_data(as_text=True)
    assert f'id="task-{level2.id}"' in done


def test_the_level1_approver_cannot_approve_level2(permit_app, drain, at_level1):
    app = permit_app
    level1 = ready_task(app, at_level1, "approver_l1")
    client = app.test_client()
    sign_in(client, "approver1")
    assert _decide(client, level1.id, "approve", "同意").status_code == 302
    drain()
    level2 = ready_task(app, at_level1, "approver_l2")
    # approver1 moves to the centre's level-2 team: still not allowed to review their own level-1 decision.
    with app.app_context():
        upsert_user("approver1", "王建国（中心复核）", "approver_l2", TEST_PASSWORD)
    moved = app.test_client()
    _sign_in_as_is(moved, "approver1")  # auth_support.sign_in would restore the demo role
    page = moved.get(f"/approvals/tasks/{level2.id}").get_data(as_text=True)
    assert 'id="four-eyes-notice"' in page and 'id="decision-form"' not in page
    refused = _decide(moved, level2.id, "approve", "同意")
    assert refused.status_code == 403 and "FOUR_EYES" in refused.get_data(as_text=True)


def _sign_in_as_is(client, username: str) -> None:
    """Sign in without resetting the user's role (auth_support.sign_in restores the demo role)."""
    from tests.webapp.auth_support import demo_key, submit_password, ukey_challenge

    assert submit_password(client, username).status_code == 302
    challenge = ukey_challenge(client)
    signature = demo_key(username).sign(bytes.fromhex(challenge)).hex()
    response = client.post(
        "/login/verify", data={"method": "ukey", "signature": signature, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302 and "/login" not in response.headers["Location"]


def test_bad_decision_input_never_500(permit_app, drain, at_level1):
    client = permit_app.test_client()
    sign_in(client, "approver1")
    level1 = ready_task(permit_app, at_level1, "approver_l1")
    assert (
        client.post(f"/approvals/tasks/{level1.id}/decide", data={"csrf_token": csrf_token(client)}).status_code == 422
    )
    assert client.get("/approvals/tasks/123456789012345678901234").status_code == 404
    assert client.get("/approvals/level1?page=-1").status_code == 400
    clerk = permit_app.test_client()
    sign_in(clerk, "clerk01")
    assert clerk.get("/approvals/level1").status_code == 403
