"""Drop finished task chains from a workflow before it is snapshotted.

SpiffWorkflow keeps every completed task, so an instance that loops (a case sent back for rework, a
daily batch) grows its tree by a few tasks per round. Every step then costs time proportional to the
instance's age, and SpiffWorkflow's depth-limited tree walks stop seeing ready tasks after ~500 rounds
of one loop. The history of an instance lives in ``process_event``, so interior links of a purely
linear, completed chain carry nothing the engine still needs: we unlink every completed task whose parent
and only child are completed (its parent's link goes straight to that child), keeping the tail of every
chain and every task that SpiffWorkflow looks up later (joins, subprocess parents, the last completed task,
anything not completed).
"""

from __future__ import annotations

from uuid import UUID

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.task import Task, TaskState


def compact(workflow: BpmnWorkflow) -> int:
    """Unlink interior tasks of completed linear chains in the workflow and its subprocesses; returns the count."""
    _drop_finished_subprocesses(workflow)
    protected: set[UUID] = set(workflow.subprocesses)
    removed = _compact_tree(workflow, protected)
    for sub in workflow.subprocesses.values():
        removed += _compact_tree(sub, protected)
    return removed


def _drop_finished_subprocesses(workflow: BpmnWorkflow) -> None:
    # A finished subprocess has already handed its data back to its (completed) parent task.
    for task_id, sub in list(workflow.subprocesses.items()):
        if task_id not in workflow.subprocesses or not sub.completed:
            continue  # removed with an enclosing subprocess, or still running
        parent_task = sub.parent_workflow.tasks.get(task_id)
        if parent_task is not None and parent_task.state == TaskState.COMPLETED:
            workflow.delete_subprocess(parent_task)


def _compact_tree(workflow, protected: set[UUID]) -> int:
    keep_specs = _join_related_specs(workflow)
    last = workflow.last_task.id if workflow.last_task is not None else None
    doomed = [
        task
        for task in workflow.tasks.values()
        if task.id not in protected and task.id != last and _is_interior(task, keep_specs)
    ]
    for task in doomed:
        _unlink(workflow, task)
    return len(doomed)


def _is_interior(task: Task, keep_specs: frozenset[str]) -> bool:
    # The parent may have other children (a parallel split's branches): the chain's first task goes too,
    # so a branch that has looped keeps as few tasks as one that has not.
    parent = task.parent
    if parent is None or task.state != TaskState.COMPLETED or len(task.children) != 1:
        return False
    if parent.state != TaskState.COMPLETED:
        return False
    child = task.children[0]
    return child.state == TaskState.COMPLETED and task.task_spec.name not in keep_specs


def _unlink(workflow, task: Task) -> None:
    # Links are ids resolved through workflow.tasks, so unlinking in any order keeps the chain intact.
    parent, child = task.parent, task.children[0]
    parent._children = [child.id if linked == task.id else linked for linked in parent._children]
    child._parent = parent.id
    del workflow.tasks[task.id]


def _join_related_specs(workflow) -> frozenset[str]:
    """Join specs: a join looks up its sibling join tasks when it fires.

    A join's input tasks need no protection: one that has reached the join has an unfinished join task as
    its child, so it is never interior.
    """
    cache = workflow.spec.__dict__.get("_permitflow_join_specs")
    if cache is None:
        cache = frozenset(spec.name for spec in workflow.spec.task_specs.values() if isinstance(spec, Join))
        workflow.spec.__dict__["_permitflow_join_specs"] = cache
    return cache
