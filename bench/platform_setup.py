"""What bench_platform.py runs on: its diagrams, a fake HRSS client, applicants, databases and the app.

The registration slice is frozen in `diagrams/residence_registration_slice.bpmn`: start -> HRSS check
(service task) -> gateway -> clerk review (user task) -> script -> end, exactly as
bpmn/residence_registration.bpmn was when the slice was specified (commit bd8fda0, layout left out). The live
file keeps growing (validation, licences, housing, photo: more external systems and wait states), so the
benchmark pins the slice to keep its figures comparable from one run to the next.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from integrations.hrss import ContributionMonth, InsuranceStatus
from integrations.idnumber import make as make_id_number

SLICE_PATH = Path(__file__).resolve().parent / "diagrams" / "residence_registration_slice.bpmn"
SLICE_FILE = "residence_registration.bpmn"  # the name it is deployed under
PROCESS_KEY = "residence_registration"
LOOP_KEY = "bench_review_loops"
PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
APPROVED = "review['decision'] == 'approve'"


def slice_bpmn() -> str:
    """The frozen registration slice."""
    return SLICE_PATH.read_text(encoding="utf-8")


def loop_bpmn(key: str, branches: int) -> str:
    """A diagram of `branches` parallel clerk-lane user tasks, each looping back to itself until approved.

    Task_review_k -> Gateway_k: approve -> join, anything else -> Task_review_k again (two tasks per round).
    """
    ids = range(1, branches + 1)
    refs_clerk = "".join(
        f"<bpmn:flowNodeRef>Task_review_{k}</bpmn:flowNodeRef><bpmn:flowNodeRef>Gateway_decision_{k}</bpmn:flowNodeRef>"
        for k in ids
    )
    split_out = "".join(f"<bpmn:outgoing>Flow_in_{k}</bpmn:outgoing>" for k in ids)
    join_in = "".join(f"<bpmn:incoming>Flow_done_{k}</bpmn:incoming>" for k in ids)
    branch_xml = "".join(
        f"""
    <bpmn:userTask id="Task_review_{k}" name="循环审核{k}">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formKey" value="registration_review" />
        <spiffworkflow:property name="dueInHours" value="24" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>Flow_in_{k}</bpmn:incoming><bpmn:incoming>Flow_again_{k}</bpmn:incoming>
      <bpmn:outgoing>Flow_to_decision_{k}</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="Gateway_decision_{k}" name="通过？" default="Flow_again_{k}">
      <bpmn:incoming>Flow_to_decision_{k}</bpmn:incoming>
      <bpmn:outgoing>Flow_done_{k}</bpmn:outgoing><bpmn:outgoing>Flow_again_{k}</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:sequenceFlow id="Flow_in_{k}" sourceRef="Gateway_split" targetRef="Task_review_{k}" />
    <bpmn:sequenceFlow id="Flow_to_decision_{k}" sourceRef="Task_review_{k}"
                       targetRef="Gateway_decision_{k}" />
    <bpmn:sequenceFlow id="Flow_again_{k}" sourceRef="Gateway_decision_{k}" targetRef="Task_review_{k}" />
    <bpmn:sequenceFlow id="Flow_done_{k}" sourceRef="Gateway_decision_{k}" targetRef="Gateway_join">
      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{APPROVED}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>"""
        for k in ids
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  id="Definitions_{key}" targetNamespace="http://permitflow.example/bpmn/bench">
  <bpmn:collaboration id="Collaboration_{key}">
    <bpmn:participant id="Participant_{key}" name="基准：循环审核" processRef="{key}" />
  </bpmn:collaboration>
  <bpmn:process id="{key}" name="基准：循环审核" isExecutable="true">
    <bpmn:laneSet id="LaneSet_{key}">
      <bpmn:lane id="Lane_system" name="系统">
        <bpmn:flowNodeRef>Start_loop</bpmn:flowNodeRef><bpmn:flowNodeRef>Gateway_split</bpmn:flowNodeRef>
        <bpmn:flowNodeRef>Gateway_join</bpmn:flowNodeRef><bpmn:flowNodeRef>End_loop</bpmn:flowNodeRef>
      </bpmn:lane>
      <bpmn:lane id="Lane_clerk" name="网点受理员">{refs_clerk}</bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="Start_loop"><bpmn:outgoing>Flow_start</bpmn:outgoing></bpmn:startEvent>
    <bpmn:parallelGateway id="Gateway_split">
      <bpmn:incoming>Flow_start</bpmn:incoming>{split_out}
    </bpmn:parallelGateway>
    <bpmn:parallelGateway id="Gateway_join">{join_in}<bpmn:outgoing>Flow_end</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:endEvent id="End_loop"><bpmn:incoming>Flow_end</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_start" sourceRef="Start_loop" targetRef="Gateway_split" />
    <bpmn:sequenceFlow id="Flow_end" sourceRef="Gateway_join" targetRef="End_loop" />{branch_xml}
  </bpmn:process>
</bpmn:definitions>
"""


class FakeHrss:
    """In-process stand-in for HrssClient: everyone has 24 consecutive paid months."""

    def __init__(self) -> None:
        self.calls = 0

    def insurance_status(
        self, id_number: str, name: str, as_of: date | str, business_key: str | None = None
    ) -> InsuranceStatus:
        """An active insured status with 24 paid months up to `as_of`."""
        self.calls += 1
        end = date.fromisoformat(str(as_of)[:10])
        months = tuple(
            ContributionMonth(
                f"{(end.year * 12 + end.month - 1 - k) // 12:04d}-{(end.year * 12 + end.month - 1 - k) % 12 + 1:02d}",
                True,
                "上海某科技有限公司",
            )
            for k in range(23, -1, -1)
        )
        return InsuranceStatus(True, "active", 24, months, str(as_of)[:10])


def applicant(i: int) -> dict[str, str]:
    """Registration start-form data for the i-th synthetic applicant (valid ID number)."""
    born = date(1980, 1, 1) + timedelta(days=i // 900)
    return {
        "id_number": make_id_number("310104", born, i % 900 + 100),
        "name": "张三",
        "mobile": f"139{i % 100_000_000:08d}",
        "address": "上海市徐汇区田林路200号3号楼502室",
        "reason": "employment",
    }


def _stand_in_registration(
    *, applicant: dict, registered_on: str, channel: str = "", insured_months: int = 0, house_id: str = ""
) -> dict[str, Any]:
    """Engine-only stand-in for the transactional `registration.record` operator (which writes rows)."""
    day = date.fromisoformat(registered_on)
    return {
        "number": f"DJ{day:%Y%m%d}00000001",
        "status": "active",
        "registered_on": day.isoformat(),
        "valid_until": day.replace(year=day.year + 3).isoformat(),
        "superseded": None,
    }


# Transactional operators change business records in the instance's transaction: without a database the
# engine-only run uses a stand-in of the same shape; every other operator goes through `dispatch`.
STAND_INS: dict[str, Callable[..., dict[str, Any]]] = {"registration.record": _stand_in_registration}


@contextmanager
def sqlite_database() -> Iterator[tuple[str, str]]:
    """A fresh SQLite file in a temporary folder: (url, data dir)."""
    with tempfile.TemporaryDirectory(prefix="permitflow-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}", folder


@contextmanager
def postgresql_database() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL database, dropped afterwards: (url, data dir). Raises OSError when unreachable."""
    import psycopg

    name = f"permitflow_bench_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise OSError(f"PostgreSQL at 127.0.0.1:5432 not usable: {str(exc).strip().splitlines()[0]}") from exc
    try:
        with tempfile.TemporaryDirectory(prefix="permitflow-bench-") as folder:
            yield PG_BASE_URL + name, folder
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


DATABASES: dict[str, Callable[[], Any]] = {"sqlite": sqlite_database, "postgresql": postgresql_database}


def make_app(url: str, data_dir: str, hrss: FakeHrss, loop_branches: int) -> Any:
    """A migrated app on `url` with the registration and loop diagrams deployed; jobs run eagerly."""
    from config import Settings
    from models.schema import upgrade
    from processes.deployment import deploy_files
    from processes.platform import get_platform
    from webapp import create_app

    settings = Settings.from_env(
        environ={},
        PERMITFLOW_ENV="test",
        DATABASE_URL=url,
        DATA_DIR=data_dir,
        JOB_MODE="eager",
        LOG_LEVEL="WARNING",
        LOG_JSON=False,
    )
    app = create_app(settings, clients={"hrss": hrss})
    slice_file = Path(data_dir) / SLICE_FILE
    slice_file.write_text(slice_bpmn(), encoding="utf-8")
    loop_file = Path(data_dir) / f"{LOOP_KEY}.bpmn"
    loop_file.write_text(loop_bpmn(LOOP_KEY, loop_branches), encoding="utf-8")
    with app.app_context():
        upgrade()
        deploy_files(get_platform(app), [slice_file, loop_file], "bench")
    return app


def read_only() -> None:
    """Untimed look-ups read in autocommit mode, as a clerk's inbox read in another web process would: no
    ROLLBACK on the connection the timed steps use (psycopg forgets its prepared statements on a ROLLBACK)."""
    from processes.unit_of_work import read_in_autocommit

    read_in_autocommit()


def ready_tasks(instance_id: int) -> dict[str, int]:
    """The instance's ready human tasks: task spec name -> human task id."""
    from sqlalchemy import select

    from models import HumanTask, db

    read_only()
    rows = db.session.execute(
        select(HumanTask.task_spec, HumanTask.id).where(
            HumanTask.instance_id == instance_id, HumanTask.status == "ready"
        )
    ).all()
    db.session.rollback()
    return dict(rows)
