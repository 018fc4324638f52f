"""Diagram expressions: an allowlist at deploy/validate and before every run, and only safe builtins at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from handlers.registry import registry
from processes.deployment import deploy_sources, validate_source
from processes.engine.definitions import parse_decision, parse_process
from processes.engine.expressions import (
    ExpressionRefused,
    RestrictedEnvironment,
    check_expression,
    check_script,
    dmn_rule_expression,
)
from processes.engine.runtime import Engine
from processes.errors import DeploymentError
from processes.platform import BPMN_DIR

TEST_BPMN = Path(__file__).resolve().parent.parent / "bpmn"
SOURCE = (BPMN_DIR / "residence_registration.bpmn").read_text(encoding="utf-8")
RULES = (BPMN_DIR / "permit_residence_check.dmn").read_text(encoding="utf-8")
EXPRESSION_TAGS = {"conditionExpression", "timeDuration", "timeDate", "timeCycle", "loopCardinality"}
SCRIPT_TAGS = {"script", "preScript", "postScript"}

MALICIOUS_EXPRESSIONS = [
    "__import__('os').system('x')",
    "().__class__.__bases__",
    "open('/etc/passwd').read()",
    "eval('1 + 1')",
    "exec('x = 1')",
    "getattr(applicant, 'name')",
    "globals()",
    "vars()",
    "compile('1', 'x', 'eval')",
    "(lambda: 1)()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "'{0.__class__}'.format(applicant)",
    "[g.gi_frame.f_back for g in [1]]",
    "applicant.name",
    "print(1)",
    "dict(**applicant)",
    "[*applicant]",
    "{**applicant}",
    "(x := 1)",
    "9 ** 9 ** 9",
    "breakpoint()",
    "input()",
    "applicant['x'].__len__()",
]

MALICIOUS_SCRIPTS = [
    "import os",
    "from os import system",
    "def f():\n    return 1",
    "class A:\n    pass",
    "global x\nx = 1",
    "with open('/etc/passwd') as f:\n    x = 1",
    "try:\n    x = 1\nexcept Exception:\n    x = 2",
    "raise ValueError('x')",
    "del applicant",
    "applicant.name = 'x'",
    "while True:\n    x = 1",
    "_hidden = 1",
    "x = (yield 1)",
]


def _shipped_expressions():
    for path in sorted([*BPMN_DIR.glob("*.bpmn"), *TEST_BPMN.glob("*.bpmn")]):
        for el in etree.parse(str(path)).getroot().iter():
            if not isinstance(el.tag, str) or not (el.text or "").strip():
                continue
            tag = etree.QName(el).localname
            if tag in EXPRESSION_TAGS:
                yield path.name, "eval", el.text
            elif tag in SCRIPT_TAGS:
                yield path.name, "exec", el.text
        for el in etree.parse(str(path)).getroot().iter("{*}parameter"):
            yield path.name, "eval", el.get("value")


@pytest.mark.parametrize("source", MALICIOUS_EXPRESSIONS)
def test_malicious_expressions_are_refused(source):
    problems = check_expression(source)
    assert problems and all(isinstance(p, str) for p in problems)


@pytest.mark.parametrize("source", MALICIOUS_SCRIPTS)
def test_malicious_scripts_are_refused(source):
    assert check_script(source)


def test_plain_data_handling_is_allowed():
    for source in (
        "review_l1['decision'] == 'approve' and change['levels'] >= 2",
        "bool(applicant.get('mobile')) and not facts['deceased']",
        "{'name': applicant['name'], 'n': len(items) + 1, 'top': max([1, 2])}",
        "'review' if 'review' in rule_action else 'endorse'",
        "[r.strip().upper() for r in reasons if r][0:3]",
        "f\"{applicant['name']}-{n}\"",
        "-x % 3 // 2",
    ):
        assert check_expression(source) == [], source
    script = "notify = new_permit.pop('notify')\nitems.append(1)\nif x:\n    y = 1\nfor k, v in d.items():\n    z = k"
    assert check_script(script) == []


def test_every_shipped_expression_and_script_is_allowed():
    seen = 0
    for name, mode, source in _shipped_expressions():
        problems = check_script(source) if mode == "exec" else check_expression(source)
        assert problems == [], (name, source, problems)
        seen += 1
    assert seen > 300


def test_every_shipped_diagram_passes_the_deploy_checks(ctx):
    platform = ctx.extensions["permitflow"]
    decisions = {p.name: p.read_text(encoding="utf-8") for p in BPMN_DIR.glob("*.dmn")}
    for name, source in decisions.items():
        parse_decision(source, name)
    for path in sorted(BPMN_DIR.glob("*.bpmn")):
        parse_process(path.read_text(encoding="utf-8"), path.name, decisions, registry(), platform.forms)


def test_dmn_rule_expression_matches_spiffworkflows_rewriting():
    assert dmn_rule_expression("insured_months", "< 6") == "insured_months< 6"
    assert dmn_rule_expression("s", '"legal"') == '(s) == ("legal")'
    assert dmn_rule_expression("f['s']", 'in ("a", "b")') == 'f[\'s\']in ("a", "b")'
    assert dmn_rule_expression("s", "0 < ? < 6") == "0 < dmninputexpr < 6"


def _problems(platform, name: str, xml: str) -> list[dict]:
    with pytest.raises(DeploymentError) as info:
        deploy_sources(platform, [(name, xml)], "tests")
    with pytest.raises(DeploymentError) as validated:
        validate_source(platform, name, xml)
    assert validated.value.details["problems"] == info.value.details["problems"]
    return [p for p in info.value.details["problems"] if p["code"] == "UNSAFE_EXPRESSION"]


def test_deploy_and_validate_refuse_an_unsafe_condition_with_its_flow_id(ctx):
    xml = SOURCE.replace(
        ">hrss_check['passed']</bpmn:conditionExpression>", ">__import__('os').system('x')</bpmn:conditionExpression>"
    )
    [problem] = _problems(ctx.extensions["permitflow"], "residence_registration.bpmn", xml)
    assert problem["element"] == "Flow_passed"
    assert "条件表达式不允许" in problem["message"] and "__import__" in problem["message"]


def test_deploy_and_validate_refuse_unsafe_scripts_and_parameters(ctx):
    xml = (
        SOURCE.replace(
            "<bpmn:script>registration_status = 'refused'\n",
            "<bpmn:script>registration_status = open('/etc/passwd').read()\n",
        )
        .replace(
            "<spiffworkflow:postScript>applicant = dict(applicant, name=correction['name']",
            "<spiffworkflow:postScript>import os\napplicant = dict(applicant, name=correction['name']",
        )
        .replace("value=\"{'name': applicant['name'], 'business_no'", "value=\"{'x': ().__class__, 'business_no'")
    )
    problems = _problems(ctx.extensions["permitflow"], "residence_registration.bpmn", xml)
    assert {p["element"] for p in problems} == {"Task_refuse", "Task_correct_info", "Task_sms_submitted"}
    messages = " ".join(p["message"] for p in problems)
    assert "不允许使用 open" in messages and "import 语句" in messages and "__class__" in messages


def test_deploy_and_validate_refuse_an_unsafe_decision_table(ctx):
    xml = RULES.replace(
        '<outputEntry id="Rule_1_decision"><text>&quot;refuse&quot;</text>',
        '<outputEntry id="Rule_1_decision"><text>open(&quot;/etc/passwd&quot;).read()</text>',
    ).replace('<inputEntry id="Rule_1_insured"><text>&lt; 6', '<inputEntry id="Rule_1_insured"><text>&lt; ().__len__()')
    problems = _problems(ctx.extensions["permitflow"], "permit_residence_check.dmn", xml)
    assert {p["element"] for p in problems} == {"Rule_1_decision", "Rule_1_insured"}


# -- run time: an expression that slipped past deployment --------------------------------------------------

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Defs" targetNamespace="http://permitflow.example/tests"'
)


def _script_workflow(script: str) -> tuple[Engine, object]:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="sneaky" isExecutable="true">
    <bpmn:startEvent id="StartEv"><bpmn:outgoing>F1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="Sneak"><bpmn:incoming>F1</bpmn:incoming><bpmn:outgoing>F2</bpmn:outgoing>
      <bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:endEvent id="EndEv"><bpmn:incoming>F2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="F1" sourceRef="StartEv" targetRef="Sneak" />
    <bpmn:sequenceFlow id="F2" sourceRef="Sneak" targetRef="EndEv" />
  </bpmn:process>
</bpmn:definitions>"""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(xml.encode())
    specs = (parser.get_spec("sneaky"), {})
    engine = Engine(lambda _id: specs)
    return engine, engine.create(1, {"applicant": {"name": "张三"}})


@pytest.mark.parametrize(
    "script",
    [
        "leak = open('/etc/passwd').read()",
        "leak = __import__('os').getcwd()",
        "leak = [c for c in ().__class__.__base__.__subclasses__()]",
    ],
)
def test_the_engine_refuses_a_script_that_slipped_past_deployment(script):
    engine, workflow = _script_workflow(script.replace("'", "&apos;"))
    with pytest.raises(WorkflowTaskException) as info:
        engine.advance(workflow)
    assert info.value.error_type == ExpressionRefused.__name__
    assert "leak" not in engine.data(workflow)


def test_an_allowed_script_runs_with_the_safe_builtins():
    engine, workflow = _script_workflow("size = len(applicant[&apos;name&apos;])")
    engine.advance(workflow)
    assert workflow.completed and engine.data(workflow)["size"] == 2


def test_runtime_builtins_are_restricted_even_without_the_check():
    env = RestrictedEnvironment()
    for source in ("open('/etc/passwd')", "__import__('os')", "eval('1')", "getattr(1, 'real')"):
        with pytest.raises(NameError):
            env._eval_restricted(source, {}, None)
        with pytest.raises(NameError):
            env._exec_restricted(f"x = {source}", {}, None)
    # Task data cannot bring the real builtins back in.
    with pytest.raises(NameError):
        env._eval_restricted("open('/etc/passwd')", {"__builtins__": __builtins__}, None)
    assert env._eval_restricted("sorted([3, 1])", {}, None) == [1, 3]
