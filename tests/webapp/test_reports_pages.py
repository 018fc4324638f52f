"""Statistics and query pages through the Flask client, signed in for real; permission refusals (403)."""

from __future__ import annotations

import io
import re
from datetime import date

import openpyxl
import pytest

from models import db
from tests.processes.test_queries import _call
from tests.processes.test_reports import ID1, ZONE, at, build_fixture, clear_report_tables, today
from tests.support import off_site_references
from tests.webapp.auth_support import csrf_token, sign_in

MARCH = "start=2026-03-01&end=2026-03-31"


@pytest.fixture
def data(app):
    from processes.reports.summary import refresh

    with app.app_context():
        build_fixture()
        _call("elicence", "push_permit", "JZ1", at(3, 11, 11))
        refresh(date(2025, 1, 1), today(), ZONE)
        db.session.commit()
    yield app
    with app.app_context():
        clear_report_tables()


def test_report_pages_show_tables_charts_and_print_view(data):
    client = data.test_client()
    sign_in(client, "analyst01")
    index = client.get("/reports/").get_data(as_text=True)
    assert 'id="nav-reports"' in index and 'id="nav-queries"' in index and "report-cycle" in index
    page = client.get(f"/reports/cycle?{MARCH}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<svg" in html and off_site_references(html) == []  # charts drawn on the server, nothing fetched
    assert re.search(r"<td>2026-03</td><td class=\"num\">2</td><td class=\"num\">7.0</td>", html)
    assert 'data-print id="print"' in html and 'id="export-xlsx"' in html
    for name in ("production", "deregistrations", "validity", "business", "deaths"):
        assert client.get(f"/reports/{name}?{MARCH}").status_code == 200, name


def test_report_excel_export_reads_back(data):
    client = data.test_client()
    sign_in(client, "analyst01")
    response = client.get(f"/reports/cycle.xlsx?{MARCH}")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    header = next(i for i, r in enumerate(rows) if r[0] == "期间")
    assert rows[header + 1][:3] == ["2026-03", 2, 7]
    assert rows[header + 2][:2] == ["合计", 2]
    assert book.worksheets[1]["A1"].value.endswith("各环节平均处理时长")


def test_bad_period_is_a_422_with_a_code(data):
    client = data.test_client()
    sign_in(client, "analyst01")
    response = client.get("/reports/cycle?start=2026-04-01&end=2026-03-01")
    assert response.status_code == 422
    assert 'data-code="PERIOD_INVALID"' in response.get_data(as_text=True)
    assert client.get("/reports/nope").status_code == 404


def test_roles_without_report_permissions_are_refused(data):
    clerk = data.test_client()
    sign_in(clerk, "clerk01")
    assert clerk.get("/reports/").status_code == 403
    assert clerk.get("/queries/elicence").status_code == 403
    assert 'id="nav-reports"' not in clerk.get("/").get_data(as_text=True)
    sysadmin = data.test_client()
    sign_in(sysadmin, "sysadmin")  # may look, may not export
    assert sysadmin.get(f"/reports/cycle?{MARCH}").status_code == 200
    assert sysadmin.get(f"/reports/cycle.xlsx?{MARCH}").status_code == 403
    token = csrf_token(sysadmin)
    assert sysadmin.post("/queries/elicence/export", data={"csrf_token": token}).status_code == 403
    anonymous = data.test_client().get("/reports/")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_query_page_masks_and_a_viewer_without_unmask_cannot_unmask(data):
    client = data.test_client()
    sign_in(client, "analyst01")  # analysts may query but hold no person.unmask
    html = client.get("/queries/elicence?permit_no=JZ1&unmask=1").get_data(as_text=True)
    assert "110101********0011" in html and ID1 not in html
    assert 'id="f-unmask"' not in html
    assert client.get("/queries/elicence?id_number=123").status_code == 400  # finding 20: never in a URL
    bad = client.post("/queries/elicence", data={"csrf_token": csrf_token(client), "id_number": "123"})
    assert bad.status_code == 422 and "QUERY_FILTER_INVALID" in bad.get_data(as_text=True)
    found = client.post("/queries/elicence", data={"csrf_token": csrf_token(client), "id_number": ID1})
    found_html = found.get_data(as_text=True)
    assert found.status_code == 200 and "JZ1" in found_html and f"id_number={ID1}" not in found_html
    assert "共 2 条" in client.get("/queries/deaths").get_data(as_text=True)


def test_export_runs_in_the_background_with_progress_then_downloads(data, drain):
    client = data.test_client()
    sign_in(client, "analyst01")
    response = client.post(
        "/queries/elicence/export",
        data={"csrf_token": csrf_token(client), "permit_no": "JZ1"},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 202
    job = response.get_json()
    drain()
    status = client.get(f"/queries/exports/{job['id']}/status").get_json()
    assert status["status"] == "done" and status["done"] == 1 and status["download"]
    page = client.get(f"/queries/exports/{job['id']}").get_data(as_text=True)
    assert 'id="export-progress"' in page and 'id="export-download"' in page
    file = client.get(status["download"])
    assert file.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(file.data), read_only=True).active
    assert any(row and row[0] == "JZ1" for row in sheet.iter_rows(values_only=True))
    with data.app_context():
        from processes.platform import get_platform
        from processes.queries.exports import export_dir

        (export_dir(get_platform().settings) / f"{job['id']}.xlsx").unlink()
    other = data.test_client()
    sign_in(other, "sysadmin")
    assert other.get(f"/queries/exports/{job['id']}/status").status_code == 403  # no report.export at all


def test_monthly_report_page(data):
    from processes.reports.monthly import generate_monthly

    with data.app_context():
        generate_monthly("2026-03", ZONE, "test")
        db.session.commit()
    client = data.test_client()
    sign_in(client, "analyst01")
    assert "monthly-2026-03" in client.get("/reports/").get_data(as_text=True)
    html = client.get("/reports/monthly/2026-03").get_data(as_text=True)
    assert "2026-03 月报" in html and "制证周期（申请至发证）" in html
    assert client.get("/reports/monthly/2026-03.xlsx").status_code == 200
    assert client.get("/reports/monthly/2020-01").status_code == 404
