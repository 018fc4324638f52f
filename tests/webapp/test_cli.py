"""The permitflow command: config listing, deployment errors and success, migrations."""

from __future__ import annotations

from click.testing import CliRunner

from processes.platform import BPMN_DIR
from processes.schedules import SCHEDULES
from webapp.cli import main


def _env(database_url: str, simulator_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator_url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "JOB_MODE": "eager",
        "REDIS_URL": "",
    }


def test_config_lists_every_key():
    result = CliRunner().invoke(main, ["config"])
    assert result.exit_code == 0 and "| `DATABASE_URL` |" in result.output and "| `REDIS_URL` |" in result.output


def test_deploy_reports_each_problem_and_exits_nonzero(tmp_path, app, database_url, simulator):
    broken = tmp_path / "broken.bpmn"
    source = (BPMN_DIR / "residence_registration.bpmn").read_text(encoding="utf-8")
    broken.write_text(source.replace('id="hrss.check_insurance"', 'id="nope.op"'), encoding="utf-8")
    result = CliRunner().invoke(main, ["deploy", str(broken)], env=_env(database_url, simulator.url))
    assert result.exit_code == 1
    assert "UNKNOWN_OPERATOR" in result.output and "nope.op" in result.output


def test_deploy_and_upgrade_are_repeatable(app, database_url, simulator):
    env = _env(database_url, simulator.url)
    upgrade = CliRunner().invoke(main, ["db", "upgrade"], env=env)
    assert upgrade.exit_code == 0 and "revision 0" in upgrade.output
    deploy = CliRunner().invoke(main, ["deploy"], env=env)
    assert deploy.exit_code == 0, deploy.output
    assert "residence_registration" in deploy.output


def test_schedules_start_once(app, database_url, simulator):
    env = _env(database_url, simulator.url)
    first = CliRunner().invoke(main, ["schedules"], env=env)
    second = CliRunner().invoke(main, ["schedules"], env=env)
    assert first.exit_code == 0, first.output
    expected = len(SCHEDULES)  # every standing schedule (endorsement, deregistration sweep, reports, …)
    assert expected >= 3
    assert first.output.count("(started)") == expected and second.output.count("(already running)") == expected
