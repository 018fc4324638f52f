"""WTForms classes built from a task's FormDefinition (bpmn/forms/*.json), with Chinese validation messages.

The browser-side form is a convenience; processes.forms validates again on the server before the task
completes, and its field errors are shown on the same form.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from wtforms import (
    BooleanField,
    DateField,
    Form,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional, Regexp, StopValidation, ValidationError

from integrations.idnumber import id_number_problem
from processes.forms import FormDefinition, FormField

_MOBILE = r"^1[3-9]\d{9}$"
_NON_WORD = re.compile(r"\W")
# Radio buttons read better than a drop-down for a handful of choices.
_RADIO_MAX = 4


class _ZhMeta:
    """Chinese messages for WTForms' own conversions (not a number, not a date, …)."""

    locales = ("zh", "zh_CN")


class _RequiredIf:
    """Required when another field has a given value; otherwise optional (stops the chain when empty)."""

    def __init__(self, conditions: tuple[tuple[str, Any], ...], label: str) -> None:
        self.conditions = conditions
        self.message = f"请填写“{label}”"
        self.field_flags = {}

    def __call__(self, form: Form, field) -> None:
        empty = field.data in (None, "") or (isinstance(field.data, str) and not field.data.strip())
        if not empty:
            return
        needed = any(
            getattr(form, other, None) is not None and getattr(form, other).data == value
            for other, value in self.conditions
        )
        field.errors[:] = []
        if needed:
            raise StopValidation(self.message)
        raise StopValidation()


def _id_number(form: Form, field) -> None:
    if field.data:
        problem = id_number_problem(field.data.strip().upper())
        if problem:
            raise ValidationError(problem)


def _validators(f: FormField) -> list:
    if f.required:
        first = InputRequired(message=f"请填写“{f.label}”")
    elif f.required_if:
        first = _RequiredIf(f.required_if, f.label)
    else:
        first = Optional()
    chain: list = [first]
    if f.type in ("string", "text"):
        limit = f.max_length or (100 if f.type == "string" else 2000)
        chain.append(Length(max=limit, message=f"“{f.label}”不能超过{limit}个字"))
    if f.type == "integer" and (f.min_value is not None or f.max_value is not None):
        chain.append(NumberRange(min=f.min_value, max=f.max_value, message=f"“{f.label}”超出允许范围"))
    if f.type == "mobile":
        chain.append(Regexp(_MOBILE, message=f"“{f.label}”应为11位手机号码"))
    if f.type == "id_number":
        chain.append(_id_number)
    return chain


def _field(f: FormField):
    kwargs: dict[str, Any] = {"label": f.label, "validators": _validators(f), "description": f.help}
    if f.type == "text":
        return TextAreaField(**kwargs)
    if f.type == "choice":
        choices = [SelectChoice(value, label) for value, label in f.choices]
        invalid = f"“{f.label}”只能选择：{'、'.join(c[1] for c in f.choices)}"
        kwargs["validators"] = [*kwargs["validators"], _Choice([c[0] for c in f.choices], invalid)]
        if len(choices) <= _RADIO_MAX:
            return RadioField(choices=choices, validate_choice=False, **kwargs)
        return SelectField(choices=[SelectChoice("", "请选择"), *choices], validate_choice=False, **kwargs)
    if f.type == "integer":
        return IntegerField(**kwargs)
    if f.type == "boolean":
        kwargs["validators"] = [Optional()]
        return BooleanField(**kwargs)
    if f.type == "date":
        return DateField(format="%Y-%m-%d", **kwargs)
    return StringField(**kwargs)  # string, id_number, mobile, file (an uploaded file's id)


class _Choice:
    """A readable Chinese message when a radio value is not one of the choices."""

    def __init__(self, allowed: list[str], message: str) -> None:
        self.allowed = allowed
        self.message = message

    def __call__(self, form: Form, field) -> None:
        if field.data not in (None, "") and field.data not in self.allowed:
            raise StopValidation(self.message)


def form_class(definition: FormDefinition) -> type[Form]:
    """A WTForms Form class with one field per definition field (names unchanged)."""
    attrs: dict[str, Any] = {"Meta": _ZhMeta}
    for f in definition.fields:
        attrs[f.name] = _field(f)
    return type("TaskForm_" + _NON_WORD.sub("_", definition.key), (Form,), attrs)


def build_form(definition: FormDefinition, formdata=None, current: dict[str, Any] | None = None) -> Form:
    """A bound form: from the posted data, or pre-filled with the task's current values."""
    form = form_class(definition)(formdata=formdata)
    if formdata is None and current:
        for f in definition.fields:
            value = current.get(f.name)
            if f.type == "date" and isinstance(value, str):
                try:
                    value = date.fromisoformat(value)
                except ValueError:
                    value = None
            if value is not None:
                getattr(form, f.name).data = value
    return form


def cleaned(definition: FormDefinition, form: Form) -> dict[str, Any]:
    """The form's values as processes.forms expects them (empty fields left out, dates as ISO text)."""
    data: dict[str, Any] = {}
    for f in definition.fields:
        value = getattr(form, f.name).data
        if f.type == "boolean":
            data[f.name] = bool(value)
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if f.type == "date":
            value = value.isoformat()
        elif isinstance(value, str):
            value = value.strip()
        data[f.name] = value
    return data


def apply_errors(form: Form, errors: dict[str, str]) -> None:
    """Show the server's field errors (processes.forms) on the form."""
    for name, message in errors.items():
        field = getattr(form, name, None)
        if field is not None:
            field.errors = [*list(field.errors or []), message]
