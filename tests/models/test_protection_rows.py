"""Field protection bound to the row (review finding 3): MACs cover the row id, ciphertexts carry it as AAD."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

from sqlalchemy import text

from models import Person, SmsBlock, SmsMessage, db
from models.changes import ChangeRequest
from models.protection import UNREADABLE, integrity_state
from processes.integrity import scan

ID_A, ID_B = "310101199001011234", "31010119900202123X"
PERSON_SEALED = (
    "id_number",
    "id_number_bidx",
    "name",
    "gender",
    "birth_date",
    "ethnicity",
    "mobile",
    "mobile_bidx",
    "household_address",
    "deceased",
    "integrity_mac",
)


def _person(id_number: str, name: str, mobile: str) -> Person:
    person = Person(id_number=id_number, name=name, gender="M", birth_date=date(1990, 1, 1), mobile=mobile)
    person.household_address = f"{name}的地址"
    db.session.add(person)
    db.session.commit()
    return person


def _row(table: str, columns: tuple[str, ...], row_id: int) -> dict:
    names = ", ".join(columns)
    return dict(
        db.session.execute(text(f"SELECT {names} FROM {table} WHERE id = :id"), {"id": row_id}).mappings().one()
    )


def _write(table: str, values: dict, row_id: int) -> None:
    # An attacker with database access, writing past the application.
    sets = ", ".join(f"{k} = :{k}" for k in values)
    db.session.execute(text(f"UPDATE {table} SET {sets} WHERE id = :row_id"), {**values, "row_id": row_id})


def test_swapping_two_persons_sealed_fields_and_macs_is_detected(ctx):
    a, b = _person(ID_A, "张三", "13800138000"), _person(ID_B, "李四", "13900139000")
    row_a, row_b = _row("person", PERSON_SEALED, a.id), _row("person", PERSON_SEALED, b.id)
    _write("person", {**row_a, "id_number_bidx": "swap-tmp"}, b.id)  # the unique index: swap in two steps
    _write("person", row_b, a.id)
    _write("person", {"id_number_bidx": row_a["id_number_bidx"]}, b.id)
    db.session.commit()
    db.session.expunge_all()
    for row_id in (a.id, b.id):
        loaded = db.session.get(Person, row_id)
        assert integrity_state(loaded) is not None
        assert UNREADABLE in (loaded.id_number, loaded.mobile, loaded.household_address)
    found = {(table, row_id) for table, row_id, _ in scan().tampered}
    assert {("person", a.id), ("person", b.id)} <= found


def test_a_ciphertext_moved_to_another_sms_message_no_longer_decrypts(ctx):
    def message(n: int, body: str) -> SmsMessage:
        row = SmsMessage(
            client_msg_id=f"pf-row-{n}",
            template_code="T",
            template_version=1,
            body=body,
            mobile="13800138000",
            mobile_masked="138****8000",
            status="queued",
            requested_by="test",
        )
        row.params = {"name": body}
        db.session.add(row)
        return row

    first, second = message(1, "第一条：验证码 111111"), message(2, "第二条：验证码 222222")
    db.session.commit()
    assert "111111" not in _row("sms_message", ("body",), first.id)["body"]
    _write("sms_message", _row("sms_message", ("body", "params_json"), first.id), second.id)
    db.session.commit()
    db.session.expunge_all()
    assert db.session.get(SmsMessage, first.id).body == "第一条：验证码 111111"
    moved = db.session.get(SmsMessage, second.id)
    assert (moved.body, moved.params_json) == (UNREADABLE, UNREADABLE)


def test_a_ciphertext_moved_to_another_change_request_no_longer_decrypts(ctx):
    def request(n: int, fields: dict) -> ChangeRequest:
        row = ChangeRequest(
            number=f"CR-ROW-{n}",
            change_type="personal",
            business_group="A0",
            levels=1,
            status="pending",
            subject="测试",
            reason="测试",
            submitted_by="test",
            submitted_role="operator",
        )
        row.fields = fields
        db.session.add(row)
        return row

    first, second = request(1, {"mobile": "13800138000"}), request(2, {"mobile": "13900139000"})
    db.session.commit()
    try:
        _write("change_request", _row("change_request", ("fields_data",), first.id), second.id)
        db.session.commit()
        db.session.expunge_all()
        assert db.session.get(ChangeRequest, first.id).fields == {"mobile": "13800138000"}
        assert db.session.get(ChangeRequest, second.id).fields_data == UNREADABLE
    finally:
        db.session.rollback()
        db.session.execute(text("DELETE FROM change_request WHERE number LIKE 'CR-ROW-%'"))
        db.session.commit()


def test_a_value_copied_through_the_orm_to_another_row_is_encrypted_for_that_row(ctx):
    a, b = _person(ID_A, "张三", "13800138000"), _person(ID_B, "李四", "13900139000")
    b.household_address = a.household_address  # a decrypted value of row a: re-encrypted for row b
    db.session.commit()
    db.session.expunge_all()
    again = db.session.get(Person, b.id)
    assert (again.household_address, integrity_state(again)) == ("张三的地址", None)
    assert _row("person", ("household_address",), a.id) != _row("person", ("household_address",), b.id)


def test_new_rows_are_written_bound_and_stay_updatable_with_the_mac_as_version(ctx):
    person = _person(ID_A, "张三", "13800138000")
    stored = _row("person", ("id_number", "integrity_mac"), person.id)
    assert stored["id_number"].startswith("field-enc:") and "pending" not in stored["id_number"]
    assert person.integrity_mac == stored["integrity_mac"]  # the in-memory version is the stored one
    person.name = "张三丰"
    db.session.commit()  # the UPDATE's version check finds the MAC written after the INSERT
    db.session.expunge_all()
    assert integrity_state(db.session.get(Person, person.id)) is None
    assert scan().tampered == []


def test_sms_block_entries_are_sealed(ctx):
    entry = SmsBlock(id_number=ID_A, reason="deceased", source="manual", created_by="test")
    db.session.add(entry)
    db.session.commit()
    assert scan(tables=["sms_block"]).tampered == []
    _write("sms_block", {"reason": "manual-unblock"}, entry.id)
    db.session.commit()
    db.session.expunge_all()
    assert integrity_state(db.session.get(SmsBlock, entry.id)) == "mac_mismatch"
    assert [(t, i) for t, i, _ in scan(tables=["sms_block"]).tampered] == [("sms_block", entry.id)]


def test_the_model_layer_does_not_import_flask():
    for name in ("protection.py", "protection_events.py"):
        tree = ast.parse((Path(__file__).resolve().parents[2] / "models" / name).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m.split(".")[0] == "flask"}, name
