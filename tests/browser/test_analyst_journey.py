"""Analyst journey in the browser: processes, diagram with running counts, modeler edit → draft → validate →
submit → a second analyst reviews and publishes → new version visible and compared; and every shipped diagram
survives a modeler round trip."""

from __future__ import annotations

import re

from sqlalchemy import select

from models import ProcessDefinition, db
from processes.deployment import deploy_sources, latest_process, validate_source
from processes.design_compare import compare_sources
from processes.instances import start_instance
from processes.platform import BPMN_DIR, get_platform
from processes.stepping import Actor
from tests.browser.support import shot, sign_in
from tests.support import application
from tests.support import person as sim_person

KEY = "residence_registration"
SOURCE = (BPMN_DIR / f"{KEY}.bpmn").read_text(encoding="utf-8")


def _start_registration(server, n: int = 0) -> None:
    with server.app.app_context():
        start_instance(
            get_platform(server.app), KEY, f"BK-BR{n}", application(sim_person("long", n)), Actor("ops", "ops:browser")
        )


def test_analyst_edits_validates_and_submits_a_diagram_another_analyst_publishes(page, browser, server):
    _start_registration(server)
    with server.app.app_context():
        before = latest_process(KEY).version
    sign_in(page, server, "analyst")
    page.goto(server.url + "/analyst/")
    page.wait_for_selector("#pf-catalogue")
    assert page.locator(f'#pf-catalogue tr[data-key="{KEY}"]').count() == 1
    shot(page, "analyst-processes")

    # The diagram shows the instance waiting at the clerk review as a badge on that node.
    page.goto(server.url + f"/analyst/bpmn/{KEY}/v{before}")
    page.wait_for_selector('#pf-viewer[data-diagram-ready="true"]')
    badge = page.locator('.djs-overlays[data-container-id="Task_clerk_review"] .pf-count')
    assert badge.inner_text() == "1"
    shot(page, "analyst-diagram-counts")

    # Edit in the modeler: rename the review task by direct editing on the canvas.
    page.goto(server.url + f"/analyst/bpmn/{KEY}")
    page.click("#pf-edit")
    page.wait_for_selector('#pf-canvas[data-modeler-ready="true"]')
    # Zoom to 100 % on the task first, as a person would (the whole diagram is fitted to the screen on opening).
    page.evaluate(
        """() => {
          const canvas = pfModeler.get('canvas');
          canvas.zoom(1);
          canvas.scrollToElement(pfModeler.get('elementRegistry').get('Task_clerk_review'));
        }"""
    )
    page.dblclick('g.djs-element[data-element-id="Task_clerk_review"]', position={"x": 15, "y": 12})
    editor = page.locator(".djs-direct-editing-parent")
    editor.wait_for()
    page.keyboard.press("Control+A")
    page.keyboard.type("网点审核（浏览器改）")
    page.click(".djs-container svg", position={"x": 5, "y": 5})
    assert "有未保存的修改" in page.inner_text("#pf-status")
    page.click("#pf-save")
    page.wait_for_selector("#pf-status.pf-ok")

    # A broken condition (as the properties panel would set it) is reported in Chinese on the faulty flow.
    page.evaluate(
        """() => {
          const flow = pfModeler.get('elementRegistry').get('Flow_valid');
          pfModeler.get('modeling').updateModdleProperties(flow, flow.businessObject.conditionExpression,
            {body: "validation['ok'"});
        }"""
    )
    page.click("#pf-validate")
    problem = page.locator('#pf-problems li[data-code="BAD_CONDITION"]')
    problem.wait_for()
    assert problem.get_attribute("data-element") == "Flow_valid" and "语法错误" in problem.inner_text()
    assert page.locator('g.djs-connection.pf-error[data-element-id="Flow_valid"]').count() == 1
    shot(page, "analyst-modeler-validation")
    page.click("#pf-submit")  # no comment yet: refused on the page
    assert "变更说明" in page.inner_text("#pf-status")

    # Leave the comment field the refusal focused, click the canvas (which takes the keyboard) and undo.
    page.click(".djs-container svg", position={"x": 5, "y": 5})
    page.keyboard.press("Control+Z")  # undo the broken condition; the rename stays
    page.click("#pf-validate")
    page.wait_for_selector("#pf-status.pf-ok")
    assert "校验通过" in page.inner_text("#pf-status")
    page.fill("#pf-comment", "审核任务改名（浏览器测试）")
    draft_url = page.url
    page.click("#pf-submit")
    page.wait_for_selector("#pf-submitted")  # four-eyes: submitted, not deployed
    assert page.locator("#pf-save").count() == 0
    with server.app.app_context():
        assert latest_process(KEY).version == before
    draft_id = int(draft_url.rstrip("/").rsplit("/", 1)[1])
    page.goto(server.url + f"/analyst/reviews/{draft_id}")
    assert page.locator("#pf-own-draft").count() == 1 and page.locator("#pf-approve").count() == 0
    shot(page, "analyst-submitted")

    # A second analyst reviews the submission: the draft's diagram, its differences, then approves it.
    reviewer = _second_analyst(browser, server)
    try:
        reviewer.goto(server.url + "/analyst/reviews")
        reviewer.click(f"#review-{draft_id}")
        reviewer.wait_for_selector('#pf-viewer[data-diagram-ready="true"]')
        assert "网点审核（浏览器改）" in reviewer.inner_text('#pf-diff-table tr[data-element="Task_clerk_review"]')
        assert "审核任务改名（浏览器测试）" in reviewer.inner_text("#pf-submit-comment")
        shot(reviewer, "analyst-review")
        reviewer.fill("#pf-note", "已核对改名")
        reviewer.click("#pf-approve")
        reviewer.wait_for_url(re.compile(rf".*/analyst/bpmn/{KEY}$"))
        row = reviewer.locator(f'#pf-version-table tr[data-version="{before + 1}"]')
        assert "审核任务改名（浏览器测试）" in row.inner_text()
        shot(reviewer, "analyst-versions")
        with server.app.app_context():
            new = db.session.execute(
                select(ProcessDefinition).where(ProcessDefinition.key == KEY, ProcessDefinition.version == before + 1)
            ).scalar_one()
            assert new.deployed_by == "analyst02" and "网点审核（浏览器改）" in new.source_xml
        reviewer.click(f'#pf-version-table tr[data-version="{before + 1}"] >> text=与上一版比较')
        reviewer.wait_for_selector('#pf-new-diagram[data-diagram-ready="true"]')
        changed = reviewer.locator('#pf-diff-table tr.pf-diff-changed[data-element="Task_clerk_review"]')
        assert "网点审核（浏览器改）" in changed.inner_text()
        assert reviewer.locator('#pf-new-diagram g.djs-element.pf-changed[data-element-id="Task_clerk_review"]').count()
        shot(reviewer, "analyst-compare")
        reviewer.click('#pf-diff-table tr[data-element="Task_clerk_review"]')  # centers it in both, zoomed together
        zooms = reviewer.evaluate(
            "() => ['pf-old-diagram', 'pf-new-diagram'].map(id => document.getElementById(id).pfViewer"
            ".get('canvas').zoom())"
        )
        assert zooms[0] == zooms[1] and zooms[0] >= 0.8
        assert reviewer.js_errors == []
    finally:
        reviewer.context.close()
        with server.app.app_context():
            deploy_sources(get_platform(server.app), [(f"{KEY}.bpmn", SOURCE)], "tests", "restore")
    assert page.js_errors == []


def _second_analyst(browser, server):
    """A separate browser session signed in as the second demo analyst (analyst02), through the login pages."""
    from tests.browser.conftest import VIEWPORT
    from tests.webapp.auth_support import TEST_PASSWORD, demo_key, ensure_demo_user

    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.js_errors = []
    tab.on("pageerror", lambda exc: tab.js_errors.append(str(exc)))
    ensure_demo_user(server.app, "analyst02")
    tab.goto(server.url + "/login")
    tab.fill("#username", "analyst02")
    tab.fill("#password", TEST_PASSWORD)
    tab.click("#login-submit")
    tab.wait_for_url("**/login/factor**")
    if tab.locator("#ukey-challenge").count() == 0:
        tab.click("#tab-ukey")
    challenge = tab.get_attribute("#ukey-challenge", "data-challenge")
    tab.fill("#signature", demo_key("analyst02").sign(bytes.fromhex(challenge)).hex())
    tab.click("#ukey-submit")
    tab.wait_for_selector("#current-user")
    return tab


def test_every_shipped_diagram_survives_a_modeler_round_trip(page, server):
    """What the modeler saves still passes the deploy checks and keeps every element as it was."""
    page.goto(server.url + "/static/js/diagram.js")  # any page of ours, for same-origin script loading
    page.set_content('<div id="c" style="width:1200px;height:700px"></div>')
    page.add_script_tag(url=server.url + "/static/vendor/bpmn-js/bpmn-modeler.production.min.js")
    page.add_script_tag(url=server.url + "/static/vendor/dmn-js/dmn-modeler.production.min.js")
    files = sorted([*BPMN_DIR.glob("*.bpmn"), *BPMN_DIR.glob("*.dmn")])
    with server.app.app_context():
        for path in files:
            original = path.read_text(encoding="utf-8")
            saved = page.evaluate(
                """async ([xml, dmn]) => {
                  const Tool = dmn ? DmnJS : BpmnJS;
                  const modeler = new Tool({container: document.getElementById('c')});
                  const result = await modeler.importXML(xml);
                  const out = await modeler.saveXML({format: true});
                  modeler.destroy();
                  return {warnings: result.warnings.length, xml: out.xml};
                }""",
                [original, path.suffix == ".dmn"],
            )
            assert saved["warnings"] == 0, path.name
            validate_source(get_platform(server.app), path.name, saved["xml"])
            diff = compare_sources(original, saved["xml"])
            assert (diff["added"], diff["removed"], diff["changed"]) == ([], [], []), (path.name, diff)


def test_analyst_views_and_edits_a_decision_table(page, server):
    sign_in(page, server, "analyst")
    with server.app.app_context():
        key = (
            db.session.execute(
                select(ProcessDefinition.key).where(
                    ProcessDefinition.kind == "dmn", ProcessDefinition.file_name == "endorsement_rules.dmn"
                )
            )
            .scalars()
            .first()
        )
    page.goto(server.url + f"/analyst/dmn/{key}")
    page.click("#pf-version-table tr >> nth=1 >> text=查看")
    page.wait_for_selector('#pf-dmn-viewer[data-diagram-ready="true"]')
    assert page.locator("#pf-dmn-viewer .tjs-table").count() == 1  # the decision table itself
    shot(page, "analyst-dmn-view")
    page.goto(server.url + f"/analyst/dmn/{key}")
    page.click("#pf-edit")
    page.wait_for_selector('#pf-canvas[data-modeler-ready="true"]')
    page.click("#pf-validate")
    page.wait_for_selector("#pf-status.pf-ok")
    assert "校验通过" in page.inner_text("#pf-status")
    shot(page, "analyst-dmn-modeler")
    assert page.js_errors == []
