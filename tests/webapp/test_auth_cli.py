"""`permitflow ukey …` and `permitflow users …`: the software UKey and accounts made on the server."""

from __future__ import annotations

import re

from click.testing import CliRunner
from sqlalchemy import select

from integrations.crypto import SM2PublicKey
from models import AppUser, db
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
