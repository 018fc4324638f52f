"""The change-type registry (C1/C2): what each kind of change asks for, who may submit it, how many approval
levels it needs, how it is applied and how it may be undone. One generic BPMN process runs them all."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from processes.forms import FormDefinition, parse_form

# Business groups (the screens group by them), each in one of the two requirement sections.
GROUPS: dict[str, tuple[str, str]] = {
    "personal": ("C1", "个人信息修改"),
    "flags": ("C1", "流程标志修改"),
    "death_list": ("C1", "死亡名单导入"),
    "production": ("C2", "制证变更"),
    "rare_chars": ("C2", "生僻字库维护"),
    "undo": ("C2", "业务撤销"),
    "manual": ("C2", "人工推送与提醒"),
}
SECTIONS = {"C1": "数据修改", "C2": "业务变更"}
# The approver lanes of bpmn/change_request.bpmn: level 1 → approver_l1, level 2 → then approver_l2.
LEVEL_ROLES = {1: ("approver_l1",), 2: ("approver_l1", "approver_l2")}
DEFAULT_SUBMITTERS = ("data_operator",)
# Chinese names of the record fields changes write, for the approver's summary and the detail page.
VALUE_LABELS = {
    "household_address": "户籍地址",
    "mobile": "手机号码",
    "name": "姓名",
    "ethnicity": "民族",
    "gender": "性别",
    "birth_date": "出生日期",
    "photo_sm3": "照片（SM3）",
    "photo_id": "照片序号",
    "permit": "居住证",
    "status": "状态",
    "card_status": "制证状态",
    "photo_review": "照片审核结果",
    "express": "快证",
    "production_paused": "暂停制证",
    "instance_cancelled": "原流程已取消",
    "issued_at": "发证时间",
    "pickup": "领取方式",
    "new": "新证",
    "old": "原证",
    "person": "人员信息",
    "new_permit": "换发的新证",
    "old_permit": "原证",
    "registration": "居住登记",
    "previous": "被取代的原登记",
    "description": "字形说明",
    "rows": "行数",
    "valid_until": "有效期至",
    "requested_at": "申请推送时间",
    "sms_message_id": "短信序号",
    "sms_status": "短信状态",
    "deceased": "标记死亡人数",
    "already_deceased": "原已登记死亡",
    "blocked": "新加入短信禁发名单",
    "deregistration_recorded": "待注销通知的居住登记",
    "number": "编号",
}


def value_label(key: str) -> str:
    """The Chinese name of a before/after field (the key itself when it has none)."""
    return VALUE_LABELS.get(key, key)


@dataclass(frozen=True)
class Prepared:
    """What a change will touch, worked out (and checked) at submission."""

    subject: str  # for lists and the approver: identifiers masked
    target: str | None  # permit / registration number, character, import batch
    person_id: int | None
    before: dict[str, Any]  # current values of everything the change writes
    proposed: dict[str, Any]  # the values it will write (shown to approvers)


@dataclass(frozen=True)
class ChangeType:
    """One kind of change request."""

    code: str
    label: str
    group: str
    levels: int  # approval levels required: 1 or 2
    form: FormDefinition  # the type's own fields and their validation (reason and attachments are common)
    prepare: Callable[[dict[str, Any]], Prepared]  # check the request against the records (raises HandlerError)
    apply: Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]  # (fields, before, number) → after
    submit_roles: tuple[str, ...] = DEFAULT_SUBMITTERS
    undo_rule: str = ""  # the documented effect on dependent records (undo types)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def section(self) -> str:
        """C1 (data modification) or C2 (business change)."""
        return GROUPS[self.group][0]

    @property
    def group_label(self) -> str:
        """The business group's Chinese name."""
        return GROUPS[self.group][1]


_TYPES: dict[str, ChangeType] = {}


def form(code: str, title: str, fields: list[dict[str, Any]]) -> FormDefinition:
    """A change type's field definition, in the same JSON shape as bpmn/forms (validated by processes.forms)."""
    return parse_form({"key": f"change_type_{code}", "title": title, "variable": "fields", "fields": fields}, code)


def register(change_type: ChangeType) -> ChangeType:
    """Add a change type to the registry (module import time)."""
    if change_type.code in _TYPES:
        raise ValueError(f"change type {change_type.code!r} registered twice")
    if change_type.levels not in (1, 2) or change_type.group not in GROUPS:
        raise ValueError(f"change type {change_type.code!r}: levels must be 1 or 2 and the group known")
    _TYPES[change_type.code] = change_type
    return change_type


def get_type(code: str) -> ChangeType | None:
    """The change type with this code, or None."""
    return _TYPES.get(code)


def all_types() -> list[ChangeType]:
    """Every change type, grouped in registry order."""
    order = list(GROUPS)
    return sorted(_TYPES.values(), key=lambda t: order.index(t.group))


def types_for_role(role: str | None) -> list[ChangeType]:
    """The change types a role may submit."""
    return [t for t in all_types() if role in t.submit_roles]
