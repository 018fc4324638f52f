"""A0 existing businesses as a whole: diagrams are complete and drawable, and every channel gets the same result.

The paths of each diagram are run in test_reissue.py and test_changes.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from processes.roles import is_system_lane, role_for_lane
from tests.processes.change_factories import CHANNELS, DISTRICT, make_holder, start

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
DIAGRAMS = (
    "permit_reissue",
    "permit_loss_report",
    "address_change",
    "general_info_change",
    "identity_info_change",
    "express_production",
    "information_query",
)
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
FLOW_NODES = ("startEvent", "endEvent", "serviceTask", "userTask", "scriptTask", "exclusiveGateway", "boundaryEvent")


@pytest.mark.parametrize("key", DIAGRAMS)
def test_a0_diagram_has_a_shape_for_every_element_and_role_lanes(key):
    root = etree.parse(str(BPMN_DIR / f"{key}.bpmn")).getroot()
    nodes = {el.get("id") for tag in FLOW_NODES for el in root.iterfind(f".//bpmn:{tag}", NS)}
    flows = {el.get("id") for el in root.iterfind(".//bpmn:sequenceFlow", NS)}
    lanes = {el.get("id"): el for el in root.iterfind(".//bpmn:lane", NS)}
    shapes = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {el.get("bpmnElement") for el in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert nodes | set(lanes) <= shapes and flows == edges
    in_lanes = [ref.text for lane in lanes.values() for ref in lane.iterfind("bpmn:flowNodeRef", NS)]
    assert sorted(in_lanes) == sorted(nodes)  # each node in exactly one lane
    for lane in lanes.values():
        assert role_for_lane(lane.get("name")) or is_system_lane(lane.get("name"))
    for task in root.iterfind(".//bpmn:userTask", NS):
        lane = next(lane for lane in lanes.values() if task.get("id") in {r.text for r in lane})
        assert not is_system_lane(lane.get("name"))


def _requests(app, nth: int) -> dict[str, tuple[dict, str]]:
    """For each business, a request that gets as far as it can on its own and what we read of the result."""
    holder = make_holder(app, "issued", nth=nth)
    who = {"id_number": holder.id_number, "name": holder.name}
    return {
        "permit_reissue": ({**who, "reissue_type": "loss"}, "permit"),
        "permit_loss_report": ({**who, "action": "report", "reporter_id_number": holder.id_number}, "outcome"),
        "address_change": (
            {**who, "new_address": "上海市浦东新区张杨路500号", "new_district": DISTRICT},
            "address_check",
        ),
        "general_info_change": ({**who, "employer": "新单位"}, "status"),
        "identity_info_change": ({**who, "new_ethnicity": "回族", "reason": "户籍已变更"}, "identity_check"),
        "express_production": (who, "refusal"),
        "information_query": (who, "outcome"),
    }


def test_a0_every_business_gives_the_same_result_on_every_channel(app, drain):
    seen: dict[str, set] = {}
    for nth, channel in enumerate(CHANNELS):
        for process, (data, read) in _requests(app, nth).items():
            body = start(app, drain, process, data, channel)
            value = body["status"] if read == "status" else body["result"][read]
            if isinstance(value, dict):  # permit numbers differ per person; states must not
                value = {k: v for k, v in value.items() if k not in ("number", "registration")}
            seen.setdefault(process, set()).add((body["status"], repr(value)))
    assert {process: len(results) for process, results in seen.items()} == dict.fromkeys(DIAGRAMS, 1)
