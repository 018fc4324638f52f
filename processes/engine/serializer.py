"""Workflow snapshots that store the spec by reference, and spec (de)serialization for deployment."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

SpecPair = tuple[Any, dict[str, Any]]  # (process spec, subprocess specs)

_REF_KEY = "spec_ref"


class _SpecByReferenceConverter(BpmnWorkflowConverter):
    """Leaves the (immutable, versioned) spec out of the snapshot and restores it from the cache."""

    resolver: Callable[[int], SpecPair] | None = None  # set per serializer instance

    def to_dict(self, workflow):
        dct = super(BpmnWorkflowConverter, self).to_dict(workflow)
        dct["spec"] = None
        dct["subprocess_specs"] = {}
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec_ref = dct.pop(_REF_KEY, None)
        if spec_ref is None or self.resolver is None:
            return super().from_dict(dct)
        dct.pop("spec", None)
        dct.pop("subprocess_specs", None)
        spec, subprocess_specs = self.resolver(spec_ref)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], _uuid, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(_uuid(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _uuid(value: str) -> UUID:
    return UUID(value)


class SnapshotSerializer:
    """Turns workflows into compact JSON snapshots (spec by reference) and back."""

    def __init__(self, resolver: Callable[[int], SpecPair] | None = None) -> None:
        config = {k: v for k, v in SPIFF_CONFIG.items() if k is not BpmnWorkflow}
        registry = BpmnWorkflowSerializer.configure(config)
        self._workflow_converter = _SpecByReferenceConverter(BpmnWorkflow, registry)
        self._workflow_converter.resolver = resolver
        self._serializer = BpmnWorkflowSerializer(registry)

    def dump_workflow(self, workflow: BpmnWorkflow, definition_id: int) -> str:
        """Serialize a workflow to JSON without its spec, tagged with the definition id."""
        dct = self._serializer.to_dict(workflow)
        dct[_REF_KEY] = definition_id
        dct[self._serializer.VERSION_KEY] = self._serializer.VERSION
        return json.dumps(dct, separators=(",", ":"), ensure_ascii=False)

    def load_workflow(self, snapshot: str) -> BpmnWorkflow:
        """Restore a workflow from a snapshot, taking its spec from the resolver."""
        dct = json.loads(snapshot)
        self._serializer.migrate(dct)
        return self._serializer.from_dict(dct)

    def dump_specs(self, spec: Any, subprocess_specs: dict[str, Any]) -> str:
        """Serialize a process spec and its subprocess specs for storage with a definition."""
        return json.dumps(
            {
                "spec": self._serializer.to_dict(spec),
                "subprocess_specs": {k: self._serializer.to_dict(v) for k, v in subprocess_specs.items()},
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def load_specs(self, serialized: str) -> SpecPair:
        """Restore a process spec and its subprocess specs."""
        dct = json.loads(serialized)
        spec = self._serializer.from_dict(dct["spec"])
        subs = {k: self._serializer.from_dict(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs
