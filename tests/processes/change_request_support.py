"""Helpers for the change-request tests: actors, submit, decide at each level, read back, clean up."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, text

from processes.stepping import Actor

OPERATOR = Actor(kind="user", name="operator01", roles=("data_operator",))
APPROVER_L1 = Actor(kind="user", name="approver1", roles=("approver_l1",))
APPROVER_L2 = Actor(kind="user", name="approver2", roles=("approver_l2",))
CHANGE_TABLES = ("change_request", "death_list_row", "death_list_import", "rare_character")


@pytest.fixture(autouse=True)
def clean_change_tables(app):
    """Empty this feature's tables after each test (before the shared clean-up empties the business tables)."""
    yield
    from models import db

    with app.app_context():
        for table in CHANGE_TABLES:
            db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()


def submit(app, type_code: str, fields: dict[str, Any], reason: str = "核对原始材料后更正", actor: Actor = OPERATOR):
    """Submit a change request as the data operator; returns its number."""
    from processes.changes.service import submit as submit_change

    with app.app_context():
        row = submit_change(app.extensions["permitflow"], actor, type_code, fields, reason)
        return row.number


def approval_task(app, number: str, level: int):
    """The ready approval task of a level for a change request."""
    from models import HumanTask, db

    with app.app_context():
        return db.session.execute(
            select(HumanTask).where(
                HumanTask.business_key == number, HumanTask.status == "ready", HumanTask.approval_level == level
            )
        ).scalar_one_or_none()


def decide(app, drain, number: str, level: int, decision: str = "approve", comment: str = "材料齐全，同意"):
    """Decide the request's approval task of a level through the approval service, then run the jobs."""
    from processes import approvals

    task = approval_task(app, number, level)
    assert task is not None, f"no level-{level} task for {number}"
    actor = APPROVER_L1 if level == 1 else APPROVER_L2
    with app.app_context():
        approvals.decide(app.extensions["permitflow"], task.id, actor, {level}, decision, comment)
    drain()


def approve_all(app, drain, number: str) -> None:
    """Approve at every level the request needs."""
    decide(app, drain, number, 1)
    if approval_task(app, number, 2) is not None:
        decide(app, drain, number, 2)


def request_row(app, number: str):
    """The change request, freshly read (detached)."""
    from models import db
    from models.changes import ChangeRequest

    with app.app_context():
        db.session.rollback()
        row = db.session.execute(select(ChangeRequest).where(ChangeRequest.number == number)).scalar_one()
        row.fields, row.before, row.after  # noqa: B018  (decrypt while the session is open)
        db.session.expunge(row)
        return row
