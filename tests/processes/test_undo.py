"""C2.3 undo: each rule through approval, its effect on dependent records, its refusals, and rejection."""

from __future__ import annotations

from datetime import date

import pytest

from integrations.idnumber import birth_date, gender
from processes.errors import ValidationFailed
from tests.processes.change_factories import (
    make_holder,
    permits_of,
    person_row,
    registrations_of,
    staff_complete,
    start,
)
from tests.processes.change_request_support import (
    approve_all,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    decide,
    request_row,
    submit,
)
from tests.support import instance_row


def _reissued(app, holder, *, lost: bool) -> str:
    """The holder's permit replaced as a reissue does it (old voided, new queued); the new permit's number."""
    from models import db, utcnow
    from models.domain import Permit
    from processes.domain.reissue import request_new_card

    with app.app_context():
        old = db.session.get(Permit, holder.permit_id)
        if lost:
            old.status, old.lost_at, old.lost_reported_by = "lost", utcnow(), holder.id_number
        new = request_new_card(old)
        db.session.commit()
        return new.number


@pytest.mark.parametrize(
    ("kind", "lost", "restored"), [("loss", True, "lost"), ("damage", False, "issued"), ("lost_found", True, "lost")]
)
def test_c2_3_undo_reissue_voids_the_new_card_and_restores_the_old(app, drain, kind, lost, restored):
    holder = make_holder(app, "issued")
    new_number = _reissued(app, holder, lost=lost)
    number = submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": kind})
    approve_all(app, drain, number)
    assert request_row(app, number).status == "applied"
    old, new = permits_of(app, holder.person_id)
    assert (new.number, new.status) == (new_number, "voided")
    assert old.status == restored
    if restored == "lost":
        assert old.lost_at is not None and old.lost_reported_by == holder.id_number


def test_c2_3_undo_reissue_loss_at_the_counter_keeps_the_old_card_reported_lost(app, drain):
    holder = make_holder(app, "issued")
    new_number = _reissued(app, holder, lost=False)  # loss reported together with the reissue
    number = submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "loss"})
    approve_all(app, drain, number)
    old, _new = permits_of(app, holder.person_id)
    assert (old.status, old.lost_reported_by) == ("lost", holder.id_number)


def test_c2_3_undo_reissue_refused_once_the_card_is_at_the_factory_or_type_mismatches(app):
    from models import db
    from models.domain import Permit

    holder = make_holder(app, "issued")
    new_number = _reissued(app, holder, lost=False)
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "lost_found"})
    assert info.value.code == "REISSUE_TYPE_MISMATCH"
    with app.app_context():
        db.session.execute(db.select(Permit).where(Permit.number == new_number)).scalar_one().status = "producing"
        db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "damage"})
    assert info.value.code == "UNDO_TOO_LATE"


def test_c2_3_undo_rejected_changes_nothing(app, drain):
    holder = make_holder(app, "issued")
    new_number = _reissued(app, holder, lost=False)
    number = submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "damage"})
    decide(app, drain, number, 1)
    decide(app, drain, number, 2, "reject", "补办材料无误，不予撤销")
    assert request_row(app, number).status == "rejected"
    assert [p.status for p in permits_of(app, holder.person_id)] == ["voided", "approved"]


def test_c2_3_an_undo_is_requested_once(app):
    holder = make_holder(app, "issued")
    new_number = _reissued(app, holder, lost=False)
    submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "damage"})
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_reissue", {"permit_number": new_number, "reissue_type": "damage"})
    assert info.value.code == "UNDO_EXISTS"


def _identity_change(app, drain, holder, **changes) -> str:
    data = {"id_number": holder.id_number, "name": holder.name, "reason": "公安机关已变更户籍信息", **changes}
    body = start(app, drain, "identity_info_change", data)
    staff_complete(app, drain, body["id"], {"decision": "approve", "comment": "户籍证明齐全"}, role="approver_l1")
    return instance_row(app, body["id"]).business_key


def test_c2_3_undo_identity_change_restores_the_person_and_the_old_card(app, drain):
    holder = make_holder(app, "issued")
    key = _identity_change(app, drain, holder, new_name="李新名", new_birth_date="1990-02-03", new_ethnicity="回族")
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_identity_change", {"business_key": key})
    assert info.value.code == "RESTORE_VALUE_REQUIRED"
    number = submit(app, "undo_identity_change", {"business_key": key, "restore_ethnicity": "汉族"})
    approve_all(app, drain, number)
    assert request_row(app, number).status == "applied"
    person = person_row(app, holder.person_id)
    assert (person.name, person.birth_date, person.ethnicity) == (holder.name, birth_date(holder.id_number), "汉族")
    old, new = permits_of(app, holder.person_id)
    assert (old.status, new.status) == ("issued", "voided")


def test_c2_3_undo_identity_change_without_new_card(app, drain):
    holder = make_holder(app, "producing")
    key = _identity_change(app, drain, holder, new_gender="F")
    number = submit(app, "undo_identity_change", {"business_key": key})
    approve_all(app, drain, number)
    assert person_row(app, holder.person_id).gender == gender(holder.id_number)
    assert [p.status for p in permits_of(app, holder.person_id)] == ["producing"]


def test_c2_3_undo_identity_change_refused_after_a_later_change(app, drain):
    from models import db
    from models.domain import Person

    holder = make_holder(app, "producing")
    key = _identity_change(app, drain, holder, new_name="李新名")
    with app.app_context():
        db.session.get(Person, holder.person_id).name = "李再改"
        db.session.commit()
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_identity_change", {"business_key": key})
    assert info.value.code == "CHANGED_SINCE"


def test_c2_3_undo_permit_application_voids_it_and_cancels_its_process(app, drain):
    holder = make_holder(app, "approved")
    [permit] = permits_of(app, holder.person_id)
    number = submit(app, "undo_permit_application", {"permit_number": permit.number})
    approve_all(app, drain, number)
    assert request_row(app, number).after["status"] == "voided"
    assert [p.status for p in permits_of(app, holder.person_id)] == ["voided"]


def test_c2_3_undo_permit_application_refused_for_an_issued_permit(app):
    holder = make_holder(app, "issued")
    [permit] = permits_of(app, holder.person_id)
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_permit_application", {"permit_number": permit.number})
    assert info.value.code == "UNDO_TOO_LATE"


def test_c2_3_undo_registration_refused_while_a_permit_stands_then_revokes(app, drain):
    holder = make_holder(app, None)
    [reg] = registrations_of(app, holder.person_id)
    number = submit(app, "undo_registration", {"registration_number": reg.number})
    approve_all(app, drain, number)
    [reg] = registrations_of(app, holder.person_id)
    assert (reg.status, reg.ended_at is not None) == ("revoked", True)
    other = make_holder(app, "issued", nth=1)
    [reg2] = registrations_of(app, other.person_id)
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_registration", {"registration_number": reg2.number})
    assert info.value.code == "REGISTRATION_HAS_PERMIT"


def test_c2_3_undo_registration_from_an_address_change_restores_the_superseded_one(app, drain):
    from models import db
    from models.domain import ResidenceRegistration

    holder = make_holder(app, None)
    with app.app_context():
        old = db.session.get(ResidenceRegistration, holder.registration_id)
        old.status = "superseded"
        new = ResidenceRegistration(
            number="DJ-T-NEW",
            person_id=holder.person_id,
            status="active",
            address="上海市浦东新区张杨路500号",
            district="浦东新区",
            registered_on=date(2025, 6, 1),
            valid_until=date(2028, 6, 1),
            previous_id=old.id,
        )
        db.session.add(new)
        db.session.commit()
    number = submit(app, "undo_registration", {"registration_number": "DJ-T-NEW"})
    approve_all(app, drain, number)
    old, new = registrations_of(app, holder.person_id)
    assert (old.status, old.ended_at, new.status) == ("active", None, "revoked")


def test_c2_3_undo_permit_issuance_returns_the_card_to_the_centre(app, drain):
    holder = make_holder(app, "issued")
    [permit] = permits_of(app, holder.person_id)
    number = submit(app, "undo_permit_issuance", {"permit_number": permit.number})
    approve_all(app, drain, number)
    [permit] = permits_of(app, holder.person_id)
    assert (permit.status, permit.card_status, permit.issued_at) == ("producing", "made", None)


def test_c2_3_undo_permit_issuance_refused_after_an_endorsement(app):
    from models import db
    from models.domain import Endorsement

    holder = make_holder(app, "issued")
    with app.app_context():
        db.session.add(
            Endorsement(
                permit_id=holder.permit_id,
                kind="auto",
                endorsed_on=date(2026, 6, 1),
                valid_until=date(2027, 6, 1),
                decided_by="system",
            )
        )
        db.session.commit()
    [permit] = permits_of(app, holder.person_id)
    with pytest.raises(ValidationFailed) as info:
        submit(app, "undo_permit_issuance", {"permit_number": permit.number})
    assert info.value.code == "UNDO_TOO_LATE"


def _undo_cases(app, drain):
    """Each undo type with a record it may undo: (type, fields, snapshot of the records it would touch)."""
    reissue = make_holder(app, "issued", nth=2)
    new_number = _reissued(app, reissue, lost=False)
    identity = make_holder(app, "producing", nth=3)
    key = _identity_change(app, drain, identity, new_name="李新名")
    application = make_holder(app, "approved", nth=4)
    registration = make_holder(app, None, nth=5)
    issued = make_holder(app, "issued", nth=6)
    return [
        ("undo_reissue", {"permit_number": new_number, "reissue_type": "damage"}, reissue),
        ("undo_identity_change", {"business_key": key}, identity),
        ("undo_permit_application", {"permit_number": permits_of(app, application.person_id)[0].number}, application),
        (
            "undo_registration",
            {"registration_number": registrations_of(app, registration.person_id)[0].number},
            registration,
        ),
        ("undo_permit_issuance", {"permit_number": permits_of(app, issued.person_id)[0].number}, issued),
    ]


def _records(app, holder) -> tuple:
    person = person_row(app, holder.person_id)
    return (
        (person.name, person.gender, person.ethnicity),
        [(p.number, p.status, p.card_status, p.issued_at) for p in permits_of(app, holder.person_id)],
        [(r.number, r.status) for r in registrations_of(app, holder.person_id)],
    )


@pytest.mark.parametrize("level", [1, 2])
def test_c2_3_every_undo_rejected_at_either_level_changes_nothing(app, drain, level):
    cases = _undo_cases(app, drain)
    for code, fields, holder in cases:
        before = _records(app, holder)
        number = submit(app, code, fields)
        if level == 2:
            decide(app, drain, number, 1)
        decide(app, drain, number, level, "reject", "撤销依据不足")
        assert request_row(app, number).status == "rejected", code
        assert _records(app, holder) == before, code
