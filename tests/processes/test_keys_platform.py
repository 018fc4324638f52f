"""The platform's key provider (A9): chosen by settings, shared by apps on one database, refused when unsafe."""

from __future__ import annotations

import pytest

from config import ConfigError, Settings
from integrations.keys import KmsKeyProvider, LocalKeyStore
from processes.keys import DEV_MASTER_KEY_FILE, build_key_provider, keystore_path
from processes.platform import get_platform


def test_every_app_has_a_working_provider_shared_on_one_database(make_app, app):
    keys = get_platform(app).keys
    key = keys.symmetric_key("audit-mac")
    assert len(key.material) == 32
    key_id, signature = keys.sign("mca", b"data")
    other = get_platform(make_app()).keys
    assert other.symmetric_key("audit-mac", key.key_id) == key and other.verify(key_id, b"data", signature)


def test_production_refuses_to_start_without_the_master_key():
    base = {"PERMITFLOW_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql+psycopg://x/y"}
    with pytest.raises(ConfigError, match="PERMITFLOW_MASTER_KEY"):
        Settings.from_env(environ={}, **base)
    with pytest.raises(ConfigError, match="PERMITFLOW_MASTER_KEY"):
        Settings.from_env(environ={}, **base, PERMITFLOW_MASTER_KEY="abc")
    with pytest.raises(ConfigError, match="KMS_TOKEN"):
        Settings.from_env(environ={}, **base, KEY_PROVIDER="kms")
    with pytest.raises(ConfigError, match="KEY_PROVIDER"):
        Settings.from_env(environ={}, KEY_PROVIDER="vault")
    gateway = {"GATEWAY_REQUIRED": True, "GATEWAY_SHARED_KEY": "g" * 40, "GATEWAY_PROXIES": "10.0.0.1"}
    settings = Settings.from_env(environ={"PERMITFLOW_MASTER_KEY": "ab" * 16}, **base, **gateway)
    assert settings.PERMITFLOW_MASTER_KEY == "ab" * 16


def test_development_generates_a_master_key_next_to_the_database_with_a_warning(tmp_path, caplog):
    settings = Settings.from_env(environ={}, DATABASE_URL=f"sqlite:///{tmp_path}/dev.db")
    store = build_key_provider(settings)
    assert isinstance(store, LocalKeyStore) and store.path == tmp_path / "keystore.json" == keystore_path(settings)
    assert (tmp_path / DEV_MASTER_KEY_FILE).exists() and "DEVELOPMENT MASTER KEY" in caplog.text
    again = build_key_provider(settings)  # the next start reads the same keys
    assert again.symmetric_key("field-enc") == store.symmetric_key("field-enc")


def test_the_environment_master_key_is_used_when_set(tmp_path):
    settings = Settings.from_env(
        environ={"PERMITFLOW_MASTER_KEY": "cd" * 16}, KEYSTORE_PATH=str(tmp_path / "k.json"), DATA_DIR=str(tmp_path)
    )
    build_key_provider(settings)
    assert not (tmp_path / DEV_MASTER_KEY_FILE).exists()
    assert LocalKeyStore(bytes.fromhex("cd" * 16), tmp_path / "k.json").symmetric_key("field-mac")


def test_kms_provider_is_chosen_by_settings(simulator):
    settings = Settings.from_env(environ={}, KEY_PROVIDER="kms", SIMULATOR_URL=simulator.url, KMS_TOKEN="tok-p")
    provider = build_key_provider(settings)
    assert isinstance(provider, KmsKeyProvider) and provider.symmetric_key("field-enc").key_id.startswith("field-enc:")


def test_protected_rows_work_end_to_end_with_the_kms_provider(make_app, app):
    import secrets
    from datetime import date

    from sqlalchemy import select

    from models import Person, db
    from models.protection import integrity_state
    from processes.integrity import scan
    from processes.keys import rotate_keys

    kms_app = make_app(KEY_PROVIDER="kms", KMS_TOKEN=f"tok-{secrets.token_hex(4)}", KMS_CURRENT_TTL_SECONDS=0)
    with kms_app.app_context():
        assert isinstance(get_platform(kms_app).keys, KmsKeyProvider)
        db.session.add(Person(id_number="310101199001011234", name="张三", gender="M", birth_date=date(1990, 1, 1)))
        db.session.commit()
        new_ids, _ = rotate_keys(["field-enc", "field-mac", "blind-index"], batch=10)
        db.session.expunge_all()
        person = db.session.execute(select(Person).where(Person.id_number == "310101199001011234")).scalar_one()
        assert person.name == "张三" and integrity_state(person) is None
        assert person.integrity_mac.startswith(new_ids["field-mac"] + "$") and scan().tampered == []
        db.session.remove()
