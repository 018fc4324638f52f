"""Runs SpiffWorkflow between wait states. Service tasks are wait states: a job runs each one."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.specs.event_definitions import ErrorEventDefinition as SpiffErrorEventDefinition
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition as SpiffMessageEventDefinition
from SpiffWorkflow.task import Task, TaskState

from processes.engine.compaction import compact
from processes.engine.expressions import RestrictedEnvironment
from processes.engine.sealing import SnapshotSealer
from processes.engine.serializer import SnapshotSerializer, SpecPair
from processes.errors import EngineError

ServiceCaller = Callable[[str, dict[str, Any]], dict[str, Any]]

# SpiffWorkflow's tree walks stop at depth 1,000 by default; a long-lived loop must never hide a ready task.
_UNLIMITED = {"max_depth": 1_000_000_000}


class _StashingScriptEngine(PythonScriptEngine):
    """Script engine whose call_service returns a result computed before the task runs.

    The handler is called outside SpiffWorkflow so that a failure leaves the task READY (to retry
    or to throw a BPMN error) instead of in SpiffWorkflow's ERROR state.
    """

    def __init__(self) -> None:
        # Allowlisted expressions only, and only the safe builtins: analysts' diagrams must not run code.
        super().__init__(environment=RestrictedEnvironment())
        self.stash: dict[UUID, str] = {}

    def call_service(self, task, **kwargs):
        try:
            return self.stash.pop(task.id)
        except KeyError as exc:
            raise EngineError("SERVICE_RESULT_MISSING", f"service task {task.task_spec.name} ran unstashed") from exc


@dataclass
class WaitState:
    """Something an instance waits for: a user task, a service task job, a timer or a message."""

    kind: str  # user | service | timer | message
    task_uuid: str
    task_spec: str
    name: str
    lane: str | None = None
    operator: str | None = None
    due: str | None = None
    message: str | None = None
    extensions: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """Compact form kept on the instance row."""
        out = {"kind": self.kind, "task_uuid": self.task_uuid, "task_spec": self.task_spec, "name": self.name}
        for key in ("lane", "operator", "due", "message"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class ServiceFailure(Exception):
    """Raised by a service caller: transient failures are retried, permanent ones become BPMN errors."""

    def __init__(self, code: str, message: str, transient: bool, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.transient = transient
        self.details = details or {}


class Engine:
    """Thin, stateless wrapper over SpiffWorkflow used by the process services."""

    def __init__(self, resolve_spec: Callable[[int], SpecPair], sealer: SnapshotSealer | None = None) -> None:
        self._resolve_spec = resolve_spec
        self.serializer = SnapshotSerializer(resolve_spec)
        self.script_engine = _StashingScriptEngine()
        self.sealer = sealer  # encrypts snapshots at rest; None only for engine-level tests and benchmarks

    # -- life cycle -------------------------------------------------------------------------
    def create(self, definition_id: int, data: dict[str, Any]) -> BpmnWorkflow:
        """Create a workflow on a definition version with its start data."""
        spec, subprocess_specs = self._resolve_spec(definition_id)
        workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=self.script_engine)
        for task in workflow.get_tasks(state=TaskState.READY, **_UNLIMITED):
            task.data.update(data)
        return workflow

    def load(self, snapshot: str, context: str = "") -> BpmnWorkflow:
        """Restore a workflow from its (sealed) snapshot of instance `context` and attach the script engine."""
        if self.sealer is not None:
            snapshot = self.sealer.open(snapshot, context)
        workflow = self.serializer.load_workflow(snapshot)
        workflow.script_engine = self.script_engine
        return workflow

    def dump(self, workflow: BpmnWorkflow, definition_id: int, context: str = "") -> str:
        """Snapshot a workflow (spec by reference, finished task chains dropped), sealed for instance `context`."""
        compact(workflow)
        text = self.serializer.dump_workflow(workflow, definition_id)
        return self.sealer.seal(text, context) if self.sealer is not None else text

    # -- stepping ---------------------------------------------------------------------------
    def advance(self, workflow: BpmnWorkflow) -> list[WaitState]:
        """Run engine tasks (gateways, scripts, events) until only wait states are left."""
        workflow.refresh_timers()
        while True:
            runnable = [
                t
                for t in workflow.get_tasks(state=TaskState.READY, **_UNLIMITED)
                if not t.task_spec.manual and not isinstance(t.task_spec, ServiceTask)
            ]
            if not runnable:
                break
            for task in runnable:
                if task.has_state(TaskState.READY):
                    task.run()
            workflow.refresh_timers()
        return self.wait_states(workflow)

    def wait_states(self, workflow: BpmnWorkflow) -> list[WaitState]:
        """What the workflow waits for now."""
        states: list[WaitState] = []
        for task in workflow.get_tasks(state=TaskState.READY, **_UNLIMITED):
            spec = task.task_spec
            if isinstance(spec, UserTask) or spec.manual:
                states.append(
                    WaitState(
                        "user",
                        str(task.id),
                        spec.name,
                        spec.bpmn_name or spec.name,
                        lane=spec.lane,
                        extensions=dict(getattr(spec, "extensions", {}).get("properties", {})),
                    )
                )
            elif isinstance(spec, ServiceTask):
                states.append(
                    WaitState(
                        "service",
                        str(task.id),
                        spec.name,
                        spec.bpmn_name or spec.name,
                        lane=spec.lane,
                        operator=spec.operation_name,
                    )
                )
        for task in list(workflow.event_manager.tasks.values()):
            if task.has_state(TaskState.WAITING):
                states.extend(_event_waits(task))
        return states

    def task(self, workflow: BpmnWorkflow, task_uuid: str) -> Task | None:
        """The task with this id, or None."""
        try:
            return workflow.get_task_from_id(UUID(task_uuid))
        except (ValueError, KeyError):
            return None

    def complete_user_task(
        self, workflow: BpmnWorkflow, task: Task, data: dict[str, Any], variable: str | None
    ) -> None:
        """Store submitted data on a ready user task and complete it."""
        if variable:
            task.data[variable] = data
        else:
            task.data.update(data)
        task.run()

    def run_service_task(self, workflow: BpmnWorkflow, task: Task, call: ServiceCaller) -> dict[str, Any]:
        """Call the task's operator; on success complete the task and return the result.

        A ServiceFailure propagates with the task still READY; the caller decides retry or error.
        """
        spec = task.task_spec
        try:
            evaluated = spec.evaluate_params(task)
        except Exception as exc:  # an analyst's expression failed: permanent, not retryable
            raise ServiceFailure("EXPRESSION_ERROR", f"参数表达式求值失败: {exc}", transient=False) from exc
        params = {name: value["value"] for name, value in evaluated.items()}
        result = call(spec.operation_name, params)
        self.complete_service_task(task, result)
        return result

    def complete_service_task(self, task: Task, result: dict[str, Any]) -> None:
        """Complete a ready service task with a result obtained earlier (stored in its result variable)."""
        self.script_engine.stash[task.id] = json.dumps(result, ensure_ascii=False)
        try:
            task.run()
        finally:
            self.script_engine.stash.pop(task.id, None)

    def throw_error(
        self, workflow: BpmnWorkflow, task: Task, code: str, message: str, details: dict | None = None
    ) -> bool:
        """Throw a BPMN error from a task; True when a boundary event caught it."""
        if not _has_error_boundary(task, code):
            return False
        # Definitions match by class and code, so throw the same (spiff) class the parser built.
        definition = SpiffErrorEventDefinition(message, code=code)
        event = BpmnEvent(
            definition, {"code": code, "message": message, "details": details or {}}, target=task.workflow
        )
        workflow.catch(event)
        return True

    def deliver_message(self, workflow: BpmnWorkflow, name: str, payload: dict[str, Any]) -> bool:
        """Hand a message to the tasks waiting for it; True if any caught it."""
        event = BpmnEvent(SpiffMessageEventDefinition(name), payload)
        return workflow.event_manager.catch(event, internal=False) > 0

    def public_data(self, workflow: BpmnWorkflow, names: list[str]) -> dict[str, Any]:
        """The named variables from the latest task data (the instance's public result)."""
        data = _latest_data(workflow)
        return {name: data[name] for name in names if name in data}

    def data(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        """The latest task data of the workflow."""
        return _latest_data(workflow)


def _event_waits(task: Task) -> list[WaitState]:
    """Wait states of a catching task; an event-based gateway waits for several events at once."""
    spec = task.task_spec
    definition = spec.event_definition
    definitions = definition.event_definitions if isinstance(definition, MultipleEventDefinition) else [definition]
    label = spec.bpmn_name or spec.name
    waits = []
    for item in definitions:
        if isinstance(item, TimerEventDefinition):
            value = task._get_internal_data("event_value")
            if isinstance(value, dict):  # cycle timers keep their next firing under 'next'
                value = value.get("next")
            if value is not None:
                waits.append(WaitState("timer", str(task.id), spec.name, label, due=_timer_due(value)))
        elif isinstance(item, MessageEventDefinition):
            waits.append(WaitState("message", str(task.id), spec.name, label, message=item.name))
    return waits


def _latest_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    if workflow.completed:
        return dict(workflow.data) | _last_task_data(workflow)
    return _last_task_data(workflow)


def _last_task_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    task = workflow.last_task
    if task is None:
        ready = workflow.get_tasks(state=TaskState.READY, **_UNLIMITED)
        task = ready[0] if ready else workflow.task_tree
    return dict(task.data)


def _has_error_boundary(task: Task, code: str) -> bool:
    parent = task.parent
    if parent is None:
        return False
    for sibling in parent.children:
        definition = getattr(sibling.task_spec, "event_definition", None)
        if (
            isinstance(definition, ErrorEventDefinition)
            and sibling.has_state(TaskState.WAITING)
            and definition.code in (None, "", code)
        ):
            return True
    return False


def _timer_due(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    try:
        due = TimerEventDefinition.get_datetime(text)
    except ValueError:
        due = datetime.now(UTC)
    return due.astimezone(UTC).isoformat()
