"""SMS service (B2, B3): request a templated message, send it through the outbox, follow its delivery.

Mobiles and message texts are personal data: logs carry only the message id and the masked mobile.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from config.logging import request_id_var
from handlers.registry import HandlerError
from integrations import idnumber
from integrations.crypto import hmac_sm3, sm3_hex
from integrations.errors import IntegrationError, TransientError
from models import OutboxJob, SmsMessage, db, utcnow
from processes.errors import Conflict, NotFound, ProcessError, Unauthorized, ValidationFailed
from processes.jobs.kinds import RUNNABLE, enqueue, finish_job, job_kind, retry_job
from processes.sms_blocklist import (
    block_reason,
    mobile_digest,
    mobile_digests,
    person_digest,
    person_digests,
    sync_death_list,
)
from processes.sms_messages import (
    MOBILE,
    REPORTED,
    add_event,
    blocked_text,
    failure_text,
    mask_mobile,
    move_status,
    set_fields,
)
from processes.sms_templates import get_template, render
from processes.stepping import Actor
from processes.unit_of_work import capture_calls, log_calls, transaction

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600.0


def _check_request(template_code: Any, mobile: Any, id_number: Any, business_key: Any, dedupe_key: Any) -> None:
    fields: dict[str, str] = {}
    if not isinstance(template_code, str) or not template_code:
        fields["template_code"] = "请指定短信模板编码"
    if not isinstance(mobile, str) or not MOBILE.match(mobile):
        fields["mobile"] = "手机号码应为11位数字、以1开头"
    if id_number is not None:
        problem = idnumber.id_number_problem(id_number) if isinstance(id_number, str) else "身份证号码应为文字"
        if problem:
            fields["id_number"] = problem
    if business_key is not None and (not isinstance(business_key, str) or not 0 < len(business_key) <= 120):
        fields["business_key"] = "业务编号应为1到120个字符"
    if dedupe_key is not None and (not isinstance(dedupe_key, str) or not 0 < len(dedupe_key) <= 200):
        fields["dedupe_key"] = "去重键应为1到200个字符"
    if fields:
        raise ValidationFailed("SMS_REQUEST_INVALID", "短信请求有误", {"fields": fields})


def request_sms(
    platform: Any,
    template_code: str,
    mobile: str,
    params: dict[str, Any],
    *,
    id_number: str | None = None,
    business_key: str | None = None,
    actor: Actor,
    dedupe_key: str | None = None,
) -> tuple[SmsMessage, bool]:
    """Record a message and queue its sending in one transaction; (message, created).

    A blocked person or mobile gets a `blocked` record and nothing is queued. A repeated dedupe_key
    returns the first message (409 if it was used for another message).
    """
    _check_request(template_code, mobile, id_number, business_key, dedupe_key)
    dedupe = sm3_hex("permitflow-sms-dedupe:" + dedupe_key) if dedupe_key else None
    with transaction():
        template = get_template(template_code)
        if not template.active:
            raise Conflict(
                "SMS_TEMPLATE_INACTIVE", f"短信模板 {template_code} 已停用", {"template_code": template.code}
            )
        body, cleaned = render(template, params)
        mobile_hash = mobile_digest(mobile)
        if dedupe is not None:
            first = db.session.execute(
                select(SmsMessage).where(SmsMessage.dedupe_digest == dedupe)
            ).scalar_one_or_none()
            if first is not None:
                if (first.template_code, first.params, first.mobile) != (template.code, cleaned, mobile):
                    raise Conflict("SMS_DEDUPE_CONFLICT", "该去重键已用于另一条短信", {"message_id": first.id})
                return first, False
        id_hash = person_digest(id_number) if id_number else None
        reason = block_reason(person_digests(id_number) if id_number else None, mobile_digests(mobile))
        now = utcnow()
        message = SmsMessage(
            client_msg_id="pf" + secrets.token_hex(16),
            dedupe_digest=dedupe,
            template_code=template.code,
            template_version=template.version,
            params=cleaned,
            body=body,
            mobile=mobile,  # SM4-encrypted at rest by the model; never logged
            mobile_masked=mask_mobile(mobile),
            mobile_digest=mobile_hash,
            id_digest=id_hash,
            business_key=business_key,
            status="blocked" if reason else "queued",
            status_reason=blocked_text(reason) if reason else None,
            final_at=now if reason else None,
            requested_by=actor.name,
            created_at=now,
        )
        db.session.add(message)
        db.session.flush()
        add_event(message.id, message.status, "request", message.status_reason)
        if reason is None:
            enqueue(
                platform,
                "sms_send",
                {"message_id": message.id},
                dedupe_key=f"sms:{message.id}",
                request_id=actor.request_id,
            )
    log.info("sms %s %s: %s to %s", message.id, message.status, template.code, message.mobile_masked)
    return message, True


def _runnable_job(job_id: int) -> OutboxJob | None:
    job = db.session.get(OutboxJob, job_id)
    return job if job is not None and job.status in RUNNABLE else None


def backoff(platform: Any, attempt: int, retry_after: float | None) -> float:
    """Seconds before the next attempt: exponential, never sooner than the partner's Retry-After."""
    base = platform.settings.SMS_SEND_BACKOFF_SECONDS * (2 ** (attempt - 1))
    return min(max(base, retry_after or 0.0), MAX_BACKOFF_SECONDS)


def _retry_later(platform: Any, job: OutboxJob, error: IntegrationError) -> float | None:
    """After a failure: the delay of the next attempt, or None when it is permanent or attempts are used up
    (the job is then dead)."""
    text = f"{error.code}: {error}"
    attempt = job.attempts + 1
    if isinstance(error, TransientError) and attempt < platform.settings.SMS_SEND_MAX_ATTEMPTS:
        delay = backoff(platform, attempt, error.retry_after)
        retry_job(job, text, delay)
        return delay
    finish_job(job.id, "dead", text[:2000])
    return None


@job_kind("sms_send")
def _send_job(platform: Any, job_id: int, instance_id: int | None, payload: dict[str, Any], request_id) -> str:
    message_id = payload["message_id"]
    with transaction():
        if _runnable_job(job_id) is None:
            return "skipped"
        message = db.session.get(SmsMessage, message_id)
        if message is None or message.status != "queued":
            finish_job(job_id, "done", "message no longer queued")
            return "skipped"
        # Blocked since it was queued? (the mobile under every key version: the block may be newer than the row)
        reason = block_reason(message.id_digest, mobile_digests(message.mobile))
        if reason:
            move_status(message_id, "blocked", "job", blocked_text(reason), only_from=("queued",), final_at=utcnow())
            finish_job(job_id, "done", "blocked")
            return "blocked"
        send = (message.template_code, message.mobile, dict(message.params), message.client_msg_id)
        business_key = message.business_key
    # The platform call happens outside any transaction; the client message id makes a repeat harmless.
    with capture_calls() as calls:
        try:
            receipt = platform.clients["sms"].send(
                *send, callback_url=callback_url(platform.settings, send[3]), business_key=business_key
            )
            error = None
        except IntegrationError as exc:
            receipt, error = None, exc
    with transaction():
        log_calls(calls)
        job = _runnable_job(job_id)
        if job is None:
            return "skipped"
        set_fields(message_id, attempts=SmsMessage.attempts + 1)
        if error is None:
            return _record_sent(platform, job_id, message_id, receipt)
        delay = _retry_later(platform, job, error)
        if delay is not None:
            add_event(message_id, "queued", "job", f"{failure_text(error.code)}，{delay:.0f}秒后重试")
            return "retry"
        move_status(message_id, "failed", "job", failure_text(error.code), only_from=("queued",), final_at=utcnow())
        log.warning("sms %s failed: %s", message_id, error.code)
        return "failed"


def _record_sent(platform: Any, job_id: int, message_id: int, receipt: Any) -> str:
    now = utcnow()
    poll_at = now + timedelta(seconds=platform.settings.SMS_POLL_AFTER_SECONDS)
    set_fields(message_id, platform_msg_id=receipt.msg_id, sent_at=now)
    note = "平台已受理（重复提交，未重复发送）" if receipt.duplicate else None
    if move_status(message_id, "sent", "job", note, only_from=("queued",), poll_after=poll_at):
        enqueue(
            platform,
            "sms_poll",
            {"message_id": message_id, "round": 1},
            dedupe_key=f"sms-poll:{message_id}:1",
            available_at=poll_at,
        )
    else:
        add_event(message_id, "sent", "job", "平台已受理（回执先于受理结果到达）")
    finish_job(job_id, "done")
    return "sent"


@job_kind("sms_poll")
def _poll_job(platform: Any, job_id: int, instance_id: int | None, payload: dict[str, Any], request_id) -> str:
    message_id, poll = payload["message_id"], payload.get("round", 1)
    with transaction():
        if _runnable_job(job_id) is None:
            return "skipped"
        message = db.session.get(SmsMessage, message_id)
        if message is None or message.status != "sent" or not message.platform_msg_id:
            finish_job(job_id, "done", "no delivery report awaited")  # e.g. the callback came first
            return "skipped"
        platform_msg_id, business_key = message.platform_msg_id, message.business_key
    with capture_calls() as calls:
        try:
            report = platform.clients["sms"].delivery_status(platform_msg_id, business_key=business_key)
            error = None
        except IntegrationError as exc:
            report, error = None, exc
    with transaction():
        log_calls(calls)
        if _runnable_job(job_id) is None:
            return "skipped"
        finish_job(job_id, "done", error and f"{error.code}: {error}")
        values = {"polls": poll}
        if report is not None and report.status in REPORTED:
            _apply_report(message_id, report.status, report.error_code, report.reported_at, "poll", **values)
            return report.status
        # Still pending, or the platform did not answer: ask again later, a bounded number of times.
        if poll >= platform.settings.SMS_POLL_MAX:
            set_fields(message_id, polls=poll, poll_after=None)
            add_event(message_id, "sent", "poll", f"查询{poll}次仍无回执，停止查询")
            return "gave_up"
        at = utcnow() + timedelta(seconds=platform.settings.SMS_POLL_AFTER_SECONDS * 2**poll)
        set_fields(message_id, polls=poll, poll_after=at)
        enqueue(
            platform,
            "sms_poll",
            {"message_id": message_id, "round": poll + 1},
            dedupe_key=f"sms-poll:{message_id}:{poll + 1}",
            available_at=at,
        )
        return "pending"


def _apply_report(message_id: int, status: str, error_code: Any, reported_at: Any, source: str, **values) -> bool:
    at = _parse_time(reported_at) or utcnow()
    reason = None if status == "delivered" else failure_text(str(error_code) if error_code else None)
    return move_status(message_id, status, source, reason, final_at=at, poll_after=None, **values)


def _parse_time(value: Any) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else None


def callback_signature(secret: str, client_msg_id: str) -> str:
    """HMAC-SM3 that authenticates the delivery report of one message (the secret never leaves us)."""
    return hmac_sm3(secret.encode("utf-8"), "sms-callback:" + client_msg_id)


def callback_url(settings: Any, client_msg_id: str) -> str | None:
    """The webhook URL given to the platform with a message, signed for that message; None: poll only."""
    if not settings.SMS_CALLBACK_URL:
        return None
    separator = "&" if "?" in settings.SMS_CALLBACK_URL else "?"
    signature = callback_signature(settings.SMS_CALLBACK_SECRET, client_msg_id)
    return f"{settings.SMS_CALLBACK_URL}{separator}sig={signature}"


def record_delivery_report(platform: Any, report: dict[str, Any], signature: str | None) -> dict[str, Any]:
    """Apply a delivery report the platform called back with; 401 unless signed for its message."""
    secret = platform.settings.SMS_CALLBACK_SECRET
    client_msg_id = report.get("client_msg_id")
    if (
        not secret
        or not isinstance(client_msg_id, str)
        or not isinstance(signature, str)
        or not hmac.compare_digest(signature, callback_signature(secret, client_msg_id))
    ):
        raise Unauthorized("SMS_CALLBACK_UNAUTHORIZED", "短信回执签名无效")
    status, msg_id = report.get("status"), report.get("msg_id")
    if status not in (*REPORTED, "pending"):
        raise ValidationFailed("SMS_REPORT_INVALID", "回执状态应为 delivered、failed 或 pending", {"field": "status"})
    if not isinstance(msg_id, str) or not 0 < len(msg_id) <= 64:
        raise ValidationFailed("SMS_REPORT_INVALID", "回执缺少平台消息编号 msg_id", {"field": "msg_id"})
    with transaction():
        message_id = db.session.execute(
            select(SmsMessage.id).where(SmsMessage.client_msg_id == client_msg_id)
        ).scalar_one_or_none()
        if message_id is None:
            raise NotFound("SMS_MESSAGE_NOT_FOUND", "短信记录不存在", {"client_msg_id": client_msg_id})
        applied = status in REPORTED and _apply_report(
            message_id,
            status,
            report.get("error_code"),
            report.get("reported_at"),
            "callback",
            platform_msg_id=func.coalesce(SmsMessage.platform_msg_id, msg_id),
        )
    return {"message_id": message_id, "status": status, "applied": applied}


@job_kind("sms_death_list_sync")
def _death_list_job(platform: Any, job_id: int, instance_id: int | None, payload: dict[str, Any], request_id) -> str:
    try:
        sync_death_list(platform, payload["since"], Actor.system(request_id))
        error = None
    except IntegrationError as exc:
        error = exc
    with transaction():
        job = _runnable_job(job_id)
        if job is None:
            return "skipped"
        if error is None:
            finish_job(job_id, "done")
            return "done"
        return "retry" if _retry_later(platform, job, error) is not None else "dead"


class SmsOutbox:
    """The `sms_outbox` client handlers get: queue a message in the caller's transaction, nothing more."""

    def __init__(self, platform: Any) -> None:
        self._platform = platform

    def request(
        self,
        template_code: str,
        mobile: str,
        params: dict[str, Any],
        *,
        id_number: str | None = None,
        business_key: str | None = None,
    ) -> dict[str, Any]:
        """Queue a message (see request_sms); a broken rule becomes the handler's error (BPMN error/incident)."""
        try:
            message, created = request_sms(
                self._platform,
                template_code,
                mobile,
                params,
                id_number=id_number,
                business_key=business_key,
                actor=Actor.system(request_id_var.get()),
            )
        except ProcessError as exc:
            raise HandlerError(exc.code, exc.message, exc.details) from exc
        return {"message_id": message.id, "status": message.status, "duplicate": not created}
