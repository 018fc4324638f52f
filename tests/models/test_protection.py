"""Field protection at the model layer (S1, A9): encryption at rest, blind-index search, key-field MACs."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from models import Permit, Person, ResidenceRegistration, db
from models.protection import UNREADABLE, TamperedRecord, integrity_state
from processes.integrity import require_intact

ID_A, ID_B = "310101199001011234", "31010119900202123X"


def _person(id_number: str = ID_A, **extra) -> Person:
    values = {"name": "张三", "gender": "M", "birth_date": date(1990, 1, 1), "mobile": "13800138000"}
    values.update({"household_address": "上海市徐汇区田林路1号", **extra})
    person = Person(id_number=id_number, **values)
    db.session.add(person)
    db.session.commit()
    return person


def _raw(table: str, column: str, row_id: int) -> str | None:
    return db.session.execute(text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id}).scalar()


def _poke(table: str, column: str, row_id: int, value) -> None:
    # An attacker with database access, writing past the application.
    db.session.execute(text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": value, "id": row_id})
    db.session.commit()
    db.session.expunge_all()


def test_personal_fields_are_encrypted_at_rest_with_their_key_id(ctx):
    person = _person()
    for column, clear in (("id_number", ID_A), ("mobile", "13800138000"), ("household_address", "田林路")):
        stored = _raw("person", column, person.id)
        assert stored.startswith("field-enc:") and "$" in stored and clear not in stored
    assert _raw("person", "id_number_bidx", person.id).startswith("blind-index:")
    assert _raw("person", "integrity_mac", person.id).startswith("field-mac:")
    db.session.expunge_all()
    again = db.session.get(Person, person.id)
    assert (again.id_number, again.mobile, again.household_address) == (ID_A, "13800138000", "上海市徐汇区田林路1号")
    assert integrity_state(again) is None and require_intact(again) is again
    # The same clear value encrypts differently each time (fresh nonce); only the blind index is stable.
    other = _person(ID_B, mobile="13800138000")
    assert _raw("person", "mobile", other.id) != _raw("person", "mobile", person.id)
    assert _raw("person", "mobile_bidx", other.id) == _raw("person", "mobile_bidx", person.id)


def test_queries_by_id_number_and_mobile_go_through_the_blind_index(ctx):
    a, b = _person(), _person(ID_B, mobile="13900139000")
    find = lambda clause: db.session.execute(select(Person.id).where(clause).order_by(Person.id)).scalars().all()  # noqa: E731
    assert find(Person.id_number == ID_A) == [a.id]
    assert find(Person.id_number.in_([ID_A, ID_B])) == [a.id, b.id]
    assert find(Person.id_number != ID_A) == [b.id]
    assert find(Person.mobile == "13900139000") == [b.id]
    assert find(Person.id_number == "110101199001011234") == []
    with pytest.raises(TypeError, match="blind index"):
        Person.id_number.like("3101%")
    with pytest.raises(TypeError, match="cannot be searched"):
        Person.household_address == "x"  # noqa: B015


def test_the_id_number_stays_unique_through_its_blind_index(ctx):
    _person()
    db.session.add(Person(id_number=ID_A, name="李四", gender="F", birth_date=date(1991, 1, 1)))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_changed_key_field_is_flagged_and_refused_for_business_use(ctx, caplog):
    person = _person()
    _poke("person", "name", person.id, "王五")
    loaded = db.session.get(Person, person.id)
    assert loaded.name == "王五" and integrity_state(loaded) == "mac_mismatch"
    assert "INTEGRITY ALERT" in caplog.text
    with pytest.raises(TamperedRecord) as refused:
        require_intact(loaded)
    assert refused.value.code == "RECORD_TAMPERED" and refused.value.status == 409
    assert "篡改" in refused.value.message and refused.value.details == {
        "table": "person",
        "id": person.id,
        "reason": "mac_mismatch",
    }
    # A business write must not re-seal (launder) the tampered row.
    loaded.employer = "某公司"
    with pytest.raises(TamperedRecord):
        db.session.commit()
    db.session.rollback()
    assert _raw("person", "name", person.id) == "王五" and _raw("person", "employer", person.id) is None


def test_tampered_ciphertext_swapped_values_and_forged_indexes_are_flagged(ctx):
    a, b = _person(), _person(ID_B, mobile="13900139000")
    blob = _raw("person", "id_number", a.id)
    _poke("person", "id_number", a.id, blob[:-6] + ("AAAA==" if not blob.endswith("AAAA==") else "BBBB=="))
    assert db.session.get(Person, a.id).id_number == UNREADABLE
    assert integrity_state(db.session.get(Person, a.id)) == "undecryptable"
    # B's mobile ciphertext moved into B's household_address: the GCM label (table.column) refuses it.
    _poke("person", "household_address", b.id, _raw("person", "mobile", b.id))
    assert integrity_state(db.session.get(Person, b.id)) == "undecryptable"


def test_a_forged_blind_index_is_flagged(ctx):
    a, b = _person(), _person(ID_B, mobile="13900139000")
    _poke("person", "mobile_bidx", b.id, _raw("person", "mobile_bidx", a.id))  # B found when searching A's mobile
    assert integrity_state(db.session.get(Person, b.id)) == "mac_mismatch"  # the MAC covers the index


def test_protected_writes_seal_defaults_dates_and_foreign_keys(ctx):
    person = _person()
    registration = ResidenceRegistration(
        number="DJ-T-1", person_id=person.id, status="active", address="上海市徐汇区田林路200号", district="徐汇区"
    )
    db.session.add(registration)
    db.session.flush()
    permit = Permit(
        number="P-T-1",
        person_id=person.id,
        registration_id=registration.id,
        status="issued",
        valid_from=date(2026, 1, 1),
        valid_until=date(2027, 1, 1),
    )
    db.session.add(permit)
    db.session.commit()
    permit.status, permit.lost_reported_by = "lost", ID_A
    db.session.commit()
    assert _raw("permit", "lost_reported_by", permit.id).startswith("field-enc:")
    db.session.expunge_all()
    loaded = db.session.get(Permit, permit.id)
    assert integrity_state(loaded) is None and loaded.lost_reported_by == ID_A and loaded.card_status == "none"
    assert integrity_state(db.session.get(ResidenceRegistration, registration.id)) is None
    _poke("permit", "valid_until", permit.id, "2030-01-01")
    assert integrity_state(db.session.get(Permit, permit.id)) == "mac_mismatch"


def test_two_writers_of_one_row_cannot_leave_a_mac_neither_sealed(ctx):
    from sqlalchemy.orm import Session
    from sqlalchemy.orm.exc import StaleDataError

    person = _person()
    with Session(db.engine, expire_on_commit=False) as first, Session(db.engine, expire_on_commit=False) as second:
        a, b = first.get(Person, person.id), second.get(Person, person.id)
        a.name = "甲"
        first.commit()
        b.mobile = "13700137000"  # read before the first write: its MAC would cover the old name
        with pytest.raises(StaleDataError):
            second.commit()
    db.session.expunge_all()
    loaded = db.session.get(Person, person.id)
    assert (loaded.name, loaded.mobile, integrity_state(loaded)) == ("甲", "13800138000", None)


def test_a_decrypted_value_copied_into_another_column_is_encrypted_for_that_column(ctx):
    a = _person()
    b = _person(ID_B, mobile=a.mobile, household_address=None)  # the value as read from A's person.mobile
    b.household_address = a.mobile
    db.session.commit()
    db.session.expunge_all()
    loaded = db.session.get(Person, b.id)
    assert (loaded.mobile, loaded.household_address, integrity_state(loaded)) == ("13800138000", "13800138000", None)


def test_bulk_sql_through_the_session_cannot_skip_the_seal(ctx):
    from sqlalchemy import update

    from models import SmsMessage

    person = _person()
    with pytest.raises(RuntimeError, match="protected"):
        db.session.execute(update(Person).where(Person.id == person.id).values(name="李四"))
    db.session.rollback()
    with pytest.raises(RuntimeError, match="protected"):
        db.session.execute(update(SmsMessage).values(mobile="13700137000"))
    db.session.rollback()
    db.session.execute(update(SmsMessage).values(status="sent"))  # no protected column touched: allowed
    db.session.rollback()


def test_staff_mobiles_are_encrypted_and_still_found(ctx):
    from models import AppUser

    user = AppUser(
        username="enc-staff-1", display_name="加密测试", role="clerk", password_hash="x", mobile="13900139001"
    )
    db.session.add(user)
    db.session.commit()
    raw = _raw("app_user", "mobile", user.id)
    assert raw.startswith("field-enc:") and "13900139001" not in raw
    db.session.expunge_all()
    found = db.session.execute(select(AppUser).where(AppUser.mobile == "13900139001")).scalar_one()
    assert found.id == user.id and found.mobile == "13900139001"
    db.session.delete(found)
    db.session.commit()
