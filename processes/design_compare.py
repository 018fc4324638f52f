"""Element-level comparison of two versions of a BPMN or DMN definition (added, removed, changed by id)."""

from __future__ import annotations

from typing import Any

from lxml import etree

from processes.design import definition

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DI_NAMESPACES = (
    "http://www.omg.org/spec/BPMN/20100524/DI",
    "http://www.omg.org/spec/DD/20100524/DC",
    "http://www.omg.org/spec/DD/20100524/DI",
    "https://www.omg.org/spec/DMN/20191111/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DMNDI/",
    "http://www.omg.org/spec/DMN/20180521/DC/",
    "http://www.omg.org/spec/DMN/20180521/DI/",
    "https://www.omg.org/spec/DMN/20230324/DMNDI/",
)
# Chinese names of the element types people meet in our diagrams.
TYPE_NAMES = {
    "userTask": "用户任务",
    "serviceTask": "服务任务",
    "scriptTask": "脚本任务",
    "businessRuleTask": "业务规则任务",
    "task": "任务",
    "sendTask": "发送任务",
    "receiveTask": "接收任务",
    "manualTask": "人工任务",
    "callActivity": "调用活动",
    "subProcess": "子流程",
    "startEvent": "开始事件",
    "endEvent": "结束事件",
    "intermediateCatchEvent": "中间捕获事件",
    "intermediateThrowEvent": "中间抛出事件",
    "boundaryEvent": "边界事件",
    "exclusiveGateway": "排他网关",
    "parallelGateway": "并行网关",
    "inclusiveGateway": "包容网关",
    "eventBasedGateway": "事件网关",
    "sequenceFlow": "顺序流",
    "lane": "泳道",
    "laneSet": "泳道集",
    "participant": "参与者",
    "collaboration": "协作",
    "process": "流程",
    "message": "消息",
    "error": "错误",
    "signal": "信号",
    "dataObject": "数据对象",
    "dataObjectReference": "数据对象引用",
    "definitions": "定义",
    "decision": "决策",
    "decisionTable": "决策表",
    "input": "输入列",
    "output": "输出列",
    "rule": "规则",
    "inputEntry": "输入条件",
    "outputEntry": "输出值",
    "inputData": "输入数据",
    "literalExpression": "字面表达式",
}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


# Attributes whose absence means this value: a modeler may drop them on save without changing anything.
DEFAULT_ATTRIBUTES = {
    ("decisionTable", "hitPolicy"): "UNIQUE",
    ("decisionTable", "preferredOrientation"): "Rule-as-Row",
}


def _attributes(el: etree._Element) -> dict[str, str]:
    """The element's attributes, leaving out those that only restate the default."""
    kind = _local(el.tag)
    return {k: v for k, v in el.attrib.items() if DEFAULT_ATTRIBUTES.get((kind, _local(k))) != v}


def _signature(el: etree._Element) -> str:
    """The element's own content: attributes, text and children that are not elements with an id of their own."""
    parts = [_local(el.tag)]
    parts += [f"@{_local(k)}={v}" for k, v in sorted(_attributes(el).items())]
    if (el.text or "").strip():
        parts.append(f"#{el.text.strip()}")
    for child in el:
        if not isinstance(child.tag, str) or child.get("id"):
            continue
        parts.append("[" + _signature(child) + "]")
    return "".join(parts)


def _changes(old: etree._Element, new: etree._Element) -> list[str]:
    """What differs, in Chinese: the name, each attribute, the text or the nested content."""
    out: list[str] = []
    if old.get("name") != new.get("name"):
        out.append(f"名称：“{old.get('name') or ''}” → “{new.get('name') or ''}”")
    old_attrs, new_attrs = _attributes(old), _attributes(new)
    for key in sorted((set(old_attrs) | set(new_attrs)) - {"name"}):
        if old_attrs.get(key) != new_attrs.get(key):
            out.append(f"属性 {_local(key)}：{old_attrs.get(key) or '（无）'} → {new_attrs.get(key) or '（无）'}")
    if (old.text or "").strip() != (new.text or "").strip():
        out.append("内容已修改")
    nested_old = [_signature(c) for c in old if isinstance(c.tag, str) and not c.get("id")]
    nested_new = [_signature(c) for c in new if isinstance(c.tag, str) and not c.get("id")]
    if nested_old != nested_new:
        out.append("内部设置已修改（条件、扩展属性、连线等）")
    return out


def _elements(xml: str) -> tuple[dict[str, etree._Element], dict[str, str]]:
    """Semantic elements by id, and the layout (DI) of each element they place, keyed by the element's id."""
    root = etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    semantic: dict[str, etree._Element] = {}
    layout: dict[str, str] = {}
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        if _namespace(el.tag) in DI_NAMESPACES:
            ref = el.get("bpmnElement") or el.get("dmnElementRef")
            if ref:
                layout[ref] = _geometry(el)
            continue
        if el.get("id"):
            semantic[el.get("id")] = el
    return semantic, layout


def _number(value: str) -> Any:
    try:
        return round(float(value), 1)
    except ValueError:
        return value


def _geometry(di: etree._Element) -> str:
    """A DI element's bounds, waypoints and label placement, numbers normalized (100 == 100.0)."""
    attrs = sorted((_local(k), _number(v)) for k, v in di.attrib.items() if _local(k) != "id")
    parts = [f"{_local(di.tag)}{attrs}"]
    for child in di:
        # A plane holds the shapes of other elements: those are compared on their own.
        if isinstance(child.tag, str) and not (child.get("bpmnElement") or child.get("dmnElementRef")):
            parts.append(_geometry(child))
    return ";".join(parts)


def _describe(element_id: str, el: etree._Element) -> dict[str, str]:
    kind = _local(el.tag)
    return {"id": element_id, "type": kind, "type_name": TYPE_NAMES.get(kind, kind), "name": el.get("name") or ""}


def compare_sources(old_xml: str, new_xml: str) -> dict[str, Any]:
    """Added, removed and changed elements by id, and elements only moved in the layout."""
    old, old_layout = _elements(old_xml)
    new, new_layout = _elements(new_xml)
    added = [_describe(i, new[i]) for i in new if i not in old]
    removed = [_describe(i, old[i]) for i in old if i not in new]
    changed = []
    for i in new:
        if i in old and _signature(old[i]) != _signature(new[i]):
            changed.append({**_describe(i, new[i]), "changes": _changes(old[i], new[i])})
    changed_ids = {c["id"] for c in changed}
    moved = [
        _describe(i, new[i])
        for i in new
        if i in old and i not in changed_ids and old_layout.get(i) != new_layout.get(i)
    ]
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "moved": moved,
        "same": not (added or removed or changed or moved),
    }


def compare_versions(kind: str, key: str, old_version: int, new_version: int) -> dict[str, Any]:
    """Compare two stored versions of one definition; both sources are returned for a side-by-side view."""
    old = definition(kind, key, old_version)
    new = definition(kind, key, new_version)
    result = compare_sources(old.source_xml, new.source_xml)
    result.update(
        {
            "kind": kind,
            "key": key,
            "old": {"version": old.version, "checksum": old.checksum, "source_xml": old.source_xml},
            "new": {"version": new.version, "checksum": new.checksum, "source_xml": new.source_xml},
        }
    )
    return result


def element_names(xml: str) -> dict[str, str]:
    """Name (or type) of every semantic element by id, for tables next to a diagram."""
    semantic, _ = _elements(xml)
    return {i: el.get("name") or TYPE_NAMES.get(_local(el.tag), _local(el.tag)) for i, el in semantic.items()}
