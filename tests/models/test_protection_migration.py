"""Migration 0005 on a database that already holds clear personal data: encrypted, indexed and sealed in place."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from models import Permit, Person, SmsBlock, SmsMessage, db
from models.protection import integrity_state
from models.schema import upgrade
from processes.integrity import scan
from processes.sms_blocklist import is_blocked
from tests.conftest import ENV_DATABASE_URL, settings_for_tests
from webapp import create_app

ROWS = [
    "INSERT INTO person (id, id_number, name, gender, birth_date, mobile, household_address, rare_name, deceased,"
    " created_at, updated_at) VALUES (1, '310101199001011234', '张三', 'M', '1990-01-01', '13800138000',"
    " '上海市徐汇区田林路1号', false, false, '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    "INSERT INTO residence_registration (id, number, person_id, status, address, created_at)"
    " VALUES (1, 'DJ-OLD-1', 1, 'active', '上海市徐汇区虹梅路2号', '2026-01-01 00:00:00')",
    "INSERT INTO permit (id, number, person_id, registration_id, status, card_status, express, production_paused,"
    " expanded_eligibility, rare_chars_ready, lost_reported_by, created_at) VALUES (1, 'P-OLD-1', 1, 1, 'lost',"
    " 'made', false, false, false, false, '310101199001011234', '2026-01-01 00:00:00')",
    "INSERT INTO sms_block (id, id_number, id_digest, reason, source, created_by, created_at)"
    " VALUES (1, '310101199001011234', 'old-unkeyed-digest', 'deceased', 'manual', 't', '2026-01-01 00:00:00')",
    "INSERT INTO sms_message (id, client_msg_id, template_code, template_version, params, body, mobile,"
    " mobile_masked, mobile_digest, status, attempts, polls, requested_by, created_at) VALUES (1, 'pf1', 'T', 1,"
    " '{}', '正文', '13800138000', '138****8000', 'old', 'sent', 0, 0, 't', '2026-01-01 00:00:00')",
]


@pytest.fixture
def scratch_url(tmp_path) -> Iterator[str]:
    """An empty database of the backend under test, just for this test."""
    if not ENV_DATABASE_URL.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    import psycopg

    url = make_url(ENV_DATABASE_URL)
    name = f"permitflow_mig_{os.getpid()}_{secrets.token_hex(3)}"
    admin = f"host={url.host or '127.0.0.1'} port={url.port or 5432} user={url.username or 'postgres'} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield url.set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_existing_clear_rows_are_protected_by_the_migration(scratch_url, simulator):
    app = create_app(settings_for_tests(scratch_url, simulator.url))
    with app.app_context():
        try:
            upgrade("0004")
            with db.engine.begin() as conn:
                for statement in ROWS:
                    conn.execute(text(statement))
            upgrade("0005")
            raw = db.session.execute(text("SELECT id_number, mobile, integrity_mac FROM person")).one()
            assert raw[0].startswith("field-enc:") and "310101" not in raw[0] and raw[2].startswith("field-mac:")
            person = db.session.execute(select(Person).where(Person.id_number == "310101199001011234")).scalar_one()
            assert (person.mobile, person.household_address, integrity_state(person)) == (
                "13800138000",
                "上海市徐汇区田林路1号",
                None,
            )
            assert db.session.get(Permit, 1).lost_reported_by == "310101199001011234"
            assert (
                db.session.get(SmsMessage, 1).body == "正文"
                and db.session.get(SmsBlock, 1).id_digest != "old-unkeyed-digest"
            )
            assert is_blocked(id_number="310101199001011234") and is_blocked(mobile="13800138000") is False
            assert scan().tampered == []
        finally:
            db.session.remove()
            db.engine.dispose()
