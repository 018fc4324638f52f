"""`permitflow mca …` (caller apps, server key, audit purge) and `permitflow mca-client` (reference client)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

_KEY_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def mca() -> None:
    """MCA 3.0 interface (B1): registered caller apps, our public key, call-audit retention."""


def _app():
    from webapp.cli import _app as make

    return make()


@mca.command("register-app")
@click.option("--app-id", required=True, help="4-32 letters, digits, _ or -.")
@click.option("--name", required=True, help="Display name (Chinese is fine).")
@click.option("--public-key", "public_key", required=True, type=_KEY_PATH, help="The app's SM2 public key (PEM).")
@click.option("--channel", default="mca3", show_default=True, help="Channel code the app acts as.")
def register_app_command(app_id: str, name: str, public_key: Path, channel: str) -> None:
    """Register a caller app with its SM2 public key."""
    from processes.errors import ProcessError
    from processes.mca.apps import register_app

    with _app().app_context():
        try:
            app = register_app(app_id, name, public_key.read_bytes(), channel)
        except ProcessError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"registered MCA app {app.app_id} ({app.name}) acting as channel {app.channel_code}")


@mca.command("apps")
def list_apps_command() -> None:
    """List registered caller apps."""
    from processes.mca.apps import list_apps

    with _app().app_context():
        for app in list_apps():
            state = "active" if app.active else "disabled"
            click.echo(f"{app.app_id:<32} {state:<8} {app.channel_code:<12} {app.name}")


@mca.command("set-active")
@click.argument("app_id")
@click.argument("active", type=click.BOOL)
def set_active_command(app_id: str, active: bool) -> None:
    """Enable (true) or disable (false) a caller app."""
    from processes.errors import ProcessError
    from processes.mca.apps import set_active

    with _app().app_context():
        try:
            set_active(app_id, active)
        except ProcessError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"{app_id}: {'active' if active else 'disabled'}")


@mca.command("server-key")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the PEM here.")
def server_key_command(out: Path | None) -> None:
    """Print our current MCA SM2 key id (and write its public key) for integrators."""
    from processes.platform import get_platform

    app = _app()
    with app.app_context():
        key_id, pem = get_platform(app).keys.public_key_pem("mca")
    if out:
        out.write_bytes(pem)
    click.echo(key_id if out else f"{key_id}\n{pem.decode('ascii')}")


@mca.command("purge-audit")
@click.option("--days", type=int, default=None, help="Retention in days (default MCA_AUDIT_RETENTION_DAYS, ≥ 180).")
def purge_audit_command(days: int | None) -> None:
    """Delete call-audit rows older than the retention; refuses anything below 180 days."""
    from processes.errors import ProcessError
    from processes.mca.audit import MIN_RETENTION_DAYS, purge

    app = _app()
    retention = days if days is not None else app.config["PERMITFLOW_SETTINGS"].MCA_AUDIT_RETENTION_DAYS
    if retention < MIN_RETENTION_DAYS:
        raise click.ClickException(f"retention must be at least {MIN_RETENTION_DAYS} days (MLPS level 3)")
    with app.app_context():
        try:
            removed = purge(retention)
        except ProcessError as exc:
            raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    click.echo(f"removed {removed} MCA audit rows older than {retention} days")


@mca.command("verify-audit")
def verify_audit_command() -> None:
    """Check the call audit's MAC chain: changed, deleted or inserted rows; exit 1 when any is found."""
    from processes.mca.audit import verify

    with _app().app_context():
        report = verify()
    for problem in report.problems:
        click.echo(f"{problem['code']}: seq={problem['seq']} id={problem['id']} {problem['message']}")
    verdict = "OK" if report.ok else "BROKEN"
    click.echo(f"checked {report.checked} MCA audit rows from seq {report.start_seq}: {verdict}")
    sys.exit(0 if report.ok else 1)


@click.command("mca-client")
@click.argument("interface")
@click.option("--data", "data_file", required=True, type=click.File("rb"), help="Request JSON file ('-': stdin).")
@click.option("--app-id", envvar="MCA_APP_ID", required=True, help="Registered app id (env MCA_APP_ID).")
@click.option("--key", "key_file", envvar="MCA_APP_KEY", required=True, type=_KEY_PATH, help="App SM2 private key PEM.")
@click.option("--server-pub", type=_KEY_PATH, default=None, help="The server's pinned SM2 public key (PEM).")
@click.option(
    "--trust-on-first-use", "tofu", is_flag=True, help="No --server-pub: trust the key GET /server-key returns."
)
@click.option("--url", default="http://127.0.0.1:5000", show_default=True, help="PermitFlow base URL.")
def mca_client(
    interface: str, data_file, app_id: str, key_file: Path, server_pub: Path | None, tofu: bool, url: str
) -> None:
    """Call an MCA 3.0 interface with the envelope; prints the verified, decrypted answer as JSON.

    Exit 0 when the result code is OK, 1 for a refusal or business error, 2 when the answer cannot be trusted.
    """
    from integrations.mca_v3_client import McaClientError, McaV3Client

    try:
        data = json.loads(data_file.read() or b"{}")
    except ValueError as exc:
        raise click.ClickException(f"--data is not JSON: {exc}") from exc
    if server_pub is None and not tofu:
        raise click.UsageError("--server-pub SERVER.pem is required (or --trust-on-first-use, not recommended)")
    client = McaV3Client(
        url, app_id, key_file.read_bytes(), server_pub.read_bytes() if server_pub else None, trust_on_first_use=tofu
    )
    try:
        response = client.call(interface, data)
    except McaClientError as exc:
        click.echo(f"answer not trusted: {exc}", err=True)
        sys.exit(2)
    out = {
        "status": response.status,
        "code": response.code,
        "message": response.message,
        "requestId": response.request_id,
        "signedBy": response.signed_by,
        "details": response.details,
        "data": response.data,
    }
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    sys.exit(0 if response.ok else 1)


def register(main: click.Group) -> None:
    """Add the MCA commands to the `permitflow` group."""
    main.add_command(mca)
    main.add_command(mca_client)
