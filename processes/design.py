"""Analyst workspace services: process versions, running counts per node, drafts and validation.

Publishing is four-eyes: see processes.design_review (submit, then another analyst approves).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from lxml import etree
from sqlalchemy import func, select

from models import DiagramDraft, HumanTask, Incident, ProcessDefinition, ProcessInstance, ProcessTimer, db, utcnow
from processes import audit
from processes.deployment import latest_definition, latest_versions, validate_source
from processes.design_problems import PROBLEM_TITLES, explain
from processes.errors import BadRequest, Conflict, DeploymentError, Forbidden, NotFound
from processes.platform import Platform
from processes.unit_of_work import transaction

KINDS = ("bpmn", "dmn")
ACTIVE = ("running", "waiting", "error")  # instance statuses that still sit on a node
MAX_SOURCE_CHARS = 1_000_000


@dataclass
class Report:
    """The outcome of validating a draft: problems block publishing, warnings do not."""

    problems: list[dict[str, str]]
    warnings: list[dict[str, str]]
    key: str | None = None

    @property
    def ok(self) -> bool:
        """True when the draft can be published."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON form for the modeler page."""
        return {"ok": self.ok, "problems": self.problems, "warnings": self.warnings}


def catalogue() -> list[dict[str, Any]]:
    """Every deployed process and decision file: latest version, number of versions, running instances."""
    version_counts: dict[tuple[str, str], int] = {
        (kind, key): n
        for kind, key, n in db.session.execute(
            select(ProcessDefinition.kind, ProcessDefinition.key, func.count()).group_by(
                ProcessDefinition.kind, ProcessDefinition.key
            )
        ).all()
    }
    running = dict(
        db.session.execute(
            select(ProcessInstance.process_key, func.count())
            .where(ProcessInstance.status.in_(ACTIVE))
            .group_by(ProcessInstance.process_key)
        ).all()
    )
    out: list[dict[str, Any]] = []
    for kind in KINDS:
        for row in db.session.execute(latest_versions(kind).order_by(ProcessDefinition.key)).scalars():
            out.append(
                {
                    **_summary(row),
                    "versions": version_counts.get((kind, row.key), 1),
                    "running": running.get(row.key, 0) if kind == "bpmn" else None,
                }
            )
    return out


def _summary(row: ProcessDefinition) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "key": row.key,
        "name": row.name,
        "version": row.version,
        "file_name": row.file_name,
        "deployed_by": row.deployed_by,
        "deployed_at": row.deployed_at,
        "comment": row.comment,
        "checksum": row.checksum,
    }


def versions(kind: str, key: str) -> list[dict[str, Any]]:
    """All versions of one definition, newest first, with who/when/comment/checksum and running instances."""
    _check_kind(kind)
    rows = (
        db.session.execute(
            select(ProcessDefinition)
            .where(ProcessDefinition.kind == kind, ProcessDefinition.key == key)
            .order_by(ProcessDefinition.version.desc())
        )
        .scalars()
        .all()
    )
    if not rows:
        raise NotFound("DEFINITION_NOT_FOUND", f"未找到已部署的定义 {key}", {"kind": kind, "key": key})
    running: dict[int, int] = {}
    if kind == "bpmn":
        running = dict(
            db.session.execute(
                select(ProcessInstance.definition_id, func.count())
                .where(ProcessInstance.process_key == key, ProcessInstance.status.in_(ACTIVE))
                .group_by(ProcessInstance.definition_id)
            ).all()
        )
    return [{**_summary(r), "running": running.get(r.id, 0)} for r in rows]


def definition(kind: str, key: str, version: int | None = None) -> ProcessDefinition:
    """One version (the latest when version is None), or NotFound."""
    _check_kind(kind)
    if version is None:
        row = latest_definition(kind, key)
    else:
        row = db.session.execute(
            select(ProcessDefinition).where(
                ProcessDefinition.kind == kind, ProcessDefinition.key == key, ProcessDefinition.version == version
            )
        ).scalar_one_or_none()
    if row is None:
        raise NotFound("DEFINITION_NOT_FOUND", f"未找到 {key} 的版本 {version or '最新'}", {"kind": kind, "key": key})
    return row


def node_counts(row: ProcessDefinition) -> dict[str, dict[str, int]]:
    """Instances of this version waiting on each BPMN element, and open incidents per element."""
    if row.kind != "bpmn":
        return {"waiting": {}, "incidents": {}}
    of_version = ProcessInstance.definition_id == row.id
    waiting: Counter[str] = Counter()
    # User tasks and timers are the bulk of long-lived waits: aggregate their indexed rows in the database.
    for model, open_status in ((HumanTask, "ready"), (ProcessTimer, "pending")):
        waiting.update(
            dict(
                db.session.execute(
                    select(model.task_spec, func.count())
                    .join(ProcessInstance, model.instance_id == ProcessInstance.id)
                    .where(of_version, model.status == open_status)
                    .group_by(model.task_spec)
                ).all()
            )
        )
    # Service-task jobs and message waits have no rows of their own: read them from the instances' wait states.
    statuses = ["running", "error"]
    if "messageEventDefinition" in row.source_xml or "receiveTask" in row.source_xml:
        statuses.append("waiting")
    scan = select(ProcessInstance.waiting_on).where(of_version, ProcessInstance.status.in_(statuses))
    for (waits,) in db.session.execute(scan.execution_options(yield_per=1000)):
        waiting.update(w["task_spec"] for w in waits or () if w.get("kind") in ("service", "message"))
    incidents = dict(
        db.session.execute(
            select(Incident.task_spec, func.count())
            .join(ProcessInstance, Incident.instance_id == ProcessInstance.id)
            .where(of_version, Incident.status == "open")
            .group_by(Incident.task_spec)
        ).all()
    )
    return {"waiting": dict(waiting), "incidents": incidents}


# --- drafts -----------------------------------------------------------------------------------------------


WORKING = ("open", "submitted")  # a draft still in the author's hands or awaiting review


def drafts(author: str) -> list[DiagramDraft]:
    """The author's open and submitted drafts, most recently changed first."""
    return list(
        db.session.execute(
            select(DiagramDraft)
            .where(DiagramDraft.author == author, DiagramDraft.status.in_(WORKING))
            .order_by(DiagramDraft.updated_at.desc())
        ).scalars()
    )


def open_draft(kind: str, key: str, author: str) -> DiagramDraft:
    """The author's open (or submitted) draft of a definition, started from its latest version when there is none."""
    existing = _find_open(kind, key, author)
    if existing is not None:
        return existing
    base = definition(kind, key)
    with transaction():
        draft = DiagramDraft(
            kind=kind,
            key=key,
            file_name=base.file_name,
            base_definition_id=base.id,
            source_xml=base.source_xml,
            author=author,
            status="open",
        )
        db.session.add(draft)
        audit.record("process.draft_open", object_type="diagram_draft", object_id=f"{kind}:{key}")
    return draft


def _find_open(kind: str, key: str, author: str) -> DiagramDraft | None:
    _check_kind(kind)
    return db.session.execute(
        select(DiagramDraft)
        .where(
            DiagramDraft.kind == kind,
            DiagramDraft.key == key,
            DiagramDraft.author == author,
            DiagramDraft.status.in_(WORKING),
        )
        .order_by(DiagramDraft.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def get_draft(draft_id: int, author: str) -> DiagramDraft:
    """One of the author's drafts; another analyst's draft is refused."""
    draft = db.session.get(DiagramDraft, draft_id)
    if draft is None:
        raise NotFound("DRAFT_NOT_FOUND", "草稿不存在", {"draft_id": draft_id})
    if draft.author != author:
        raise Forbidden("DRAFT_NOT_YOURS", "只能操作自己的草稿", {"draft_id": draft_id})
    return draft


def save_draft(draft_id: int, xml: str, author: str) -> DiagramDraft:
    """Store the modeler's current XML in the draft (well-formed XML only; full checks come with validate)."""
    draft = get_draft(draft_id, author)
    check_open(draft)
    _check_xml(xml)
    with transaction():
        draft.source_xml = xml
        draft.problems = None
        draft.updated_at = utcnow()
        audit.record("process.draft_save", object_type="diagram_draft", object_id=f"{draft.kind}:{draft.key}")
    return draft


def discard_draft(draft_id: int, author: str) -> None:
    """Give up a draft; the record stays, marked discarded."""
    draft = get_draft(draft_id, author)
    check_open(draft)
    with transaction():
        draft.status = "discarded"
        draft.updated_at = utcnow()
        audit.record("process.draft_discard", object_type="diagram_draft", object_id=f"{draft.kind}:{draft.key}")


def check_open(draft: DiagramDraft) -> None:
    """Conflict unless the draft is still open for editing."""
    if draft.status == "submitted":
        raise Conflict("DRAFT_SUBMITTED", "该草稿已提交发布审核，撤回提交后才能修改", {"status": draft.status})
    if draft.status != "open":
        raise Conflict("DRAFT_CLOSED", "该草稿已发布或已放弃", {"status": draft.status})


def _check_xml(xml: str) -> None:
    if not isinstance(xml, str) or not xml.strip():
        raise BadRequest("DRAFT_EMPTY", "草稿内容为空")
    if len(xml) > MAX_SOURCE_CHARS:
        raise BadRequest("DRAFT_TOO_LARGE", f"草稿超过 {MAX_SOURCE_CHARS} 个字符")
    try:
        etree.fromstring(xml.encode("utf-8"), parser=etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError as exc:
        raise BadRequest("DRAFT_NOT_XML", f"草稿不是合法的XML: {exc}") from exc


# --- validate and publish ---------------------------------------------------------------------------------


def validate(platform: Platform, kind: str, key: str, file_name: str, xml: str, base_id: int | None = None) -> Report:
    """Run the deploy checks on a source without storing it; problems carry Chinese text and element ids."""
    report = Report(problems=[], warnings=[])
    try:
        _, report.key = validate_source(platform, file_name, xml)
    except DeploymentError as exc:
        report.problems = explain(exc, xml)
        return report
    if report.key != key:
        report.problems.append(
            {
                "code": "KEY_CHANGED",
                "title": PROBLEM_TITLES["KEY_CHANGED"],
                "message": f"标识由 {key} 改为 {report.key}；请保留原标识（新流程请按文件部署）",
                "element": report.key or "",
                "detail": "",
            }
        )
    latest = latest_definition(kind, key)
    if base_id is not None and latest is not None and latest.id != base_id:
        base = db.session.get(ProcessDefinition, base_id)
        report.warnings.append(
            {
                "code": "BASE_OUTDATED",
                "message": f"草稿基于 v{base.version if base else '?'}，当前最新为 v{latest.version}；"
                "发布将以草稿内容为准",
            }
        )
    return report


def validate_draft(platform: Platform, draft_id: int, author: str) -> Report:
    """Validate a draft with the deploy checks and remember how many problems it had."""
    draft = get_draft(draft_id, author)
    report = validate(platform, draft.kind, draft.key, draft.file_name, draft.source_xml, draft.base_definition_id)
    with transaction():
        draft.problems = len(report.problems)
    return report


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise BadRequest("BAD_KIND", "类型只能是 bpmn 或 dmn", {"kind": kind})
