"""One naming and length convention for every MCA 3.0 field: lowerCamelCase names, declared types and lengths.

Each field is declared once here (type, maximum length, Chinese description) and interfaces only say which
fields they take and which are required, so the same name always means the same thing and the OpenAPI
document is generated from the same table the validation uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from processes.errors import ValidationFailed
from processes.text_rules import storable


@dataclass(frozen=True)
class Field:
    """A request field: JSON type, length limits, pattern or choices, and its Chinese description."""

    type: str  # string | integer | boolean
    description: str
    max_length: int | None = None
    min_length: int = 1
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    format: str | None = None  # date | byte (base64)

    def schema(self) -> dict[str, Any]:
        """This field as an OpenAPI schema."""
        out: dict[str, Any] = {"type": self.type, "description": self.description}
        for key, value in (
            ("maxLength", self.max_length),
            ("pattern", self.pattern),
            ("minimum", self.minimum),
            ("maximum", self.maximum),
            ("format", self.format),
        ):
            if value is not None:
                out[key] = value
        if self.type == "string":
            out["minLength"] = self.min_length
        if self.choices:
            out["enum"] = list(self.choices)
        return out


ID_NUMBER = r"^[0-9]{17}[0-9X]$"
_STR = "string"
FIELDS: dict[str, Field] = {
    "businessKey": Field(_STR, "业务流水号：调用方生成，同一应用内唯一；重复提交返回首次受理的实例", 64),
    "instanceId": Field(_STR, "流程实例编号（受理接口返回的 instance.id）", 64, pattern=r"^[0-9a-f]{32}$"),
    "idNumber": Field(_STR, "公民身份号码（18位，末位校验码可为X）", 18, 18, ID_NUMBER),
    "name": Field(_STR, "姓名（与身份证件一致）", 30),
    "mobile": Field(_STR, "手机号码（11位）", 11, 11, r"^1[0-9]{10}$"),
    "reporterIdNumber": Field(_STR, "办理人公民身份号码（解除挂失须为原挂失人）", 18, 18, ID_NUMBER),
    "permitNumber": Field(_STR, "居住证号", 32),
    "registrationNumber": Field(_STR, "居住登记编号", 32),
    "houseId": Field(_STR, "房屋唯一编号", 40),
    "addressCode": Field(_STR, "标准地址编码（全码）", 40),
    "partialAddress": Field(_STR, "部分地址（模糊查询关键字，至少2个字）", 100, 2),
    "limit": Field("integer", "最多返回条数", minimum=1, maximum=20),
    "address": Field(_STR, "居住地址（详细到门牌、室号）", 200),
    "newAddress": Field(_STR, "新居住地址", 200),
    "newDistrict": Field(_STR, "新居住地所在区", 20),
    "servicePoint": Field(_STR, "受理网点编码", 40),
    "reason": Field(_STR, "来沪事由", 16, choices=("employment", "business", "study", "family", "other")),
    "delivery": Field(_STR, "领证方式：counter 窗口领取，post 邮寄到付", 8, choices=("counter", "post")),
    "district": Field(_STR, "收件区县", 20),
    "addressDetail": Field(_STR, "收件详细地址", 200),
    "postcode": Field(_STR, "邮政编码（6位）", 6, 6, r"^[0-9]{6}$"),
    "education": Field(
        _STR, "文化程度", 16, choices=("primary", "junior", "senior", "college", "bachelor", "postgraduate")
    ),
    "employer": Field(_STR, "工作单位", 100),
    "householdAddress": Field(_STR, "户籍地址", 200),
    "newName": Field(_STR, "变更后姓名", 30),
    "newGender": Field(_STR, "变更后性别：M 男，F 女", 1, choices=("M", "F")),
    "newBirthDate": Field(_STR, "变更后出生日期（YYYY-MM-DD）", 10, 10, format="date"),
    "newEthnicity": Field(_STR, "变更后民族", 20),
    "changeReason": Field(_STR, "变更原因及证明材料说明", 500),
    "reissueType": Field(
        _STR,
        "补办类型：loss 遗失补领，damage 损坏换领，lost_found 挂失后补领",
        16,
        choices=("loss", "damage", "lost_found"),
    ),
    "note": Field(_STR, "情况说明", 500),
    "endorsementType": Field(
        _STR, "签注类型：annual 年度签注，reendorse 异常停用后重新签注", 16, choices=("annual", "reendorse")
    ),
    "endorsementReason": Field(_STR, "签注事由", 200),
    "requestedAt": Field(_STR, "申请时间（YYYY-MM-DD）", 10, 10, format="date"),
    # Base64 inside the encrypted JSON is Base64-encoded again in the envelope: 1,400,000 characters keep the
    # whole request under the default API_MAX_BODY_BYTES (2 MiB).
    "photoBase64": Field(_STR, "照片内容（JPEG或PNG原始字节的Base64编码，原图不超过1MB）", 1_400_000, format="byte"),
    "photoMime": Field(_STR, "照片类型", 10, choices=("image/jpeg", "image/png")),
    "waybillNo": Field(_STR, "邮件运单号", 40),
    "recipientName": Field(_STR, "收件人姓名", 30),
    "recipientMobile": Field(_STR, "收件人手机号码", 11, 11, r"^1[0-9]{10}$"),
    "province": Field(_STR, "收件省份", 20),
    "city": Field(_STR, "收件城市", 20),
    "businessType": Field(
        _STR,
        "业务类型",
        32,
        choices=(
            "registration",
            "permit_application",
            "endorsement",
            "address_change",
            "general_change",
            "identity_change",
            "loss_report",
            "loss_cancel",
            "reissue",
            "express",
        ),
    ),
    "waitSeconds": Field("integer", "等待受理结果的秒数（0 表示立即返回，最多10秒）", minimum=0, maximum=10),
}


def _problem(name: str, value: Any, spec: Field) -> tuple[str, str] | None:
    """(code, Chinese message) of what is wrong with one present value, or None."""
    label = spec.description.split("（")[0].split("：")[0]
    if spec.type == "integer":
        if not isinstance(value, int) or isinstance(value, bool):
            return "MCA_FIELD_INVALID", f"{label}应为整数"
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            return "MCA_FIELD_INVALID", f"{label}应在{spec.minimum}到{spec.maximum}之间"
        return None
    if spec.type == "boolean":
        return None if isinstance(value, bool) else ("MCA_FIELD_INVALID", f"{label}应为 true 或 false")
    if not isinstance(value, str):
        return "MCA_FIELD_INVALID", f"{label}应为字符串"
    if not storable(value):
        return "MCA_FIELD_INVALID", f"{label}含有不允许的字符（空字符或无效的编码）"
    if spec.max_length is not None and len(value) > spec.max_length:
        return "MCA_FIELD_TOO_LONG", f"{label}不能超过{spec.max_length}个字符"
    if len(value.strip()) < spec.min_length:
        return (
            ("MCA_FIELD_REQUIRED", f"缺少{label}")
            if not value.strip()
            else (
                "MCA_FIELD_INVALID",
                f"{label}至少{spec.min_length}个字符",
            )
        )
    if spec.pattern and not re.match(spec.pattern, value):
        return "MCA_FIELD_INVALID", f"{label}格式不正确"
    if spec.choices and value not in spec.choices:
        return "MCA_FIELD_INVALID", f"{label}只能是：{'、'.join(spec.choices)}"
    if spec.format == "date":
        try:
            date.fromisoformat(value)
        except ValueError:
            return "MCA_FIELD_INVALID", f"{label}应为 YYYY-MM-DD 格式的日期"
    return None


# When several fields are wrong, the reported code is the first of these that occurs.
_CODE_ORDER = ("MCA_FIELD_UNKNOWN", "MCA_FIELD_REQUIRED", "MCA_FIELD_TOO_LONG", "MCA_FIELD_INVALID")
_CODE_MESSAGES = {
    "MCA_FIELD_UNKNOWN": "请求中含有本接口未定义的字段",
    "MCA_FIELD_REQUIRED": "缺少必填字段",
    "MCA_FIELD_TOO_LONG": "字段超过规定长度",
    "MCA_FIELD_INVALID": "字段格式或取值不正确",
}


def validate(data: dict[str, Any], required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Any]:
    """The cleaned request (strings stripped); ValidationFailed naming every bad field in Chinese."""
    allowed = set(required) | set(optional)
    problems: dict[str, tuple[str, str]] = {}
    for name in data:
        if name not in allowed:
            problems[str(name)[:64]] = ("MCA_FIELD_UNKNOWN", "本接口没有该字段（字段名区分大小写，采用小驼峰命名）")
    cleaned: dict[str, Any] = {}
    for name in (*required, *optional):
        value = data.get(name)
        if value is None or value == "":
            if name in required:
                problems[name] = ("MCA_FIELD_REQUIRED", f"缺少{FIELDS[name].description.split('（')[0]}")
            continue
        problem = _problem(name, value, FIELDS[name])
        if problem:
            problems[name] = problem
        else:
            cleaned[name] = value.strip() if isinstance(value, str) and FIELDS[name].format != "byte" else value
    if problems:
        code = next(c for c in _CODE_ORDER if any(p[0] == c for p in problems.values()))
        raise ValidationFailed(
            code,
            _CODE_MESSAGES[code],
            {
                "fields": {name: message for name, (_, message) in problems.items()},
                "codes": {name: c for name, (c, _) in problems.items()},
            },
        )
    return cleaned


def camel(name: str) -> str:
    """snake_case → lowerCamelCase."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camelize(value: Any) -> Any:
    """Every dict key of a result in lowerCamelCase (one convention in both directions)."""
    if isinstance(value, dict):
        return {camel(k) if isinstance(k, str) else k: camelize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [camelize(v) for v in value]
    return value
