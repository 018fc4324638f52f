"""`permitflow ukey …` and `permitflow users …`: the software UKey and accounts made on the server."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import select

from integrations.crypto import SM2PublicKey
from models import AppUser, AuditLog, db
from tests.webapp.auth_support import csrf_token, submit_password, ukey_challenge
from webapp.cli import main


def _env(database_url: str, simulator_url: str) -> dict[str, str]:
    return {
        "PERMITFLOW_ENV": "test",
        "DATABASE_URL": database_url,
        "SIMULATOR_URL": simulator_url,
        "LOG_JSON": "false",
        "LOG_LEVEL": "WARNING",
        "JOB_MODE": "eager",
        "REDIS_URL": "",
    }


def test_software_ukey_signs_a_challenge_the_public_key_verifies(tmp_path):
    key_file = tmp_path / "me.pem"
    made = CliRunner().invoke(main, ["ukey", "keygen", "--out", str(key_file)])
    assert made.exit_code == 0 and "BEGIN PUBLIC KEY" in made.output
    challenge = "ab" * 32
    signed = CliRunner().invoke(main, ["ukey", "sign", "--key", str(key_file), "--challenge", challenge])
    assert signed.exit_code == 0
    public = SM2PublicKey.from_pem(made.output.strip().encode())
    assert public.verify(bytes.fromhex(challenge), bytes.fromhex(signed.output.strip()))
    bad = CliRunner().invoke(main, ["ukey", "sign", "--key", str(key_file), "--challenge", "not-hex"])
    assert bad.exit_code != 0 and "bad key or challenge" in bad.output


def test_first_security_administrator_is_made_on_the_server_and_signs_in_with_the_ukey(
    app, database_url, simulator, tmp_path
):
    env = _env(database_url, simulator.url)
    key_file = tmp_path / "sec.pem"
    public = CliRunner().invoke(main, ["ukey", "keygen", "--out", str(key_file)]).output.strip()
    (tmp_path / "sec.pub").write_text(public)
    made = CliRunner().invoke(
        main,
        ["users", "create", "--username", "sec-first", "--name", "首任安全管理员", "--role", "secadmin",
         "--mobile", "13955550000", "--ukey-public-key", str(tmp_path / "sec.pub")],
        env=env,
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    password = re.search(r"shown once\): (\S+)", made.output).group(1)
    # The same person cannot be made audit administrator as well.
    twice = CliRunner().invoke(
        main,
        ["users", "create", "--username", "aud-first", "--name", "审计", "--role", "auditadmin",
         "--mobile", "13955550000"],
        env=env,
    )  # fmt: skip
    assert twice.exit_code != 0 and "三员角色不能兼任" in twice.output
    client = app.test_client()
    assert submit_password(client, "sec-first", password).status_code == 302
    challenge = ukey_challenge(client)
    signature = CliRunner().invoke(main, ["ukey", "sign", "--key", str(key_file), "--challenge", challenge]).output
    response = client.post(
        "/login/verify", data={"method": "ukey", "signature": signature.strip(), "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 302
    # The one-time password must be changed before any work.
    assert client.get("/admin/users").headers["Location"].endswith("/account/password")
    with app.app_context():
        user = db.session.execute(select(AppUser).where(AppUser.username == "sec-first")).scalar_one()
        assert user.must_change_password and user.role == "secadmin"
    unlocked = CliRunner().invoke(main, ["users", "unlock", "sec-first"], env=env)
    assert unlocked.exit_code == 0


def test_demo_data_is_refused_in_production(ctx):
    from dataclasses import replace

    import pytest

    from processes.demo import load_demo_data
    from processes.platform import get_platform

    platform = get_platform()
    original = platform.settings
    platform.settings = replace(original, PERMITFLOW_ENV="production")
    try:
        with pytest.raises(RuntimeError, match="never loaded in production"):
            load_demo_data()
    finally:
        platform.settings = original
    assert db.session.execute(select(AppUser)).first() is None


def test_operator_reseals_a_reviewed_account(app, database_url, simulator):
    from sqlalchemy import text

    from processes.auth_integrity import intact
    from tests.webapp.auth_support import ensure_demo_user

    ensure_demo_user(app, "clerk01")
    with app.app_context():
        db.session.execute(text("UPDATE app_user SET mobile = '13900009999' WHERE username = 'clerk01'"))
        db.session.commit()
        assert not intact(db.session.execute(select(AppUser).where(AppUser.username == "clerk01")).scalar_one())
    env = _env(database_url, simulator.url)
    result = CliRunner().invoke(main, ["users", "reseal", "clerk01"], env=env)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert intact(db.session.execute(select(AppUser).where(AppUser.username == "clerk01")).scalar_one())
    missing = CliRunner().invoke(main, ["users", "reseal", "nobody"], env=env)
    assert missing.exit_code == 1 and "no user" in missing.output


def test_operator_resets_and_rekeys_an_administrator_account(app, database_url, simulator, tmp_path):
    from tests.webapp.auth_support import ensure_demo_user

    ensure_demo_user(app, "auditadmin")
    env = _env(database_url, simulator.url)
    reset = CliRunner().invoke(main, ["users", "reset-password", "auditadmin"], env=env)
    assert reset.exit_code == 0, reset.output
    password = re.search(r"shown once, must be changed at sign-in\): (\S+)", reset.output).group(1)
    assert submit_password(app.test_client(), "auditadmin", password).status_code == 302
    key_file = tmp_path / "aud.pub"
    key_file.write_text(CliRunner().invoke(main, ["ukey", "keygen", "--out", str(tmp_path / "aud.pem")]).output)
    keyed = CliRunner().invoke(main, ["users", "register-ukey", "auditadmin", str(key_file)], env=env)
    assert keyed.exit_code == 0, keyed.output
    with app.app_context():
        user = db.session.execute(select(AppUser).where(AppUser.username == "auditadmin")).scalar_one()
        assert (
            SM2PublicKey.from_pem(user.ukey_public_key).to_pem() == SM2PublicKey.from_pem(key_file.read_text()).to_pem()
        )
        flagged = (
            db.session.execute(
                select(AuditLog.details)
                .where(AuditLog.event.in_(["user.reset_password", "user.register_ukey"]))
                .order_by(AuditLog.seq.desc())
                .limit(2)
            )
            .scalars()
            .all()
        )
    assert len(flagged) == 2 and all('"alert":"auditadmin"' in d for d in flagged)
