"""Finished task chains are dropped before each snapshot: long-lived loops stay small, fast and visible."""

from __future__ import annotations

from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from processes.engine.runtime import Engine

NS = (
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
    'id="Defs" targetNamespace="http://permitflow.example/tests"'
)


def _loop(name: str, entry: str, exit_to: str) -> str:
    """A user task that a gateway sends back to itself while `again_<name>` is true, via a subprocess."""
    return f"""
    <bpmn:userTask id="Review_{name}" name="复核{name}">
      <bpmn:incoming>{entry}</bpmn:incoming><bpmn:incoming>Back_{name}</bpmn:incoming>
      <bpmn:outgoing>ToSub_{name}</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:subProcess id="Sub_{name}" name="记数{name}">
      <bpmn:incoming>ToSub_{name}</bpmn:incoming><bpmn:outgoing>ToGw_{name}</bpmn:outgoing>
      <bpmn:startEvent id="SubStart_{name}"><bpmn:outgoing>SubF1_{name}</bpmn:outgoing></bpmn:startEvent>
      <bpmn:scriptTask id="Count_{name}">
        <bpmn:incoming>SubF1_{name}</bpmn:incoming><bpmn:outgoing>SubF2_{name}</bpmn:outgoing>
        <bpmn:script>rounds['{name}'] = rounds.get('{name}', 0) + 1</bpmn:script>
      </bpmn:scriptTask>
      <bpmn:endEvent id="SubEnd_{name}"><bpmn:incoming>SubF2_{name}</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="SubF1_{name}" sourceRef="SubStart_{name}" targetRef="Count_{name}" />
      <bpmn:sequenceFlow id="SubF2_{name}" sourceRef="Count_{name}" targetRef="SubEnd_{name}" />
    </bpmn:subProcess>
    <bpmn:exclusiveGateway id="Gw_{name}" default="Out_{name}">
      <bpmn:incoming>ToGw_{name}</bpmn:incoming>
      <bpmn:outgoing>Back_{name}</bpmn:outgoing><bpmn:outgoing>Out_{name}</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="ToSub_{name}" sourceRef="Review_{name}" targetRef="Sub_{name}" />
    <bpmn:sequenceFlow id="ToGw_{name}" sourceRef="Sub_{name}" targetRef="Gw_{name}" />
    <bpmn:sequenceFlow id="Back_{name}" sourceRef="Gw_{name}" targetRef="Review_{name}">
      <bpmn:conditionExpression>again_{name}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="Out_{name}" sourceRef="Gw_{name}" targetRef="{exit_to}" />"""


SINGLE = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="single_loop" isExecutable="true">
    <bpmn:startEvent id="StartEv"><bpmn:outgoing>In_a</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="In_a" sourceRef="StartEv" targetRef="Review_a" />
    {_loop("a", "In_a", "EndEv")}
    <bpmn:endEvent id="EndEv"><bpmn:incoming>Out_a</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""

PARALLEL = f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions {NS}>
  <bpmn:process id="parallel_loops" isExecutable="true">
    <bpmn:startEvent id="StartEv"><bpmn:outgoing>F0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Split">
      <bpmn:incoming>F0</bpmn:incoming><bpmn:outgoing>In_a</bpmn:outgoing><bpmn:outgoing>In_b</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:sequenceFlow id="F0" sourceRef="StartEv" targetRef="Split" />
    <bpmn:sequenceFlow id="In_a" sourceRef="Split" targetRef="Review_a" />
    <bpmn:sequenceFlow id="In_b" sourceRef="Split" targetRef="Review_b" />
    {_loop("a", "In_a", "Join")}
    {_loop("b", "In_b", "Join")}
    <bpmn:parallelGateway id="Join">
      <bpmn:incoming>Out_a</bpmn:incoming><bpmn:incoming>Out_b</bpmn:incoming><bpmn:outgoing>F9</bpmn:outgoing>
    </bpmn:parallelGateway>
    <bpmn:scriptTask id="Merge"><bpmn:incoming>F9</bpmn:incoming><bpmn:outgoing>F10</bpmn:outgoing>
      <bpmn:script>total = rounds['a'] + rounds['b']</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="F9" sourceRef="Join" targetRef="Merge" />
    <bpmn:sequenceFlow id="F10" sourceRef="Merge" targetRef="EndEv" />
    <bpmn:endEvent id="EndEv"><bpmn:incoming>F10</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _engine(xml: str, process_id: str) -> Engine:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(xml.encode())
    specs = (parser.get_spec(process_id), parser.get_subprocess_specs(process_id))
    return Engine(lambda _id: specs)


def _round(engine: Engine, snapshot: str, branch: str, again: bool) -> tuple[str, list]:
    """Load, complete the branch's review with `again`, advance, dump: one platform step."""
    workflow = engine.load(snapshot)
    [wait] = [w for w in engine.wait_states(workflow) if w.task_spec == f"Review_{branch}"]
    engine.complete_user_task(workflow, engine.task(workflow, wait.task_uuid), {f"again_{branch}": again}, None)
    waits = engine.advance(workflow)
    return engine.dump(workflow, 1), waits, workflow


def test_a_single_loop_keeps_going_past_spiffworkflows_depth_limit():
    engine = _engine(SINGLE, "single_loop")
    workflow = engine.create(1, {"rounds": {}})
    engine.advance(workflow)
    snapshot = engine.dump(workflow, 1)
    sizes = []
    for _ in range(700):  # uncompacted, the ready task vanishes from the engine's view after 499 rounds
        snapshot, waits, workflow = _round(engine, snapshot, "a", True)
        assert [w.task_spec for w in waits] == ["Review_a"]
        sizes.append(len(snapshot))
    assert len(workflow.tasks) < 30
    assert max(sizes[-100:]) <= sizes[10] * 1.05  # constant size, not growing with age
    snapshot, waits, workflow = _round(engine, snapshot, "a", False)
    assert workflow.completed and waits == []
    assert engine.data(workflow)["rounds"]["a"] == 701


def test_parallel_loops_still_join_after_compaction():
    engine = _engine(PARALLEL, "parallel_loops")
    workflow = engine.create(1, {"rounds": {}})
    engine.advance(workflow)
    snapshot = engine.dump(workflow, 1)
    for _ in range(5):  # both branches have looped before either leaves its loop
        snapshot, waits, _ = _round(engine, snapshot, "b", True)
    for _ in range(115):
        snapshot, waits, _ = _round(engine, snapshot, "a", True)
    snapshot, waits, _ = _round(engine, snapshot, "a", False)
    assert [w.task_spec for w in waits] == ["Review_b"]  # the join waits for b
    for _ in range(25):
        snapshot, waits, _ = _round(engine, snapshot, "b", True)
    snapshot, waits, workflow = _round(engine, snapshot, "b", False)
    assert workflow.completed
    assert engine.data(workflow)["total"] == 116 + 31


def test_compaction_keeps_what_a_fresh_instance_needs():
    engine = _engine(PARALLEL, "parallel_loops")
    workflow = engine.create(1, {"rounds": {}})
    waits = engine.advance(workflow)
    restored = engine.load(engine.dump(workflow, 1))
    assert sorted(w.as_dict()["task_spec"] for w in engine.wait_states(restored)) == sorted(w.task_spec for w in waits)


def test_a_branch_that_looped_keeps_one_task_more_than_one_that_never_did():
    engine = _engine(PARALLEL, "parallel_loops")
    workflow = engine.create(1, {"rounds": {}})
    engine.advance(workflow)
    snapshot = engine.dump(workflow, 1)
    never = len(engine.load(snapshot).tasks)
    for _ in range(40):
        snapshot, _, workflow = _round(engine, snapshot, "a", True)
        # Only the gateway that sent the case back stays: the split's first task of the branch goes too, so a
        # young instance and an old one have the same shape and cost the same per step.
        assert len(workflow.tasks) == never + 1
