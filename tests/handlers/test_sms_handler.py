"""The `sms.send` operator in a diagram: the message is queued with the step, sent after it, never to the blocked."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from handlers.registry import registry
from models import Incident, SmsMessage, db
from processes.deployment import deploy_files
from processes.instances import start_instance
from processes.platform import get_platform
from processes.sms_blocklist import block_person
from processes.stepping import Actor
from tests.sms_support import drain_app, fresh_person, message_row
from tests.support import sim_calls

BPMN = Path(__file__).resolve().parent.parent / "bpmn" / "test_sms_send.bpmn"
OPS = Actor(kind="ops", name="ops:test")


@pytest.fixture
def platform(sms_app):
    platform = get_platform(sms_app)
    with sms_app.app_context():
        deploy_files(platform, [BPMN], "tests")
    return platform


def _start(sms_app, platform, p, **applicant):
    data = {"applicant": {"id_number": p.id_number, "name": p.name, "mobile": p.mobile, **applicant}}
    with sms_app.app_context():
        instance, _ = start_instance(platform, "test_sms_send", "BK-SMS-BPMN", data, OPS)
    drain_app(sms_app)
    with sms_app.app_context():
        db.session.rollback()
        return db.session.get(type(instance), instance.id, populate_existing=True)


def test_b3_operator_is_registered_as_transactional_with_its_params():
    op = registry()["sms.send"]
    assert op.transactional and op.clients == ("sms_outbox",)
    assert op.required_params == ("template_code", "mobile", "params")


def test_b3_diagram_queues_the_message_with_the_step_and_it_is_sent(sms_app, platform, simulator):
    p = fresh_person()
    instance = _start(sms_app, platform, p)
    assert instance.status == "completed"
    result = instance.result["sms"]
    assert (result["status"], result["duplicate"]) == ("queued", False)
    message = message_row(sms_app, result["message_id"])
    assert (message.status, message.business_key, message.requested_by) == ("sent", "BK-SMS-BPMN", "system")
    assert message.body == f"【上海居住证】{p.name}您好，您的居住登记申请（BK-SMS-BPMN）已提交成功。"
    assert sim_calls(simulator, "sms.send") == 1


def test_b3_diagram_never_messages_a_blocked_person(sms_app, platform, simulator):
    p = fresh_person()
    with sms_app.app_context():
        block_person(p.id_number, reason="deceased", source="death_list", actor=OPS)
    instance = _start(sms_app, platform, p)
    assert instance.status == "completed" and instance.result["sms"]["status"] == "blocked"
    assert sim_calls(simulator, "sms.send") == 0


def test_b3_a_broken_rule_is_an_incident_and_writes_nothing(sms_app, platform, simulator):
    instance = _start(sms_app, platform, fresh_person(), mobile="12345")
    assert instance.status == "error"
    with sms_app.app_context():
        incident = db.session.execute(select(Incident).where(Incident.instance_id == instance.id)).scalar_one()
        written = db.session.execute(select(func.count()).select_from(SmsMessage)).scalar_one()
    assert (incident.error_code, incident.operator, written) == ("SMS_REQUEST_INVALID", "sms.send", 0)
    assert sim_calls(simulator, "sms.send") == 0
