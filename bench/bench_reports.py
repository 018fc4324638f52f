"""Reports and queries at scale (issue 7): 1,000,000 permits / ~5,000,000 events on PostgreSQL.

Usage: .venv/bin/python bench/bench_reports.py [--scale N] [--database NAME] [--keep] [--rebuild]
           [--export-rows N] [--json-out bench/results.json]

1. Builds the scale data (`processes.scale_data.generate`, as `permitflow demo-data --scale N`) in its own
   database, unless that database already holds it (`--keep` leaves it for the next run; default: dropped).
2. Times every report (C4) over three periods and every query (C3) with typical filters: the slowest run of
   each, first (cold) run included. Target: ≤ 2 s each.
3. Streams a query export of --export-rows rows in a child process and reads its peak RSS (VmHWM):
   target < 300 MB. Writes EXPLAIN ANALYZE of every query to bench/explain_reports.txt.
4. Merges report_max_s, export_peak_mb and the per-report timings into the postgresql object of
   bench/results.json (other keys kept). Skips with a message when PostgreSQL is unreachable.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)  # DATA_DIR "var": the key store the scale data was sealed with
os.environ["LOG_LEVEL"] = "WARNING"

PG_BASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/"
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
TARGET_S = 2.0
TARGET_MB = 300.0
OWN_KEYS = ("report_max_s", "export_peak_mb", "export_rows", "export_s", "report_timings_s", "scale_permits")


def make_app(database: str, **overrides: Any) -> Any:
    """An app on the bench database (eager jobs, quiet logs)."""
    from config import Settings
    from webapp import create_app

    values = {"DATABASE_URL": PG_BASE_URL + database, "JOB_MODE": "eager", "LOG_JSON": False, "LOG_LEVEL": "WARNING"}
    values.update(overrides)
    return create_app(Settings.from_env(**values))


def ensure_database(database: str, rebuild: bool) -> bool:
    """Create the database if missing (or when rebuilding); True when it already existed."""
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None
        if exists and rebuild:
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
            exists = False
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
    return exists


def drop_database(database: str) -> None:
    """Drop the bench database."""
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def build(app: Any, scale: int) -> dict[str, Any]:
    """Migrate, then generate the scale data unless it is already there."""
    from sqlalchemy import func, select

    from models import Permit, db
    from models.reports import REPORT_INDEXES
    from models.schema import upgrade
    from processes.platform import get_platform
    from processes.scale_data import generate

    with app.app_context():
        upgrade()
        for index in REPORT_INDEXES:  # a kept database made by an earlier revision 0010 may lack newer ones
            index.create(db.engine, checkfirst=True)
        permits = db.session.execute(select(func.count()).select_from(Permit)).scalar_one()
        if permits >= scale:
            return {"built": False, "permits": permits}
        result = generate(get_platform(app), scale, workers=2, progress=lambda m: print("  " + m, flush=True))
        permits = db.session.execute(select(func.count()).select_from(Permit)).scalar_one()
        return {"built": True, "permits": permits, **result}


def timed(fn: Any, runs: int = 3) -> float:
    """The slowest of `runs` calls (the first, cold one included), in seconds."""
    worst = 0.0
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        worst = max(worst, time.perf_counter() - started)
    return round(worst, 3)


def report_cases(today: date) -> list[tuple[str, str, dict[str, str]]]:
    """(label, report, period args): the default year, the whole history by month, a year by day."""
    cases = []
    from processes.reports import REPORTS

    for name, (_title, uses_period) in REPORTS.items():
        if not uses_period:
            cases.append((name, name, {}))
            continue
        cases.append((f"{name}:12m", name, {}))
        cases.append((f"{name}:3y", name, {"start": (today - timedelta(days=3 * 365)).isoformat()}))
        cases.append((f"{name}:1y-daily", name, {"start": (today - timedelta(days=365)).isoformat(), "group": "day"}))
    return cases


def query_cases(sample: dict[str, str]) -> list[tuple[str, str, dict[str, str]]]:
    """(label, query, filters) over the scale data, using a real person, permit and batch from it."""
    return [
        ("elicence:all", "elicence", {}),
        ("elicence:id_number", "elicence", {"id_number": sample["id_number"]}),
        ("elicence:permit_no", "elicence", {"permit_no": sample["permit_no"]}),
        ("elicence:failed+terminal", "elicence", {"status": "failed", "channel": "terminal"}),
        ("elicence:one_month", "elicence", {"pushed_from": sample["month_from"], "pushed_to": sample["month_to"]}),
        ("housing:all", "housing", {}),
        ("deaths:all", "deaths", {}),
        ("deaths:id_number", "deaths", {"id_number": sample["dead_id"]}),
        ("exchange:all", "exchange", {}),
        ("exchange:id_number", "exchange", {"id_number": sample["id_number"]}),
        ("exchange:system+failed", "exchange", {"system": "elicence", "status": "failed"}),
        ("photos:default", "photos", {}),
        ("photos:unused_year", "photos", {"used_by": "unused", "taken_from": sample["year_from"]}),
        ("photos:channel_month", "photos", {"source": "retake", "taken_from": sample["month_from"]}),
    ]


def sample_values(today: date) -> dict[str, str]:
    """A real person, permit and dead person of the scale data."""
    from sqlalchemy import select

    from models import Permit, Person, SmsBlock, db

    permit = db.session.execute(select(Permit).where(Permit.status == "issued").limit(1).offset(4321)).scalar_one()
    person = db.session.get(Person, permit.person_id)
    dead = db.session.execute(select(SmsBlock).limit(1)).scalar_one()
    month = today.replace(day=1) - timedelta(days=1)
    return {
        "id_number": str(person.id_number),
        "permit_no": permit.number,
        "dead_id": str(dead.id_number),
        "month_from": month.replace(day=1).isoformat(),
        "month_to": month.isoformat(),
        "year_from": (today - timedelta(days=365)).isoformat(),
    }


def measure(app: Any, explain_path: Path) -> dict[str, float]:
    """Time every report and query; write EXPLAIN ANALYZE of the queries."""
    from processes.inbox import process_names
    from processes.queries import QUERIES, parse_filters, run_query
    from processes.reports import figures, local_today, run_report

    timings: dict[str, float] = {}
    with app.app_context():
        from models import db

        today = local_today(app.extensions["permitflow"].settings.zone)
        names = process_names()
        for label, name, args in report_cases(today):
            period = figures.parse_period(args, today)
            timings["report:" + label] = timed(lambda n=name, p=period: run_report(n, p, today, names))
            print(f"  report {label:<28} {timings['report:' + label]:.3f} s", flush=True)
        sample = sample_values(today)
        explains = []
        for label, name, args in query_cases(sample):
            spec = QUERIES[name]
            filters = parse_filters(spec, args)
            timings["query:" + label] = timed(lambda s=spec, f=filters: run_query(s, f, 1, 20))
            print(f"  query  {label:<28} {timings['query:' + label]:.3f} s", flush=True)
            statement = spec.build(filters).limit(20)
            compiled = statement.compile(db.engine, compile_kwargs={"literal_binds": True})
            plan = db.session.execute(db.text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
            explains.append(f"=== {label}\n" + "\n".join(plan))
            db.session.rollback()
        explain_path.write_text("\n\n".join(explains) + "\n", encoding="utf-8")
    return timings


def peak_rss_mb() -> float:
    """This process image's peak RSS: VmHWM (ru_maxrss would include the parent's peak: Linux keeps it over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_child(database: str, rows: int) -> None:
    """(child process) Stream an export of `rows` rows; print duration, row count and peak RSS as JSON."""
    from models import db
    from models.reports import ExportJob
    from processes.platform import get_platform
    from processes.queries.exports import export_dir, run_export

    with tempfile.TemporaryDirectory() as folder:
        app = make_app(database, EXPORT_MAX_ROWS=rows, EXPORT_DIR=folder)
        with app.app_context():
            baseline = peak_rss_mb()
            job = ExportJob(public_id=f"bench{os.getpid()}", kind="elicence", params={}, requested_by="bench")
            db.session.add(job)
            db.session.commit()
            started = time.perf_counter()
            done = run_export(get_platform(app), job.id)
            seconds = time.perf_counter() - started
            peak = peak_rss_mb()
            path = export_dir(app.extensions["permitflow"].settings) / f"{job.public_id}.xlsx"
            size = path.stat().st_size if path.exists() else 0
            db.session.delete(done)
            db.session.commit()
    print(
        json.dumps(
            {
                "status": done.status,
                "rows": done.done,
                "seconds": round(seconds, 2),
                "peak_mb": round(peak, 1),
                "baseline_mb": round(baseline, 1),
                "file_mb": round(size / 1e6, 1),
            }
        )
    )


def merge(path: Path, values: dict[str, Any]) -> None:
    """Merge into the postgresql object of results.json, keeping every other key."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    data = [o for o in data if isinstance(o, dict)] if isinstance(data, list) else []
    target = next((o for o in data if o.get("backend") == "postgresql"), None)
    if target is None:
        target = {"backend": "postgresql"}
        data.append(target)
    target.update(values)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main() -> int:
    """Build, measure, merge."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1_000_000, help="persons (= permits) to generate")
    parser.add_argument("--database", default="pf_reports_bench", help="PostgreSQL database for the scale data")
    parser.add_argument("--keep", action="store_true", help="keep the database for the next run")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the scale data")
    parser.add_argument("--export-rows", type=int, default=100_000)
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--export-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_child:
        export_child(args.database, args.export_rows)
        return 0
    try:
        import psycopg

        psycopg.connect(PG_ADMIN_DSN).close()
    except Exception as exc:  # any failure to reach the server means: skip
        print(f"bench_reports: PostgreSQL unreachable ({exc.__class__.__name__}); skipped")
        return 0
    ensure_database(args.database, args.rebuild)
    app = make_app(args.database)
    print(f"scale data: {args.scale:,} persons in database {args.database}", flush=True)
    started = time.perf_counter()
    built = build(app, args.scale)
    print(f"  {'built' if built['built'] else 'reused'}: {built}", flush=True)
    timings = measure(app, ROOT / "bench" / "explain_reports.txt")
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--export-child",
            "--database",
            args.database,
            "--export-rows",
            str(args.export_rows),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in child.stdout.splitlines() if line.startswith("{")]
    export = json.loads(lines[-1]) if lines else {"status": "failed", "error": child.stderr[-2000:]}
    print(f"  export: {export}", flush=True)
    report_max = max(timings.values())
    values: dict[str, Any] = {
        "report_max_s": report_max,
        "report_timings_s": timings,
        "scale_permits": built["permits"],
        "export_peak_mb": export.get("peak_mb"),
        "export_rows": export.get("rows"),
        "export_s": export.get("seconds"),
    }
    if built["built"]:
        values["scale_build_s"] = built["seconds"]
        values["scale_rows"] = built["rows"]
    merge(args.json_out, values)
    met = "met" if report_max <= TARGET_S else "NOT met"
    print(
        f"report/query max {report_max:.3f} s (target ≤ {TARGET_S} s: {met}); "
        f"export {export.get('rows')} rows in {export.get('seconds')} s, peak {export.get('peak_mb')} MB "
        f"(target < {TARGET_MB} MB: {'met' if (export.get('peak_mb') or 1e9) < TARGET_MB else 'NOT met'}); "
        f"total {time.perf_counter() - started:.0f} s"
    )
    if not args.keep:
        with app.app_context():  # the app holds pooled connections: close them before dropping
            from models import db

            db.engine.dispose()
        drop_database(args.database)
    return 0


if __name__ == "__main__":
    sys.exit(main())
