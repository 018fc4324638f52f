"""`permitflow demo-data --scale N` adds N persons' history and rebuilds the statistics."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import func, select

from models import Permit, ProcessEvent, db
from models.reports import ReportDailyStat
from tests.processes.test_reports import clear_report_tables
from webapp.cli import main


def test_demo_data_scale(app, database_url, simulator):
    env = {
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator.url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "JOB_MODE": "eager",
        "REDIS_URL": "",
    }
    result = CliRunner().invoke(main, ["demo-data", "--scale", "40", "--workers", "1"], env=env)
    assert result.exit_code == 0, result.output
    assert "40/40 persons" in result.output and "scale data:" in result.output
    with app.app_context():
        permits = db.session.execute(select(func.count()).select_from(Permit)).scalar_one()
        events = db.session.execute(select(func.count()).select_from(ProcessEvent)).scalar_one()
        facts = db.session.execute(select(func.count()).select_from(ReportDailyStat)).scalar_one()
        assert permits >= 40 and events >= 4 * 40 and facts > 0
        clear_report_tables()
    bad = CliRunner().invoke(main, ["demo-data", "--scale", "0"], env=env)
    assert bad.exit_code != 0
