"""Audit administrator's view of the trail (S4): search with pagination, and Excel export (itself audited)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, or_, select

from models import AuditLog, db
from processes import audit
from processes.errors import ValidationFailed

EXPORT_MAX_ROWS = 100_000
EVENT_LABELS = {
    "auth.login": "登录",
    "auth.password_ok": "密码验证通过",
    "auth.sms_code_sent": "发送短信验证码",
    "auth.logout": "退出登录",
    "auth.timeout": "会话超时",
    "auth.lockout": "账号锁定",
    "auth.password_change": "修改密码",
    "access.denied": "越权访问被拒绝",
    "csrf.refused": "请求来源校验失败",
    "gateway.refused": "绕过安全网关被拒绝",
    "user.create": "新建用户",
    "user.update": "修改用户",
    "user.upsert": "初始化用户",
    "user.reset_password": "重置密码",
    "user.unlock": "解锁账号",
    "user.register_ukey": "登记UKey",
    "audit.search": "查询审计日志",
    "audit.export": "导出审计日志",
    "audit.verify": "校验审计日志",
}
RESULT_LABELS = {"ok": "成功", "fail": "失败", "denied": "拒绝"}


@dataclass(frozen=True)
class AuditFilter:
    """What the audit administrator searches by."""

    username: str = ""
    event: str = ""
    result: str = ""
    object_ref: str = ""
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_args(cls, args: Any, zone: Any) -> AuditFilter:
        """Parse query-string arguments; 422 with Chinese messages for bad dates or results."""
        errors: dict[str, str] = {}
        dates: dict[str, date | None] = {}
        for name in ("date_from", "date_to"):
            raw = (args.get(name) or "").strip()
            try:
                dates[name] = date.fromisoformat(raw) if raw else None
            except ValueError:
                errors[name] = "日期格式应为 YYYY-MM-DD"
        result = (args.get("result") or "").strip()
        if result and result not in RESULT_LABELS:
            errors["result"] = "结果只能是成功、失败或拒绝"
        if errors:
            raise ValidationFailed("AUDIT_FILTER_INVALID", "查询条件有误", {"fields": errors})
        return cls(
            username=(args.get("username") or "").strip()[:64],
            event=(args.get("event") or "").strip()[:64],
            result=result,
            object_ref=(args.get("object") or "").strip()[:120],
            date_from=dates["date_from"],
            date_to=dates["date_to"],
        )

    def as_dict(self) -> dict[str, Any]:
        """The filter for the audit record of a search or export."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items() if v}


def _query(filters: AuditFilter, zone: Any):
    query = select(AuditLog)
    if filters.username:
        query = query.where(AuditLog.username == filters.username.lower())
    if filters.event:
        query = query.where(or_(AuditLog.event == filters.event, AuditLog.event.like(filters.event + ".%")))
    if filters.result:
        query = query.where(AuditLog.result == filters.result)
    if filters.object_ref:
        query = query.where(or_(AuditLog.object_id == filters.object_ref, AuditLog.object_type == filters.object_ref))
    if filters.date_from:
        query = query.where(AuditLog.at >= datetime.combine(filters.date_from, time.min, zone))
    if filters.date_to:
        query = query.where(AuditLog.at < datetime.combine(filters.date_to + timedelta(days=1), time.min, zone))
    return query


def search(filters: AuditFilter, zone: Any, page: int, per_page: int) -> tuple[list[AuditLog], int]:
    """One page of matching rows (newest first) and the total."""
    query = _query(filters, zone)
    total = db.session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = db.session.execute(query.order_by(AuditLog.seq.desc()).offset((page - 1) * per_page).limit(per_page))
    return list(rows.scalars()), total


def export_xlsx(filters: AuditFilter, zone: Any) -> tuple[bytes, int]:
    """Every matching row (oldest first, capped) as an Excel workbook; the export is audited."""
    import xlsxwriter

    rows = db.session.execute(_query(filters, zone).order_by(AuditLog.seq).limit(EXPORT_MAX_ROWS)).scalars().all()
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("审计日志")
    bold = book.add_format({"bold": True, "bg_color": "#EEF2F7"})
    headers = ("序号", "时间", "用户", "角色", "IP", "事件", "事件说明", "结果", "对象类型", "对象", "详情", "请求编号")
    widths = (8, 20, 14, 12, 15, 22, 16, 6, 12, 24, 60, 18)
    for col, (title, width) in enumerate(zip(headers, widths, strict=True)):
        sheet.write(0, col, title, bold)
        sheet.set_column(col, col, width)
    for n, row in enumerate(rows, start=1):
        values = (
            row.seq,
            row.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            row.username or "",
            row.role or "",
            row.ip or "",
            row.event,
            EVENT_LABELS.get(row.event, ""),
            RESULT_LABELS.get(row.result, row.result),
            row.object_type or "",
            row.object_id or "",
            row.details,
            row.request_id or "",
        )
        for col, value in enumerate(values):
            # Text cells only: a value starting with "=" must never become a formula in the auditor's Excel.
            if isinstance(value, str):
                sheet.write_string(n, col, value)
            else:
                sheet.write_number(n, col, value)
    sheet.freeze_panes(1, 0)
    book.close()
    audit.log(
        "audit.export",
        object_type="audit_log",
        details={"filter": json.dumps(filters.as_dict(), ensure_ascii=False), "rows": len(rows)},
    )
    return buffer.getvalue(), len(rows)


def oldest_record_at() -> datetime | None:
    """When the oldest kept record was written (the retention check on the audit page)."""
    return db.session.execute(select(func.min(AuditLog.at))).scalar_one_or_none()
