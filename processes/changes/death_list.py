"""C1.3 death-list import: Excel template, upload with a per-row validation report, approval, import log.

All or nothing: a file with any bad row imports nothing (it cannot be submitted for approval); the report names
every bad row, the operator corrects the file and uploads it again. An approved import marks each person
deceased, puts them on the SMS block list and records the deregistration of their active registration, which
the daily deregistration sweep (A3) then notifies.
"""

from __future__ import annotations

import io
import secrets
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from handlers.registry import HandlerError
from integrations.crypto import sm3_hex
from integrations.idnumber import birth_date, id_number_problem, mask
from models import db, utcnow
from models.changes import DeathListImport, DeathListRow
from models.domain import Person, ResidenceRegistration
from processes.changes.registry import ChangeType, Prepared, form, register
from processes.errors import NotFound, ValidationFailed

HEADERS = ("身份证号码", "姓名", "死亡日期", "备注")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LOOKUP_CHUNK = 500


def template_bytes() -> bytes:
    """The Excel template to fill in: the header row, text-formatted columns and a sheet of instructions."""
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    header = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    sheet = book.add_worksheet("死亡名单")
    for col, (title, width) in enumerate(zip(HEADERS, (22, 12, 14, 30), strict=True)):
        sheet.write_string(0, col, title, header)
        sheet.set_column(col, col, width, text)  # text cells: Excel must not turn ID numbers into numbers
    sheet.freeze_panes(1, 0)
    notes = book.add_worksheet("填写说明")
    for row, line in enumerate(
        (
            "1. 每行一人，从第2行开始填写，不要修改第1行表头。",
            "2. 身份证号码：18位，末位可为X，系统校验校验位。",
            "3. 姓名：与系统登记的姓名一致。",
            "4. 死亡日期：格式 YYYY-MM-DD，不能晚于今天，不能早于出生日期。",
            "5. 同一文件中同一身份证号码只能出现一次。",
            "6. 文件中只要有一行有误，整个文件都不导入；请按校验报告修改后重新上传。",
        )
    ):
        notes.write_string(row, 0, line)
    notes.set_column(0, 0, 70)
    book.close()
    return buffer.getvalue()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _death_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_cell_text(value).replace("/", "-"))
    except ValueError:
        return None


def _read_rows(content: bytes, max_rows: int) -> list[tuple[int, tuple[Any, ...]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a file that is not a workbook
        raise ValidationFailed("DEATH_LIST_NOT_EXCEL", "文件不是有效的Excel（.xlsx）文件，请使用下载的模板") from exc
    try:
        # Every physical row counts, blank ones too, and reading stops one row past the limit: a sheet
        # padded with a million empty (or formatted) rows is refused without walking through them.
        limit = max_rows + 1  # the header row, then at most max_rows rows
        rows = book.worksheets[0].iter_rows(max_row=limit + 1, max_col=len(HEADERS), values_only=True)
        header = tuple(_cell_text(v) for v in (next(rows, None) or ())[: len(HEADERS)])
        if header[:3] != HEADERS[:3]:
            raise ValidationFailed(
                "DEATH_LIST_BAD_HEADER", "表头与模板不一致：第1行应为 身份证号码、姓名、死亡日期、备注"
            )
        found = []
        for number, values in enumerate(rows, start=2):
            if number > limit:
                raise ValidationFailed("DEATH_LIST_TOO_LARGE", f"一个文件最多{max_rows}行（含空行），请分批导入")
            cells = tuple(values[:4]) + (None,) * (4 - len(values[:4]))
            if all(_cell_text(v) == "" for v in cells):
                continue
            found.append((number, cells))
    finally:
        book.close()
    if not found:
        raise ValidationFailed("DEATH_LIST_EMPTY", "文件中没有数据行")
    return found


def _persons(id_numbers: list[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    for start in range(0, len(id_numbers), LOOKUP_CHUNK):
        chunk = id_numbers[start : start + LOOKUP_CHUNK]
        for person in db.session.execute(select(Person).where(Person.id_number.in_(chunk))).scalars():
            found[str(person.id_number)] = person
    return found


def upload(platform: Any, actor: Any, file_name: str, content: bytes) -> DeathListImport:
    """Read and validate an uploaded death-list file; store its report (every row, good or bad)."""
    from processes import audit
    from processes.unit_of_work import transaction

    if not content:
        raise ValidationFailed("DEATH_LIST_EMPTY", "请选择要上传的Excel文件")
    rows = _read_rows(content, platform.settings.DEATH_LIST_MAX_ROWS)
    today = datetime.now(platform.settings.zone).date()
    ids = [_cell_text(cells[0]).upper() for _, cells in rows]
    with transaction():
        persons = _persons(sorted({i for i in ids if not id_number_problem(i)}))
        batch = DeathListImport(
            batch_ref=f"SW{today:%Y%m%d}{secrets.token_hex(3).upper()}",
            file_name=(file_name or "death_list.xlsx")[:200],
            file_sm3=sm3_hex(content),
            status="validated",
            uploaded_by=actor.name,
            summary={},
        )
        db.session.add(batch)
        db.session.flush()
        seen: dict[str, int] = {}
        bad = 0
        for (number, cells), id_number in zip(rows, ids, strict=True):
            name, problems = _cell_text(cells[1]), []
            died = _death_date(cells[2])
            problem = id_number_problem(id_number)
            person = None
            if problem:
                problems.append(problem)
            elif id_number in seen:
                problems.append(f"与第{seen[id_number]}行身份证号码重复")
            else:
                seen[id_number] = number
                person = persons.get(id_number)
                if person is None:
                    problems.append("系统中没有该人员的登记记录")
                elif name and name != person.name:
                    problems.append("姓名与系统登记信息不一致")
            if not name:
                problems.append("姓名不能为空")
            if died is None:
                problems.append("死亡日期无效（格式 YYYY-MM-DD）")
            elif died > today:
                problems.append("死亡日期晚于今天")
            elif not problem and died < birth_date(id_number):
                problems.append("死亡日期早于出生日期")
            bad += bool(problems)
            db.session.add(
                DeathListRow(
                    import_id=batch.id,
                    row_no=number,
                    id_number=id_number[:40] or None,
                    name=name[:60] or None,
                    death_date=died,
                    problems=problems,
                    person_id=person.id if person is not None and not problems else None,
                )
            )
        batch.total_rows, batch.bad_rows = len(rows), bad
        batch.status = "invalid" if bad else "validated"
        audit.record(
            "death_list.upload",
            object_type="death_list_import",
            object_id=batch.batch_ref,
            details={"rows": len(rows), "bad_rows": bad, "sm3": batch.file_sm3},
        )
    return batch


def get_import(batch_ref: str) -> DeathListImport:
    """An import by batch reference, or NotFound."""
    row = db.session.execute(select(DeathListImport).where(DeathListImport.batch_ref == batch_ref)).scalar_one_or_none()
    if row is None:
        raise NotFound("DEATH_LIST_NOT_FOUND", "导入批次不存在", {"batch_ref": batch_ref})
    return row


def import_rows(batch: DeathListImport) -> list[dict[str, Any]]:
    """The rows of an import as its report shows them (ID numbers masked)."""
    rows = db.session.execute(
        select(DeathListRow).where(DeathListRow.import_id == batch.id).order_by(DeathListRow.row_no)
    ).scalars()
    return [
        {
            "row_no": r.row_no,
            "id_number": mask(str(r.id_number)) if r.id_number else "",
            "name": r.name or "",
            "death_date": r.death_date.isoformat() if r.death_date else "",
            "problems": r.problems or [],
            "outcome": r.outcome or "",
        }
        for r in rows
    ]


def list_imports(limit: int = 50) -> list[DeathListImport]:
    """The latest imports (the import log)."""
    return list(db.session.execute(select(DeathListImport).order_by(DeathListImport.id.desc()).limit(limit)).scalars())


def _batch_for(fields: dict[str, Any], status: str) -> DeathListImport:
    batch = db.session.execute(
        select(DeathListImport).where(DeathListImport.batch_ref == fields["batch_ref"]).with_for_update()
    ).scalar_one_or_none()
    if batch is None:
        raise HandlerError("DEATH_LIST_NOT_FOUND", "导入批次不存在")
    if batch.status == "invalid":
        raise HandlerError("DEATH_LIST_INVALID", f"该文件有{batch.bad_rows}行有误，整个文件不能导入，请修改后重新上传")
    if batch.status != status:
        raise HandlerError("DEATH_LIST_STATE", f"该导入批次当前状态为 {batch.status}，不能办理")
    return batch


def _prepare(fields: dict[str, Any]) -> Prepared:
    batch = _batch_for(fields, "validated")
    batch.status = "submitted"  # one approval per file; a rejection frees it again (on_close)
    before = {"status": "validated", "rows": batch.total_rows}
    return Prepared(
        f"死亡名单 {batch.batch_ref}（{batch.total_rows}人）",
        batch.batch_ref,
        None,
        before,
        {"导入人数": batch.total_rows},
    )


def _apply(fields: dict[str, Any], before: dict[str, Any], number: str) -> dict[str, Any]:
    from processes.domain.deregistrations import deregister
    from processes.sms_blocklist import block_person
    from processes.stepping import Actor

    batch = _batch_for(fields, "submitted")
    rows = db.session.execute(select(DeathListRow).where(DeathListRow.import_id == batch.id)).scalars().all()
    counts = {"deceased": 0, "already_deceased": 0, "blocked": 0, "deregistration_recorded": 0}
    for row in rows:
        person = db.session.get(Person, row.person_id)
        outcome = []
        if person.deceased:
            counts["already_deceased"] += 1
            outcome.append("已登记死亡")
        person.deceased, person.updated_at = True, utcnow()
        counts["deceased"] += 1
        _, created = block_person(
            str(person.id_number),
            reason="deceased",
            source="death_list_import",
            actor=Actor.system(),
            batch_ref=batch.batch_ref,
            mobile=str(person.mobile) if person.mobile else None,
        )
        counts["blocked"] += created
        outcome.append("已加入短信禁发名单")
        for registration in db.session.execute(
            select(ResidenceRegistration).where(
                ResidenceRegistration.person_id == person.id, ResidenceRegistration.status == "active"
            )
        ).scalars():
            record = deregister(
                registration,
                "deceased",
                "death_list",
                {"batch_ref": batch.batch_ref, "death_date": str(row.death_date)},
            )
            record.status = "recorded"  # A3: the daily deregistration sweep starts the notification process
            counts["deregistration_recorded"] += 1
            outcome.append(f"居住登记{registration.number}待注销通知")
        row.outcome = "；".join(outcome)[:200]
    batch.status, batch.imported_at, batch.request_number = "imported", utcnow(), number
    batch.summary = counts
    return {"status": "imported", **counts}


def _on_close(fields: dict[str, Any], status: str) -> None:
    batch = db.session.execute(
        select(DeathListImport).where(DeathListImport.batch_ref == fields["batch_ref"])
    ).scalar_one_or_none()
    if batch is not None and batch.status == "submitted":
        batch.status = "rejected" if status == "rejected" else "validated"


register(
    ChangeType(
        code="death_list_import",
        label="死亡名单批量导入",
        group="death_list",
        levels=2,
        form=form(
            "death_list_import",
            "死亡名单批量导入",
            [{"name": "batch_ref", "label": "导入批次", "type": "string", "required": True, "max_length": 40}],
        ),
        prepare=_prepare,
        apply=_apply,
        description="按模板上传死亡名单，逐行校验；全部正确的文件经两级审批后导入：标记死亡、加入短信禁发名单、"
        "记录居住登记注销（每日注销批处理通知相关部门）。",
        extra={"on_close": _on_close},
    )
)
