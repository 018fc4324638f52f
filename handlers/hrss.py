"""HRSS handlers: the real-time social-insurance check behind A1, A2 and A6."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from handlers.registry import HandlerError, operator
from integrations.errors import PermanentError
from integrations.hrss import HrssClient, InsuranceStatus

# HRSS refusals that the applicant can fix by correcting the application (thrown as a BPMN error).
_CORRECTABLE = {
    "INVALID_ID": "人社系统认定身份证号码无效，请核对证件号码",
    "NAME_MISMATCH": "姓名与人社系统登记的不一致，请核对姓名（含生僻字）",
}


@operator("hrss.check_insurance", clients=("hrss",), max_attempts=5, backoff_seconds=2.0)
def check_insurance(*, hrss: HrssClient, id_number: str, name: str, as_of: str, min_months: int = 6) -> dict[str, Any]:
    """Check ≥ min_months consecutive Shanghai social insurance and explain a failure (A1/A2)."""
    try:
        status = hrss.insurance_status(id_number, name, as_of)
    except PermanentError as exc:
        if exc.code in _CORRECTABLE:
            raise HandlerError("HRSS_REJECTED", _CORRECTABLE[exc.code], {"hrss_code": exc.code}) from exc
        raise
    passed = status.insured and status.consecutive_months >= min_months
    return {
        "passed": passed,
        "insured": status.insured,
        "insurance_status": status.status,
        "consecutive_months": status.consecutive_months,
        "required_months": min_months,
        "feedback": _feedback(status, min_months, passed),
        "as_of": status.as_of,
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _feedback(status: InsuranceStatus, min_months: int, passed: bool) -> list[str]:
    if passed:
        return [f"本市社保已连续缴纳{status.consecutive_months}个月，符合扩围条件，可在居住登记后直接申办居住证。"]
    if not status.history:
        return [
            "未查询到本市社会保险参保记录。",
            "如已在本市就业，请联系用人单位确认参保登记；如近期刚参保，请待首月缴费入账后重新核验。",
            "也可按原条件继续办理居住登记（居住登记满6个月后可申办居住证）。",
        ]
    lines = [
        f"本市社保连续缴纳{status.consecutive_months}个月，不足{min_months}个月"
        f"（还差{min_months - status.consecutive_months}个月）。"
    ]
    gaps = [m.month for m in status.history if not m.paid]
    if gaps:
        lines.append(f"以下月份未缴费导致连续缴纳中断：{'、'.join(gaps[-3:])}；如属补缴，请提供补缴凭证后重新核验。")
    if status.status == "suspended":
        lines.append("当前参保状态为暂停缴费，请联系用人单位恢复缴费。")
    lines.append("可补充劳动合同或缴费凭证后重新核验，或按原条件继续办理居住登记。")
    return lines
