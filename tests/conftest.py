"""Shared fixtures: a real simulators subprocess, the database under test (SQLite or PostgreSQL), apps.

The backend comes from the environment, as `.ci/run` sets it:
  DATABASE_URL=postgresql+psycopg://…  → a fresh database is created for the session and dropped after;
  REDIS_URL=redis://…                 → jobs go through RQ (relayed and worked by `drain`).
Neither set → SQLite in a temporary folder with jobs run eagerly in-process.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import Settings
from integrations.simulators.server import SimulatorProcess, start_subprocess

# Fixture modules shared by several test packages (SMS apps, the permit_app fixture).
pytest_plugins = ("tests.sms_fixtures", "tests.processes.permit_fixtures")

TESTS = Path(__file__).resolve().parent
ENV_DATABASE_URL = os.environ.get("DATABASE_URL", "")
ENV_REDIS_URL = os.environ.get("REDIS_URL", "")
CLEAN_ORDER = (  # children before parents (SQLite deletes in this order); append-only logs and seeds stay
    "change_request",
    "death_list_row",
    "death_list_import",
    "export_job",
    "monthly_report",
    "report_daily_stat",
    "report_refresh",
    "gateway_nonce",
    "mca_nonce",
    "mca_submission",
    "diagram_draft",
    "case_scope",
    "uploaded_file",
    "production_item",
    "production_batch",
    "endorsement",
    "permit",
    "deregistration",
    "residence_registration",
    "photo",
    "person",
    "sms_status_event",
    "sms_message",
    "sms_block",
    "sms_template",
    "human_task",
    "process_event",
    "process_timer",
    "outbox_job",
    "incident",
    "process_instance",
    "integration_call",
    "channel_client",
    "login_attempt",
    "password_history",
    "staff_session",
    "app_user",
)


def pytest_report_header(config) -> str:
    """Say which backend this run uses."""
    db = make_url(ENV_DATABASE_URL).get_backend_name() if ENV_DATABASE_URL else "sqlite"
    return f"permitflow backend: database={db} jobs={'rq' if ENV_REDIS_URL else 'eager'}"


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorProcess]:
    """The simulators as a real HTTP service on a loopback port."""
    process = start_subprocess()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    """A fresh, empty database for this session."""
    if not ENV_DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        return
    import psycopg

    url = make_url(ENV_DATABASE_URL)
    name = f"permitflow_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin_dsn = (
        f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'} dbname=postgres"
    )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for_tests(database_url: str, simulator_url: str, **overrides) -> Settings:
    """Settings for a test app: fast retries, quiet logs, the session's database and simulators."""
    values = {
        "PERMITFLOW_ENV": "test",
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator_url,
        "JOB_MODE": "rq" if ENV_REDIS_URL else "eager",
        "REDIS_URL": ENV_REDIS_URL,
        "JOB_QUEUE": f"permitflow-test-{os.getpid()}",
        "LOG_JSON": False,
        "LOG_LEVEL": "WARNING",
        "HTTP_RETRIES": 0,
        "HTTP_READ_TIMEOUT": 3.0,
        "SERVICE_TASK_BACKOFF_SECONDS": 0.01,
        "SERVICE_TASK_MAX_ATTEMPTS": 3,
        "SERVICE_TASK_RETRY_OVERRIDES": "hrss.check_insurance=3/0.01",
        "CIRCUIT_FAILURES": 1000,
    }
    values.update(overrides)
    return Settings.from_env(environ={}, **values)


@pytest.fixture(scope="session")
def make_app(database_url: str, simulator: SimulatorProcess) -> Callable:
    """Factory of apps on the session database (migrated and deployed once)."""
    from models.schema import upgrade
    from processes.deployment import deploy_files
    from processes.platform import BPMN_DIR, get_platform
    from webapp import create_app

    state = {"ready": False}

    def factory(**overrides):
        app = create_app(settings_for_tests(database_url, simulator.url, **overrides))
        if not state["ready"]:
            with app.app_context():
                upgrade()
                deploy_files(get_platform(app), sorted([*BPMN_DIR.glob("*.dmn"), *BPMN_DIR.glob("*.bpmn")]), "tests")
            state["ready"] = True
        return app

    return factory


@pytest.fixture
def app(make_app, simulator):
    """A clean app per test: business tables emptied, simulator faults cleared."""
    application = make_app()
    yield application
    clean(application)
    import requests

    requests.delete(simulator.url + "/_admin/faults", timeout=5)


def clean(application) -> None:
    """Empty every business table (definitions stay deployed) and the test queue."""
    from models import db

    with application.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(CLEAN_ORDER)} RESTART IDENTITY CASCADE"))
        else:
            for table in CLEAN_ORDER:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
        runner = application.extensions["permitflow"].jobs
        if getattr(runner, "queue", None) is not None:
            runner.queue.empty()


@pytest.fixture
def ctx(app):
    """An app context for service-level tests."""
    with app.app_context():
        yield app


@pytest.fixture
def drain(app) -> Callable[[], int]:
    """Run every due job now, whatever the job mode (eager, thread or RQ)."""

    def run(timeout: float = 15.0) -> int:
        from processes.platform import get_platform

        with app.app_context():
            return get_platform(app).jobs.drain(timeout)

    return run
