"""Labels and filter helpers shared by the business queries (processes.queries.definitions and .records)."""

from __future__ import annotations

from typing import Any

from models import IntegrationCall
from processes.reports.summary import Window

CHANNEL_LABELS = {
    "counter": "窗口",
    "channel_line": "渠道专线",
    "mca3": "民政3.0一口受理",
    "mca": "民政3.0一口受理",  # older rows
    "suishenban": "随申办移动端",
    "terminal": "自助终端",
}
PHOTO_SOURCES = {"counter": "窗口采集", "channel": "渠道上传", "social_security": "社保卡照片", "retake": "重拍"}
PUSH_STATUS = (("ok", "成功"), ("failed", "失败"))
SYSTEMS = {
    "elicence": "电子证照库",
    "housing": "房屋数据",
    "hrss": "人社",
    "photo": "照片服务",
    "card_factory": "制卡厂",
    "postal": "邮政",
    "population": "人口办",
    "mca3": "民政3.0",
    "sms": "短信平台",
}
DIRECTIONS = (("outbound", "推送/调用（本系统→外部）"), ("inbound", "拉取/回调（外部→本系统）"))
PERMIT_STATUS = {
    "applying": "申请中",
    "approved": "已批准",
    "producing": "制证中",
    "issued": "已发证",
    "lost": "已挂失",
    "cancelled": "已注销",
    "voided": "已作废",
}
REG_STATUS = {"active": "有效", "deregistered": "已注销", "rejected": "未通过", "superseded": "已变更"}
HOUSE_STATUS = {"ok": "核验完成"}


def _zone() -> Any:
    from processes.platform import get_platform

    return get_platform().settings.zone


def _period(filters: dict[str, Any], key: str, column: Any) -> list[Any]:
    first, last = filters.get(key + "_from"), filters.get(key + "_to")
    if not first and not last:
        return []
    return [Window(first, last, _zone()).on(column)]


def _call_status(filters: dict[str, Any]) -> list[Any]:
    status = filters.get("status")
    if status == "ok":
        return [IntegrationCall.status == "ok"]
    if status == "failed":
        return [IntegrationCall.status != "ok"]
    return []
