"""`permitflow audit …`, `permitflow ukey …` and `permitflow users …`: audit verification, software UKey, accounts."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group("audit")
def audit_cli() -> None:
    """The tamper-evident audit log (S4)."""


@audit_cli.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and list every changed, deleted or inserted record."""
    from processes.audit import verify_chain
    from webapp.cli import _app

    with _app().app_context():
        report = verify_chain()
    if report.ok:
        click.echo(f"audit log intact: {report.checked} records, chain and head verified")
        return
    click.echo(f"audit log TAMPERED: {len(report.problems)} problem(s) in {report.checked} records", err=True)
    for problem in report.problems:
        click.echo(f"  seq={problem['seq']} id={problem['id']} [{problem['code']}] {problem['message']}", err=True)
    sys.exit(1)


@click.group("ukey")
def ukey_cli() -> None:
    """Software UKey for demos and tests (a real UKey signs inside the device)."""


@ukey_cli.command("sign")
@click.option("--key", "key_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--challenge", required=True, help="The hex challenge shown on the sign-in page.")
def ukey_sign(key_path: Path, challenge: str) -> None:
    """Sign a sign-in challenge with an SM2 private key (PEM); prints the signature (hex DER)."""
    from integrations.crypto import CryptoError, SM2PrivateKey

    try:
        key = SM2PrivateKey.from_pem(key_path.read_bytes())
        data = bytes.fromhex(challenge.strip())
    except (CryptoError, ValueError) as exc:
        raise click.ClickException(f"bad key or challenge: {exc}") from exc
    click.echo(key.sign(data).hex())


@ukey_cli.command("keygen")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def ukey_keygen(out: Path) -> None:
    """Make a software-UKey key pair: private key to --out, public key PEM printed (register it for the user)."""
    from integrations.crypto import SM2PrivateKey

    key = SM2PrivateKey.generate()
    out.write_bytes(key.to_pem())
    out.chmod(0o600)
    click.echo(key.public_key().to_pem().decode().strip())


@click.group("users")
def users_cli() -> None:
    """Staff accounts (the first security administrator of a production install is made here)."""


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--role", required=True)
@click.option("--mobile", default="")
@click.option("--district", default="")
@click.option("--service-point", default="")
@click.option("--ukey-public-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
def users_create(
    username: str,
    display_name: str,
    role: str,
    mobile: str,
    district: str,
    service_point: str,
    ukey_public_key: Path | None,
) -> None:
    """Create an account; prints a one-time initial password that must be changed at first sign-in."""
    from processes import audit
    from processes.errors import ProcessError
    from processes.platform import get_platform
    from processes.users import create_user, register_ukey
    from webapp.cli import _app

    app = _app()
    with app.app_context():
        token = audit.actor_context.set(audit.AuditActor(username="cli"))
        try:
            data = {
                "username": username,
                "display_name": display_name,
                "role": role,
                "mobile": mobile,
                "district": district,
                "service_point": service_point,
            }
            user, initial = create_user(get_platform(app).settings, data, by=None)
            if ukey_public_key is not None:
                register_ukey(user.id, ukey_public_key.read_text(), by=None)
        except ProcessError as exc:
            raise click.ClickException(f"{exc.message} {exc.details or ''}") from exc
        finally:
            audit.actor_context.reset(token)
    click.echo(f"created {username} ({role}); initial password (shown once): {initial}")


@users_cli.command("unlock")
@click.argument("username")
def users_unlock(username: str) -> None:
    """Lift a lockout."""
    from processes.errors import NotFound
    from processes.users import get_user_by_name, unlock
    from webapp.cli import _app

    with _app().app_context():
        try:
            unlock(get_user_by_name(username).id, by=None)
        except NotFound as exc:
            raise click.ClickException(f"no user {username}") from exc
    click.echo(f"unlocked {username}")


@users_cli.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """A new one-time password (administrator accounts are reset here, not on the admin pages)."""
    from processes.errors import NotFound
    from processes.platform import get_platform
    from processes.users import get_user_by_name, reset_password

    def action():
        return reset_password(get_platform().settings, _user_id(get_user_by_name, NotFound, username), by=None)

    _user, initial = _as_operator(action)
    click.echo(f"reset {username}; new password (shown once, must be changed at sign-in): {initial}")


@users_cli.command("register-ukey")
@click.argument("username")
@click.argument("public_key", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def users_register_ukey(username: str, public_key: Path) -> None:
    """Register (or replace) the UKey public key (PEM key or certificate) of an account."""
    from processes.errors import NotFound
    from processes.users import get_user_by_name, register_ukey

    pem = public_key.read_text()
    _as_operator(lambda: register_ukey(_user_id(get_user_by_name, NotFound, username), pem, by=None))
    click.echo(f"registered the UKey of {username}")


@users_cli.command("reseal")
@click.argument("username")
def users_reseal(username: str) -> None:
    """Seal an account again after its data was reviewed (a failed seal check, or an upgrade of the seal)."""
    from processes.errors import NotFound
    from processes.users import get_user_by_name, reseal

    _as_operator(lambda: reseal(_user_id(get_user_by_name, NotFound, username)))
    click.echo(f"resealed {username}")


def _user_id(get_user_by_name, not_found, username: str) -> int:
    try:
        return get_user_by_name(username).id
    except not_found as exc:
        raise click.ClickException(f"no user {username}") from exc


def _as_operator(action):
    """Run a service call on the server as the operator ("cli" in the audit log); service errors exit 1."""
    from processes import audit
    from processes.errors import ProcessError
    from webapp.cli import _app

    with _app().app_context():
        token = audit.actor_context.set(audit.AuditActor(username="cli"))
        try:
            return action()
        except ProcessError as exc:
            raise click.ClickException(f"{exc.message} {exc.details or ''}") from exc
        finally:
            audit.actor_context.reset(token)


def register(main: click.Group) -> None:
    """Add the audit, ukey and users command groups to `permitflow`."""
    for command in (audit_cli, ukey_cli, users_cli):
        main.add_command(command)
