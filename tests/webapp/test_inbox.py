"""Staff inbox pages: the shell, the role dashboard, the clerk's district-scoped queue, claim/assign, the task form."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import AuditLog, HumanTask, db
from processes.instances import start_instance
from processes.stepping import Actor
from tests.support import application, off_site_references
from tests.support import person as sim_person
from tests.webapp.auth_support import csrf_token, ensure_demo_user, sign_in

OPS = Actor(kind="ops", name="ops:test")
PUDONG = "上海市浦东新区花木路100号2号楼301室"
FLOOR = {"seq": 0}


@pytest.fixture(autouse=True)
def audit_floor(app):
    """The audit log outlives the per-test cleanup (append-only): assertions look only at this test's rows."""
    with app.app_context():
        FLOOR["seq"] = db.session.execute(select(func.coalesce(func.max(AuditLog.seq), 0))).scalar_one()


@pytest.fixture
def cases(app, drain):
    """Three registrations in Xuhui (clerk01's district) and one in Pudong (clerk02's), at the clerk review."""
    platform = app.extensions["permitflow"]
    with app.app_context():
        for i in range(3):
            start_instance(platform, "residence_registration", f"BK-XH{i}", application(sim_person("long", i)), OPS)
        start_instance(
            platform, "residence_registration", "BK-PD0", application(sim_person("long", 3), address=PUDONG), OPS
        )
    drain()
    with app.app_context():
        rows = db.session.execute(select(HumanTask).where(HumanTask.status == "ready")).scalars().all()
        tasks = {t.business_key: t.id for t in rows if t.role == "clerk"}
    assert set(tasks) == {"BK-XH0", "BK-XH1", "BK-XH2", "BK-PD0"}
    return tasks


def _audit(app, event: str) -> list[AuditLog]:
    with app.app_context():
        query = select(AuditLog).where(AuditLog.event == event, AuditLog.seq > FLOOR["seq"])
        return db.session.execute(query).scalars().all()


def test_home_is_a_landing_page_before_sign_in_and_a_dashboard_after(app, cases):
    client = app.test_client()
    landing = client.get("/").get_data(as_text=True)
    assert "居住登记" in landing and 'id="landing-sign-in"' in landing and "待办任务" not in landing
    sign_in(client, "clerk01")
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="dashboard"' in html
    assert 'id="current-role">网点受理员' in html and "徐汇区" in html and 'id="sign-out"' in html
    assert 'id="nav-inbox"' in html and 'id="nav-ops"' not in html and 'id="nav-approval-l1"' not in html
    assert 'class="skip-link" href="#main"' in html and "css/app.css" in html
    assert off_site_references(html) == []
    assert "<strong>3</strong>待办任务" in html  # the Pudong case is not clerk01's


def test_clerk_sees_only_their_district_and_filters_and_pages(app, cases):
    client = app.test_client()
    sign_in(client, "clerk01")
    html = client.get("/inbox/").get_data(as_text=True)
    assert all(f'data-business-key="BK-XH{i}"' in html for i in range(3)) and "BK-PD0" not in html
    page = client.get("/inbox/?per_page=10&business_key=BK-XH1").get_data(as_text=True)
    assert "BK-XH1" in page and "BK-XH0" not in page and "共 1 条" in page
    assert "共 3 条" in client.get("/inbox/?created_from=2000-01-01&overdue=no").get_data(as_text=True)
    assert "共 0 条" in client.get("/inbox/?created_to=2000-01-01").get_data(as_text=True)
    assert "共 0 条" in client.get("/inbox/?overdue=yes").get_data(as_text=True)
    # Another district's task is invisible, by list and by id.
    assert client.get(f"/inbox/tasks/{cases['BK-PD0']}").status_code == 404
    other = app.test_client()
    sign_in(other, "clerk02")
    assert "BK-PD0" in other.get("/inbox/").get_data(as_text=True)
    refused = other.post(f"/inbox/tasks/{cases['BK-XH0']}/claim", data={"csrf_token": csrf_token(other)})
    assert refused.status_code == 404


@pytest.mark.parametrize(
    "query,code",
    [
        ("status=weird", "BAD_FILTER"),
        ("page=0", "BAD_PAGING"),
        ("page=abc", "BAD_PAGING"),
        ("per_page=7", "BAD_PAGING"),
        ("created_from=2026-13-40", "BAD_FILTER"),
        ("id_number=12345", "ID_NUMBER_IN_URL"),  # finding 20: never in a URL, whatever its value
        ("overdue=maybe", "BAD_FILTER"),
    ],
)
def test_bad_filters_are_a_chinese_400_with_a_code(app, query, code):
    client = app.test_client()
    sign_in(client, "clerk01")
    response = client.get(f"/inbox/?{query}")
    assert response.status_code == 400
    assert code in response.get_data(as_text=True)
    as_json = client.get(f"/inbox/?{query}", headers={"Accept": "application/json"}).get_json()
    assert as_json["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in as_json["message"])


def test_id_number_filters_are_posted_and_paged_without_a_url(app, cases):
    client = app.test_client()
    sign_in(client, "clerk01")
    full = sim_person("long", 1).id_number
    page = client.post("/inbox/", data={"csrf_token": csrf_token(client), "id_number": full, "per_page": "10"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "BK-XH1" in html and "BK-XH0" not in html
    assert 'method="post" action="/inbox/"' in html and f"?id_number={full}" not in html
    bad = client.post("/inbox/", data={"csrf_token": csrf_token(client), "id_number": "12345"})
    assert bad.status_code == 400 and "BAD_FILTER" in bad.get_data(as_text=True)
    assert client.post("/inbox/", data={"id_number": full}).status_code in (400, 403)  # no CSRF token


def test_claim_unclaim_assign_and_audit(app, cases):
    client = app.test_client()
    sign_in(client, "clerk01")
    task_id = cases["BK-XH0"]
    token = csrf_token(client)
    assert client.post(f"/inbox/tasks/{task_id}/claim").status_code in (400, 403)  # no CSRF token
    assert client.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": token}).status_code == 302
    page = client.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    assert 'id="task-assignee">clerk01' in page and 'id="unclaim"' in page
    assert client.post(f"/inbox/tasks/{task_id}/unclaim", data={"csrf_token": csrf_token(client)}).status_code == 302
    bad = client.post(f"/inbox/tasks/{task_id}/assign", data={"csrf_token": csrf_token(client), "assignee": "nobody"})
    assert bad.status_code == 400 and "ASSIGNEE_INVALID" in bad.get_data(as_text=True)
    # The only other clerk is in Pudong: not a colleague of this district.
    with app.app_context():
        from processes.users import upsert_user

        upsert_user("clerk03", "王芳（徐汇区受理员）", "clerk", "Pf#Passw0rd-x1", "XH-TL-02", "徐汇区")
    ensure_demo_user(app, "clerk02")  # a clerk of another district
    form = {"csrf_token": csrf_token(client), "assignee": "clerk02"}
    pudong = client.post(f"/inbox/tasks/{task_id}/assign", data=form)
    assert pudong.status_code == 400 and "只能转交给本区的同事" in pudong.get_data(as_text=True)
    done = client.post(f"/inbox/tasks/{task_id}/assign", data={"csrf_token": csrf_token(client), "assignee": "clerk03"})
    assert done.status_code == 302
    with app.app_context():
        assert db.session.get(HumanTask, task_id).assignee == "clerk03"
    assert all(_audit(app, event) for event in ("task.claim", "task.unclaim", "task.assign"))


def test_task_form_is_rendered_from_its_definition_and_validated_in_chinese(app, cases, drain):
    client = app.test_client()
    sign_in(client, "clerk01")
    task_id = cases["BK-XH1"]
    page = client.get(f"/inbox/tasks/{task_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="task-form"' in html and 'name="csrf_token"' in html
    assert 'name="decision"' in html and 'value="supplement"' in html and '<label for="comment">审核意见' in html
    assert 'id="photo-panel"' in html and 'id="licence-panel"' in html
    assert _audit(app, "case.view")
    # Reject without a reason: the form's required_if rule, in Chinese, on the same page.
    bad = client.post(f"/inbox/tasks/{task_id}/complete", data={"csrf_token": csrf_token(client), "decision": "reject"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "请填写“审核意见”" in text and 'data-code="FORM_INVALID"' in text
    wrong = client.post(f"/inbox/tasks/{task_id}/complete", data={"csrf_token": csrf_token(client), "decision": "x"})
    assert wrong.status_code == 422 and "只能选择" in wrong.get_data(as_text=True)
    ok = client.post(
        f"/inbox/tasks/{task_id}/complete",
        data={"csrf_token": csrf_token(client), "decision": "approve", "comment": "材料齐全"},
    )
    assert ok.status_code == 302
    drain()
    with app.app_context():
        task = db.session.get(HumanTask, task_id)
        assert task.status == "completed" and task.completed_by == "clerk01"
    assert _audit(app, "task.complete")
    again = client.post(
        f"/inbox/tasks/{task_id}/complete", data={"csrf_token": csrf_token(client), "decision": "approve"}
    )
    assert again.status_code == 409 and "TASK_NOT_READY" in again.get_data(as_text=True)


def test_personal_data_is_masked_until_unmasked_with_an_audit_record(app, cases):
    client = app.test_client()
    sign_in(client, "clerk01")
    task_id = cases["BK-XH2"]
    full = sim_person("long", 2).id_number
    masked_page = client.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    assert full not in masked_page and full[:6] in masked_page
    unmasked = client.get(f"/inbox/tasks/{task_id}?unmask=1").get_data(as_text=True)
    assert full in unmasked and 'id="unmasked-badge"' in unmasked
    assert _audit(app, "person.unmask")


def test_pages_need_sign_in_and_permission(app, cases):
    client = app.test_client()
    response = client.get("/inbox/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    sign_in(client, "analyst01")
    assert client.get("/inbox/").status_code == 403
    clerk = app.test_client()
    sign_in(clerk, "clerk01")
    for task_id in ("999999999999999999999", "9223372036854775808", "0"):
        assert clerk.get(f"/inbox/tasks/{task_id}").status_code == 404
        assert clerk.post(f"/inbox/tasks/{task_id}/claim", data={"csrf_token": csrf_token(clerk)}).status_code == 404


def test_latest_photo_only_and_the_licence_viewer(app, cases):
    from datetime import timedelta

    from handlers.photo import PhotoStore
    from models import Person, Photo, utcnow
    from processes.domain.photos import store_root

    subject = sim_person("long", 0)
    old_bytes, new_bytes = b"\x89PNG\r\n\x1a\nold-photo", b"\x89PNG\r\n\x1a\nnew-photo"
    with app.app_context():
        store = PhotoStore(store_root())
        person = Person(id_number=subject.id_number, name=subject.name, gender="M", birth_date=utcnow().date())
        db.session.add(person)
        db.session.flush()
        for content, age in ((new_bytes, 1), (old_bytes, 30)):
            ref = store.put(content, "image/png")
            db.session.add(
                Photo(
                    person_id=person.id,
                    source="counter",
                    sm3=ref["sm3"],
                    size=ref["size"],
                    mime="image/png",
                    storage_key=ref["sm3"],
                    taken_at=utcnow() - timedelta(days=age),
                )
            )
        db.session.commit()
    client = app.test_client()
    sign_in(client, "clerk01")
    task_id = cases["BK-XH0"]
    page = client.get(f"/inbox/tasks/{task_id}").get_data(as_text=True)
    assert 'id="latest-photo"' in page and page.count("<img ") == 1
    photo = client.get(f"/inbox/tasks/{task_id}/photo")
    assert photo.status_code == 200 and photo.data == new_bytes and photo.mimetype == "image/png"
    assert _audit(app, "person.photo_view")
    assert client.get(f"/inbox/tasks/{cases['BK-XH1']}/photo").status_code == 404  # no photo on record
    # A5: the licences fetched for the case, each opening in the viewer panel.
    assert 'id="licence-viewer"' in page and 'target="licence-viewer"' in page
    import re

    licence_no = re.search(r'/licences/([^"]+)" target="licence-viewer"', page).group(1)
    document = client.get(f"/inbox/tasks/{task_id}/licences/{licence_no}")
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert _audit(app, "person.licence_view")
    assert client.get(f"/inbox/tasks/{task_id}/licences/NOT-OURS").status_code == 404
