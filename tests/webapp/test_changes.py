"""Change screens (C1.4 / C2.5) through the Flask client, signed in by the real two-factor flow."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from tests.processes.change_factories import make_holder, person_row
from tests.processes.change_request_support import (
    approval_task,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    request_row,
)
from tests.webapp.auth_support import csrf_token, sign_in

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 64


def _signed_in(app, username: str):
    client = app.test_client()
    sign_in(client, username)
    return client


def _number(response) -> str:
    return re.search(r"/changes/requests/(BG\w+)", response.headers["Location"]).group(1)


def test_change_screen_grouped_by_business_type_for_the_data_operator(app):
    client = _signed_in(app, "operator01")
    home = client.get("/").get_data(as_text=True)
    assert 'id="nav-changes"' in home
    page = client.get("/changes/").get_data(as_text=True)
    for group in ("personal", "flags", "death_list", "production", "rare_chars", "undo", "manual"):
        assert f'id="group-{group}"' in page
    assert "C1 数据修改" in page and "C2 业务变更" in page and 'id="new-undo_reissue"' in page
    assert client.get("/changes/new/undo_reissue").status_code == 200


def test_change_screen_refused_without_data_change(app):
    clerk = _signed_in(app, "clerk01")
    assert 'id="nav-changes"' not in clerk.get("/").get_data(as_text=True)
    assert clerk.get("/changes/").status_code == 403
    assert clerk.post("/changes/new/person_contact", data={"csrf_token": csrf_token(clerk)}).status_code == 403
    assert _signed_in(app, "operator01").get("/changes/new/no_such_type").status_code == 404


def test_submit_through_the_form_then_approve_in_the_level1_queue(app, drain):
    holder = make_holder(app, "issued")
    operator = _signed_in(app, "operator01")
    response = operator.post(
        "/changes/new/person_contact",
        data={
            "csrf_token": csrf_token(operator),
            "id_number": holder.id_number,
            "name": holder.name,
            "new_mobile": "13911112222",
            "reason": "本人申请，持身份证核验",
            "attachments": (io.BytesIO(JPEG), "proof.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    number = _number(response)
    detail = operator.get(f"/changes/requests/{number}").get_data(as_text=True)
    assert 'data-status="pending"' in detail and "proof" not in detail and "image/jpeg" in detail
    assert len(request_row(app, number).attachments) == 1
    task = approval_task(app, number, 1)
    approver = _signed_in(app, "approver1")
    queue = approver.get("/approvals/level1").get_data(as_text=True)
    assert f'id="task-{task.id}"' in queue
    page = approver.get(f"/approvals/tasks/{task.id}").get_data(as_text=True)
    assert number in page and "139****2222" in page  # the approver sees the change, masked
    decided = approver.post(
        f"/approvals/tasks/{task.id}/decide",
        data={"csrf_token": csrf_token(approver), "decision": "approve", "reason": "核验无误"},
    )
    assert decided.status_code == 302
    drain()
    assert person_row(app, holder.person_id).mobile == "13911112222"
    detail = approver.get(f"/changes/requests/{number}").get_data(as_text=True)
    assert 'data-status="applied"' in detail and "核验无误" in detail


def test_bad_input_is_shown_again_in_chinese_and_nothing_is_submitted(app):
    holder = make_holder(app, "issued")
    operator = _signed_in(app, "operator01")
    response = operator.post(
        "/changes/new/person_contact",
        data={"csrf_token": csrf_token(operator), "id_number": holder.id_number, "name": "冒名", "new_mobile": "139"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "11位手机号码" in page and "请填写变更原因" in page
    response = operator.post(
        "/changes/new/person_contact",
        data={
            "csrf_token": csrf_token(operator),
            "id_number": holder.id_number,
            "name": "冒名",
            "new_mobile": "13911112222",
            "reason": "更正",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and 'data-code="NAME_MISMATCH"' in response.get_data(as_text=True)
    from models import db
    from models.changes import ChangeRequest

    with app.app_context():
        assert db.session.execute(select(ChangeRequest.id)).first() is None


def test_withdraw_from_the_detail_page(app, drain):
    holder = make_holder(app, "issued")
    operator = _signed_in(app, "operator01")
    response = operator.post(
        "/changes/new/production_express",
        data={"csrf_token": csrf_token(operator), "permit_number": f"JZ-T{holder.person_id:06d}", "reason": "急需用证"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422  # an issued permit cannot go express
    holder2 = make_holder(app, "approved", nth=1)
    response = operator.post(
        "/changes/new/production_express",
        data={
            "csrf_token": csrf_token(operator),
            "permit_number": f"JZ-T{holder2.person_id:06d}",
            "reason": "急需用证",
        },
        content_type="multipart/form-data",
    )
    number = _number(response)
    withdrawn = operator.post(
        f"/changes/requests/{number}/withdraw", data={"csrf_token": csrf_token(operator), "reason": "填错"}
    )
    assert withdrawn.status_code == 302
    assert request_row(app, number).status == "withdrawn"
    assert approval_task(app, number, 1) is None


def test_death_list_template_upload_report_and_submit(app):
    holder = make_holder(app, "issued")
    operator = _signed_in(app, "operator01")
    template = operator.get("/changes/death-list/template.xlsx")
    assert template.status_code == 200 and template.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(template.data))
    sheet = book.worksheets[0]
    sheet.append([holder.id_number, holder.name, "2026-10-01", ""])
    sheet.append(["110101199001011234", "错号", "2026-10-01", ""])
    buffer = io.BytesIO()
    book.save(buffer)
    response = operator.post(
        "/changes/death-list",
        data={"csrf_token": csrf_token(operator), "file": (io.BytesIO(buffer.getvalue()), "deaths.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    report = operator.get(response.headers["Location"]).get_data(as_text=True)
    assert 'data-status="invalid"' in report and "身份证号码校验位错误" in report and 'id="submit-import"' not in report
    good = Workbook()
    good.active.append(["身份证号码", "姓名", "死亡日期", "备注"])
    good.active.append([holder.id_number, holder.name, "2026-10-01", ""])
    buffer = io.BytesIO()
    good.save(buffer)
    response = operator.post(
        "/changes/death-list",
        data={"csrf_token": csrf_token(operator), "file": (io.BytesIO(buffer.getvalue()), "deaths.xlsx")},
        content_type="multipart/form-data",
    )
    location = response.headers["Location"]
    assert 'data-status="validated"' in operator.get(location).get_data(as_text=True)
    batch_ref = location.rsplit("/", 1)[1]
    submitted = operator.post(
        f"/changes/death-list/{batch_ref}/submit", data={"csrf_token": csrf_token(operator), "reason": "民政局第10批"}
    )
    assert submitted.status_code == 302
    assert request_row(app, _number(submitted)).change_type == "death_list_import"
    log = operator.get("/changes/death-list").get_data(as_text=True)
    assert batch_ref in log and "审批中" in log
    not_excel = operator.post(
        "/changes/death-list",
        data={"csrf_token": csrf_token(operator), "file": (io.BytesIO(b"not excel"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert not_excel.status_code == 422 and "DEATH_LIST_NOT_EXCEL" in not_excel.get_data(as_text=True)


def test_rare_character_library_page(app):
    operator = _signed_in(app, "operator01")
    page = operator.get("/changes/rare-characters")
    assert page.status_code == 200 and "字库为空" in page.get_data(as_text=True)


def test_the_instance_token_is_shown_neither_on_the_task_page_nor_in_the_console(app):
    from models import ProcessInstance, db
    from processes.case_scope import case_data
    from tests.processes.change_request_support import submit

    holder = make_holder(app, "issued")
    number = submit(
        app, "person_contact", {"id_number": holder.id_number, "name": holder.name, "new_mobile": "13911112222"}
    )
    row = request_row(app, number)
    with app.app_context():
        instance = db.session.get(ProcessInstance, row.instance_id)
        token = case_data(app.extensions["permitflow"], instance)["change"]["token"]
        public_id = instance.public_id
    assert len(token) == 32
    task = approval_task(app, number, 1)
    approver = _signed_in(app, "approver1")
    pages = [
        approver.get(f"/approvals/tasks/{task.id}"),
        approver.get(f"/inbox/tasks/{task.id}"),
        approver.get(f"/inbox/tasks/{task.id}?unmask=1"),
        _signed_in(app, "operator01").get(f"/console/instances/{public_id}"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and number in html
        assert token not in html
    assert "request_id" in pages[3].get_data(as_text=True)  # the rest of the change data is still shown


def test_change_request_pages_need_change_view(app):
    from tests.processes.change_request_support import submit

    holder = make_holder(app, "issued")
    number = submit(
        app, "person_contact", {"id_number": holder.id_number, "name": holder.name, "new_mobile": "13911112222"}
    )
    for username in ("clerk01", "clerk02", "analyst01"):
        assert _signed_in(app, username).get(f"/changes/requests/{number}").status_code == 403, username
    page = _signed_in(app, "approver1").get(f"/changes/requests/{number}")
    assert page.status_code == 200 and 'data-status="pending"' in page.get_data(as_text=True)
    assert _signed_in(app, "operator01").get("/changes/requests/BG00000000NOPE").status_code == 404


def test_a_refused_request_stores_no_file(app):
    import secrets

    from handlers.photo import PhotoStore
    from integrations.crypto import sm3_hex
    from models import db
    from models.changes import ChangeRequest
    from models.files import UploadedFile
    from processes.domain.photos import store_root

    holder = make_holder(app, "issued")
    operator = _signed_in(app, "operator01")
    proof = JPEG + secrets.token_bytes(32)  # bytes never stored before (the photo store outlives test runs)
    portrait = JPEG + secrets.token_bytes(32)
    attempts = [
        # The identity check fails (wrong name): refused after the form itself was fine.
        ("person_contact", {"name": "冒名", "new_mobile": "13911112222", "reason": "更正"}, "attachments", proof),
        # The form is incomplete (no reason).
        ("person_contact", {"name": holder.name, "new_mobile": "13911112222"}, "attachments", proof),
        ("person_portrait", {"name": "冒名", "reason": "换照片"}, "new_portrait", portrait),
    ]
    for code, fields, file_field, content in attempts:
        response = operator.post(
            f"/changes/new/{code}",
            data={
                "csrf_token": csrf_token(operator),
                "id_number": holder.id_number,
                **fields,
                file_field: (io.BytesIO(content), "proof.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, (code, response.status_code)
    with app.app_context():
        assert db.session.execute(select(ChangeRequest.id)).first() is None
        assert (
            db.session.execute(select(UploadedFile.id).where(UploadedFile.uploaded_by == "operator01")).first() is None
        )
        store = PhotoStore(store_root())
        assert not store.path(sm3_hex(proof)).exists() and not store.path(sm3_hex(portrait)).exists()
    # The same upload with a valid request is stored and referenced.
    response = operator.post(
        "/changes/new/person_portrait",
        data={
            "csrf_token": csrf_token(operator),
            "id_number": holder.id_number,
            "name": holder.name,
            "reason": "换照片",
            "new_portrait": (io.BytesIO(portrait), "p.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    with app.app_context():
        assert PhotoStore(store_root()).path(sm3_hex(portrait)).exists()
        assert request_row(app, _number(response)).fields["new_portrait"]["sm3"] == sm3_hex(portrait)
