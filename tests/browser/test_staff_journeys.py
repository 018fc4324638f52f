"""Staff journeys in the browser: two-factor sign-in, a clerk's registration review, a two-level approval, and
finding an incident in the operations console and retrying it."""

from __future__ import annotations

import re

import requests
from sqlalchemy import select

from models import HumanTask, Incident, ProcessInstance, db
from processes.instances import start_instance
from processes.platform import get_platform
from processes.stepping import Actor
from tests.browser.support import shot, sign_in
from tests.support import application, set_fault
from tests.support import person as sim_person
from tests.webapp.auth_support import DEMO_LOGINS, TEST_PASSWORD, ensure_demo_user, latest_sms_code

OPS = Actor(kind="ops", name="ops:browser")


def _registration(server, business_key: str, n: int = 0) -> str:
    """A residence registration started as a channel would; jobs run at once, so it waits for the clerk."""
    with server.app.app_context():
        instance, _ = start_instance(
            get_platform(server.app), "residence_registration", business_key, application(sim_person("long", n)), OPS
        )
        return instance.public_id


def _instance(public_id: str) -> ProcessInstance:
    return db.session.execute(select(ProcessInstance).where(ProcessInstance.public_id == public_id)).scalar_one()


def _task(server, public_id: str, role: str) -> HumanTask | None:
    with server.app.app_context():
        db.session.rollback()
        return db.session.execute(
            select(HumanTask)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(ProcessInstance.public_id == public_id, HumanTask.role == role)
            .order_by(HumanTask.id.desc())
            .limit(1)
        ).scalar_one_or_none()


def test_sign_in_with_password_and_sms_code_or_ukey(page, server):
    username = DEMO_LOGINS["clerk"]
    ensure_demo_user(server.app, username)
    page.goto(server.url + "/inbox/")  # a protected page sends us to sign in, and back afterwards
    page.wait_for_url("**/login**")
    shot(page, "sign-in-password")
    page.fill("#username", username)
    page.fill("#password", "wrong-Passw0rd!")
    page.click("#login-submit")
    assert page.locator("#login-error").is_visible()
    page.fill("#username", username)
    page.fill("#password", TEST_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/login/factor**")
    if page.locator("#sms-send").count() == 0:
        page.click("#tab-sms")
    page.click("#sms-send")
    page.wait_for_selector("#code")
    shot(page, "sign-in-second-factor")
    code = latest_sms_code(server.app, username)
    page.fill("#code", "000000" if code != "000000" else "111111")
    page.click("#sms-submit")
    assert page.locator("#factor-error").is_visible()  # a wrong code is refused in Chinese, on the same step
    page.fill("#code", code)
    page.click("#sms-submit")
    page.wait_for_url(re.compile(r".*/inbox/?$"))
    assert page.locator("#current-user").is_visible() and page.locator("#nav-inbox").is_visible()
    page.click("#sign-out")
    page.wait_for_url("**/login**")
    # The other second factor: the software UKey signs the server's SM2 challenge.
    sign_in(page, server, "approver_l1", factor="ukey")
    assert "一级审核" in page.inner_text("nav.main-nav")


def test_clerk_claims_and_completes_a_registration_review(page, server):
    public_id = _registration(server, "BK-BROWSER-REVIEW")
    task = _task(server, public_id, "clerk")
    assert task is not None and task.status == "ready"
    sign_in(page, server, "clerk")
    page.goto(server.url + "/inbox/")
    row = page.locator(f"#task-{task.id}")
    row.wait_for()
    shot(page, "clerk-inbox")
    page.click(f"#claim-{task.id}")
    page.goto(server.url + f"/inbox/tasks/{task.id}")
    assert page.inner_text("#task-assignee") == DEMO_LOGINS["clerk"]
    page.check('input[name="decision"][value="approve"]')
    page.fill("#comment", "材料齐全，同意登记")
    shot(page, "clerk-task")
    page.click("#submit-task")
    page.wait_for_url(re.compile(r".*/inbox/?$"))
    done = _task(server, public_id, "clerk")
    assert (done.status, done.completed_by) == ("completed", DEMO_LOGINS["clerk"])
    with server.app.app_context():
        instance = _instance(public_id)
        assert instance.status == "completed"
    assert page.js_errors == []


def test_two_level_approval(page, server, browser):
    from tests.processes.permit_support import act, apply, card_person, seed_registration

    app = server.app
    platform = get_platform(app)
    from processes.sms import SmsOutbox
    from processes.sms_templates import ensure_default_templates
    from tests.processes.permit_fixtures import unique_permit_numbers

    platform.clients.setdefault("sms_outbox", SmsOutbox(platform))
    with app.app_context():
        ensure_default_templates()
        unique_permit_numbers()
    person = card_person("long", nth=2)
    seed_registration(app, person, months=2, legality="illegal")  # risky: the rules ask for level 2
    public_id = apply(app, server.drain, person)
    act(app, server.drain, public_id, "clerk", {"decision": "approve", "comment": "材料齐全"}, "permit_review")
    level1 = _task(server, public_id, "approver_l1")
    assert level1.status == "ready"

    sign_in(page, server, "approver_l1")
    page.click("#nav-approval-l1")
    page.locator(f"#task-{level1.id}").wait_for()
    shot(page, "approval-queue-level1")
    page.goto(server.url + f"/approvals/tasks/{level1.id}")
    page.check("#decision-approve")
    page.click("#submit-decision")  # no reason: refused with a Chinese message
    assert "审批意见" in page.inner_text("#decision-card")
    page.check("#decision-approve")
    page.fill("#reason", "房屋情况已核实，同意")
    shot(page, "approval-task")
    page.click("#submit-decision")
    page.wait_for_url(re.compile(r".*/approvals/level1.*"))
    assert _task(server, public_id, "approver_l1").completed_by == DEMO_LOGINS["approver_l1"]

    level2 = _task(server, public_id, "approver_l2")
    assert level2 is not None and level2.status == "ready"
    second = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    try:
        other = second.new_page()
        sign_in(other, server, "approver_l2")
        other.click("#nav-approval-l2")
        other.locator(f"#task-{level2.id}").wait_for()
        other.goto(server.url + f"/approvals/tasks/{level2.id}")
        assert "房屋情况已核实，同意" in other.inner_text("#decision-history")  # level 1's reason is shown
        other.check("#decision-approve")
        other.fill("#reason", "复核通过")
        other.click("#submit-decision")
        other.wait_for_url(re.compile(r".*/approvals/level2.*"))
    finally:
        second.close()
    assert _task(server, public_id, "approver_l2").completed_by == DEMO_LOGINS["approver_l2"]


def test_operator_finds_an_incident_and_retries_it(page, server, simulator):
    set_fault(simulator, "hrss.insurance_status", outage=True)
    public_id = _registration(server, "BK-BROWSER-INCIDENT", 1)
    incident = None
    for _ in range(10):  # the retries with backoff, until the attempts are used up
        server.drain()
        with server.app.app_context():
            incident = db.session.execute(
                select(Incident).join(ProcessInstance).where(ProcessInstance.public_id == public_id)
            ).scalar_one_or_none()
        if incident is not None:
            break
    assert incident is not None and incident.status == "open"
    sign_in(page, server, "data_operator")
    page.click("#nav-incidents")
    page.locator(f"#incident-{incident.id}").wait_for()
    assert "Task_hrss_check" in page.inner_text(f"#incident-{incident.id}")
    shot(page, "ops-incidents")
    page.click(f"#incident-{incident.id} a")  # the instance: diagram with the failed node, history
    page.wait_for_selector('#instance-diagram[data-diagram-ready="true"]')
    assert page.locator('.djs-overlays[data-container-id="Task_hrss_check"] .pf-incident').count() == 1
    shot(page, "ops-instance")
    requests.delete(simulator.url + "/_admin/faults", timeout=5)  # the cause is fixed
    page.go_back()
    page.click(f"#retry-{incident.id}")
    page.wait_for_load_state()
    with server.app.app_context():
        db.session.rollback()
        assert db.session.get(Incident, incident.id).status == "resolved"
        instance = _instance(public_id)
        assert instance.status == "waiting"  # past the HRSS check, at the clerk review
    assert page.locator(f"#retry-{incident.id}").count() == 0
    assert page.js_errors == []
