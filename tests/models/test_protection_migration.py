"""Migrations 0005 (clear data encrypted, indexed and sealed in place) and 0014 (protection bound to the row id)."""

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
            upgrade("head")  # today's models (sms_block sealed since 0014) read the converted rows
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


def _before(revision: str) -> str:
    from alembic.script import ScriptDirectory

    from models.schema import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision


def _unbound_row(model: type, row: dict) -> dict:
    """A row protected the pre-0014 way: ciphertexts bound to their column only, MAC without the row id."""
    import base64
    import hmac

    from integrations.crypto import sm4_gcm_encrypt
    from models.protection import ENC_PURPOSE, MAC_PURPOSE, Sealed, blind_index, current_keys, mac_values, spec_of

    spec, keys = spec_of(model), current_keys()
    enc, mac = keys.symmetric_key(ENC_PURPOSE), keys.symmetric_key(MAC_PURPOSE)
    for name, kind in spec.encrypted.items():
        if row.get(name) is not None:
            blob = sm4_gcm_encrypt(enc.material, row[name].encode(), kind.label.encode())
            row[name] = Sealed(row[name], f"{enc.key_id}${base64.b64encode(blob).decode()}", kind.label)
    for column, index in spec.indexes.items():
        row[index] = blind_index(row[column]) if row.get(column) is not None else None
    if spec.mac and "integrity_mac" in row:
        message = spec.message(mac_values(spec, row), None)
        row["integrity_mac"] = f"{mac.key_id}${hmac.new(mac.material, message, 'sm3').hexdigest()}"
    return {k: (v.stored if isinstance(v, Sealed) else v) for k, v in row.items()}


def test_0014_binds_existing_rows_to_their_ids_and_seals_the_block_list(scratch_url, simulator):
    from datetime import UTC, date, datetime

    app = create_app(settings_for_tests(scratch_url, simulator.url))
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with app.app_context():
        try:
            upgrade(_before("0014"))
            person = _unbound_row(
                Person,
                {
                    "id": 7,
                    "id_number": "310101199001011234",
                    "name": "张三",
                    "gender": "M",
                    "birth_date": date(1990, 1, 1),
                    "ethnicity": None,
                    "mobile": "13800138000",
                    "household_address": "上海市徐汇区田林路1号",
                    "rare_name": False,
                    "deceased": False,
                    "created_at": now,
                    "updated_at": now,
                    "integrity_mac": None,
                },
            )
            block = _unbound_row(
                SmsBlock,
                {
                    "id": 3,
                    "id_number": "310101199001011234",
                    "reason": "deceased",
                    "source": "manual",
                    "created_by": "t",
                    "created_at": now,
                },
            )
            block.pop("integrity_mac", None)
            with db.engine.begin() as conn:  # plain SQL: today's column types bind values to row ids
                for table, row in (("person", person), ("sms_block", block)):
                    names = ", ".join(row)
                    conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({', '.join(':' + k for k in row)})"), row)
            upgrade("head")
            loaded = db.session.get(Person, 7)
            assert (loaded.id_number, loaded.mobile, integrity_state(loaded)) == (
                "310101199001011234",
                "13800138000",
                None,
            )
            raw = db.session.execute(text("SELECT id_number, integrity_mac FROM person WHERE id = 7")).one()
            assert raw[0] != person["id_number"] and raw[1] != person["integrity_mac"]  # re-encrypted, re-sealed
            entry = db.session.get(SmsBlock, 3)
            assert entry.id_number == "310101199001011234" and entry.integrity_mac.startswith("field-mac:")
            assert is_blocked(id_number="310101199001011234")
            assert scan().tampered == []
        finally:
            db.session.remove()
            db.engine.dispose()
