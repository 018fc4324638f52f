"""Records and channel calls for the existing-business (A0) tests: persons, registrations, permits made directly."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from tests.support import ADDRESS, ready_task
from tests.support import person as sim_person

DISTRICT = "徐汇区"
VALID_FROM, VALID_UNTIL = date(2026, 1, 10), date(2027, 1, 10)
CHANNELS = ("channel_line", "mca3", "suishenban", "terminal")


@dataclass(frozen=True)
class Holder:
    """The ids of a person made for a test and their registration and permit."""

    id_number: str
    name: str
    person_id: int
    registration_id: int | None
    permit_id: int | None


def make_holder(
    app, permit_status: str | None = "issued", nth: int = 0, registration: bool = True, **permit_fields: Any
) -> Holder:
    """A person (from the simulated population) with an active registration and a permit in a given state."""
    from models import db
    from models.domain import Permit, Person, ResidenceRegistration

    p = sim_person("long", nth)
    with app.app_context():
        person = Person(
            id_number=p.id_number,
            name=p.name,
            gender="M",
            birth_date=date(1990, 1, 1),
            ethnicity="汉族",
            mobile=p.mobile,
            education="bachelor",
            employer="上海某科技有限公司",
        )
        db.session.add(person)
        db.session.flush()
        reg = None
        if registration:
            reg = ResidenceRegistration(
                number=f"DJ-T{person.id:06d}",
                person_id=person.id,
                status="active",
                address=ADDRESS,
                district=DISTRICT,
                service_point="XH01",
                registered_on=date(2025, 6, 1),
                valid_until=date(2028, 6, 1),
                insured_months=24,
            )
            db.session.add(reg)
            db.session.flush()
        permit = None
        if permit_status is not None:
            card = {"issued": "delivered", "lost": "delivered", "approved": "queued", "producing": "queued"}
            values = {"card_status": card.get(permit_status, "none")} | permit_fields
            permit = Permit(
                number=f"JZ-T{person.id:06d}",
                person_id=person.id,
                registration_id=reg.id,
                status=permit_status,
                valid_from=VALID_FROM,
                valid_until=VALID_UNTIL,
                pickup="post",
                **values,
            )
            db.session.add(permit)
        db.session.commit()
        return Holder(p.id_number, p.name, person.id, reg.id if reg else None, permit.id if permit else None)


def permits_of(app, person_id: int) -> list:
    """The person's permit rows, oldest first, freshly read."""
    from models import db
    from models.domain import Permit

    with app.app_context():
        db.session.rollback()
        rows = db.session.execute(select(Permit).where(Permit.person_id == person_id).order_by(Permit.id)).scalars()
        return [_detached(db, row) for row in rows]


def registrations_of(app, person_id: int) -> list:
    """The person's registration rows, oldest first, freshly read."""
    from models import db
    from models.domain import ResidenceRegistration

    with app.app_context():
        db.session.rollback()
        rows = db.session.execute(
            select(ResidenceRegistration)
            .where(ResidenceRegistration.person_id == person_id)
            .order_by(ResidenceRegistration.id)
        ).scalars()
        return [_detached(db, row) for row in rows]


def person_row(app, person_id: int):
    """The person row, freshly read."""
    from models import db
    from models.domain import Person

    with app.app_context():
        db.session.rollback()
        return _detached(db, db.session.get(Person, person_id))


def _detached(db, row):
    db.session.expunge(row)
    return row


def start(app, drain, process: str, data: dict[str, Any], channel: str = "suishenban") -> dict[str, Any]:
    """Start a process through the channel API, run it as far as it goes and return the channel's view."""
    client = app.test_client()
    key = _key(app, channel)
    response = client.post(
        f"/api/v1/processes/{process}/instances",
        headers={"X-Api-Key": key},
        json={"business_key": f"BK-{secrets.token_hex(4)}", "data": data},
    )
    assert response.status_code == 201, response.get_json()
    drain()
    return view(app, response.get_json()["id"], key)


def start_raw(app, process: str, data: dict[str, Any]):
    """POST a start request and return the raw response (for rejected start forms)."""
    key = _key(app, "suishenban")
    return app.test_client().post(
        f"/api/v1/processes/{process}/instances",
        headers={"X-Api-Key": key},
        json={"business_key": f"BK-{secrets.token_hex(4)}", "data": data},
    )


def _key(app, channel: str) -> str:
    """A fixed API key per channel code, registered once per test (the tables are emptied between tests)."""
    from models import ChannelClient, db
    from processes.channels import register_client

    api_key = f"pf_test_{channel}"
    with app.app_context():
        if db.session.execute(select(ChannelClient.id).where(ChannelClient.code == channel)).first() is None:
            register_client(channel, f"测试{channel}", "channel", api_key=api_key)
    return api_key


def view(app, public_id: str, key: str | None = None) -> dict[str, Any]:
    """The channel's view of an instance."""
    key = key or _key(app, "suishenban")
    return app.test_client().get(f"/api/v1/instances/{public_id}", headers={"X-Api-Key": key}).get_json()


def staff_complete(app, drain, public_id: str, data: dict[str, Any], role: str = "clerk"):
    """Complete the instance's ready task of a role as a staff member, then run on; returns the task."""
    from processes.stepping import Actor
    from processes.tasks import complete_task

    task = ready_task(app, public_id, role)
    with app.app_context():
        complete_task(app.extensions["permitflow"], task.id, data, Actor(kind="user", name=f"{role}01", roles=(role,)))
    drain()
    return task


def result(app, public_id: str) -> dict[str, Any]:
    """The instance's status and public result, freshly read."""
    from tests.support import instance_row

    row = instance_row(app, public_id)
    return {"status": row.status, **(row.result or {})}
