"""Deploying BPMN/DMN files as immutable, numbered definition versions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import defer

from handlers.registry import registry
from integrations.crypto import sm3_hex
from models import ProcessDefinition, db
from processes.engine.definitions import parse_decision, parse_process
from processes.errors import BadRequest, NotFound
from processes.platform import Platform
from processes.unit_of_work import after_commit, transaction


@dataclass
class DeployResult:
    """What one file's deployment did."""

    file_name: str
    kind: str
    key: str
    version: int
    created: bool
    definition_id: int


def latest_definition(kind: str, key: str) -> ProcessDefinition | None:
    """The newest version of a definition, or None (its large XML and spec columns load when first read)."""
    return db.session.execute(
        select(ProcessDefinition)
        .options(defer(ProcessDefinition.source_xml), defer(ProcessDefinition.serialized_spec))
        .where(ProcessDefinition.kind == kind, ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).scalar_one_or_none()


@dataclass(frozen=True)
class ProcessVersion:
    """Which version of a process new instances start on (its facts: `stepping.definition_meta`)."""

    id: int
    version: int


def latest_process(key: str) -> ProcessDefinition:
    """The newest BPMN version of a process key, or NotFound."""
    definition = latest_definition("bpmn", key)
    if definition is None:
        raise NotFound("PROCESS_NOT_FOUND", f"流程 {key} 未部署", {"process_key": key})
    return definition


def latest_version(key: str) -> ProcessVersion:
    """Id and number of the newest BPMN version of a process key, or NotFound (the start of every instance)."""
    row = db.session.execute(_newest_version(), {"key": key}).first()
    if row is None:
        raise NotFound("PROCESS_NOT_FOUND", f"流程 {key} 未部署", {"process_key": key})
    return ProcessVersion(row.id, row.version)


def newest_version(platform: Platform, key: str) -> ProcessVersion:
    """The version new instances of `key` start on, remembered per process. Each start is written only while
    that is still the newest (step_writes), so a version deployed by another process is picked up by the
    first start that finds it stale."""
    known = platform.__dict__.setdefault("_newest_versions", {})
    version = known.get(key)
    if version is None:
        version = known[key] = latest_version(key)
    return version


def forget_newest_version(platform: Platform, key: str) -> None:
    """Look the newest version of `key` up again at the next start."""
    platform.__dict__.get("_newest_versions", {}).pop(key, None)


@cache
def _newest_version() -> Select:
    return (
        select(ProcessDefinition.id, ProcessDefinition.version)
        .where(ProcessDefinition.kind == "bpmn", ProcessDefinition.key == bindparam("key"))
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    )


def latest_versions(kind: str, *columns) -> Select:
    """A select of the newest version of every definition of a kind (whole rows, or the given columns)."""
    newest = (
        select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
        .where(ProcessDefinition.kind == kind)
        .group_by(ProcessDefinition.key)
        .subquery()
    )
    return select(*(columns or (ProcessDefinition,))).join(
        newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v)
    )


def _latest_decisions() -> dict[str, ProcessDefinition]:
    """Latest DMN definition for each decision id it contains."""
    rows = db.session.execute(latest_versions("dmn")).scalars()
    by_decision: dict[str, ProcessDefinition] = {}
    for row in rows:
        for decision_id in row.decision_refs:
            by_decision[decision_id] = row
    return by_decision


def deploy_sources(
    platform: Platform, sources: list[tuple[str, str]], deployed_by: str, comment: str = ""
) -> list[DeployResult]:
    """Validate and store each (file name, XML) pair; DMN first so processes see new decisions.

    An unchanged file makes no new version. A changed DMN redeploys the processes that use it.
    """
    if not sources:
        raise BadRequest("NO_FILES", "没有要部署的文件")
    results: list[DeployResult] = []
    dmn = [(n, x) for n, x in sources if n.lower().endswith(".dmn")]
    bpmn = [(n, x) for n, x in sources if n.lower().endswith(".bpmn")]
    other = [n for n, _ in sources if not n.lower().endswith((".dmn", ".bpmn"))]
    if other:
        raise BadRequest("UNSUPPORTED_FILE", f"只能部署 .bpmn 和 .dmn 文件: {', '.join(other)}")
    with transaction():
        changed_decisions: set[str] = set()
        for name, xml in dmn:
            result = _deploy_decision(name, xml, deployed_by, comment)
            results.append(result)
            if result.created:
                changed_decisions.update(db.session.get(ProcessDefinition, result.definition_id).decision_refs)
        pending = {name: xml for name, xml in bpmn}
        if changed_decisions:
            for dependant in _processes_using(changed_decisions):
                pending.setdefault(dependant.file_name, dependant.source_xml)
        for name, xml in pending.items():
            results.append(_deploy_process(platform, name, xml, deployed_by, comment))
    return results


def deploy_files(platform: Platform, paths: list[Path], deployed_by: str, comment: str = "") -> list[DeployResult]:
    """Deploy files from disk."""
    return deploy_sources(platform, [(p.name, p.read_text(encoding="utf-8")) for p in paths], deployed_by, comment)


def _processes_using(decision_ids: set[str]) -> list[ProcessDefinition]:
    rows = db.session.execute(latest_versions("bpmn")).scalars()
    return [r for r in rows if set(r.meta.get("decisions", [])) & decision_ids]


def _deploy_decision(name: str, xml: str, deployed_by: str, comment: str) -> DeployResult:
    parsed = parse_decision(xml, name)
    checksum = sm3_hex(xml)
    latest = latest_definition("dmn", parsed.key)
    if latest is not None and latest.checksum == checksum:
        return DeployResult(name, "dmn", parsed.key, latest.version, False, latest.id)
    row = ProcessDefinition(
        kind="dmn",
        key=parsed.key,
        version=(latest.version + 1) if latest else 1,
        name=parsed.name,
        file_name=name,
        checksum=checksum,
        source_xml=xml,
        serialized_spec=None,
        decision_refs=parsed.decision_ids,
        meta={},
        deployed_by=deployed_by,
        comment=comment,
    )
    db.session.add(row)
    db.session.flush()
    return DeployResult(name, "dmn", row.key, row.version, True, row.id)


def _deploy_process(platform: Platform, name: str, xml: str, deployed_by: str, comment: str) -> DeployResult:
    decisions = _latest_decisions()
    dmn_sources = {d.file_name: d.source_xml for d in {id(d): d for d in decisions.values()}.values()}
    parsed = parse_process(xml, name, dmn_sources, registry(), platform.forms)
    used = sorted({decisions[d].id for d in parsed.decisions if d in decisions})
    # The checksum covers the decisions used, so a new DMN version yields a new process version.
    checksum = sm3_hex(xml + "".join(f"|dmn:{i}" for i in used))
    latest = latest_definition("bpmn", parsed.key)
    if latest is not None and latest.checksum == checksum:
        return DeployResult(name, "bpmn", parsed.key, latest.version, False, latest.id)
    version = (latest.version + 1) if latest else 1
    row = ProcessDefinition(
        kind="bpmn",
        key=parsed.key,
        version=version,
        name=parsed.name,
        file_name=name,
        checksum=checksum,
        source_xml=xml,
        serialized_spec=platform.engine.serializer.dump_specs(parsed.spec, parsed.subprocess_specs),
        decision_refs=used,
        deployed_by=deployed_by,
        comment=comment,
        meta={
            "version": version,
            "public_variables": parsed.public_variables,
            "start_form": parsed.start_form,
            "user_tasks": parsed.user_tasks,
            "operators": sorted(set(parsed.operators)),
            "decisions": parsed.decisions,
        },
    )
    db.session.add(row)
    db.session.flush()
    # Only cache after commit: a rolled-back id may be handed out again to another definition.
    after_commit(lambda: platform.specs.put(row.id, (parsed.spec, parsed.subprocess_specs)))
    after_commit(lambda: forget_newest_version(platform, row.key))
    return DeployResult(name, "bpmn", row.key, row.version, True, row.id)


def validate_source(platform: Platform, name: str, xml: str) -> tuple[str, str]:
    """Check one file exactly as deploy_sources would, storing nothing; returns (kind, key).

    A DMN file is also checked against every process that uses its decisions (deploying it redeploys them).
    DeploymentError lists the problems; BadRequest for a file that is neither .bpmn nor .dmn.
    """
    lower = name.lower()
    if lower.endswith(".bpmn"):
        decisions = _latest_decisions()
        dmn_sources = {d.file_name: d.source_xml for d in {id(d): d for d in decisions.values()}.values()}
        return "bpmn", parse_process(xml, name, dmn_sources, registry(), platform.forms).key
    if not lower.endswith(".dmn"):
        raise BadRequest("UNSUPPORTED_FILE", f"只能部署 .bpmn 和 .dmn 文件: {name}")
    parsed = parse_decision(xml, name)
    rows = db.session.execute(latest_versions("dmn")).scalars().all()
    dmn_sources = {r.file_name: r.source_xml for r in rows if r.key != parsed.key}
    dmn_sources[name] = xml
    for dependant in _processes_using(
        set(parsed.decision_ids) | {d for r in rows if r.key == parsed.key for d in r.decision_refs}
    ):
        parse_process(dependant.source_xml, dependant.file_name, dmn_sources, registry(), platform.forms)
    return "dmn", parsed.key
