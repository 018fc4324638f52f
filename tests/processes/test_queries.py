"""Business queries (C3): each query's filters, masking and the audit of unmasked views; the Excel export."""

from __future__ import annotations

from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from models import AuditLog, IntegrationCall, Photo, db
from processes.errors import Conflict, ValidationFailed
from processes.queries import QUERIES, parse_filters, run_query
from processes.queries.exports import export_dir, export_file, request_export
from tests.processes.test_reports import ID1, ID2, ID3, at, build_fixture, clear_report_tables


def _call(system: str, operation: str, key: str, when, status: str = "ok", direction: str = "outbound") -> None:
    db.session.add(
        IntegrationCall(
            system=system, operation=operation, direction=direction, business_key=key, request_sm3="a" * 64,
            response_sm3="b" * 64, status=status, http_status=200 if status == "ok" else 503, latency_ms=12.5,
            attempts=1, at=when,
        )
    )  # fmt: skip


@pytest.fixture
def data(ctx):
    built = build_fixture()
    p1, p2, _p3 = built["persons"]
    jz1, _jz2, _jz3 = built["permits"]
    _call("elicence", "push_permit", "JZ1", at(3, 11, 11))
    _call("elicence", "push_permit", "JZ2", at(3, 6, 11), status="http_503")
    _call("housing", "house", "RG1", at(3, 2, 11))
    _call("housing", "house", "RG2", at(3, 3, 11), status="timeout")
    _call("mca3", "notify", "RG1", at(3, 4, 11), direction="inbound")
    photo1 = Photo(person_id=p1.id, source="counter", sm3="c" * 64, size=10, mime="image/jpeg", storage_key="k1",
                   taken_at=at(3, 1, 9), review_status="passed")  # fmt: skip
    photo2 = Photo(person_id=p2.id, source="channel", sm3="d" * 64, size=10, mime="image/jpeg", storage_key="k2",
                   taken_at=at(3, 2, 9), review_status="passed")  # fmt: skip
    db.session.add_all([photo1, photo2])
    db.session.flush()
    jz1.photo_id = photo1.id
    db.session.commit()
    yield built
    clear_report_tables()


def query(name: str, unmask: bool = False, page: int = 1, per_page: int = 20, permissions=("person.unmask",), **args):
    spec = QUERIES[name]
    return run_query(spec, parse_filters(spec, args), page, per_page, unmask=unmask, permissions=permissions)


def _audits(event: str) -> list[AuditLog]:
    return db.session.execute(select(AuditLog).where(AuditLog.event == event)).scalars().all()


def test_elicence_push_status_filters(data):
    everything = query("elicence")
    assert [row[0] for row in everything.items] == ["JZ1", "JZ2"]  # newest push first
    assert everything.total == 2 and not everything.capped
    assert [r[0] for r in query("elicence", permit_no="JZ2").items] == ["JZ2"]
    assert [r[0] for r in query("elicence", id_number=ID1).items] == ["JZ1"]  # found through the blind index
    assert [r[0] for r in query("elicence", status="failed").items] == ["JZ2"]
    assert [r[0] for r in query("elicence", channel="suishenban").items] == ["JZ2"]
    assert [r[0] for r in query("elicence", pushed_from="2026-03-07", pushed_to="2026-03-31").items] == ["JZ1"]
    row = query("elicence", permit_no="JZ1").items[0]
    assert row[4] == "成功" and row[7] == "窗口"


def test_id_numbers_and_names_are_masked_unless_unmasked_and_unmasking_is_audited(data):
    masked = query("elicence", permit_no="JZ1").items[0]
    assert masked[1] == "张*" and masked[2] == "110101********0011"
    assert _audits("query.unmask") == []
    # The service decides (finding 26): asking without person.unmask stays masked and is not audited.
    refused = query("elicence", unmask=True, permissions=("report.view",), permit_no="JZ1")
    assert not refused.unmasked and refused.items[0][2] == "110101********0011"
    assert _audits("query.unmask") == []
    clear = query("elicence", unmask=True, permit_no="JZ1").items[0]
    assert clear[1] == "张三" and clear[2] == ID1
    audits = _audits("query.unmask")
    assert len(audits) == 1 and audits[0].object_id == "elicence"
    assert ID1 not in audits[0].details  # the audit keeps the filter's ID number masked too
    query("housing", unmask=True)  # no personal columns: nothing to unmask, nothing audited
    assert len(_audits("query.unmask")) == 1


def test_housing_checks(data):
    assert [r[0] for r in query("housing").items] == ["RG2", "RG1"]
    assert [r[0] for r in query("housing", status="failed").items] == ["RG2"]
    assert [r[0] for r in query("housing", business_key="RG1").items] == ["RG1"]


def test_death_list_search_linked_to_registrations_and_permits(data):
    rows = query("deaths", unmask=True).items
    assert len(rows) == 2
    known = query("deaths", unmask=True, id_number=ID3).items
    assert len(known) == 1
    assert known[0][0] == "DL-202603" and known[0][2] == "王五" and known[0][3] == ID3
    assert known[0][4:8] == ["RG3", "已注销", "JZ3", "已发证"]
    unknown = next(r for r in rows if r[3] != ID3)
    assert unknown[2] == "" and unknown[4] == ""  # on the list but not a person we know
    assert query("deaths", batch_ref="NOPE").items == []


def test_two_way_exchange_trace(data):
    assert query("exchange").total == 5
    assert [r[4] for r in query("exchange", direction="inbound").items] == ["RG1"]
    assert {r[4] for r in query("exchange", system="housing").items} == {"RG1", "RG2"}
    mine = query("exchange", id_number=ID1).items  # the permit JZ1 and the registration RG1 of person 1
    assert sorted(r[4] for r in mine) == ["JZ1", "RG1", "RG1"]
    assert [r[4] for r in query("exchange", id_number=ID2, status="failed").items] == ["JZ2", "RG2"]


def test_photo_channels_and_use(data):
    assert query("photos").items == []  # by default the last 90 days: the fixture's photos are from March
    march = {"taken_from": "2026-03-01", "taken_to": "2026-03-31"}
    rows = query("photos", **march).items
    assert [(r[1], r[6], r[7]) for r in rows] == [("渠道上传", "否", "否"), ("窗口采集", "否", "是")]
    assert len(query("photos", source="counter", **march).items) == 1
    assert len(query("photos", used_by="permit", **march).items) == 1
    assert len(query("photos", used_by="unused", **march).items) == 1
    from processes.reports.summary import refresh
    from tests.processes.test_reports import ZONE

    refresh(date(2026, 3, 1), date(2026, 3, 31), ZONE)
    db.session.commit()
    assert dict(query("photos", **march).summary) == {"渠道上传·未使用": 1, "窗口采集·已使用": 1}


def test_pagination(data):
    first = query("exchange", per_page=20, page=1)
    assert first.pages == 1 and len(first.items) == 5
    second = query("exchange", page=2)
    assert second.items == []


def test_bad_filters_are_refused():
    spec = QUERIES["elicence"]
    with pytest.raises(ValidationFailed) as exc:
        parse_filters(spec, {"id_number": "12345", "pushed_from": "2026-02-30", "status": "maybe"})
    assert exc.value.code == "QUERY_FILTER_INVALID"
    assert set(exc.value.details) == {"id_number", "pushed_from", "status"}


def test_export_streams_every_row_to_excel_and_is_audited(data, drain):
    from processes.platform import get_platform

    platform = get_platform()
    job = request_export(platform, "elicence", {}, False, "analyst1")
    drain()
    db.session.expire_all()
    content, done = export_file(platform, job.public_id, "analyst1")
    assert done.status == "done" and done.done == 2 and done.total == 2
    sheet = openpyxl.load_workbook(content, read_only=True).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, r in enumerate(rows) if r and r[0] == "居住证号")
    assert rows[header_at][:3] == ["居住证号", "姓名", "身份证号码"]
    body = rows[header_at + 1 :]
    assert [r[0] for r in body] == ["JZ1", "JZ2"]
    assert body[0][2] == "110101********0011"  # masked in the file as on the screen
    assert [a.object_id for a in _audits("export.excel")] == ["elicence"]
    assert [a.object_id for a in _audits("export.download")] == [job.public_id]
    with pytest.raises(Exception) as other:
        export_file(platform, job.public_id, "someone_else")
    assert other.value.code == "EXPORT_NOT_FOUND"
    path = export_dir(platform.settings) / f"{job.public_id}.xlsx"
    on_disk = path.read_bytes()  # SM4-GCM-encrypted at rest (review finding 5); no clear working file left
    assert on_disk.startswith(b"PFSEALED1\n") and b"JZ1" not in on_disk and not list(path.parent.glob("*.plain"))
    path.write_bytes(on_disk[:-1] + bytes([on_disk[-1] ^ 1]))
    with pytest.raises(Conflict) as tampered:
        export_file(platform, job.public_id, "analyst1")
    assert tampered.value.code == "EXPORT_FILE_TAMPERED"
    path.unlink()
    assert export_dir(platform.settings).exists()


def test_exports_older_than_the_keep_time_are_deleted(data):
    import os
    import time

    from processes.platform import get_platform
    from processes.queries.exports import purge_expired_exports

    settings = get_platform().settings
    folder = export_dir(settings)
    old, fresh = folder / "oldexport.xlsx", folder / "freshexport.xlsx"
    for path in (old, fresh):
        path.write_bytes(b"PFSEALED1\n")
    past = time.time() - settings.EXPORT_KEEP_HOURS * 3600 - 60
    os.utime(old, (past, past))
    try:
        assert purge_expired_exports(settings) >= 1
        assert not old.exists() and fresh.exists()
    finally:
        fresh.unlink(missing_ok=True)


def test_one_export_at_a_time_per_user(data):
    from models.reports import ExportJob
    from processes.platform import get_platform

    db.session.add(ExportJob(public_id="busy", kind="elicence", requested_by="analyst2", status="running"))
    db.session.commit()
    with pytest.raises(ValidationFailed) as exc:
        request_export(get_platform(), "elicence", {}, False, "analyst2")
    assert exc.value.code == "EXPORT_BUSY"


def test_dates_beyond_today_are_accepted_as_filters(data):
    future = (date.today() + timedelta(days=30)).isoformat()
    assert query("elicence", pushed_from=future).items == []
