"""Helpers for the A6 permit and card-production tests: seeded registrations, the permit flow, batches."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime

from sqlalchemy import func, select

from integrations.crypto import sm3_hex
from integrations.idnumber import birth_date, gender
from integrations.simulators.dataset import houses
from models import db
from models.domain import Permit, Person, Photo, ResidenceRegistration
from models.sms import SmsMessage
from processes.instances import start_instance
from processes.platform import get_platform
from processes.stepping import Actor
from processes.tasks import complete_task
from tests.support import instance_row, ready_task, register_key

OPS = Actor("user", "ops01", roles=("ops",))


def card_person(profile: str = "long", nth: int = 0, card_ok: bool = True):
    """The nth living person with this HRSS profile whose card the factory makes (or, card_ok=False, fails)."""
    from integrations.simulators.dataset import photo_profile, population

    def makeable(p) -> bool:
        profile_ = photo_profile(p)
        return not p.rare_name and profile_ is not None and profile_.passed

    return [p for p in population() if p.hrss_profile == profile and not p.deceased and makeable(p) == card_ok][nth]


def address_code(legality: str | None) -> str:
    """The address code of a simulated house with this legality ('' for none: housing unknown)."""
    if legality is None:
        return ""
    return next(h.address_code for h in houses() if h.legality == legality)


def months_ago(months: int) -> date:
    """The first day of the month `months` before this one: registration months are then exactly `months`."""
    today = datetime.now(UTC).date()
    total = today.year * 12 + today.month - 1 - months
    return date(total // 12, total % 12 + 1, 1)


def seed_registration(app, p, months: int = 7, legality: str | None = "legal", photos: int = 2) -> int:
    """A person with an active registration `months` old at a house of this legality, and photos (A4)."""
    with app.app_context():
        person = Person(
            id_number=p.id_number,
            name=p.name,
            mobile=p.mobile,
            gender=gender(p.id_number),
            birth_date=birth_date(p.id_number),
        )
        db.session.add(person)
        db.session.flush()
        day = months_ago(months)
        db.session.add(
            ResidenceRegistration(
                number=f"DJ{secrets.token_hex(6)}",
                person_id=person.id,
                status="active",
                address="上海市测试路1号",
                address_code=address_code(legality) or None,
                registered_on=day,
                valid_until=date(day.year + 3, 1, 1),
            )
        )
        for n in range(photos):
            content = f"{p.id_number}-{n}".encode()
            db.session.add(
                Photo(
                    person_id=person.id,
                    source="counter",
                    sm3=sm3_hex(content),
                    size=len(content),
                    mime="image/jpeg",
                    storage_key=f"photos/{p.id_number}/{n}",
                    taken_at=datetime(2024 + n, 1, 1, tzinfo=UTC),
                )
            )
        db.session.commit()
        return person.id


def apply(app, drain, p, delivery: str = "counter", **overrides) -> str:
    """Apply for a permit through the channel API; returns the instance's public id."""
    key = register_key(app)  # a fresh channel client per application
    data = {
        "id_number": p.id_number,
        "name": p.name,
        "mobile": p.mobile,
        "delivery": delivery,
        "service_point": "徐汇区田林受理点",
    }
    if delivery == "post":
        data.update(district="徐汇区", address_detail="田林路200号3号楼502室", postcode="200233")
    data.update(overrides)
    response = app.test_client().post(
        "/api/v1/processes/permit_application/instances",
        headers={"X-Api-Key": key},
        json={"business_key": f"PA-{secrets.token_hex(4)}", "data": data},
    )
    assert response.status_code == 201, response.get_json()
    drain()
    return response.get_json()["id"]


def act(app, drain, public_id: str, role: str, data: dict, form_key: str | None = None) -> None:
    """Complete the instance's ready task for a role (checking its form), then run what follows."""
    task = ready_task(app, public_id, role)
    if form_key is not None:
        assert task.form_key == form_key
    with app.app_context():
        complete_task(get_platform(app), task.id, data, Actor("user", f"{role}01", roles=(role,)))
    drain()


def approve_through(app, drain, public_id: str, risk: bool) -> None:
    """Clerk, level 1 (and level 2 when risk) approve."""
    act(app, drain, public_id, "clerk", {"decision": "approve"}, "permit_review")
    act(app, drain, public_id, "approver_l1", {"decision": "approve"}, "permit_approval")
    if risk:
        act(app, drain, public_id, "approver_l2", {"decision": "approve"}, "permit_approval_l2")


def run_batch(app, drain, express: bool = False):
    """Start one card-production batch (as operations would) and run it to its end."""
    with app.app_context():
        instance, _ = start_instance(
            get_platform(app),
            "card_production",
            f"CB-{secrets.token_hex(4)}",
            {"batch_ref": f"B{secrets.token_hex(6)}", "express": express},
            OPS,
        )
        public_id = instance.public_id
    drain()
    drain()
    return instance_row(app, public_id)


def permit_row(app, number: str) -> Permit:
    """The permit, freshly read."""
    with app.app_context():
        db.session.rollback()
        return db.session.execute(select(Permit).where(Permit.number == number)).scalar_one()


def sms_templates_sent(app) -> list[str]:
    """The template codes of the SMS queued so far, in order."""
    with app.app_context():
        return list(db.session.execute(select(SmsMessage.template_code).order_by(SmsMessage.id)).scalars())


def count(app, model) -> int:
    """How many rows a table holds."""
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()
