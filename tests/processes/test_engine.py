"""Engine: snapshots keep the spec by reference and restore faithfully; wait states are reported."""

from __future__ import annotations

import json
from pathlib import Path

from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

from processes.engine.runtime import Engine

# A frozen copy of the first registration diagram: these tests are about the engine, not the (growing) business.
BPMN = Path(__file__).resolve().parent.parent / "bpmn" / "test_engine_registration.bpmn"


def _engine():
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN))
    specs = (parser.get_spec("residence_registration"), {})
    return Engine(lambda _id: specs), specs


def test_snapshot_stores_the_spec_by_reference_and_restores():
    engine, specs = _engine()
    workflow = engine.create(7, {"applicant": {"id_number": "x", "name": "y"}, "submitted_on": "2026-11-29"})
    waits = engine.advance(workflow)
    assert [(w.kind, w.operator) for w in waits] == [("service", "hrss.check_insurance")]
    snapshot = engine.dump(workflow, 7)
    stock = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    embedded = stock.serialize_json(workflow)
    assert json.loads(snapshot)["spec"] is None and json.loads(snapshot)["spec_ref"] == 7
    assert len(snapshot) * 2 < len(embedded)  # the spec is the bulk of an embedded snapshot
    restored = engine.load(snapshot)
    assert restored.spec is specs[0]  # the cached spec object, not a rebuilt copy
    assert [w.as_dict() for w in engine.wait_states(restored)] == [w.as_dict() for w in waits]


def test_service_result_completes_the_task_and_reaches_the_clerk():
    engine, _ = _engine()
    workflow = engine.create(1, {"applicant": {"id_number": "x", "name": "y"}, "submitted_on": "2026-11-29"})
    [wait] = engine.advance(workflow)
    task = engine.task(workflow, wait.task_uuid)
    seen = {}

    def call(operator, params):
        seen.update(operator=operator, params=params)
        return {"passed": True}

    engine.run_service_task(workflow, task, call)
    assert seen == {
        "operator": "hrss.check_insurance",
        "params": {"id_number": "x", "name": "y", "as_of": "2026-11-29", "min_months": 6},
    }
    [review] = engine.advance(workflow)
    assert (review.kind, review.task_spec, review.lane) == ("user", "Task_clerk_review", "网点受理员")
    assert review.extensions["formKey"] == "registration_review"
