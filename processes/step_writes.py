"""The rows one engine step changes, written all-or-nothing: one statement on PostgreSQL, a short sequence elsewhere.

A step writes the instance row (guarded by its version), may close the user task it completed (guarded: still
ready) and claim the job that ran it (guarded: still runnable), retires the tasks and timers no longer waited
on, and inserts rows (human tasks, timers, jobs, its event, an incident). On PostgreSQL all of that is one
statement of data-modifying CTEs whose final SELECT calls permitflow_check_step() (migration 0016): when a
guard matched no row it raises, and the statement writes nothing. One round trip per step, and no open
transaction is needed: a step whose reads ran in autocommit mode is still all-or-nothing (optimistic
concurrency: the version guard, not a row lock, makes two workers' steps on one instance exclusive).
On SQLite the same parts run one by one with the same checks in Python, inside one write transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Table, bindparam, exists, func, insert, literal, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from models import HumanTask, OutboxJob, ProcessDefinition, ProcessInstance, ProcessTimer, db
from processes.errors import Conflict
from processes.jobs.kinds import RUNNABLE, claim_job
from processes.unit_of_work import in_autocommit

INSTANCE: Table = ProcessInstance.__table__
TASK: Table = HumanTask.__table__
JOB: Table = OutboxJob.__table__
TIMER: Table = ProcessTimer.__table__
DEFINITION: Table = ProcessDefinition.__table__
# What a step may change on the instance; the other columns are fixed when it starts.
MUTABLE = ("status", "suspended", "snapshot", "waiting_on", "result", "updated_at", "completed_at")
CREATED = tuple(c.name for c in INSTANCE.columns if c.name != "id")
CLOSED = ("status", "assignee", "completed_at", "completed_by")
GUARD_SQLSTATE = "PF409"  # raised by permitflow_check_step()
MESSAGES = {
    "CONCURRENT_UPDATE": "该业务已被他人同时处理，请刷新后重试",
    "TASK_NOT_READY": "任务已被处理，不能重复提交",
    "JOB_TAKEN": "该作业已由其他进程处理",
    "DEFINITION_CHANGED": "流程刚发布了新版本，请重新提交",
}


class StepConflict(Conflict):
    """A guard of the step matched no row: the instance, task or job changed first; nothing was written."""

    def __init__(self, code: str) -> None:
        super().__init__(code, MESSAGES[code])


@dataclass
class StepWrite:
    """Everything one step writes; `apply` writes it in the session's connection."""

    instance: ProcessInstance  # a new instance has no id yet and is not in the session
    now: datetime
    changes: dict[str, Any]  # new values of MUTABLE columns; the others keep the object's values
    close_task: HumanTask | None = None
    close_values: dict[str, Any] = field(default_factory=dict)
    claim_job_id: int | None = None
    newest_version: int | None = None  # a new instance is written only while its version is the newest
    retire_tasks: list[str] = field(default_factory=list)
    retire_timers: list[str] = field(default_factory=list)
    rows: list[tuple[Table, dict[str, Any]]] = field(default_factory=list)  # instance_id is filled in

    def add(self, table: Table, values: dict[str, Any]) -> None:
        """Insert a row of `table` (with this instance's id) as part of the step."""
        self.rows.append((table, _with_defaults(table, values)))

    def apply(self) -> list[int]:
        """Write the step; returns the ids of the outbox jobs it inserted, in order. Raises StepConflict."""
        new = self.instance.id is None
        version = 0 if new else self.instance.lock_version
        values = _instance_values(self.instance, new, self.now, self.changes)
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            instance_id, job_ids = self._apply_statement(connection, new, version, values)
        else:
            instance_id, job_ids = self._apply_sequence(connection, new, version, values)
        self._sync_session(new, instance_id, version, values)
        return job_ids

    # -- PostgreSQL: one statement ----------------------------------------------------------------------
    def _apply_statement(
        self, connection: Connection, new: bool, version: int, values: dict[str, Any]
    ) -> tuple[int, list[int]]:
        shape = (
            new,
            new and self.newest_version is not None,
            self.close_task is not None,
            self.claim_job_id is not None,
            bool(self.retire_tasks),
            bool(self.retire_timers),
            tuple((table.name, tuple(row)) for table, row in self.rows),
        )
        statement = _STATEMENTS.get(shape)
        if statement is None:
            statement = _STATEMENTS[shape] = _one_statement(*shape)
        params = self._params(new, version, values)
        for k, (_table, row) in enumerate(self.rows):
            params.update({f"r{k}_{name}": value for name, value in row.items()})
        try:
            found = connection.execute(statement, params).one()
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == GUARD_SQLSTATE:
                code = exc.orig.diag.message_primary
                # A new instance's row is guarded only by its version being the newest.
                raise StepConflict("DEFINITION_CHANGED" if new and code == "CONCURRENT_UPDATE" else code) from exc
            raise
        return found[1], list(found[2:])

    def _params(self, new: bool, version: int, values: dict[str, Any]) -> dict[str, Any]:
        params = {f"i_{name}": value for name, value in values.items()}
        if not new:
            params.update(i_id=self.instance.id, i_version=version)
        elif self.newest_version is not None:
            params["g_version"] = self.newest_version
        if self.close_task is not None:
            params["c_id"] = self.close_task.id
            params.update({f"c_{name}": self.close_values[name] for name in CLOSED})
        if self.claim_job_id is not None:
            params["j_id"] = self.claim_job_id
        if self.retire_tasks:
            params["rt_uuids"] = self.retire_tasks
        if self.retire_timers:
            params["rm_uuids"] = self.retire_timers
        params["now"] = self.now
        return params

    # -- elsewhere: the same parts in order, in one write transaction ----------------------------------
    def _apply_sequence(
        self, connection: Connection, new: bool, version: int, values: dict[str, Any]
    ) -> tuple[int, list[int]]:
        # The reads ran in autocommit mode: the write still needs its own transaction to be all-or-nothing.
        own = in_autocommit(connection)
        if own:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            result = self._sequence(connection, new, version, values)
        except BaseException:
            if own:
                connection.exec_driver_sql("ROLLBACK")
            raise
        if own:
            connection.exec_driver_sql("COMMIT")
        return result

    def _sequence(
        self, connection: Connection, new: bool, version: int, values: dict[str, Any]
    ) -> tuple[int, list[int]]:
        run = _sequence_statements()
        if new and self.newest_version is not None:
            newer = {"_key": values["process_key"], "_version": self.newest_version}
            if connection.execute(run["newer_version"], newer).first() is not None:
                raise StepConflict("DEFINITION_CHANGED")
        if new:
            instance_id = connection.execute(run["insert_instance"], values).scalar_one()
        else:
            instance_id = self.instance.id
            guarded = {**values, "_id": instance_id, "_version": version}
            if connection.execute(run["update_instance"], guarded).rowcount != 1:
                raise StepConflict("CONCURRENT_UPDATE")
        if self.close_task is not None:
            closed = {**self.close_values, "_id": self.close_task.id}
            if connection.execute(run["close_task"], closed).rowcount != 1:
                raise StepConflict("TASK_NOT_READY")
        if self.claim_job_id is not None and not claim_job(self.claim_job_id):
            raise StepConflict("JOB_TAKEN")
        if self.retire_tasks:
            connection.execute(run["retire_tasks"], {"_uuids": self.retire_tasks, "_now": self.now})
        if self.retire_timers:
            connection.execute(run["retire_timers"], {"_id": instance_id, "_uuids": self.retire_timers})
        job_ids = []
        for table, row in self.rows:
            row = {**row, "instance_id": instance_id}
            if table is JOB:
                job_ids.append(connection.execute(insert(JOB).returning(JOB.c.id), row).scalar_one())
            else:
                connection.execute(insert(table), row)
        return instance_id, job_ids

    # -- the ORM objects the caller holds now show what was written --------------------------------------
    def _sync_session(self, new: bool, instance_id: int, version: int, values: dict[str, Any]) -> None:
        instance = self.instance
        if new:
            for name, value in values.items():
                setattr(instance, name, value)
            instance.id = instance_id
            make_transient_to_detached(instance)
            db.session.add(instance)
        else:
            for name in MUTABLE:
                set_committed_value(instance, name, values[name])
            set_committed_value(instance, "lock_version", version + 1)
        if self.close_task is not None:
            for name in CLOSED:
                set_committed_value(self.close_task, name, self.close_values[name])


def _instance_values(instance: ProcessInstance, new: bool, now: datetime, changes: dict[str, Any]) -> dict[str, Any]:
    if not new:
        return {name: changes[name] if name in changes else getattr(instance, name) for name in MUTABLE}
    loaded = instance.__dict__
    values = {name: loaded.get(name) for name in CREATED}
    values.update(changes)
    values.update(lock_version=1, created_at=loaded.get("created_at") or now, suspended=bool(values["suspended"]))
    return values


def _with_defaults(table: Table, values: dict[str, Any]) -> dict[str, Any]:
    """Every column but the key and instance_id, explicitly: a statement built once must not depend on which
    values a caller happened to leave out."""
    row = dict(values)
    for column in table.columns:
        if column.primary_key or column.name == "instance_id" or column.name in row:
            continue
        default = column.default
        if default is None:
            row[column.name] = None
        elif default.is_callable:
            row[column.name] = default.arg(None)
        else:
            row[column.name] = default.arg
    return row


# -- statements, built once per shape --------------------------------------------------------------------
_STATEMENTS: dict[tuple, Any] = {}
_SEQUENCE: dict[str, Any] = {}


def _typed(name: str, table: Table, column: str) -> Any:
    return bindparam(name, type_=table.c[column].type)


def _one_statement(
    new: bool,
    guarded: bool,
    close: bool,
    claim: bool,
    retire_tasks: bool,
    retire_timers: bool,
    rows: tuple[tuple[str, tuple[str, ...]], ...],
) -> Any:
    """The whole step as data-modifying CTEs; columns: check, instance id, job ids."""
    if new:
        created = {c: _typed(f"i_{c}", INSTANCE, c) for c in CREATED}
        inst = insert(INSTANCE).values(created)
        if guarded:
            newer = exists(_newer_version(created["process_key"], bindparam("g_version", type_=Integer)))
            inst = insert(INSTANCE).from_select(list(created), select(*created.values()).where(~newer))
    else:
        inst = (
            update(INSTANCE)
            .where(INSTANCE.c.id == bindparam("i_id"), INSTANCE.c.lock_version == bindparam("i_version"))
            .values(
                {**{c: _typed(f"i_{c}", INSTANCE, c) for c in MUTABLE}, "lock_version": INSTANCE.c.lock_version + 1}
            )
        )
    inst = inst.returning(INSTANCE.c.id).cte("inst")
    written = exists(select(inst.c.id))  # every other part writes only if the instance row was written
    ctes: list[Any] = [inst]

    def counted(cte: Any) -> Any:
        return select(func.count()).select_from(cte).scalar_subquery()

    task_rows = job_rows = literal(-1)
    if close:
        done = (
            update(TASK)
            .where(TASK.c.id == bindparam("c_id"), TASK.c.status == "ready", written)
            .values({c: _typed(f"c_{c}", TASK, c) for c in CLOSED})
            .returning(TASK.c.id)
            .cte("done")
        )
        ctes.append(done)
        task_rows = counted(done)
    if claim:
        claimed = (
            update(JOB)
            .where(JOB.c.id == bindparam("j_id"), JOB.c.status.in_(RUNNABLE), written)
            .values(status="done", done_at=_typed("now", JOB, "done_at"), last_error=None)
            .returning(JOB.c.id)
            .cte("claimed")
        )
        ctes.append(claimed)
        job_rows = counted(claimed)
    if retire_tasks:
        ctes.append(
            update(TASK)
            .where(TASK.c.task_uuid.in_(bindparam("rt_uuids", expanding=True)), TASK.c.status == "ready", written)
            .values(status="cancelled", completed_at=_typed("now", TASK, "completed_at"))
            .returning(TASK.c.id)
            .cte("retired_tasks")
        )
    if retire_timers:
        ctes.append(
            update(TIMER)
            .where(
                TIMER.c.instance_id == select(inst.c.id).scalar_subquery(),
                TIMER.c.task_uuid.in_(bindparam("rm_uuids", expanding=True)),
                TIMER.c.status == "pending",
            )
            .values(status="cancelled")
            .returning(TIMER.c.id)
            .cte("retired_timers")
        )
    jobs = []
    for k, (name, columns) in enumerate(rows):
        table = _TABLES[name]
        source = select(inst.c.id, *[_typed(f"r{k}_{c}", table, c) for c in columns])
        row = insert(table).from_select(["instance_id", *columns], source).returning(table.c.id).cte(f"r{k}")
        ctes.append(row)
        if table is JOB:
            jobs.append(select(row.c.id).scalar_subquery())
    check = func.permitflow_check_step(counted(inst), task_rows, job_rows)
    return select(check, select(inst.c.id).scalar_subquery(), *jobs).add_cte(*ctes)


def _newer_version(key: Any, version: Any) -> Any:
    return select(DEFINITION.c.id).where(
        DEFINITION.c.kind == "bpmn", DEFINITION.c.key == key, DEFINITION.c.version > version
    )


def _sequence_statements() -> dict[str, Any]:
    if not _SEQUENCE:
        _SEQUENCE.update(
            newer_version=_newer_version(bindparam("_key"), bindparam("_version")).limit(1),
            insert_instance=insert(INSTANCE).returning(INSTANCE.c.id),
            update_instance=update(INSTANCE)
            .where(INSTANCE.c.id == bindparam("_id"), INSTANCE.c.lock_version == bindparam("_version"))
            .values(lock_version=INSTANCE.c.lock_version + 1),
            close_task=update(TASK).where(TASK.c.id == bindparam("_id"), TASK.c.status == "ready"),
            retire_tasks=update(TASK)
            .where(TASK.c.task_uuid.in_(bindparam("_uuids", expanding=True)), TASK.c.status == "ready")
            .values(status="cancelled", completed_at=bindparam("_now")),
            retire_timers=update(TIMER)
            .where(
                TIMER.c.instance_id == bindparam("_id"),
                TIMER.c.task_uuid.in_(bindparam("_uuids", expanding=True)),
                TIMER.c.status == "pending",
            )
            .values(status="cancelled"),
        )
    return _SEQUENCE


def _tables() -> dict[str, Table]:
    from models import Incident, ProcessEvent

    return {t.name: t for t in (TASK, JOB, TIMER, Incident.__table__, ProcessEvent.__table__)}


_TABLES: dict[str, Table] = _tables()
