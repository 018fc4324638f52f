"""SMS templates (B3): seeded defaults, validated saves by administrators, rendering with checked parameters."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from models import SmsTemplate, db, utcnow
from processes.errors import Conflict, NotFound, ValidationFailed
from processes.stepping import Actor
from processes.unit_of_work import transaction

MAX_BODY = 300  # one long SMS: the platform splits longer texts and bills each part
MAX_NAME = 60
MAX_PARAM_VALUE = 100
CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
PLACEHOLDER = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

# The B3 business events. Codes and parameters are those registered at the SMS platform.
DEFAULT_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    ("REG_SUBMITTED", "居住登记已受理", "【上海居住证】{name}您好，您的居住登记申请（{business_no}）已提交成功。"),
    ("PRODUCTION_PROGRESS", "制证进度", "【上海居住证】{name}您好，您的居住证制证进度：{stage}。"),
    ("ENDORSE_REMIND", "签注提醒", "【上海居住证】{name}您好，您的居住证将于{due_date}到期，请及时办理签注。"),
    ("MATERIALS_SUPPLEMENT", "补充材料通知", "【上海居住证】{name}您好，请补充以下材料：{materials}。"),
    ("CARD_READY", "领证通知", "【上海居住证】{name}您好，您的居住证已制作完成，请到{office}领取。"),
    ("CARD_ISSUED", "已发证通知", "【上海居住证】{name}您好，您的居住证（{permit_no}）已发放。"),
    ("ENDORSE_DONE", "签注完成", "【上海居住证】{name}您好，您的居住证已完成签注，有效期至{valid_until}。"),
    ("DEREG_DONE", "居住登记已注销", "【上海居住证】{name}您好，您的居住登记（{registration_no}）已注销。"),
    ("VERIFY_CODE", "登录验证码", "【上海居住证】您的验证码为{code}，5分钟内有效。"),
)


def _problem(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, **extra}


def _unclosed(pos: int) -> dict[str, Any]:
    return _problem("UNBALANCED_BRACE", f"第{pos}个字符处的“{{”没有对应的“}}”", position=pos)


def scan_placeholders(body: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The {placeholder} names of a body in order, and its brace problems (literal braces are not allowed)."""
    names: list[str] = []
    problems: list[dict[str, Any]] = []
    opened: int | None = None
    for pos, char in enumerate(body, start=1):
        if char == "{":
            if opened is not None:
                problems.append(_unclosed(opened))
            opened = pos
        elif char == "}":
            if opened is None:
                problems.append(_problem("UNBALANCED_BRACE", f"第{pos}个字符处的“}}”没有对应的“{{”", position=pos))
                continue
            name = body[opened : pos - 1]
            if PLACEHOLDER.match(name):
                names.append(name)
            else:
                problems.append(
                    _problem(
                        "BAD_PLACEHOLDER",
                        f"占位符“{{{name}}}”格式不正确：只能用小写字母、数字和下划线，并以字母开头",
                        placeholder=name,
                    )
                )
            opened = None
    if opened is not None:
        problems.append(_unclosed(opened))
    return names, problems


def template_problems(name: Any, body: Any, placeholders: Any) -> list[dict[str, Any]]:
    """Every problem of a template's name, body and allowed placeholders, each with a Chinese message."""
    problems: list[dict[str, Any]] = []
    if not isinstance(name, str) or not name.strip():
        problems.append(_problem("NAME_REQUIRED", "请填写模板名称"))
    elif len(name) > MAX_NAME:
        problems.append(_problem("NAME_TOO_LONG", f"模板名称不能超过{MAX_NAME}个字符"))
    allowed: list[str] = []
    if not isinstance(placeholders, list) or not all(isinstance(p, str) for p in placeholders):
        problems.append(_problem("BAD_PLACEHOLDER_LIST", '允许的参数应为参数名列表，如 ["name", "stage"]'))
    else:
        allowed = placeholders
        for bad in (p for p in placeholders if not PLACEHOLDER.match(p)):
            problems.append(
                _problem("BAD_PLACEHOLDER", f"参数名“{bad}”格式不正确：只能用小写字母、数字和下划线", placeholder=bad)
            )
    if not isinstance(body, str) or not body.strip():
        problems.append(_problem("BODY_EMPTY", "短信正文不能为空"))
        return problems
    if len(body) > MAX_BODY:
        problems.append(_problem("BODY_TOO_LONG", f"短信正文不能超过{MAX_BODY}个字符（当前{len(body)}个）"))
    used, brace_problems = scan_placeholders(body)
    problems.extend(brace_problems)
    for unknown in dict.fromkeys(n for n in used if n not in allowed):
        problems.append(
            _problem(
                "UNKNOWN_PLACEHOLDER",
                f"占位符“{{{unknown}}}”不在允许的参数中（允许：{'、'.join(allowed) or '无'}）",
                placeholder=unknown,
            )
        )
    return problems


def ensure_default_templates(updated_by: str = "system") -> int:
    """Create the B3 templates that are missing (never overwrites an administrator's edit); returns how many."""
    with transaction():
        existing = set(db.session.execute(select(SmsTemplate.code)).scalars())
        created = 0
        for code, name, body in DEFAULT_TEMPLATES:
            if code not in existing:
                names, _ = scan_placeholders(body)
                db.session.add(SmsTemplate(code=code, name=name, body=body, placeholders=names, updated_by=updated_by))
                created += 1
    return created


def default_template(code: str) -> SmsTemplate | None:
    """The seeded default with this code as it would be stored (version 1, not added to the session), or None."""
    for default_code, name, body in DEFAULT_TEMPLATES:
        if default_code == code:
            names, _ = scan_placeholders(body)
            return SmsTemplate(
                code=code, name=name, body=body, placeholders=names, active=True, version=1, updated_by="system"
            )
    return None


def get_template(code: str) -> SmsTemplate:
    """The template with this code, or NotFound.

    A default template nobody has seeded or saved yet is its seeded text: a diagram's business-event SMS
    works on a fresh database (ensure_default_templates stores them; an administrator's edit always wins).
    """
    template = db.session.execute(select(SmsTemplate).where(SmsTemplate.code == code)).scalar_one_or_none()
    if template is None:
        template = default_template(code)
    if template is None:
        raise NotFound("SMS_TEMPLATE_NOT_FOUND", f"短信模板 {code} 不存在", {"template_code": code})
    return template


def list_templates() -> list[SmsTemplate]:
    """Every template, by code (a short list: one per business event)."""
    return list(db.session.execute(select(SmsTemplate).order_by(SmsTemplate.code)).scalars())


def save_template(code: str, data: dict[str, Any], actor: Actor) -> tuple[SmsTemplate, bool]:
    """Create or change a template after validating it; (template, created). Nothing changes on error."""
    if not isinstance(code, str) or not CODE.match(code):
        raise ValidationFailed(
            "SMS_TEMPLATE_INVALID",
            "模板编码应为大写字母开头的大写字母、数字和下划线，2到40个字符",
            {"problems": [_problem("BAD_CODE", "模板编码格式不正确")]},
        )
    active = data.get("active", True)
    expected = data.get("expected_version")
    if expected is not None and (not isinstance(expected, int) or isinstance(expected, bool)):
        raise ValidationFailed(
            "SMS_TEMPLATE_INVALID",
            "expected_version 应为整数",
            {"problems": [_problem("BAD_EXPECTED_VERSION", "expected_version 应为模板的版本号（整数）")]},
        )
    with transaction():
        template = db.session.execute(select(SmsTemplate).where(SmsTemplate.code == code)).scalar_one_or_none()
        if template is not None and expected is not None and expected != template.version:
            raise Conflict(
                "SMS_TEMPLATE_VERSION_CONFLICT",
                f"模板已被他人修改（当前为第{template.version}版），请刷新后重试",
                {"current_version": template.version},
            )
        name = data.get("name", template.name if template else None)
        body = data.get("body", template.body if template else None)
        default_allowed = template.placeholders if template else scan_placeholders(body or "")[0]
        placeholders = data.get("placeholders", list(default_allowed))
        problems = template_problems(name, body, placeholders)
        if not isinstance(active, bool):
            problems.append(_problem("BAD_ACTIVE", "active 应为 true 或 false"))
        if problems:
            raise ValidationFailed("SMS_TEMPLATE_INVALID", "短信模板有误，请按提示修改", {"problems": problems})
        created = template is None
        if created:
            template = SmsTemplate(code=code)
            db.session.add(template)
        template.name, template.body, template.active = name.strip(), body, active
        template.placeholders = list(dict.fromkeys(placeholders))
        template.updated_by, template.updated_at = actor.name, utcnow()
    return template, created


def render(template: SmsTemplate, params: Any) -> tuple[str, dict[str, str]]:
    """The message text and the parameters to send; ValidationFailed names each missing or unknown one."""
    if not isinstance(params, dict):
        raise ValidationFailed("SMS_PARAMS_INVALID", "短信参数 params 应为对象", {"field": "params"})
    used, _ = scan_placeholders(template.body)
    problems = [
        _problem("UNKNOWN_PARAM", f"模板{template.code}没有参数“{key}”", param=key)
        for key in params
        if key not in template.placeholders
    ]
    cleaned: dict[str, str] = {}
    for key in template.placeholders:
        value = params.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # numbers from process data (e.g. a count) are fine as text
        if value is None or (isinstance(value, str) and not value.strip()):
            if key in used:
                problems.append(_problem("MISSING_PARAM", f"缺少短信参数“{key}”", param=key))
        elif not isinstance(value, str) or len(value) > MAX_PARAM_VALUE:
            problems.append(_problem("BAD_PARAM", f"短信参数“{key}”应为不超过{MAX_PARAM_VALUE}字的文字", param=key))
        else:
            cleaned[key] = value.strip()
    if problems:
        raise ValidationFailed("SMS_PARAMS_INVALID", "短信参数有误", {"problems": problems})
    text = re.sub(r"\{([a-z][a-z0-9_]*)\}", lambda m: cleaned[m.group(1)], template.body)
    if len(text) > MAX_BODY:
        raise ValidationFailed("SMS_TOO_LONG", f"短信内容超过{MAX_BODY}个字符（{len(text)}个），请精简参数", {})
    return text, cleaned


def describe_template(template: SmsTemplate) -> dict[str, Any]:
    """The API view of a template."""
    return {
        "code": template.code,
        "name": template.name,
        "body": template.body,
        "placeholders": list(template.placeholders),
        "active": template.active,
        "version": template.version,
        "updated_by": template.updated_by,
        "updated_at": template.updated_at.isoformat() if template.updated_at else None,
    }
