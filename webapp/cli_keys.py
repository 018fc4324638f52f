"""`permitflow keys …` (A9: list, rotate, re-protect) and `permitflow integrity check` (S1 full scan)."""

from __future__ import annotations

import sys

import click

from integrations.keys import PURPOSES


def _app():
    from webapp.cli import _app as make

    return make()


@click.group()
def keys() -> None:
    """Key management (A9): key versions, rotation and re-protection of stored data."""


@keys.command("list")
def keys_list() -> None:
    """Every key version (never the key material) and which one is current."""
    from processes.platform import get_platform

    app = _app()
    for info in get_platform(app).keys.list_keys():
        mark = "*" if info.current else " "
        click.echo(f"{mark} {info.key_id:<18} {info.kind:<5} created {info.created_at}")


@keys.command("rotate")
@click.option(
    "--purpose",
    "purposes",
    multiple=True,
    type=click.Choice(sorted(PURPOSES)),
    help="Purpose to rotate (repeatable); default: field-enc, field-mac and blind-index.",
)
@click.option("--batch", type=int, default=None, help="Rows per transaction (default KEY_ROTATE_BATCH).")
def keys_rotate(purposes: tuple[str, ...], batch: int | None) -> None:
    """Create new current keys and re-protect stored rows in batches while the system keeps serving."""
    from processes.keys import DATA_PURPOSES, rotate_keys

    app = _app()
    with app.app_context():
        size = batch or app.config["PERMITFLOW_SETTINGS"].KEY_ROTATE_BATCH
        chosen = list(purposes or DATA_PURPOSES)
        new_ids, results = rotate_keys(chosen, batch=size)
        snapshots = _reseal_snapshots(app, size) if "field-enc" in chosen else None
    for purpose, key_id in new_ids.items():
        click.echo(f"{purpose}: new current key {key_id}")
    _report(results, snapshots)


@keys.command("reprotect")
@click.option("--batch", type=int, default=None, help="Rows per transaction (default KEY_ROTATE_BATCH).")
def keys_reprotect(batch: int | None) -> None:
    """Re-protect rows still on an older key (e.g. written by a process that had not yet seen a rotation)."""
    from processes.keys import reprotect

    app = _app()
    with app.app_context():
        size = batch or app.config["PERMITFLOW_SETTINGS"].KEY_ROTATE_BATCH
        results = reprotect(batch=size)
        snapshots = _reseal_snapshots(app, size)
    _report(results, snapshots)


def _reseal_snapshots(app, size: int):
    from processes.platform import get_platform
    from processes.snapshots import reseal_snapshots

    return reseal_snapshots(get_platform(app), batch=size)


def _report(results, snapshots=None) -> None:
    refused = 0
    if snapshots is not None:  # workflow snapshots (process_instance): sealed with the field-enc key
        click.echo(f"process_instance.snapshot: {snapshots.scanned} scanned, {snapshots.resealed} re-sealed")
        if snapshots.refused:
            refused += snapshots.refused
            click.echo(f"  {snapshots.refused} snapshots do not open (tampered or key gone): not re-sealed", err=True)
    for r in results:
        click.echo(f"{r.table}: {r.scanned} rows scanned, {r.rewritten} re-protected, {r.stale_left} left on old keys")
        for row_id, reason in r.tampered:
            refused += 1
            click.echo(f"  TAMPERED {r.table} id={row_id} ({reason}): not re-sealed", err=True)
    if refused:
        sys.exit(1)


@click.group()
def integrity() -> None:
    """Key-field integrity (S1)."""


@integrity.command("check")
@click.option("--table", "tables", multiple=True, help="Only these tables (repeatable).")
@click.option("--batch", type=int, default=5000, show_default=True, help="Rows per select.")
def integrity_check(tables: tuple[str, ...], batch: int) -> None:
    """Scan every protected row and every staff account's sign-in seal; list tampered ones; exit 1 if any."""
    from processes.integrity import scan

    with _app().app_context():
        report = scan(batch=batch, tables=list(tables) or None)
    for table, count in report.per_table.items():
        click.echo(f"{table}: {count} rows")
    click.echo(f"checked {report.checked} rows in {report.seconds:.2f}s ({report.rows_per_second:,.0f} rows/s)")
    for table, row_id, reason in report.tampered:
        click.echo(f"TAMPERED {table} id={row_id} ({reason})")
    if report.tampered:
        click.echo(f"{len(report.tampered)} tampered rows", err=True)
        sys.exit(1)
    click.echo("no tampered rows")


def register(main: click.Group) -> None:
    """Add the `keys` and `integrity` groups to the permitflow command."""
    main.add_command(keys)
    main.add_command(integrity)
