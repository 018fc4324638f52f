"""SMS service (B2, B3): templates, sending through the outbox to the real simulator, delivery, block list."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, text, update

from config import ConfigError, Settings
from integrations.simulators.dataset import population
from models import OutboxJob, SmsBlock, SmsMessage, db
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.jobs.kinds import enqueue
from processes.platform import get_platform
from processes.service_jobs import execute_job
from processes.sms import callback_signature, callback_url, request_sms
from processes.sms_blocklist import block_person, is_blocked, sync_death_list
from processes.sms_messages import message_history
from processes.sms_templates import DEFAULT_TEMPLATES, ensure_default_templates, get_template, save_template
from processes.stepping import Actor
from processes.unit_of_work import transaction
from tests.sms_support import drain_app, fresh_person, jobs_of, message_row, served, wait_for_status
from tests.support import set_fault, sim_calls

OPS = Actor(kind="ops", name="ops:test")
SEND = "sms.send"


@pytest.fixture
def sms_ctx(sms_app):
    with sms_app.app_context():
        yield sms_app


def _request(application, p, template: str = "REG_SUBMITTED", **options) -> SmsMessage:
    params = options.pop("params", {"name": p.name, "business_no": "DJ2026000001"})
    mobile = options.pop("mobile", p.mobile)
    with application.app_context():
        message, _ = request_sms(get_platform(application), template, mobile, params, actor=OPS, **options)
    return message


def _history(application, message_id: int) -> list[tuple[str, str]]:
    with application.app_context():
        return [(e.status, e.source) for e in message_history(message_id)]


def _count(application, model) -> int:
    with application.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# -- templates -------------------------------------------------------------------------------------


def test_b3_default_templates_are_seeded_once_and_edits_are_kept(sms_ctx):
    assert {t.code for t in map(get_template, [c for c, _, _ in DEFAULT_TEMPLATES])} == {
        "REG_SUBMITTED",
        "PRODUCTION_PROGRESS",
        "ENDORSE_REMIND",
        "MATERIALS_SUPPLEMENT",
        "CARD_READY",
        "CARD_ISSUED",
        "ENDORSE_DONE",
        "DEREG_DONE",
        "VERIFY_CODE",
    }
    assert get_template("CARD_READY").placeholders == ["name", "office"]
    edited, created = save_template(
        "CARD_READY", {"body": "【上海居住证】{name}您好，请携带身份证到{office}领证。"}, OPS
    )
    assert (created, edited.version, edited.updated_by) == (False, 2, "ops:test")
    assert ensure_default_templates() == 0
    assert get_template("CARD_READY").body == "【上海居住证】{name}您好，请携带身份证到{office}领证。"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"body": "   "}, "BODY_EMPTY"),
        ({"body": "【上海居住证】{name}" + "请" * 300}, "BODY_TOO_LONG"),
        ({"body": "【上海居住证】{name您好，制证进度：{stage}。"}, "UNBALANCED_BRACE"),
        ({"body": "【上海居住证】name}您好，制证进度：{stage}。"}, "UNBALANCED_BRACE"),
        ({"body": "【上海居住证】{name}您好，请到{office}领取。"}, "UNKNOWN_PLACEHOLDER"),
        ({"body": "【上海居住证】{Name}您好。"}, "BAD_PLACEHOLDER"),
        ({"name": ""}, "NAME_REQUIRED"),
        ({"placeholders": "name,stage"}, "BAD_PLACEHOLDER_LIST"),
        ({"placeholders": ["name", "Stage"]}, "BAD_PLACEHOLDER"),
        ({"active": "yes"}, "BAD_ACTIVE"),
    ],
)
def test_b3_saving_a_template_names_each_problem_and_changes_nothing(sms_ctx, change, problem):
    template = get_template("PRODUCTION_PROGRESS")
    before = (template.body, template.name, template.version)
    with pytest.raises(ValidationFailed) as info:
        save_template("PRODUCTION_PROGRESS", change, OPS)
    assert info.value.code == "SMS_TEMPLATE_INVALID"
    problems = info.value.details["problems"]
    assert problem in [p["code"] for p in problems]
    assert all(p["message"] and not p["message"].isascii() for p in problems)  # said in Chinese
    after = get_template("PRODUCTION_PROGRESS")
    assert (after.body, after.name, after.version) == before


def test_b3_several_problems_are_reported_together(sms_ctx):
    with pytest.raises(ValidationFailed) as info:
        save_template("NEW_NOTICE", {"name": "新通知", "body": "{who}您好{", "placeholders": ["name"]}, OPS)
    assert [p["code"] for p in info.value.details["problems"]] == ["UNBALANCED_BRACE", "UNKNOWN_PLACEHOLDER"]
    with pytest.raises(ValidationFailed):
        save_template("bad code", {"name": "x", "body": "x"}, OPS)
    with pytest.raises(ValidationFailed) as version:
        save_template("CARD_READY", {"expected_version": "1"}, OPS)
    assert version.value.details["problems"][0]["code"] == "BAD_EXPECTED_VERSION"


def test_b3_a_stale_template_version_is_a_conflict(sms_ctx):
    saved, _ = save_template("ENDORSE_REMIND", {"name": "签注到期提醒", "expected_version": 1}, OPS)
    assert saved.version == 2
    with pytest.raises(Conflict) as info:
        save_template("ENDORSE_REMIND", {"name": "签注提醒", "expected_version": 1}, OPS)
    assert info.value.code == "SMS_TEMPLATE_VERSION_CONFLICT" and info.value.details == {"current_version": 2}


# -- requesting ------------------------------------------------------------------------------------


def test_b2_params_are_checked_against_the_template_and_nothing_is_written(sms_app, simulator):
    p = fresh_person()
    for params, problem in [
        ({"name": p.name}, "MISSING_PARAM"),
        ({"name": p.name, "business_no": "DJ1", "office": "徐汇"}, "UNKNOWN_PARAM"),
        ({"name": p.name, "business_no": ["DJ1"]}, "BAD_PARAM"),
    ]:
        with pytest.raises(ValidationFailed) as info:
            _request(sms_app, p, params=params)
        assert info.value.code == "SMS_PARAMS_INVALID"
        assert problem in [x["code"] for x in info.value.details["problems"]]
    with pytest.raises(ValidationFailed) as bad:
        _request(sms_app, p, mobile="1380013800", id_number="110101199001011234")
    assert set(bad.value.details["fields"]) == {"mobile", "id_number"}
    with pytest.raises(NotFound):
        _request(sms_app, p, "NO_SUCH_TEMPLATE")
    with sms_app.app_context():
        save_template("CARD_ISSUED", {"active": False}, OPS)
    with pytest.raises(Conflict) as inactive:
        _request(sms_app, p, "CARD_ISSUED", params={"name": p.name, "permit_no": "310000"})
    assert inactive.value.code == "SMS_TEMPLATE_INACTIVE"
    drain_app(sms_app)
    assert (_count(sms_app, SmsMessage), _count(sms_app, OutboxJob), sim_calls(simulator, SEND)) == (0, 0, 0)


def test_b2_message_is_sent_then_delivered_by_polling(make_sms_app, simulator, caplog):
    application = make_sms_app(SMS_POLL_AFTER_SECONDS=0.2)
    caplog.set_level(logging.INFO)  # after the app: its factory sets the configured level
    p = fresh_person()
    message = _request(application, p, business_key="BK-SMS-E2E")
    empty = _request(application, p, mobile="13700000013")  # a number not in service
    drain_app(application)
    row = message_row(application, message.id)
    assert row.status == "delivered" and row.platform_msg_id and row.sent_at and row.final_at  # the platform's time
    assert row.body == f"【上海居住证】{p.name}您好，您的居住登记申请（DJ2026000001）已提交成功。"
    assert _history(application, message.id) == [("queued", "request"), ("sent", "job"), ("delivered", "poll")]
    failed = message_row(application, empty.id)
    assert (failed.status, failed.status_reason) == ("failed", "EMPTY_NUMBER（空号）")
    assert (sim_calls(simulator, SEND), sim_calls(simulator, "sms.status")) == (2, 2)
    assert p.mobile not in caplog.text and row.mobile_masked in caplog.text  # personal data stays out of logs


def test_b2_polling_stops_after_the_configured_number_of_tries(make_sms_app, simulator):
    application = make_sms_app(SMS_POLL_AFTER_SECONDS=0.1, SMS_POLL_MAX=2)
    set_fault(simulator, "sms.status", outage=True)  # the report never comes
    message = _request(application, fresh_person())
    drain_app(application)
    row = message_row(application, message.id)
    assert (row.status, row.polls, row.poll_after) == ("sent", 2, None)
    with application.app_context():
        assert message_history(message.id)[-1].reason == "查询2次仍无回执，停止查询"
    assert sim_calls(simulator, "sms.status") == 2
    assert [j.status for j in jobs_of(application, "sms_poll")] == ["done", "done"]


def test_b2_callback_urls_are_signed_per_message_and_need_a_secret():
    with pytest.raises(ConfigError, match="SMS_CALLBACK_SECRET"):
        Settings.from_env(environ={}, SMS_CALLBACK_URL="https://pf.example/api/v1/callbacks/sms")
    settings = Settings.from_env(
        environ={}, SMS_CALLBACK_URL="https://pf.example/cb?zone=sh", SMS_CALLBACK_SECRET="0123456789abcdef"
    )
    first, second = callback_url(settings, "pf-1"), callback_url(settings, "pf-2")
    assert first.startswith("https://pf.example/cb?zone=sh&sig=") and first != second
    assert first.endswith(callback_signature("0123456789abcdef", "pf-1"))
    assert callback_url(Settings.from_env(environ={}), "pf-1") is None  # no webhook: delivery is polled


def test_b2_delivery_report_is_called_back_over_http(make_sms_app, simulator):
    p = fresh_person()
    with served(lambda url: make_sms_app(SMS_CALLBACK_URL=url + "/api/v1/callbacks/sms")) as application:
        message = _request(application, p)
        drain_app(application)
        row = wait_for_status(application, message.id, "delivered")
    assert row.status == "delivered" and row.platform_msg_id
    history = _history(application, message.id)
    assert ("delivered", "callback") in history and ("sent", "job") in history
    assert sim_calls(simulator, "sms.status") == 0  # the callback made the poll unnecessary


def test_b2_rate_limit_429_is_retried_after_the_retry_after(sms_app, simulator, sms_limits):
    sms_limits(1, 1.0)
    p = fresh_person()
    first = _request(sms_app, p)
    second = _request(sms_app, p, params={"name": p.name, "business_no": "DJ2026000002"})
    drain_app(sms_app)
    rows = [message_row(sms_app, m.id) for m in (first, second)]
    assert [r.status for r in rows] == ["sent", "sent"]
    assert rows[1].attempts == 2 and rows[1].sent_at - rows[1].created_at >= timedelta(seconds=0.9)
    with sms_app.app_context():
        retry = [e for e in message_history(second.id) if e.source == "job" and e.status == "queued"]
    assert len(retry) == 1 and retry[0].reason.startswith("RATE_LIMITED（平台限流），1秒后重试")
    assert [(j.status, j.attempts) for j in jobs_of(sms_app, "sms_send")] == [("done", 0), ("done", 1)]


def test_b2_permanent_refusal_fails_at_once(sms_app, simulator):
    with sms_app.app_context():  # in our catalogue, but never registered at the platform
        save_template("TEST_UNREGISTERED", {"name": "未在平台登记", "body": "【上海居住证】{name}您好。"}, OPS)
    p = fresh_person()
    message = _request(sms_app, p, "TEST_UNREGISTERED", params={"name": p.name})
    drain_app(sms_app)
    row = message_row(sms_app, message.id)
    assert (row.status, row.status_reason, row.attempts) == ("failed", "TEMPLATE_NOT_FOUND（平台未登记该模板）", 1)
    [job] = jobs_of(sms_app, "sms_send")
    assert job.status == "dead" and "TEMPLATE_NOT_FOUND" in job.last_error
    assert _history(sms_app, message.id) == [("queued", "request"), ("failed", "job")]


def test_b2_transient_failures_are_retried_then_the_message_fails(sms_app, simulator):
    set_fault(simulator, SEND, outage=True)
    message = _request(sms_app, fresh_person())
    drain_app(sms_app)
    row = message_row(sms_app, message.id)
    assert (row.status, row.attempts) == ("failed", 3) and row.status_reason == "SERVER_ERROR（平台故障）"
    assert sim_calls(simulator, SEND) == 3
    assert [s for s, _ in _history(sms_app, message.id)] == ["queued", "queued", "queued", "failed"]
    assert [j.status for j in jobs_of(sms_app, "sms_send")] == ["dead"]


def test_b2_a_job_run_twice_sends_once(sms_app, simulator):
    message = _request(sms_app, fresh_person())
    drain_app(sms_app)
    [job] = jobs_of(sms_app, "sms_send")
    platform = get_platform(sms_app)
    with sms_app.app_context():
        assert execute_job(platform, job.id) == "skipped"
    assert sim_calls(simulator, SEND) == 1
    sent = message_row(sms_app, message.id)
    # A worker that sent but died before committing what it learnt: the retry reuses the client message id.
    with sms_app.app_context():
        db.session.execute(update(SmsMessage).where(SmsMessage.id == message.id).values(status="queued"))
        db.session.execute(update(OutboxJob).where(OutboxJob.id == job.id).values(status="pending"))
        db.session.execute(delete(OutboxJob).where(OutboxJob.kind == "sms_poll"))
        db.session.commit()
        assert execute_job(platform, job.id) == "sent"
        last = message_history(message.id)[-1]
    again = message_row(sms_app, message.id)
    assert again.platform_msg_id == sent.platform_msg_id  # the platform answered with the first message
    assert last.reason == "平台已受理（重复提交，未重复发送）"


def test_b2_a_repeated_dedupe_key_returns_the_first_message(sms_app, simulator):
    p = fresh_person()
    first = _request(sms_app, p, dedupe_key="BK-9:REG_SUBMITTED")
    again = _request(sms_app, p, dedupe_key="BK-9:REG_SUBMITTED")
    assert again.id == first.id
    with pytest.raises(Conflict) as other:
        _request(sms_app, p, params={"name": p.name, "business_no": "DJ9"}, dedupe_key="BK-9:REG_SUBMITTED")
    assert other.value.code == "SMS_DEDUPE_CONFLICT"
    drain_app(sms_app)
    assert sim_calls(simulator, SEND) == 1


# -- block list ------------------------------------------------------------------------------------


def test_b3_blocked_person_is_recorded_and_never_sent(sms_app, simulator):
    p, q = fresh_person(), fresh_person()
    with sms_app.app_context():
        _, created = block_person(p.id_number, reason="deceased", source="manual", actor=OPS, batch_ref="T-1")
        _, again = block_person(p.id_number, reason="deceased", source="manual", actor=OPS)
        block_person(q.id_number, reason="deceased", source="import", actor=OPS, mobile=q.mobile)
    assert (created, again) == (True, False)
    with sms_app.app_context(), pytest.raises(ValidationFailed) as bad:
        block_person("320102", reason="", source="manual", actor=OPS)
    assert set(bad.value.details["fields"]) == {"id_number", "reason"}
    by_id = _request(sms_app, p, id_number=p.id_number)
    by_mobile = _request(sms_app, q)  # no ID number given: the mobile on the block list decides
    drain_app(sms_app)
    for message in (by_id, by_mobile):
        row = message_row(sms_app, message.id)
        assert row.status == "blocked" and row.status_reason == "已列入短信禁发名单：死亡（deceased）"
        assert _history(sms_app, message.id) == [("blocked", "request")]
    assert jobs_of(sms_app, "sms_send") == [] and sim_calls(simulator, SEND) == 0


def test_b3_a_mobile_once_messaged_for_a_blocked_person_is_blocked(sms_app, simulator):
    p = fresh_person()
    _request(sms_app, p, id_number=p.id_number)
    drain_app(sms_app)
    with sms_app.app_context():
        block_person(p.id_number, reason="deceased", source="death_list", actor=OPS)
        assert is_blocked(mobile=p.mobile) and is_blocked(id_number=p.id_number)
    later = _request(sms_app, p)
    assert later.status == "blocked" and sim_calls(simulator, SEND) == 1


def test_b3_person_blocked_after_queuing_is_not_sent(sms_app, simulator):
    p = fresh_person()
    with sms_app.app_context(), transaction():  # the job can only run once both are committed
        message, _ = request_sms(
            get_platform(sms_app),
            "REG_SUBMITTED",
            p.mobile,
            {"name": p.name, "business_no": "DJ1"},
            id_number=p.id_number,
            actor=OPS,
        )
        block_person(p.id_number, reason="deceased", source="death_list", actor=OPS)
    drain_app(sms_app)
    assert message_row(sms_app, message.id).status == "blocked"
    assert _history(sms_app, message.id) == [("queued", "request"), ("blocked", "job")]
    assert sim_calls(simulator, SEND) == 0


def test_b3_death_list_sync_blocks_exactly_the_deceased(sms_ctx, simulator):
    platform = get_platform(sms_ctx)
    deceased = {p.id_number for p in population() if p.deceased}
    result = sync_death_list(platform, "2000-01-01")
    entries = db.session.execute(select(SmsBlock)).scalars().all()
    assert {e.id_number for e in entries} == deceased and result.blocked == len(deceased) == 6
    assert {(e.reason, e.source) for e in entries} == {("deceased", "death_list")}
    assert all(e.batch_ref.startswith("death_list:20") for e in entries)
    again = sync_death_list(platform, "2000-01-01")
    assert (again.blocked, again.already) == (0, len(deceased))
    living = next(p for p in population() if not p.deceased)
    assert is_blocked(id_number=sorted(deceased)[0]) and not is_blocked(id_number=living.id_number)


def test_b3_death_list_sync_job_retries_an_outage(sms_app, simulator):
    set_fault(simulator, "population.deaths", fail_next=1, error_status=503)
    with sms_app.app_context(), transaction():
        enqueue(get_platform(sms_app), "sms_death_list_sync", {"since": "2000-01-01"})
    drain_app(sms_app)
    [job] = jobs_of(sms_app, "sms_death_list_sync")
    assert (job.status, job.attempts) == ("done", 1)
    assert _count(sms_app, SmsBlock) == sum(p.deceased for p in population())


def test_message_params_are_encrypted_at_rest(sms_app):
    """Template values (names, business numbers, one-time sign-in codes) never sit in clear text in the table."""
    p = fresh_person()
    message = _request(sms_app, p, params={"name": p.name, "business_no": "DJ2026777001"})
    with sms_app.app_context():
        raw = db.session.execute(
            text("SELECT params_json FROM sms_message WHERE id = :id"), {"id": message.id}
        ).scalar_one()
        assert raw.startswith("field-enc:") and "DJ2026777001" not in raw and p.name not in raw
        assert db.session.get(SmsMessage, message.id).params == {"name": p.name, "business_no": "DJ2026777001"}
