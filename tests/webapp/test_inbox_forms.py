"""WTForms classes built from every shipped form definition: field kinds, required rules, Chinese messages."""

from __future__ import annotations

import pytest
from werkzeug.datastructures import MultiDict

from processes.forms import load_forms, parse_form
from processes.platform import BPMN_DIR
from webapp.staff.forms_wtf import build_form, cleaned, form_class

FORMS = load_forms(BPMN_DIR / "forms")


@pytest.mark.parametrize("key", sorted(FORMS))
def test_every_shipped_form_builds_and_an_empty_submission_is_refused_in_chinese(key):
    definition = FORMS[key]
    form = build_form(definition, formdata=MultiDict())
    assert [field.name for field in form] == [f.name for f in definition.fields]
    required = [f for f in definition.fields if f.required and f.type != "boolean"]
    assert form.validate() is (not required)
    for f in required:
        assert form.errors[f.name] == [f"请填写“{f.label}”"]


SAMPLE = parse_form(
    {
        "key": "sample",
        "title": "示例",
        "fields": [
            {"name": "count", "label": "份数", "type": "integer", "min_value": 1, "max_value": 5},
            {"name": "day", "label": "日期", "type": "date"},
            {"name": "idno", "label": "身份证号码", "type": "id_number"},
            {"name": "phone", "label": "手机号码", "type": "mobile"},
            {"name": "ok", "label": "已核对", "type": "boolean"},
            {"name": "kind", "label": "类别", "type": "choice", "required": True,
             "choices": [["a", "甲"], ["b", "乙"], ["c", "丙"], ["d", "丁"], ["e", "戊"]]},
            {"name": "note", "label": "说明", "type": "string", "max_length": 4, "required_if": {"kind": "e"}},
        ],
    }
)  # fmt: skip


def test_conversions_and_rules_speak_chinese():
    data = MultiDict(
        {"count": "九", "day": "2026-02-30", "idno": "123", "phone": "12345", "kind": "z", "note": "太长的说明文字"}
    )
    form = build_form(SAMPLE, formdata=data)
    assert form.validate() is False
    errors = form.errors
    assert set(errors) == {"count", "day", "idno", "phone", "kind", "note"}
    for messages in errors.values():
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in messages), errors
    assert errors["kind"] == ["“类别”只能选择：甲、乙、丙、丁、戊"] and errors["note"] == ["“说明”不能超过4个字"]
    out_of_range = build_form(SAMPLE, formdata=MultiDict({"count": "9", "kind": "a"}))
    assert out_of_range.validate() is False and out_of_range.errors["count"] == ["“份数”超出允许范围"]
    needs_note = build_form(SAMPLE, formdata=MultiDict({"kind": "e"}))
    assert needs_note.validate() is False and needs_note.errors == {"note": ["请填写“说明”"]}


def test_cleaned_data_is_what_the_server_side_validation_accepts():
    data = MultiDict({"count": "3", "day": "2026-03-01", "phone": "13812345678", "ok": "y", "kind": "b"})
    form = build_form(SAMPLE, formdata=data)
    assert form.validate(), form.errors
    values = cleaned(SAMPLE, form)
    assert values == {"count": 3, "day": "2026-03-01", "phone": "13812345678", "ok": True, "kind": "b"}
    assert SAMPLE.validate(values) == values
    prefilled = build_form(SAMPLE, current={"day": "2026-03-01", "kind": "b"})
    assert str(prefilled.day.data) == "2026-03-01" and prefilled.kind.data == "b"
    assert form_class(SAMPLE).__name__ == "TaskForm_sample"
