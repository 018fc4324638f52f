"""Speed of `permitflow integrity check` (S1): rows checked per second on SQLite and/or PostgreSQL.

Usage: .venv/bin/python bench/bench_integrity.py [--rows 30000] [--backend sqlite|postgresql|both]
                                                [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]
Seeds a fresh database with `rows` persons (3 encrypted fields, 2 blind indexes, a MAC each), as many
registrations (1 encrypted field) and as many permits, all sealed exactly as the model layer seals them,
then times the full scan (best of three). The PostgreSQL database is created for the run and dropped after.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SEED_BATCH = 2000


def seed(rows: int) -> None:
    """Insert `rows` persons, registrations and permits, encrypted, indexed and sealed (Core, in batches)."""
    from models import Permit, Person, ResidenceRegistration, db
    from models.protection import ENC_PURPOSE, INDEX_PURPOSE, MAC_PURPOSE, current_keys, seal_values, spec_of

    provider = current_keys()
    keys = {purpose: provider.symmetric_key(purpose) for purpose in (ENC_PURPOSE, INDEX_PURPOSE, MAC_PURPOSE)}
    specs = {model: spec_of(model) for model in (Person, ResidenceRegistration, Permit)}

    def sealed(model, row):
        return seal_values(specs[model], row, keys)

    day = date(2025, 1, 1)
    for start in range(0, rows, SEED_BATCH):
        numbers = range(start + 1, min(rows, start + SEED_BATCH) + 1)
        persons, registrations, permits = [], [], []
        for n in numbers:
            persons.append(
                sealed(
                    Person,
                    {
                        "id": n,
                        "id_number": f"31010119{n:010d}",
                        "name": f"测试人员{n}",
                        "gender": "MF"[n % 2],
                        "birth_date": date(1990, 1, 1) + timedelta(days=n % 9000),
                        "ethnicity": "汉族",
                        "mobile": f"139{n:08d}",
                        "household_address": f"上海市徐汇区田林路{n}号",
                        "deceased": False,
                        "rare_name": False,
                    },
                )
            )
            registrations.append(
                sealed(
                    ResidenceRegistration,
                    {
                        "id": n,
                        "number": f"DJB{n:010d}",
                        "person_id": n,
                        "status": "active",
                        "address": f"上海市徐汇区虹梅路{n}号{n % 30}室",
                        "address_code": None,
                        "house_id": f"H{n}",
                        "district": "徐汇区",
                        "registered_on": day,
                        "valid_until": day + timedelta(days=1095),
                        "photo_id": None,
                        "previous_id": None,
                    },
                )
            )
            permits.append(
                sealed(
                    Permit,
                    {
                        "id": n,
                        "number": f"PB{n:010d}",
                        "person_id": n,
                        "registration_id": n,
                        "status": "issued",
                        "card_status": "made",
                        "photo_id": None,
                        "valid_from": day,
                        "valid_until": day + timedelta(days=365),
                        "issued_at": None,
                        "replaces_id": None,
                        "lost_at": None,
                        "lost_reported_by": None,
                    },
                )
            )
        with db.engine.begin() as conn:
            conn.execute(Person.__table__.insert(), persons)
            conn.execute(ResidenceRegistration.__table__.insert(), registrations)
            conn.execute(Permit.__table__.insert(), permits)


def insert_cost(rows: int, first_id: int) -> dict[str, float]:
    """ORM inserts of persons, µs per row: with a database-assigned id (INSERT, then the UPDATE that binds the
    ciphertexts and MAC to the new id) and with an id given up front (sealed before the INSERT, no UPDATE)."""
    from sqlalchemy import text

    from models import Person, db

    def run(explicit: bool, start: int) -> float:
        started = time.perf_counter()
        for offset in range(0, rows, 100):
            for n in range(start + offset, start + min(rows, offset + 100)):
                person = Person(
                    id_number=f"ORM{n:015d}",
                    name="测试",
                    gender="M",
                    birth_date=date(1990, 1, 1),
                    mobile=f"139{n % 10**8:08d}",
                    household_address="上海市测试路1号",
                )
                if explicit:
                    person.id = n
                db.session.add(person)
            db.session.commit()
        return (time.perf_counter() - started) / rows * 1e6

    given = run(True, first_id)
    if db.engine.dialect.name == "postgresql":  # the seed and the run above gave explicit ids
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('person', 'id'), (SELECT MAX(id) FROM person))"))
        db.session.commit()
    assigned = run(False, first_id + rows)
    return {"orm_insert_given_id_us": round(given), "orm_insert_assigned_id_us": round(assigned)}


def measure(database_url: str, rows: int, data_dir: str) -> dict[str, float]:
    """Seed a fresh database and time the full integrity scan (best of three)."""
    from config import Settings
    from models.schema import upgrade
    from processes.integrity import scan
    from webapp import create_app

    settings = Settings.from_env(
        environ={},
        PERMITFLOW_ENV="test",
        DATABASE_URL=database_url,
        DATA_DIR=data_dir,
        JOB_MODE="eager",
        LOG_LEVEL="WARNING",
        LOG_JSON=False,
    )
    app = create_app(settings)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        seed(rows)
        seeded = time.perf_counter() - started
        best = None
        for _ in range(3):
            report = scan()
            if best is None or report.seconds < best.seconds:
                best = report
        assert best is not None and not best.tampered, best.tampered[:5]
        inserts = insert_cost(2000, rows + 1)
    return {
        "rows": best.checked,
        "seconds": round(best.seconds, 3),
        "rows_per_s": round(best.rows_per_second),
        "seed_s": round(seeded, 1),
        **inserts,
    }


def run_sqlite(rows: int) -> dict[str, float]:
    """The figure on the embedded SQLite database."""
    with tempfile.TemporaryDirectory() as folder:
        return measure(f"sqlite:///{folder}/bench.db", rows, folder)


def run_postgresql(rows: int, url: str) -> dict[str, float]:
    """The figure on a scratch PostgreSQL database."""
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"permitflow_bench_integrity_{os.getpid()}_{secrets.token_hex(3)}"
    admin = (
        f"host={base.host or '127.0.0.1'} port={base.port or 5432} user={base.username or 'postgres'} dbname=postgres"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        with tempfile.TemporaryDirectory() as folder:
            return measure(base.set(database=name).render_as_string(hide_password=False), rows, folder)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _line(backend: str, figures: dict[str, float]) -> str:
    return (
        f"{backend + ':':<12}{figures['rows']:>7} rows in {figures['seconds']:.2f}s"
        f" = {figures['rows_per_s']:>7,} rows/s (seeded in {figures['seed_s']}s); ORM insert of a person:"
        f" {figures['orm_insert_assigned_id_us']} µs with a database-assigned id (INSERT + binding UPDATE),"
        f" {figures['orm_insert_given_id_us']} µs with the id given"
    )


def main() -> None:
    """Parse arguments, run, print figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=30000, help="persons (and registrations, and permits)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--pg-url", default=os.environ.get("BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args()
    if args.backend in ("sqlite", "both"):
        figures = run_sqlite(args.rows)
        print(_line("sqlite", figures))
    if args.backend in ("postgresql", "both"):
        figures = run_postgresql(args.rows, args.pg_url)
        print(_line("postgresql", figures))


if __name__ == "__main__":
    main()
