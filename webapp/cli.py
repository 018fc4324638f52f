"""The `permitflow` command: database, deployment, web, worker, scheduler, simulators, demo."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import click

from config import ConfigError, Settings, settings_table_markdown
from integrations.crypto.cli import crypto


def _app(**overrides):
    from webapp import create_app

    try:
        settings = Settings.from_env(**overrides)
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from exc
    Path(settings.DATA_DIR).mkdir(parents=True, exist_ok=True)
    return create_app(settings)


@click.group()
def main() -> None:
    """PermitFlow: the Shanghai residence-permit process platform."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations (SQLite or PostgreSQL)."""
    from models.schema import upgrade

    with _app().app_context():
        click.echo(f"database at revision {upgrade(revision)}")


@main.command()
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--comment", default="", help="Why this version (kept with it).")
@click.option("--by", "deployed_by", default="cli", show_default=True, help="Who deploys.")
def deploy(files: tuple[Path, ...], comment: str, deployed_by: str) -> None:
    """Validate and deploy .bpmn/.dmn files (default: everything in bpmn/)."""
    from processes.deployment import deploy_files
    from processes.errors import ProcessError
    from processes.platform import BPMN_DIR, get_platform

    paths = list(files) or sorted([*BPMN_DIR.glob("*.dmn"), *BPMN_DIR.glob("*.bpmn")])
    app = _app()
    with app.app_context():
        try:
            results = deploy_files(get_platform(app), paths, deployed_by, comment)
        except ProcessError as exc:
            click.echo(f"deployment refused: {exc.message}", err=True)
            for problem in exc.details.get("problems", []):
                click.echo(f"  - [{problem['code']}] {problem['message']}", err=True)
            sys.exit(1)
    for r in results:
        state = "new version" if r.created else "unchanged"
        click.echo(f"{r.file_name}: {r.kind} {r.key} v{r.version} ({state})")


@main.command()
@click.option("--host", default=None)
@click.option("--port", type=int, default=None)
def web(host: str | None, port: int | None) -> None:
    """Serve the web app and API (waitress); runs in-process jobs when no Redis is configured."""
    from waitress import serve

    app = _app()
    settings = app.config["PERMITFLOW_SETTINGS"]
    _start_in_process_jobs(app)
    serve(
        app,
        host=host or settings.WEB_HOST,
        port=port or settings.WEB_PORT,
        threads=settings.WEB_THREADS,
        connection_limit=settings.WEB_CONNECTION_LIMIT,
        ident="permitflow",
    )


def _start_in_process_jobs(app) -> None:
    from processes.platform import get_platform

    runner = get_platform(app).jobs
    if hasattr(runner, "start"):
        runner.start()


@main.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def worker(burst: bool) -> None:
    """Run an RQ worker for service tasks and other jobs (needs REDIS_URL)."""
    from rq import SimpleWorker

    from processes.platform import get_platform

    app = _app()
    runner = get_platform(app).jobs
    if runner.mode != "rq":
        raise click.ClickException("worker needs REDIS_URL (or JOB_MODE=rq)")
    with app.app_context():
        # SimpleWorker runs jobs in this process: no fork per job, pooled DB connections stay valid.
        SimpleWorker([runner.queue], connection=runner.redis).work(burst=burst, logging_level="WARNING")


@main.command()
@click.option("--once", is_flag=True, help="One pass, then exit.")
def scheduler(once: bool) -> None:
    """Fire due BPMN timers and relay due jobs; any number may run at once."""
    from processes.platform import get_platform

    app = _app()
    platform = get_platform(app)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    with app.app_context():
        while not stopping:
            try:
                if platform.jobs.mode == "rq":
                    outcome = platform.jobs.scheduler_pass()
                else:
                    outcome = {"ran": platform.jobs.drain(timeout=platform.settings.SCHEDULER_INTERVAL)}
                if once:
                    click.echo(outcome)
                    return
            except Exception as exc:  # keep scheduling through a database or Redis blip
                click.echo(f"scheduler pass failed: {exc}", err=True)
            time.sleep(platform.settings.SCHEDULER_INTERVAL)


@main.command()
@click.option("--port", type=int, default=5100, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--seed", type=int, default=20260101, show_default=True)
def simulators(port: int, host: str, seed: int) -> None:
    """Serve the external-system simulators over HTTP."""
    from integrations.simulators.server import serve

    click.echo(f"simulators on http://{host}:{port}")
    serve(port, host=host, seed=seed)


@main.command("demo-data")
@click.option("--scale", type=click.IntRange(min=1), default=None, help="Also generate history for N persons (C4).")
@click.option("--workers", type=click.IntRange(1, 16), default=2, show_default=True, help="Processes building rows.")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the generated history.")
def demo_data(scale: int | None, workers: int, seed: int) -> None:
    """Create demo users and API clients and print their fresh secrets; --scale N adds N persons' history."""
    from processes.demo import load_demo_data

    app = _app()
    with app.app_context():
        _print_credentials(load_demo_data())
        if scale:
            from processes.platform import get_platform
            from processes.scale_data import generate

            result = generate(get_platform(app), scale, seed=seed, workers=workers, progress=click.echo)
            click.echo(f"scale data: {result['rows']} in {result['seconds']} s (summary {result['summary_seconds']} s)")


def _print_credentials(creds) -> None:
    click.echo("\n演示账号（每次启动重新生成密码）/ demo accounts:")
    for username, name, role in creds.users:
        click.echo(f"  {username:<11} {role:<10} {name}")
    click.echo(f"  password for all: {creds.password}")
    if getattr(creds, "ukey_dir", None):
        click.echo(f"  second factor: software UKey keys in {creds.ukey_dir}/<user>.pem —")
        click.echo("    permitflow ukey sign --key <file> --challenge <hex from the sign-in page>  (or /ukey)")
    click.echo("\n渠道接口凭据 / API keys (header X-Api-Key):")
    for code, key in creds.api_keys.items():
        click.echo(f"  {code:<13} {key}")
    if getattr(creds, "mca_demo", None):
        m = creds.mca_demo
        click.echo(f"\n民政3.0接口演示应用 / MCA 3.0 demo app {m['app_id']}: key {m['key']}")
        click.echo(
            f"  permitflow mca-client house.fuzzyQuery --data q.json --app-id {m['app_id']} --key {m['key']} "
            f"--server-pub {m['server_pub']}"
        )


@main.command("schedules")
def schedules() -> None:
    """Start the batch processes (endorsement run, deregistration sweep, report schedule) once; repeating is safe."""
    from processes.platform import get_platform
    from processes.schedules import start_schedules
    from processes.stepping import Actor

    app = _app()
    with app.app_context():
        for key, instance_id, created in start_schedules(get_platform(app), Actor(kind="ops", name="cli")):
            click.echo(f"{key}: {instance_id} ({'started' if created else 'already running'})")


@main.command("config")
def show_config() -> None:
    """Print every configuration key with its default and meaning (Markdown)."""
    click.echo(settings_table_markdown())


@main.command()
@click.option("--port", type=int, default=None)
@click.option("--simulator-port", type=int, default=5100, show_default=True)
def run(port: int | None, simulator_port: int) -> None:
    """Everything for a first look: migrate, deploy, demo data, simulators, web with in-process jobs."""
    from waitress import serve

    from integrations.simulators.server import start_subprocess
    from models.schema import upgrade
    from processes.demo import load_demo_data
    from processes.deployment import deploy_files
    from processes.platform import BPMN_DIR, get_platform
    from processes.schedules import start_schedules
    from processes.stepping import Actor

    sim = start_subprocess(simulator_port)
    try:
        app = _app(SIMULATOR_URL=sim.url)
        settings = app.config["PERMITFLOW_SETTINGS"]
        with app.app_context():
            upgrade()
            paths = sorted([*BPMN_DIR.glob("*.dmn"), *BPMN_DIR.glob("*.bpmn")])
            for r in deploy_files(get_platform(app), paths, "make-run", "make run"):
                click.echo(f"deployed {r.key} v{r.version}{'' if r.created else ' (unchanged)'}")
            creds = load_demo_data(settings.DEMO_PASSWORD or None)
            start_schedules(get_platform(app), Actor(kind="ops", name="make-run"))
        _start_in_process_jobs(app)
        _print_credentials(creds)
        url = f"http://{settings.WEB_HOST}:{port or settings.WEB_PORT}"
        click.echo(f"\nPermitFlow: {url}   simulators: {sim.url}   API: {url}/api/v1/openapi.json")
        click.echo("Ctrl+C stops everything.\n")
        serve(
            app,
            host=settings.WEB_HOST,
            port=port or settings.WEB_PORT,
            threads=settings.WEB_THREADS,
            connection_limit=settings.WEB_CONNECTION_LIMIT,
            ident="permitflow",
        )
    finally:
        sim.stop()


main.add_command(crypto)
from webapp.cli_mca import register as register_mca  # noqa: E402  (MCA 3.0: `mca …`, `mca-client`)

register_mca(main)
from webapp.cli_auth import register as register_auth  # noqa: E402  (S2-S4: `audit …`, `ukey …`, `users …`)

register_auth(main)
from webapp.cli_keys import register as register_keys  # noqa: E402  (A9, S1: `keys …`, `integrity check`)

register_keys(main)
