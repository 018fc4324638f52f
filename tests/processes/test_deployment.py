"""Deployment: validation problems are listed, unchanged files make no version, instances keep theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from processes.deployment import deploy_sources, latest_process
from processes.errors import DeploymentError
from processes.instances import start_instance
from processes.platform import BPMN_DIR
from processes.stepping import Actor
from processes.tasks import complete_task
from tests.support import application, clerk
from tests.support import person as sim_person

SOURCE = (BPMN_DIR / "residence_registration.bpmn").read_text(encoding="utf-8")
WAIT = (Path(__file__).resolve().parent.parent / "bpmn" / "test_wait_events.bpmn").read_text(encoding="utf-8")


def _problems(platform, xml: str, name: str = "broken.bpmn") -> set[str]:
    with pytest.raises(DeploymentError) as info:
        deploy_sources(platform, [(name, xml)], "tests")
    return {p["code"] for p in info.value.details.get("problems", [])} | {info.value.code}


def test_unknown_operator_lane_and_form_are_each_reported(ctx):
    platform = ctx.extensions["permitflow"]
    xml = (
        SOURCE.replace('id="hrss.check_insurance"', 'id="hrss.no_such_operator"')
        .replace('name="网点受理员"', 'name="清洁工"')
        .replace('value="registration_supplement"', 'value="no_such_form"')
        .replace('<spiffworkflow:property name="formKey" value="registration_correction" />', "")
    )
    assert {"UNKNOWN_OPERATOR", "UNKNOWN_LANE", "UNKNOWN_FORM", "MISSING_FORM"} <= _problems(platform, xml)


def test_bad_parameters_conditions_and_xml_are_refused(ctx):
    platform = ctx.extensions["permitflow"]
    assert "UNKNOWN_PARAMETER" in _problems(platform, SOURCE.replace('id="min_months"', 'id="min_monthz"'))
    assert "BAD_CONDITION" in _problems(platform, SOURCE.replace("hrss_check['passed']", "hrss_check['passed'"))
    assert "XML_INVALID" in _problems(platform, SOURCE[:-40])
    bogus = SOURCE.replace("<bpmn:incoming>Flow_start</bpmn:incoming>", "<bpmn:bogus>Flow_start</bpmn:bogus>")
    assert "BPMN_SCHEMA" in _problems(platform, bogus)
    assert "RESERVED_ID" in _problems(platform, WAIT.replace("StartEvent_begin", "Start"), "wait.bpmn")


def test_unchanged_file_makes_no_new_version(ctx):
    platform = ctx.extensions["permitflow"]
    before = latest_process("residence_registration").version
    [result] = deploy_sources(platform, [("residence_registration.bpmn", SOURCE)], "tests")
    assert (result.created, result.version) == (False, before)


def test_running_instances_keep_their_version(ctx, drain):
    platform = ctx.extensions["permitflow"]
    actor = Actor(kind="ops", name="ops:test")
    p = sim_person("long", 1)
    old, _ = start_instance(platform, "residence_registration", "BK-V1", application(p), actor)
    drain()
    changed = SOURCE.replace('name="网点审核"', 'name="网点审核（新版）"')
    [result] = deploy_sources(platform, [("residence_registration.bpmn", changed)], "tests", "rename review")
    assert result.created and result.version == latest_process("residence_registration").version
    new, _ = start_instance(platform, "residence_registration", "BK-V2", application(p), actor)
    drain()
    assert new.definition_id != old.definition_id
    from sqlalchemy import select

    from models import HumanTask, db

    names = dict(db.session.execute(select(HumanTask.instance_id, HumanTask.name)).all())
    assert names[old.id] == "网点审核" and names[new.id] == "网点审核（新版）"
    old_task = db.session.execute(select(HumanTask).where(HumanTask.instance_id == old.id)).scalar_one()
    complete_task(platform, old_task.id, {"decision": "approve"}, clerk())
    drain()
    db.session.rollback()
    finished = db.session.get(type(old), old.id, populate_existing=True)
    assert finished.status == "completed" and finished.definition_id == old.definition_id
    deploy_sources(platform, [("residence_registration.bpmn", SOURCE)], "tests", "restore")


def test_a_version_deployed_by_another_process_is_what_the_next_start_uses(ctx):
    platform = ctx.extensions["permitflow"]
    actor = Actor(kind="ops", name="ops:test")
    p = sim_person("long", 2)
    start_instance(platform, "residence_registration", "BK-ELSEWHERE-1", application(p), actor)
    remembered = dict(platform.__dict__["_newest_versions"])  # this process remembers the version it started on
    changed = SOURCE.replace('name="网点审核"', 'name="网点审核（他处发布）"')
    [result] = deploy_sources(platform, [("residence_registration.bpmn", changed)], "tests", "deployed elsewhere")
    platform.__dict__["_newest_versions"].update(remembered)  # as if another process had deployed it
    try:
        second, created = start_instance(platform, "residence_registration", "BK-ELSEWHERE-2", application(p), actor)
    finally:
        deploy_sources(platform, [("residence_registration.bpmn", SOURCE)], "tests", "restore")
    assert created and second.definition_id == result.definition_id
    from sqlalchemy import func, select

    from models import ProcessInstance, db

    starts = select(func.count()).where(ProcessInstance.business_key == "BK-ELSEWHERE-2")
    assert db.session.execute(starts).scalar_one() == 1  # the refused first write left nothing behind
