"""User-task form definitions (bpmn/forms/*.json) and server-side validation of submitted data."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from integrations.idnumber import id_number_problem, mask
from processes.errors import ValidationFailed

if TYPE_CHECKING:
    from processes.stepping import Actor

FIELD_TYPES = ("string", "text", "choice", "integer", "boolean", "date", "id_number", "mobile", "file")
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


@dataclass(frozen=True)
class FormField:
    """One field: name, label, type and its constraints."""

    name: str
    label: str
    type: str
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()
    max_length: int | None = None
    min_value: int | None = None
    max_value: int | None = None
    required_if: tuple[tuple[str, Any], ...] = ()
    help: str = ""


@dataclass(frozen=True)
class FormDefinition:
    """A form: its key, title, the task-data variable it fills and its fields."""

    key: str
    title: str
    variable: str
    fields: tuple[FormField, ...]

    def validate(self, data: Any, actor: Actor | None = None) -> dict[str, Any]:
        """Return cleaned data or raise ValidationFailed with a Chinese message per bad field.

        `actor` is who submits: a `file` field then only accepts a channel's own uploads.
        """
        if not isinstance(data, dict):
            raise ValidationFailed("FORM_INVALID", "表单数据应为对象", {"fields": {}})
        errors: dict[str, str] = {}
        unknown = sorted(set(data) - {f.name for f in self.fields})
        for name in unknown:
            errors[name] = "表单中没有此字段"
        cleaned: dict[str, Any] = {}
        for f in self.fields:
            value = data.get(f.name)
            if value in (None, ""):
                if f.required or _required_if(f, data):
                    errors[f.name] = f"请填写“{f.label}”"
                continue
            try:
                cleaned[f.name] = _clean(f, value, actor)
            except ValueError as exc:
                errors[f.name] = str(exc)
        if errors:
            raise ValidationFailed("FORM_INVALID", "表单填写有误，请按提示修改", {"fields": errors})
        return cleaned

    def diff(self, before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
        """{field: [before, after]} for changed fields, ID numbers and phones masked (for history)."""
        changes = {}
        for f in self.fields:
            old, new = before.get(f.name), after.get(f.name)
            if old != new:
                changes[f.name] = [_masked(f, old), _masked(f, new)]
        return changes


def _masked(f: FormField, value: Any) -> Any:
    if value is None or f.type not in ("id_number", "mobile"):
        return value
    return mask(str(value))


def _required_if(f: FormField, data: dict[str, Any]) -> bool:
    return any(data.get(other) == expected for other, expected in f.required_if)


def _clean(f: FormField, value: Any, actor: Actor | None = None) -> Any:
    if f.type in ("string", "text", "choice", "id_number", "mobile", "date", "file") and not isinstance(value, str):
        raise ValueError(f"“{f.label}”应为文本")
    if f.type in ("string", "text"):
        value = value.strip()
        limit = f.max_length or (100 if f.type == "string" else 2000)
        if len(value) > limit:
            raise ValueError(f"“{f.label}”不能超过{limit}个字")
        return value
    if f.type == "choice":
        allowed = [c[0] for c in f.choices]
        if value not in allowed:
            raise ValueError(f"“{f.label}”只能选择：{'、'.join(c[1] for c in f.choices)}")
        return value
    if f.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"“{f.label}”应为整数")
        try:
            number = int(value)
        except ValueError as exc:
            raise ValueError(f"“{f.label}”应为整数") from exc
        if f.min_value is not None and number < f.min_value:
            raise ValueError(f"“{f.label}”不能小于{f.min_value}")
        if f.max_value is not None and number > f.max_value:
            raise ValueError(f"“{f.label}”不能大于{f.max_value}")
        return number
    if f.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError(f"“{f.label}”应为是或否")
        return value
    if f.type == "date":
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise ValueError(f"“{f.label}”应为日期（YYYY-MM-DD）") from exc
    if f.type == "id_number":
        value = value.strip().upper()
        problem = id_number_problem(value)
        if problem:
            raise ValueError(problem)
        return value
    if f.type == "mobile":
        if not _MOBILE.match(value):
            raise ValueError(f"“{f.label}”应为11位手机号码")
        return value
    if f.type == "file":  # the value is an uploaded file's id; task data keeps {id, sm3, size, mime}, never bytes
        from processes.files import file_reference

        ref = file_reference(value.strip(), actor)
        if ref is None:
            raise ValueError(f"“{f.label}”文件不存在或不是本接入方上传的，请先上传")
        return ref
    raise ValueError(f"“{f.label}”类型未知")


def parse_form(raw: dict[str, Any], source: str = "") -> FormDefinition:
    """Build a FormDefinition from its JSON; raise ValueError naming the problem."""
    try:
        fields = []
        for item in raw["fields"]:
            if item["type"] not in FIELD_TYPES:
                raise ValueError(f"{source}: field {item['name']} has unknown type {item['type']}")
            fields.append(
                FormField(
                    name=item["name"],
                    label=item["label"],
                    type=item["type"],
                    required=bool(item.get("required", False)),
                    choices=tuple((str(c[0]), str(c[1])) for c in item.get("choices", ())),
                    max_length=item.get("max_length"),
                    min_value=item.get("min_value"),
                    max_value=item.get("max_value"),
                    required_if=tuple(item.get("required_if", {}).items()),
                    help=item.get("help", ""),
                )
            )
        return FormDefinition(raw["key"], raw["title"], raw.get("variable", raw["key"]), tuple(fields))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{source}: malformed form definition ({exc})") from exc


def load_forms(folder: Path) -> dict[str, FormDefinition]:
    """Every form definition in a folder, by key."""
    forms: dict[str, FormDefinition] = {}
    for path in sorted(folder.glob("*.json")):
        form = parse_form(json.loads(path.read_text(encoding="utf-8")), path.name)
        if form.key in forms:
            raise ValueError(f"{path.name}: form key {form.key} defined twice")
        forms[form.key] = form
    return forms
