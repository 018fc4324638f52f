"""Key rotation (A9): new keys, stored rows re-protected in batches while the system keeps serving."""

from __future__ import annotations

import threading
from datetime import date

from click.testing import CliRunner
from sqlalchemy import select, text

from models import Person, SmsBlock, db
from models.protection import key_id_of
from processes.errors import Conflict
from processes.integrity import scan
from processes.keys import reprotect, rotate_keys
from processes.platform import get_platform
from processes.sms_blocklist import is_blocked
from processes.unit_of_work import transaction
from webapp.cli import main

IDS = [f"3101011990010{n:04d}" + "1" for n in range(40)]  # 18 characters, distinct


def _seed(count: int = 40) -> list[int]:
    people = [
        Person(
            id_number=IDS[n][:18],
            name=f"人员{n}",
            gender="F",
            birth_date=date(1990, 1, 1),
            mobile=f"139{n:08d}",
            household_address=f"上海市某区{n}号",
        )
        for n in range(count)
    ]
    db.session.add_all(people)
    db.session.add(SmsBlock(id_number=IDS[0][:18], reason="deceased", source="manual", created_by="t"))
    db.session.commit()
    return [p.id for p in people]


def _key_ids(table: str, column: str) -> set[str]:
    return {key_id_of(v) for v in db.session.execute(text(f"SELECT {column} FROM {table}")).scalars()}


def test_rotation_moves_every_row_to_the_new_keys_and_search_keeps_working(ctx):
    _seed()
    new_ids, results = rotate_keys(["field-enc", "field-mac", "blind-index"], batch=7)
    assert set(new_ids) == {"field-enc", "field-mac", "blind-index"}
    person = next(r for r in results if r.table == "person")
    assert person.scanned == 40 and person.rewritten == 40 and person.tampered == [] and person.stale_left == 0
    assert _key_ids("person", "id_number") == {new_ids["field-enc"]}
    assert _key_ids("person", "mobile_bidx") == {new_ids["blind-index"]}
    assert _key_ids("person", "integrity_mac") == {new_ids["field-mac"]}
    assert _key_ids("sms_block", "id_number") == {new_ids["field-enc"]}
    db.session.expunge_all()
    found = db.session.execute(select(Person).where(Person.id_number == IDS[3][:18])).scalar_one()
    assert found.mobile == "13900000003" and is_blocked(id_number=IDS[0][:18])
    assert scan().tampered == []


def test_rows_under_old_keys_stay_readable_and_searchable_until_re_protected(ctx):
    _seed(5)
    keys = get_platform(ctx).keys
    for purpose in ("field-enc", "field-mac", "blind-index"):
        keys.rotate(purpose)  # keys rotated, rows not yet re-protected: the state while rotation runs
    db.session.expunge_all()
    old = db.session.execute(select(Person).where(Person.id_number == IDS[1][:18])).scalar_one()
    assert old.name == "人员1" and key_id_of(old.integrity_mac) != keys.symmetric_key("field-mac").key_id
    newer = Person(id_number="310101200001011111", name="新", gender="M", birth_date=date(2000, 1, 1))
    db.session.add(newer)
    db.session.commit()
    assert db.session.execute(select(Person.id).where(Person.id_number.in_([IDS[1][:18], newer.id_number]))).all()
    assert (
        len(db.session.execute(select(Person.id).where(Person.id_number.in_([IDS[1][:18], newer.id_number]))).all())
        == 2
    )
    results = reprotect(batch=2)
    assert next(r for r in results if r.table == "person").rewritten == 5  # the new row was already current


def test_a_tampered_row_is_reported_and_never_re_sealed(ctx):
    ids = _seed(3)
    db.session.execute(text("UPDATE person SET name = '篡改' WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    before = db.session.execute(text("SELECT integrity_mac FROM person WHERE id = :id"), {"id": ids[1]}).scalar()
    _, results = rotate_keys(["field-mac"], batch=10)
    person = next(r for r in results if r.table == "person")
    assert person.tampered == [(ids[1], "mac_mismatch")] and person.rewritten == 2
    after = db.session.execute(text("SELECT integrity_mac FROM person WHERE id = :id"), {"id": ids[1]}).scalar()
    assert after == before and [(t, i) for t, i, _ in scan().tampered] == [("person", ids[1])]


def test_rotation_is_safe_while_business_writes_continue(ctx):
    ids = _seed(30)
    errors: list[BaseException] = []
    done = threading.Event()

    conflicts = []

    def business() -> None:
        with ctx.app_context():
            n = 0
            while not done.is_set() or n < 20:
                n += 1
                try:
                    with transaction():
                        person = db.session.get(Person, ids[n % len(ids)])
                        person.employer, person.name = f"单位{n}", f"改名{n}"
                except Conflict as exc:  # the row changed under us (rotation re-sealed it): retry, as callers do
                    conflicts.append(exc.code)
                except BaseException as exc:
                    errors.append(exc)
                    return

    writer = threading.Thread(target=business)
    writer.start()
    try:
        for _ in range(3):
            rotate_keys(["field-enc", "field-mac", "blind-index"], batch=3)
    finally:
        done.set()
        writer.join(60)
    assert errors == [] and not writer.is_alive() and set(conflicts) <= {"CONCURRENT_UPDATE"}
    reprotect(batch=50)
    report = scan()
    assert report.tampered == [] and report.per_table["person"] == 30
    current = get_platform(ctx).keys.symmetric_key("field-mac").key_id
    assert _key_ids("person", "integrity_mac") == {current}


def test_keys_commands_list_and_rotate(app, database_url, simulator):
    with app.app_context():
        _seed(4)
    env = {
        "PERMITFLOW_ENV": "test",
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator.url,
        "JOB_MODE": "eager",
        "REDIS_URL": "",
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
    }
    listed = CliRunner().invoke(main, ["keys", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "* mca:" in listed.output and "field-enc:" in listed.output and "material" not in listed.output
    rotated = CliRunner().invoke(main, ["keys", "rotate", "--purpose", "field-enc", "--batch", "3"], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "field-enc: new current key field-enc:" in rotated.output
    assert "person: 4 rows scanned, 4 re-protected, 0 left on old keys" in rotated.output
