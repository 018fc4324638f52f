"""Analyst workspace services: versions, counts per node, drafts validated and published like a deploy, compare."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from models import AuditLog, DiagramDraft, ProcessDefinition, db
from processes import design, design_review
from processes.deployment import deploy_sources, latest_process
from processes.design_compare import compare_sources, compare_versions
from processes.errors import BadRequest, Conflict, DeploymentError, Forbidden, ValidationFailed
from processes.instances import start_instance
from processes.platform import BPMN_DIR
from processes.stepping import Actor
from tests.support import application, set_fault
from tests.support import person as sim_person

SOURCE = (BPMN_DIR / "residence_registration.bpmn").read_text(encoding="utf-8")
RULES = (BPMN_DIR / "endorsement_rules.dmn").read_text(encoding="utf-8")
OPS = Actor(kind="ops", name="ops:test")


@pytest.fixture
def dctx(ctx):
    """A service context whose drafts are removed afterwards (drafts are not business tables)."""
    yield ctx
    db.session.rollback()
    db.session.execute(delete(DiagramDraft))
    db.session.commit()


def _restore(platform) -> None:
    """Put the shipped residence registration back as the latest version (other tests compare checksums)."""
    deploy_sources(platform, [("residence_registration.bpmn", SOURCE)], "tests", "restore")


def test_catalogue_lists_processes_and_decisions_with_versions(dctx):
    rows = {(r["kind"], r["key"]): r for r in design.catalogue()}
    reg = rows[("bpmn", "residence_registration")]
    assert reg["name"] == "居住登记" and reg["version"] >= 1 and len(reg["checksum"]) == 64
    assert any(kind == "dmn" for kind, _ in rows)
    [latest, *_] = design.versions("bpmn", "residence_registration")
    assert latest["version"] == latest_process("residence_registration").version
    assert {"deployed_by", "deployed_at", "comment", "checksum", "running"} <= set(latest)


def test_node_counts_show_waiting_instances_and_incidents(dctx, drain, simulator):
    platform = dctx.extensions["permitflow"]
    for n in range(2):
        start_instance(platform, "residence_registration", f"BK-CNT{n}", application(sim_person("long", n)), OPS)
    drain()
    set_fault(simulator, "hrss.insurance_status", malformed=True)
    start_instance(platform, "residence_registration", "BK-CNT-ERR", application(sim_person("long", 2)), OPS)
    drain()
    row = latest_process("residence_registration")
    counts = design.node_counts(row)
    assert counts["waiting"].get("Task_clerk_review") == 2
    assert counts["incidents"] == {"Task_hrss_check": 1}
    assert counts["waiting"].get("Task_hrss_check") == 1  # the failed service task still holds its instance
    [latest, *_] = design.versions("bpmn", "residence_registration")
    assert latest["running"] == 3


def test_draft_is_validated_with_deploy_checks_and_problems_name_elements(dctx):
    platform = dctx.extensions["permitflow"]
    draft = design.open_draft("bpmn", "residence_registration", "analyst01")
    assert design.open_draft("bpmn", "residence_registration", "analyst01").id == draft.id  # one open draft each
    assert draft.source_xml == SOURCE
    broken = SOURCE.replace('id="hrss.check_insurance"', 'id="hrss.no_such_operator"').replace(
        'name="网点受理员"', 'name="清洁工"'
    )
    design.save_draft(draft.id, broken, "analyst01")
    report = design.validate_draft(platform, draft.id, "analyst01")
    codes = {p["code"]: p for p in report.problems}
    assert not report.ok and {"UNKNOWN_OPERATOR", "UNKNOWN_LANE"} <= set(codes)
    assert codes["UNKNOWN_OPERATOR"]["element"] == "Task_hrss_check"
    assert "没有注册的处理程序" in codes["UNKNOWN_OPERATOR"]["message"]
    assert db.session.get(DiagramDraft, draft.id).problems == len(report.problems)
    # A schema error names no element in the engine's message: the line number finds it.
    bogus = SOURCE.replace("<bpmn:incoming>Flow_start</bpmn:incoming>", "<bpmn:bogus>Flow_start</bpmn:bogus>")
    [problem] = design.validate(platform, "bpmn", "residence_registration", "r.bpmn", bogus).problems
    assert problem["code"] == "BPMN_SCHEMA" and problem["element"] == "Task_validate"
    assert problem["message"].startswith("元素 bogus 不允许出现在此位置")
    renamed = SOURCE.replace('<bpmn:process id="residence_registration"', '<bpmn:process id="other_key"').replace(
        'processRef="residence_registration"', 'processRef="other_key"'
    )
    [changed] = design.validate(platform, "bpmn", "residence_registration", "r.bpmn", renamed).problems
    assert changed["code"] == "KEY_CHANGED"


PUBLISH = frozenset({"process.view", "process.design", "process.publish"})


def _last_audit(event: str) -> AuditLog:
    return db.session.execute(
        select(AuditLog).where(AuditLog.event == event).order_by(AuditLog.id.desc()).limit(1)
    ).scalar_one()


def test_publication_is_four_eyes_submitted_then_approved_by_another_analyst(dctx, drain):
    platform = dctx.extensions["permitflow"]
    before = latest_process("residence_registration")
    old_instance, _ = start_instance(platform, "residence_registration", "BK-PUB", application(sim_person("long")), OPS)
    draft = design.open_draft("bpmn", "residence_registration", "analyst01")
    with pytest.raises(Conflict) as same:
        design_review.submit_draft(platform, draft.id, "无变化", "analyst01")
    assert same.value.code == "NO_CHANGE"
    design.save_draft(draft.id, SOURCE.replace('name="网点审核"', 'name="网点审核（分析员改）"'), "analyst01")
    with pytest.raises(ValidationFailed) as missing:
        design_review.submit_draft(platform, draft.id, "   ", "analyst01")
    assert missing.value.code == "COMMENT_REQUIRED"
    with pytest.raises(Forbidden):
        design_review.submit_draft(platform, draft.id, "别人提交", "analyst02")
    design_review.submit_draft(platform, draft.id, "审核任务改名", "analyst01")
    assert latest_process("residence_registration").id == before.id  # nothing deployed on submission
    assert _last_audit("process.submit").object_id == "bpmn:residence_registration"
    with pytest.raises(Conflict) as frozen:
        design.save_draft(draft.id, SOURCE, "analyst01")
    assert frozen.value.code == "DRAFT_SUBMITTED"
    assert [d.id for d in design_review.review_queue()] == [draft.id]
    # The author may not approve their own submission, whatever permissions they hold.
    with pytest.raises(Forbidden) as own:
        design_review.approve(platform, draft.id, "analyst01", PUBLISH)
    assert own.value.code == "FOUR_EYES"
    denied = _last_audit("process.review_approve")
    assert denied.result == "denied" and "FOUR_EYES" in str(denied.details)
    # Someone without process.publish may not approve either.
    with pytest.raises(Forbidden) as lacking:
        design_review.approve(platform, draft.id, "operator01", frozenset({"process.view"}))
    assert lacking.value.code == "PERMISSION_DENIED"
    assert latest_process("residence_registration").id == before.id
    try:
        results = design_review.approve(platform, draft.id, "analyst02", PUBLISH, "已核对")
        own_result = results[0]
        assert own_result.key == "residence_registration"
        new = db.session.get(ProcessDefinition, own_result.definition_id)
        assert (new.version, new.comment, new.deployed_by) == (before.version + 1, "审核任务改名", "analyst02")
        stored = db.session.get(DiagramDraft, draft.id)
        assert (stored.status, stored.author, stored.reviewed_by) == ("published", "analyst01", "analyst02")
        audit = _last_audit("process.publish")
        assert audit.object_id == f"bpmn:residence_registration:v{new.version}" and "审核任务改名" in audit.details
        assert "analyst01" in audit.details and "analyst02" in audit.details
        db.session.rollback()
        assert db.session.get(type(old_instance), old_instance.id).definition_id == before.id  # runs on its version
        with pytest.raises(Conflict):
            design.save_draft(draft.id, SOURCE, "analyst01")
        diff = compare_versions("bpmn", "residence_registration", before.version, new.version)
        [changed] = diff["changed"]
        assert changed["id"] == "Task_clerk_review" and "网点审核（分析员改）" in changed["changes"][0]
        assert diff["added"] == [] and diff["removed"] == []
    finally:
        _restore(platform)


def test_a_rejected_submission_returns_to_its_author_with_the_reason(dctx):
    platform = dctx.extensions["permitflow"]
    before = latest_process("residence_registration")
    draft = design.open_draft("bpmn", "residence_registration", "analyst01")
    design.save_draft(draft.id, SOURCE.replace('name="网点审核"', 'name="网点审核（待退回）"'), "analyst01")
    design_review.submit_draft(platform, draft.id, "改名", "analyst01")
    with pytest.raises(Forbidden):
        design_review.reject(draft.id, "analyst01", PUBLISH, "自己退回")
    with pytest.raises(ValidationFailed):
        design_review.reject(draft.id, "analyst02", PUBLISH, " ")
    design_review.reject(draft.id, "analyst02", PUBLISH, "名称不符合规范")
    stored = db.session.get(DiagramDraft, draft.id)
    assert (stored.status, stored.review_note, stored.reviewed_by) == ("open", "名称不符合规范", "analyst02")
    assert _last_audit("process.publish_reject").object_id == "bpmn:residence_registration"
    assert latest_process("residence_registration").id == before.id
    with pytest.raises(Conflict):
        design_review.approve(platform, draft.id, "analyst02", PUBLISH)  # no longer awaiting review
    design.save_draft(draft.id, SOURCE.replace('name="网点审核"', 'name="网点审核（改好）"'), "analyst01")
    design_review.submit_draft(platform, draft.id, "改名（修改后）", "analyst01")
    design_review.withdraw_submission(draft.id, "analyst01")
    assert db.session.get(DiagramDraft, draft.id).status == "open"


def test_submit_refuses_an_invalid_or_unsafe_draft(dctx):
    platform = dctx.extensions["permitflow"]
    draft = design.open_draft("bpmn", "residence_registration", "analyst01")
    design.save_draft(draft.id, SOURCE.replace('value="registration_supplement"', 'value="no_form"'), "analyst01")
    with pytest.raises(DeploymentError) as info:
        design_review.submit_draft(platform, draft.id, "坏草稿", "analyst01")
    assert info.value.details["problems"][0]["code"] == "UNKNOWN_FORM"
    unsafe = SOURCE.replace(
        ">hrss_check['passed']</bpmn:conditionExpression>", ">__import__('os').system('id')</bpmn:conditionExpression>"
    )
    design.save_draft(draft.id, unsafe, "analyst01")
    report = design.validate_draft(platform, draft.id, "analyst01")
    [problem] = report.problems
    assert problem["code"] == "UNSAFE_EXPRESSION" and problem["element"] == "Flow_passed"
    assert problem["title"] == "表达式或脚本超出允许范围" and "__import__" in problem["message"]
    with pytest.raises(DeploymentError):
        design_review.submit_draft(platform, draft.id, "越权脚本", "analyst01")
    assert db.session.get(DiagramDraft, draft.id).status == "open"


def test_a_dmn_draft_is_checked_with_the_processes_using_it(dctx):
    platform = dctx.extensions["permitflow"]
    key = next(r["key"] for r in design.catalogue() if r["kind"] == "dmn" and r["file_name"] == "endorsement_rules.dmn")
    draft = design.open_draft("dmn", key, "analyst01")
    assert design.validate_draft(platform, draft.id, "analyst01").ok
    # Renaming the decision breaks auto_endorsement, which calls it: deploying would redeploy and fail that.
    design.save_draft(
        draft.id, RULES.replace('<decision id="endorsement_rules"', '<decision id="rules_x"'), "analyst01"
    )
    report = design.validate_draft(platform, draft.id, "analyst01")
    assert not report.ok and report.problems[0]["title"] and "auto_endorsement" in str(report.problems)
    with pytest.raises(BadRequest):
        design.save_draft(draft.id, RULES.replace("<decisionTable", "<decisionTabel", 1), "analyst01")


def test_compare_reports_added_removed_changed_and_moved_elements():
    changed = (
        SOURCE.replace('name="网点审核"', 'name="网点复核"')
        .replace('<bpmn:userTask id="Task_housing_supplement"', '<bpmn:userTask id="Task_housing_extra"')
        .replace('bpmnElement="Task_housing_supplement"', 'bpmnElement="Task_housing_extra"')
    )
    old_shape = 'bpmnElement="Task_validate"'
    assert old_shape in changed
    diff = compare_sources(SOURCE, changed)
    assert [a["id"] for a in diff["added"]] == ["Task_housing_extra"]
    assert [r["id"] for r in diff["removed"]] == ["Task_housing_supplement"]
    assert {"Task_clerk_review"} <= {c["id"] for c in diff["changed"]}
    assert diff["added"][0]["type_name"] == "用户任务"
    assert compare_sources(SOURCE, SOURCE)["same"] is True
