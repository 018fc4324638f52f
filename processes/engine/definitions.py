"""Parse and validate BPMN/DMN sources: SpiffWorkflow's XSD validation plus PermitFlow's own checks."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from handlers.registry import Operator
from processes.engine.expressions import (
    check_expression,
    check_script,
    decision_expressions,
    task_expressions,
)
from processes.errors import DeploymentError
from processes.forms import FormDefinition
from processes.roles import is_system_lane, role_for_lane

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
)


RESERVED_IDS = {"Start", "End", "Root"}


@dataclass
class ParsedProcess:
    """A validated BPMN process ready to store: specs plus the facts the platform needs."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    public_variables: list[str]
    start_form: str | None
    user_tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    operators: list[str] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)


@dataclass
class ParsedDecision:
    """A validated DMN file: its decision ids and name."""

    key: str
    name: str
    decision_ids: list[str]


def _single(code: str, message: str, exc: Exception) -> DeploymentError:
    """A deployment error with one problem, from the exception that found it."""
    return DeploymentError(code, message, {"problems": [{"code": code, "message": str(exc), "element": ""}]})


def _problem(problems: list[dict[str, str]], code: str, message: str, element: str = "") -> None:
    problems.append({"code": code, "message": message, "element": element})


def _xml(source: str, file_name: str) -> etree._Element:
    try:
        return etree.fromstring(source.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise _single("XML_INVALID", f"{file_name} 不是合法的XML: {exc}", exc) from exc


def parse_decision(source: str, file_name: str) -> ParsedDecision:
    """Validate a DMN file (schema, at least one decision table)."""
    root = _xml(source, file_name)
    if root.nsmap.get(None) not in DMN_NAMESPACES and not any(ns in DMN_NAMESPACES for ns in root.nsmap.values()):
        raise DeploymentError("DMN_NAMESPACE", f"{file_name} 不是受支持的DMN文件", {"problems": []})
    parser = SpiffBpmnParser(validator=VALIDATOR)
    try:
        parser.add_dmn_xml(root, file_name)
        ids = list(parser.dmn_parsers)
        for dmn_id in ids:
            dmn = parser.dmn_parsers[dmn_id]
            dmn.parse()
            if not dmn.decision.decisionTables:
                raise ValidationException(f"decision {dmn_id} has no decision table")
    except ValidationException as exc:
        raise _single("DMN_INVALID", f"{file_name} 校验失败: {exc}", exc) from exc
    problems: list[dict[str, str]] = []
    for dmn_id in ids:
        for element, expression in decision_expressions(parser.dmn_parsers[dmn_id].decision):
            unsafe = check_expression(expression)
            if unsafe:
                _problem(
                    problems, "UNSAFE_EXPRESSION", f"决策表元素 {element} 的表达式不允许: {'; '.join(unsafe)}", element
                )
    if problems:
        raise DeploymentError("DEPLOYMENT_INVALID", f"{file_name} 有{len(problems)}处问题", {"problems": problems})
    return ParsedDecision(key=root.get("id") or file_name, name=root.get("name") or file_name, decision_ids=ids)


def parse_process(
    source: str,
    file_name: str,
    decisions: Mapping[str, str],
    operators: Mapping[str, Operator],
    forms: Mapping[str, FormDefinition],
) -> ParsedProcess:
    """Validate a BPMN file and return its specs; DeploymentError lists every problem found."""
    root = _xml(source, file_name)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    problems: list[dict[str, str]] = []
    try:
        for dmn_name, dmn_source in decisions.items():
            parser.add_dmn_str(dmn_source.encode("utf-8"), dmn_name)  # lxml refuses str with an XML declaration
        parser.add_bpmn_xml(root, file_name)
    except ValidationException as exc:
        raise _single("BPMN_SCHEMA", f"{file_name} 不符合BPMN规范: {exc}", exc) from exc
    key = _main_process_id(parser, root, file_name)
    reserved = [el.get("id") for el in root.iter() if el.get("id") in RESERVED_IDS]
    if reserved:
        # SpiffWorkflow names its own start/end specs so; an element with that id silently empties the process.
        raise DeploymentError(
            "RESERVED_ID",
            f"{file_name} 使用了保留的元素标识: {', '.join(reserved)}",
            {
                "problems": [
                    {"code": "RESERVED_ID", "message": f"元素标识 {r} 为引擎保留", "element": r} for r in reserved
                ]
            },
        )
    try:
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise DeploymentError(
            "BPMN_INVALID",
            f"{file_name} 解析失败: {exc}",
            {"problems": [{"code": "BPMN_INVALID", "message": str(exc), "element": getattr(exc, "id", "") or ""}]},
        ) from exc
    properties = _process_properties(root, key)
    public = [v.strip() for v in properties.get("publicVariables", "").split(",") if v.strip()]
    start_form = properties.get("startForm") or None
    parsed = ParsedProcess(
        key=key,
        name=spec.description or key,
        spec=spec,
        subprocess_specs=subprocess_specs,
        public_variables=public,
        start_form=start_form,
    )
    if start_form and start_form not in forms:
        _problem(problems, "UNKNOWN_FORM", f"流程的启动表单 {start_form} 不存在", key)
    for process_spec in [spec, *subprocess_specs.values()]:
        _check_tasks(process_spec, operators, forms, parsed, problems)
        _check_task_expressions(process_spec, problems)
    _check_conditions(root, problems)
    parsed.decisions = sorted(parser.get_dmn_dependencies())
    if problems:
        raise DeploymentError("DEPLOYMENT_INVALID", f"{file_name} 有{len(problems)}处问题", {"problems": problems})
    return parsed


def _main_process_id(parser: SpiffBpmnParser, root: etree._Element, file_name: str) -> str:
    called = {el.get("calledElement") for el in root.iter(f"{{{BPMN_NS}}}callActivity")}
    candidates = [pid for pid in parser.get_process_ids() if pid not in called]
    if len(candidates) != 1:
        raise DeploymentError(
            "PROCESS_COUNT",
            f"{file_name} 应当恰有一个可执行的主流程，实际为{len(candidates)}个",
            {"problems": [{"code": "PROCESS_COUNT", "message": ",".join(candidates), "element": ""}]},
        )
    return candidates[0]


def _process_properties(root: etree._Element, key: str) -> dict[str, str]:
    """spiffworkflow:property values declared on the process element itself."""
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") != key:
            continue
        ext = process.find(f"{{{BPMN_NS}}}extensionElements")
        if ext is None:
            return {}
        return {p.get("name"): p.get("value") or "" for p in ext.iter(f"{{{SPIFF_NS}}}property")}
    return {}


def _check_tasks(
    process_spec: Any,
    operators: Mapping[str, Operator],
    forms: Mapping[str, FormDefinition],
    parsed: ParsedProcess,
    problems: list[dict[str, str]],
) -> None:
    for name, task_spec in process_spec.task_specs.items():
        label = getattr(task_spec, "bpmn_name", None) or name
        if isinstance(task_spec, ServiceTask):
            op = operators.get(task_spec.operation_name)
            if op is None:
                _problem(
                    problems,
                    "UNKNOWN_OPERATOR",
                    f"服务任务“{label}”的操作 {task_spec.operation_name} 没有注册的处理程序",
                    name,
                )
                continue
            parsed.operators.append(op.name)
            given = set(task_spec.operation_params)
            unknown = given - set(op.params)
            if unknown:
                _problem(
                    problems,
                    "UNKNOWN_PARAMETER",
                    f"服务任务“{label}”传入了处理程序不接受的参数: {', '.join(sorted(unknown))}",
                    name,
                )
            missing = {p for p in op.required_params if p not in given}
            if missing:
                _problem(
                    problems, "MISSING_PARAMETER", f"服务任务“{label}”缺少参数: {', '.join(sorted(missing))}", name
                )
        elif isinstance(task_spec, UserTask):
            properties = task_spec.extensions.get("properties", {})
            role = role_for_lane(task_spec.lane)
            if role is None or is_system_lane(task_spec.lane):
                _problem(
                    problems,
                    "UNKNOWN_LANE",
                    f"用户任务“{label}”所在泳道“{task_spec.lane or '（无）'}”不对应任何角色",
                    name,
                )
            form_key = properties.get("formKey")
            if not form_key:
                _problem(problems, "MISSING_FORM", f"用户任务“{label}”未指定表单（formKey）", name)
            elif form_key not in forms:
                _problem(problems, "UNKNOWN_FORM", f"用户任务“{label}”的表单 {form_key} 不存在", name)
            for prop in ("approvalLevel", "dueInHours"):
                if prop in properties and not str(properties[prop]).isdigit():
                    _problem(problems, "BAD_PROPERTY", f"用户任务“{label}”的 {prop} 应为非负整数", name)
            parsed.user_tasks[name] = {
                "name": label,
                "lane": task_spec.lane,
                "role": role,
                "form_key": form_key,
                "approval_level": int(properties.get("approvalLevel", 0) or 0)
                if str(properties.get("approvalLevel", "0")).isdigit()
                else 0,
                "due_in_hours": int(properties["dueInHours"])
                if str(properties.get("dueInHours", "")).isdigit()
                else None,
            }


def _check_task_expressions(process_spec: Any, problems: list[dict[str, str]]) -> None:
    """Every script, parameter, timer and event expression of the process against the allowlist."""
    completion = getattr(process_spec, "completion_condition", None)
    if isinstance(completion, str) and completion.strip():
        unsafe = check_expression(completion)
        if unsafe:
            _problem(
                problems,
                "UNSAFE_EXPRESSION",
                f"子流程 {process_spec.name} 的完成条件不允许: {'; '.join(unsafe)}",
                process_spec.name,
            )
    for name, task_spec in process_spec.task_specs.items():
        label = getattr(task_spec, "bpmn_name", None) or name
        element = getattr(task_spec, "bpmn_id", None) or name
        for what, source, mode in task_expressions(task_spec):
            unsafe = check_script(source) if mode == "exec" else check_expression(source)
            if unsafe:
                _problem(
                    problems,
                    "UNSAFE_EXPRESSION",
                    f"元素“{label}”（{element}）的{what}不允许: {'; '.join(unsafe)}",
                    element,
                )


def _check_conditions(root: etree._Element, problems: list[dict[str, str]]) -> None:
    for flow in root.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        condition = flow.find(f"{{{BPMN_NS}}}conditionExpression")
        if condition is None or not (condition.text or "").strip():
            continue
        flow_id = flow.get("id") or ""
        try:
            ast.parse(condition.text.strip(), mode="eval")
        except SyntaxError as exc:
            _problem(problems, "BAD_CONDITION", f"顺序流 {flow_id} 的条件表达式有语法错误: {exc.msg}", flow_id)
            continue
        unsafe = check_expression(condition.text)
        if unsafe:
            _problem(
                problems, "UNSAFE_EXPRESSION", f"顺序流 {flow_id} 的条件表达式不允许: {'; '.join(unsafe)}", flow_id
            )
