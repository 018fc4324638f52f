"""Analyst workspace (zh-CN): versions, diagrams with running counts, modeler, four-eyes publication, compare."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, request, url_for

from processes import design, design_review
from processes.design_compare import compare_sources, compare_versions, element_names
from processes.errors import BadRequest, Conflict, DeploymentError, ValidationFailed
from processes.platform import get_platform
from webapp.auth.guard import current_staff, require_permission
from webapp.staff import local_time

analyst = Blueprint("analyst", __name__, url_prefix="/analyst")

KIND_NAMES = {"bpmn": "流程", "dmn": "决策表"}


@analyst.app_template_filter("analyst_time")
def analyst_time(value: Any) -> str:
    """A stored UTC time as Shanghai local time (the shell's own helper)."""
    return local_time(value)


def _me() -> str:
    staff = current_staff()
    assert staff is not None  # require_permission let the request through
    return staff.username


def _json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("BAD_JSON", "请求内容应为JSON对象")
    return body


@analyst.get("/")
@require_permission("process.view")
def index() -> Any:
    """Every process and decision file with its latest version, and my open drafts."""
    return render_template(
        "analyst/index.html", items=design.catalogue(), drafts=design.drafts(_me()), kind_names=KIND_NAMES
    )


@analyst.get("/<kind>/<key>")
@require_permission("process.view")
def versions(kind: str, key: str) -> Any:
    """The version history of one definition: who published when, with what comment and checksum."""
    rows = design.versions(kind, key)
    return render_template("analyst/versions.html", kind=kind, key=key, rows=rows, kind_names=KIND_NAMES)


@analyst.get("/<kind>/<key>/v<int:version>")
@require_permission("process.view")
def diagram(kind: str, key: str, version: int) -> Any:
    """One version's diagram; for a process, running instances and open incidents on each node."""
    row = design.definition(kind, key, version)
    counts = design.node_counts(row)
    return render_template(
        "analyst/diagram.html",
        row=row,
        counts=counts,
        total_waiting=sum(counts["waiting"].values()),
        total_incidents=sum(counts["incidents"].values()),
        names=element_names(row.source_xml) if counts["waiting"] or counts["incidents"] else {},
        kind_names=KIND_NAMES,
    )


@analyst.get("/<kind>/<key>/v<int:version>/source")
@require_permission("process.view")
def source(kind: str, key: str, version: int) -> Response:
    """The stored XML of one version, as a download."""
    row = design.definition(kind, key, version)
    return Response(
        row.source_xml,
        mimetype="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{key}.v{version}.{kind}"'},
    )


@analyst.get("/<kind>/<key>/compare")
@require_permission("process.view")
def compare(kind: str, key: str) -> Any:
    """Element-level differences between two versions, side by side for processes."""
    rows = design.versions(kind, key)
    newest = rows[0]["version"]
    try:
        new = int(request.args.get("new", newest))
        old = int(request.args.get("old", max(new - 1, 1)))
    except ValueError as exc:
        raise BadRequest("BAD_VERSION", "版本号应为整数") from exc
    diff = compare_versions(kind, key, old, new)
    return render_template(
        "analyst/compare.html", kind=kind, key=key, diff=diff, rows=rows, kind_names=KIND_NAMES, old=old, new=new
    )


@analyst.post("/<kind>/<key>/draft")
@require_permission("process.design")
def start_draft(kind: str, key: str) -> Any:
    """Open (or reopen) my draft of a definition and go to the modeler."""
    draft = design.open_draft(kind, key, _me())
    return redirect(url_for("analyst.modeler", draft_id=draft.id))


@analyst.get("/drafts/<int:draft_id>")
@require_permission("process.design")
def modeler(draft_id: int) -> Any:
    """The BPMN or DMN modeler on one of my drafts."""
    draft = design.get_draft(draft_id, _me())
    base = design.versions(draft.kind, draft.key)[0]
    return render_template("analyst/modeler.html", draft=draft, latest=base, kind_names=KIND_NAMES)


@analyst.post("/drafts/<int:draft_id>/save")
@require_permission("process.design")
def save(draft_id: int) -> Any:
    """Store the modeler's XML in the draft."""
    draft = design.save_draft(draft_id, _json_body().get("xml", ""), _me())
    return jsonify({"ok": True, "draft_id": draft.id, "updated_at": draft.updated_at.isoformat()})


@analyst.post("/drafts/<int:draft_id>/validate")
@require_permission("process.design")
def validate(draft_id: int) -> Any:
    """Run the deploy checks on the stored draft; problems name elements to highlight."""
    return jsonify(design.validate_draft(get_platform(), draft_id, _me()).as_dict())


@analyst.post("/drafts/<int:draft_id>/submit")
@require_permission("process.design")
def submit(draft_id: int) -> Any:
    """Submit my validated draft for publication (mandatory comment); another analyst must approve it."""
    draft = design_review.submit_draft(get_platform(), draft_id, _json_body().get("comment"), _me())
    return jsonify({"ok": True, "status": draft.status, "url": url_for("analyst.modeler", draft_id=draft.id)})


@analyst.post("/drafts/<int:draft_id>/withdraw")
@require_permission("process.design")
def withdraw(draft_id: int) -> Any:
    """Take my submitted draft back to edit it."""
    design_review.withdraw_submission(draft_id, _me())
    flash("已撤回发布申请，可以继续编辑", "success")
    return redirect(url_for("analyst.modeler", draft_id=draft_id))


@analyst.get("/reviews")
@require_permission("process.publish")
def reviews() -> Any:
    """Drafts awaiting publication review (one's own are listed but cannot be reviewed by oneself)."""
    return render_template("analyst/reviews.html", drafts=design_review.review_queue(), me=_me(), kind_names=KIND_NAMES)


@analyst.get("/reviews/<int:draft_id>")
@require_permission("process.publish")
def review(draft_id: int) -> Any:
    """A submitted draft: its diagram, the author's comment and its differences from the latest version."""
    draft = design_review.submission(draft_id)
    latest = design.definition(draft.kind, draft.key)
    return render_template(
        "analyst/review.html",
        draft=draft,
        latest=latest,
        diff=compare_sources(latest.source_xml, draft.source_xml),
        own=design_review.own_submission(draft, _me()),
        kind_names=KIND_NAMES,
    )


@analyst.post("/reviews/<int:draft_id>/approve")
@require_permission("process.publish")
def approve(draft_id: int) -> Any:
    """Approve another analyst's submitted draft: it is deployed as a new version."""
    staff = current_staff()
    try:
        results = design_review.approve(
            get_platform(), draft_id, _me(), staff.permissions, request.form.get("note", "")
        )
    except (Conflict, DeploymentError, ValidationFailed) as exc:
        flash(f"{exc.message}（{exc.code}）", "error")
        return redirect(url_for("analyst.review", draft_id=draft_id))
    mine = results[0]
    flash(f"已审核发布 {mine.key} v{mine.version}，新启动的实例将使用该版本", "success")
    return redirect(url_for("analyst.versions", kind=mine.kind, key=mine.key))


@analyst.post("/reviews/<int:draft_id>/reject")
@require_permission("process.publish")
def reject(draft_id: int) -> Any:
    """Send another analyst's submitted draft back with a reason."""
    staff = current_staff()
    try:
        design_review.reject(draft_id, _me(), staff.permissions, request.form.get("reason", ""))
    except (Conflict, ValidationFailed) as exc:
        flash(f"{exc.message}（{exc.code}）", "error")
        return redirect(url_for("analyst.review", draft_id=draft_id))
    flash("已退回草稿，作者可修改后重新提交", "success")
    return redirect(url_for("analyst.reviews"))


@analyst.post("/drafts/<int:draft_id>/discard")
@require_permission("process.design")
def discard(draft_id: int) -> Any:
    """Give up a draft."""
    design.discard_draft(draft_id, _me())
    return redirect(url_for("analyst.index"))
