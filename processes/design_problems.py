"""Validation problems for people: a Chinese headline and message, and the element id to highlight."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from processes.errors import DeploymentError

# Chinese headline for each problem code the deploy checks produce (their detail text may be the engine's English).
PROBLEM_TITLES = {
    "XML_INVALID": "XML格式错误",
    "BPMN_SCHEMA": "不符合BPMN 2.0规范（XSD）",
    "BPMN_INVALID": "流程结构无法解析",
    "DMN_INVALID": "决策表校验失败",
    "DMN_NAMESPACE": "不是受支持的DMN文件",
    "PROCESS_COUNT": "可执行主流程数量不为一",
    "RESERVED_ID": "使用了引擎保留的元素标识",
    "UNKNOWN_OPERATOR": "服务任务的操作没有注册的处理程序",
    "UNKNOWN_PARAMETER": "服务任务传入了未知参数",
    "MISSING_PARAMETER": "服务任务缺少必需参数",
    "UNKNOWN_LANE": "用户任务所在泳道不对应任何角色",
    "MISSING_FORM": "用户任务未指定表单",
    "UNKNOWN_FORM": "表单不存在",
    "BAD_PROPERTY": "属性值无效",
    "BAD_CONDITION": "条件表达式有语法错误",
    "UNSAFE_EXPRESSION": "表达式或脚本超出允许范围",
    "KEY_CHANGED": "主流程/决策文件标识被修改",
}
_XSD_UNEXPECTED = re.compile(r"Element '\{[^}]*\}(\w+)': This element is not expected")
_XSD_ATTRIBUTE = re.compile(r"Element '\{[^}]*\}(\w+)', attribute '([^']+)': (.*)")


def explain(exc: DeploymentError, xml: str) -> list[dict[str, str]]:
    """Problems with a Chinese headline and message, and an element id wherever one can be found."""
    cause = exc.__cause__
    line = getattr(cause, "line_number", "") if cause is not None else ""
    problems = exc.details.get("problems") or [{"code": exc.code, "message": exc.message, "element": ""}]
    out = []
    for p in problems:
        code = p.get("code") or exc.code
        element = p.get("element") or ""
        detail = p.get("message") or ""
        if not element and str(line).isdigit():
            element = _element_at_line(xml, int(line))
        message = _chinese(code, detail, exc.message, line)
        out.append(
            {"code": code, "title": PROBLEM_TITLES.get(code, "校验失败"), "message": message, "element": element,
             "detail": detail}
        )  # fmt: skip
    return out


def _chinese(code: str, detail: str, headline: str, line: Any) -> str:
    where = f"（第{line}行）" if str(line).isdigit() else ""
    unexpected = _XSD_UNEXPECTED.search(detail)
    if unexpected:
        return f"元素 {unexpected.group(1)} 不允许出现在此位置{where}"
    attribute = _XSD_ATTRIBUTE.search(detail)
    if attribute:
        return f"元素 {attribute.group(1)} 的属性 {attribute.group(2)} 无效{where}"
    if any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        return detail  # our own checks already speak Chinese
    return f"{PROBLEM_TITLES.get(code, '校验失败')}{where}：{headline}"


def _element_at_line(xml: str, line: int) -> str:
    """The id of the element on (or nearest above and enclosing) a source line, for highlighting."""
    try:
        root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return ""
    best = None
    for el in root.iter():
        if isinstance(el.tag, str) and el.sourceline is not None and el.sourceline <= line:
            best = el
    while best is not None and not best.get("id"):
        best = best.getparent()
    return best.get("id") if best is not None else ""
