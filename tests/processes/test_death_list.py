"""C1.3 death-list import: template, per-row validation report, all-or-nothing import through approval."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from integrations.idnumber import make
from processes.errors import ValidationFailed
from tests.processes.change_factories import make_holder, person_row, registrations_of
from tests.processes.change_request_support import (
    OPERATOR,
    approve_all,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    decide,
    request_row,
    submit,
)

HEADER = ("身份证号码", "姓名", "死亡日期", "备注")


def _xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(app, content: bytes):
    from processes.changes.death_list import upload

    with app.app_context():
        batch = upload(app.extensions["permitflow"], OPERATOR, "deaths.xlsx", content)
        return batch.batch_ref, batch.status, batch.bad_rows


def _report(app, batch_ref: str):
    from processes.changes.death_list import get_import, import_rows

    with app.app_context():
        return import_rows(get_import(batch_ref))


def _blocked(app, id_number: str) -> bool:
    from processes.sms_blocklist import is_blocked

    with app.app_context():
        return is_blocked(id_number=id_number)


def test_c1_3_template_has_the_header_and_instructions(app):
    from processes.changes.death_list import template_bytes

    book = load_workbook(io.BytesIO(template_bytes()))
    assert [c.value for c in book.worksheets[0][1]] == list(HEADER)
    assert "整个文件都不导入" in " ".join(str(c.value) for c in book.worksheets[1]["A"])


def test_c1_3_import_marks_deceased_blocks_sms_and_records_deregistration(app, drain):
    first, second = make_holder(app, "issued"), make_holder(app, None, nth=1)
    content = _xlsx(
        [(first.id_number, first.name, "2026-10-01", ""), (second.id_number, second.name, date(2026, 9, 30), "")]
    )
    batch_ref, status, bad = _upload(app, content)
    assert (status, bad) == ("validated", 0)
    assert not person_row(app, first.person_id).deceased  # nothing happens before approval
    number = submit(app, "death_list_import", {"batch_ref": batch_ref}, "民政局死亡名单第10批")
    approve_all(app, drain, number)
    row = request_row(app, number)
    assert row.status == "applied", row.outcome_note
    assert row.after == {
        "status": "imported",
        "deceased": 2,
        "already_deceased": 0,
        "blocked": 2,
        "deregistration_recorded": 2,
    }
    for holder in (first, second):
        assert person_row(app, holder.person_id).deceased
        assert _blocked(app, holder.id_number)
        [reg] = registrations_of(app, holder.person_id)
        assert reg.status == "deregistered"
    from models import db
    from models.domain import Deregistration

    with app.app_context():
        records = db.session.execute(select(Deregistration.status, Deregistration.source)).all()
    assert sorted(records) == [("recorded", "death_list"), ("recorded", "death_list")]
    assert all("短信禁发" in r["outcome"] for r in _report(app, batch_ref))


def test_c1_3_recorded_deregistrations_are_notified_by_the_a3_sweep(app, drain):
    from models import db
    from models.domain import Deregistration
    from processes.domain.deregistrations import detect
    from processes.unit_of_work import transaction

    holder = make_holder(app, "issued")
    batch_ref, _, _ = _upload(app, _xlsx([(holder.id_number, holder.name, "2026-10-01", "")]))
    approve_all(app, drain, submit(app, "death_list_import", {"batch_ref": batch_ref}))
    with app.app_context(), transaction():
        assert detect(deceased_ids=[], as_of=date.today().isoformat())["deceased"] == 1
    drain()
    with app.app_context():
        assert db.session.execute(select(Deregistration.status)).scalar_one() in ("notifying", "notified")


def test_c1_3_a_file_with_bad_rows_imports_nothing(app, drain):
    good, other = make_holder(app, "issued"), make_holder(app, "issued", nth=1)
    unknown = make("110101", date(1980, 5, 6), 123)
    bad_checksum = good.id_number[:17] + ("0" if good.id_number[17] != "0" else "1")
    future = (date.today() + timedelta(days=5)).isoformat()
    rows = [
        (good.id_number, good.name, "2026-10-01", ""),  # row 2: good
        (bad_checksum, good.name, "2026-10-01", ""),  # row 3: checksum
        (good.id_number, good.name, "2026-10-02", ""),  # row 4: duplicate of row 2
        (unknown, "查无此人", "2026-10-01", ""),  # row 5: unknown person
        (other.id_number, other.name, "2026-13-45", ""),  # row 6: bad date
        (other.id_number, other.name, future, ""),  # row 7: dup + future
        (make("110101", date(2000, 1, 1), 5), "某某", "1990-01-01", ""),  # row 8: unknown and before birth
    ]
    batch_ref, status, bad = _upload(app, _xlsx(rows))
    assert (status, bad) == ("invalid", 6)
    report = {r["row_no"]: r["problems"] for r in _report(app, batch_ref)}
    assert report[2] == []
    assert report[3] == ["身份证号码校验位错误"]
    assert report[4] == ["与第2行身份证号码重复"]
    assert report[5] == ["系统中没有该人员的登记记录"]
    assert report[6] == ["死亡日期无效（格式 YYYY-MM-DD）"]
    assert report[7] == ["与第6行身份证号码重复", "死亡日期晚于今天"]
    assert report[8] == ["系统中没有该人员的登记记录", "死亡日期早于出生日期"]
    with pytest.raises(ValidationFailed) as info:
        submit(app, "death_list_import", {"batch_ref": batch_ref})
    assert info.value.code == "DEATH_LIST_INVALID"
    assert not person_row(app, good.person_id).deceased and not _blocked(app, good.id_number)


def test_c1_3_rejected_import_changes_nothing(app, drain):
    from processes.changes.death_list import get_import

    holder = make_holder(app, "issued")
    batch_ref, _, _ = _upload(app, _xlsx([(holder.id_number, holder.name, "2026-10-01", "")]))
    number = submit(app, "death_list_import", {"batch_ref": batch_ref})
    with pytest.raises(ValidationFailed):  # one approval per file at a time
        submit(app, "death_list_import", {"batch_ref": batch_ref})
    decide(app, drain, number, 1, "reject", "名单来源未核实")
    assert request_row(app, number).status == "rejected"
    with app.app_context():
        assert get_import(batch_ref).status == "rejected"
    assert not person_row(app, holder.person_id).deceased and not _blocked(app, holder.id_number)
    assert registrations_of(app, holder.person_id)[0].status == "active"


def test_c1_3_not_an_excel_file_or_wrong_header_is_refused(app):
    with pytest.raises(ValidationFailed) as info:
        _upload(app, b"id,name\n1,2\n")
    assert info.value.code == "DEATH_LIST_NOT_EXCEL"
    with pytest.raises(ValidationFailed) as info:
        _upload(app, _xlsx([("1", "2", "3", "")], header=("证件", "名字", "日期", "")))
    assert info.value.code == "DEATH_LIST_BAD_HEADER"
    with pytest.raises(ValidationFailed) as info:
        _upload(app, _xlsx([]))
    assert info.value.code == "DEATH_LIST_EMPTY"


def _sheet_with_blank_rows(data_rows: int, blank_rows: int, tail_row: int | None = None) -> bytes:
    """A sheet with data rows, then blank but formatted rows (physically present), then optionally one far row."""
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.append(list(HEADER))
    for _ in range(data_rows):
        sheet.append([make("310101", date(1980, 1, 1), 1), "张三", "2026-01-01", ""])
    for row in range(data_rows + 2, data_rows + 2 + blank_rows):
        sheet.cell(row=row, column=1).font = Font(bold=True)  # a styled empty cell: the row is in the file
    if tail_row is not None:
        sheet.cell(row=tail_row, column=1, value="x")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_c1_3_blank_rows_count_towards_the_row_limit():
    from processes.changes.death_list import _read_rows

    assert len(_read_rows(_sheet_with_blank_rows(2, 3), max_rows=5)) == 2  # 5 physical rows: within the limit
    with pytest.raises(ValidationFailed) as info:
        _read_rows(_sheet_with_blank_rows(2, 4), max_rows=5)  # 6 physical rows, only 2 with data
    assert info.value.code == "DEATH_LIST_TOO_LARGE"


def test_c1_3_a_far_away_row_is_refused_without_reading_up_to_it(app):
    import time

    content = _sheet_with_blank_rows(1, 0, tail_row=1_000_000)
    started = time.perf_counter()
    with pytest.raises(ValidationFailed) as info:
        _upload(app, content)
    assert info.value.code == "DEATH_LIST_TOO_LARGE"
    assert time.perf_counter() - started < 5
