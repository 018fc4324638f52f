"""MCA 3.0 call audit (append-only, ≥ 180 days), nonce stores, app registration, field convention."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from config import ConfigError, Settings
from integrations.crypto import SM2PrivateKey
from models import ChannelClient, db, utcnow
from models.mca import McaCallAudit
from processes.errors import ProcessError, ValidationFailed
from processes.mca import apps, audit, fields
from processes.mca.nonces import DatabaseNonceStore, MemoryNonceStore, RedisNonceStore, nonce_store
from tests.webapp.mca_support import clean_mca_tables


@pytest.fixture
def mca_ctx(ctx):
    yield ctx
    db.session.rollback()  # end this context's read transaction, or TRUNCATE would wait for it (PostgreSQL)
    clean_mca_tables(ctx)


def _row(days_ago: float, code: str = "OK") -> audit.CallRecord:
    return audit.CallRecord(
        app_id="app-1",
        interface_code="house.fuzzyQuery",
        http_status=200,
        result_code=code,
        latency_ms=3,
        request_sm3="a" * 64,
        response_sm3="b" * 64,
        signature_result="valid",
        called_at=utcnow() - timedelta(days=days_ago),
    )


def _count() -> int:
    db.session.rollback()
    count = db.session.execute(select(func.count()).select_from(McaCallAudit)).scalar_one()
    db.session.rollback()
    return count


def test_b1_purge_removes_only_rows_older_than_the_retention(mca_ctx):
    for days in (400, 200, 179, 1):
        audit.record(_row(days))
    assert audit.purge(365) == 1 and _count() == 3
    assert audit.purge(180) == 1 and _count() == 2  # the 179-day-old row stays
    with pytest.raises(ValueError, match="at least 180"):
        audit.purge(179)
    assert _count() == 2


def test_b1_retention_below_180_days_is_refused_by_configuration():
    with pytest.raises(ConfigError, match="MCA_AUDIT_RETENTION_DAYS"):
        Settings.from_env(environ={"MCA_AUDIT_RETENTION_DAYS": "90"})
    assert Settings.from_env(environ={"MCA_AUDIT_RETENTION_DAYS": "365"}).MCA_AUDIT_RETENTION_DAYS == 365


def test_b1_purge_command_refuses_a_short_retention(mca_ctx):
    from click.testing import CliRunner

    from webapp.cli import main

    result = CliRunner().invoke(main, ["mca", "purge-audit", "--days", "30"])
    assert result.exit_code != 0 and "at least 180" in result.output


def test_b1_audit_rows_are_append_only(mca_ctx):
    audit.record(_row(1))
    row = db.session.execute(select(McaCallAudit)).scalar_one()
    row.result_code = "FORGED"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.execute(select(McaCallAudit)).scalar_one())
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":  # the database refuses too, whatever the client
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE mca_call_audit SET result_code = 'FORGED'"))
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("DELETE FROM mca_call_audit"))
    assert _count() == 1


def test_b1_memory_nonce_store_accepts_once_until_expiry():
    store = MemoryNonceStore()
    assert store.add("app:n1", 60) is True
    assert store.add("app:n1", 60) is False
    assert store.add("other:n1", 60) is True
    assert store.add("app:n2", 0) is True and store.add("app:n2", 60) is True  # expired at once


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL")
def test_b1_redis_nonce_store_is_shared_between_nodes():
    import secrets

    first, second = RedisNonceStore(os.environ["REDIS_URL"]), RedisNonceStore(os.environ["REDIS_URL"])
    key = "test:" + secrets.token_hex(8)
    assert first.add(key, 30) is True and second.add(key, 30) is False


def test_b1_nonce_store_follows_redis_url(ctx):
    store = nonce_store(ctx.extensions["permitflow"])
    assert isinstance(store, RedisNonceStore if os.environ.get("REDIS_URL") else DatabaseNonceStore)


def test_b1_nonce_store_outage_refuses_instead_of_risking_a_replay():
    from processes.mca.nonces import NonceStoreUnavailable

    store = RedisNonceStore("redis://127.0.0.1:1/0")
    with pytest.raises(NonceStoreUnavailable) as caught:
        store.add("app:n", 30)
    assert caught.value.code == "MCA_NONCE_STORE_UNAVAILABLE" and caught.value.status == 503


def test_b1_app_registration_checks_its_key_and_creates_the_channel(mca_ctx):
    pem = SM2PrivateKey.generate().public_key().to_pem()
    app = apps.register_app("app-reg-1", "测试", pem, channel_code="mca3")
    assert app.active and db.session.execute(select(ChannelClient).where(ChannelClient.code == "mca3")).scalar_one()
    with pytest.raises(ProcessError) as caught:
        apps.register_app("app-reg-1", "测试", pem)
    assert caught.value.code == "MCA_APP_EXISTS"
    for app_id, key, code in (
        ("x", pem, "MCA_APP_ID_INVALID"),
        ("app-reg-2", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", "MCA_PUBLIC_KEY_INVALID"),
    ):
        with pytest.raises(ValidationFailed) as caught:
            apps.register_app(app_id, "测试", key)
        assert caught.value.code == code
    assert apps.set_active("app-reg-1", False).active is False
    assert apps.app_actor(apps.find_app("app-reg-1"), "r1").name == "mca:app-reg-1"


def test_b1_register_app_command(mca_ctx, tmp_path):
    from click.testing import CliRunner

    from webapp.cli import main

    pub = tmp_path / "pub.pem"
    pub.write_bytes(SM2PrivateKey.generate().public_key().to_pem())
    env = {"DATABASE_URL": mca_ctx.config["SQLALCHEMY_DATABASE_URI"], "PERMITFLOW_ENV": "test", "LOG_JSON": "false"}
    result = CliRunner().invoke(
        main,
        ["mca", "register-app", "--app-id", "cli-app-1", "--name", "命令行应用", "--public-key", str(pub)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert apps.find_app("cli-app-1").name == "命令行应用"
    listing = CliRunner().invoke(main, ["mca", "apps"], env=env)
    assert "cli-app-1" in listing.output


def test_b1_field_convention_names_types_and_lengths():
    for name, spec in fields.FIELDS.items():
        assert name[0].islower() and "_" not in name, name
        assert spec.type != "string" or spec.max_length, name
        assert any("\u4e00" <= c <= "\u9fff" for c in spec.description), name
    cleaned = fields.validate({"name": "  王芳 ", "limit": 3}, ("name",), ("limit",))
    assert cleaned == {"name": "王芳", "limit": 3}
    with pytest.raises(ValidationFailed) as caught:
        fields.validate({"name": "王" * 31, "mobile": "123", "extra": 1}, ("name", "idNumber"), ("mobile",))
    assert caught.value.code == "MCA_FIELD_UNKNOWN"  # the first class of problem wins; all are listed
    assert caught.value.details["codes"] == {
        "extra": "MCA_FIELD_UNKNOWN",
        "name": "MCA_FIELD_TOO_LONG",
        "idNumber": "MCA_FIELD_REQUIRED",
        "mobile": "MCA_FIELD_INVALID",
    }
    assert fields.camelize({"a_b": [{"c_d_e": 1}]}) == {"aB": [{"cDE": 1}]}
