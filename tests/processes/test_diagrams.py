"""Every shipped diagram carries diagram interchange for every element, so modelers draw it as designed."""

from __future__ import annotations

import pytest
from lxml import etree

from processes.platform import BPMN_DIR

BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
BPMNDI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
# Definitions nested in events have ids but are drawn as part of their event.
NOT_DRAWN = {
    "process",
    "laneSet",
    "errorEventDefinition",
    "messageEventDefinition",
    "timerEventDefinition",
    "signalEventDefinition",
    "terminateEventDefinition",
    "escalationEventDefinition",
}


@pytest.mark.parametrize("path", sorted(BPMN_DIR.glob("*.bpmn")), ids=lambda p: p.name)
def test_every_element_has_a_shape_or_edge(path):
    root = etree.parse(str(path)).getroot()
    elements = {
        el.get("id")
        for process in root.iter(f"{BPMN}process")
        for el in process.iter()
        if isinstance(el.tag, str)
        and el.tag.startswith(BPMN)
        and el.get("id")
        and etree.QName(el).localname not in NOT_DRAWN
    }
    drawn = {el.get("bpmnElement") for el in root.iter(f"{BPMNDI}BPMNShape", f"{BPMNDI}BPMNEdge")}
    assert elements and elements <= drawn, sorted(elements - drawn)
