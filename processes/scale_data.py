"""`permitflow demo-data --scale N`: realistic history for N persons, fast, with valid field protection.

Per person: a photo, a residence registration (10 % later deregistered, some deaths put on the death list),
a permit with its card-production item and e-licence push, yearly endorsements, and the permit's
`permit_application` process instance with 4–6 steps in process_event (≈ 6 events per permit).
Rows are written in chunks: PostgreSQL through COPY (psycopg), SQLite through executemany.

Protection: every row of a protected table goes through models.protection.seal_values (the same functions
the ORM hooks use) with the current keys fetched once, so ID numbers, mobiles and addresses are SM4-GCM
ciphertexts, blind indexes are HMAC-SM3 and every key-field MAC verifies when the row is loaded. Bulk-made
instances are history only: all completed (also those whose card is still in production) and without an
engine snapshot, so nothing can try to resume them.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, text

from models import (
    Deregistration,
    Endorsement,
    IntegrationCall,
    Permit,
    Person,
    Photo,
    ProcessEvent,
    ProcessInstance,
    ProductionBatch,
    ProductionItem,
    ResidenceRegistration,
    SmsBlock,
    db,
)
from models.protection import (
    Sealed,
    stored_form,
)
from processes.scale_data_common import CHUNK, id_checksum, id_number  # noqa: F401  (the public helpers)
from processes.scale_data_rows import Generator


class Writer:
    """Appends rows to a table: COPY of pre-encoded text on PostgreSQL, executemany elsewhere."""

    def __init__(self) -> None:
        self.pg = db.engine.dialect.name == "postgresql"
        self.counts: dict[str, int] = {}

    def write(self, model: Any, rows: list[dict[str, Any]] | tuple[list[str], str, int]) -> None:
        """Write rows given as dicts, or (on PostgreSQL) as (columns, COPY text, row count) from `encode`."""
        table = model.__table__
        if isinstance(rows, list):
            if not rows:
                return
            if not self.pg:
                self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
                db.session.execute(insert(table), rows)
                return
            rows = encode(rows)
        columns, data, count = rows
        if not count:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + count
        cursor = db.session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            copy.write(data)


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    if value is None:
        return "\\N"
    stored = stored_form(value)
    if stored is not None:
        return stored
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).translate(_ESCAPES)
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    return str(value)


def encode(rows: list[dict[str, Any]]) -> tuple[list[str], str, int]:
    """Rows as PostgreSQL COPY text (tab-separated, \\N for NULL); done in the worker processes."""
    if not rows:
        return [], "", 0
    columns = list(rows[0])
    lines = ["\t".join([_text(row[c]) for c in columns]) for row in rows]
    return columns, "\n".join(lines) + "\n", len(rows)


# Parents before children (foreign keys), process instances before the permits that name them.
WRITE_ORDER = (
    Person,
    Photo,
    ResidenceRegistration,
    ProcessInstance,
    Permit,
    Endorsement,
    Deregistration,
    ProcessEvent,
    ProductionItem,
    IntegrationCall,
    SmsBlock,
)


_WORKER: dict[str, Any] = {}
_SEALED = "__sealed__"


def _init_worker(app: Any, generator: Generator, pg: bool) -> None:
    # Forked: never touch the parent's pooled connections; field protection needs an app context.
    db.engine.dispose(close=False)
    context = app.app_context()
    context.push()
    _WORKER.update(generator=generator, pg=pg, context=context)


def _build(span: tuple[int, int]) -> dict[str, Any]:
    rows = _WORKER["generator"].chunk(*span)
    if _WORKER["pg"]:
        return {model.__tablename__: encode(value) for model, value in rows.items()}
    # A Sealed value pickles as plain text (by design), which would lose the ciphertext the MAC covers.
    return {model.__tablename__: [_pack(row) for row in value] for model, value in rows.items()}


def _pack(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (_SEALED, str(v), v.stored, v.label, v.row_id) if stored_form(v) is not None else v for k, v in row.items()
    }


def _unpack(rows: Any) -> Any:
    if not isinstance(rows, list):
        return rows
    return [
        {
            k: Sealed(v[1], v[2], v[3], v[4]) if isinstance(v, tuple) and v and v[0] == _SEALED else v
            for k, v in row.items()
        }
        for row in rows
    ]


def generate(
    platform: Any,
    scale: int,
    *,
    seed: int = 7,
    today: date | None = None,
    workers: int = 1,
    chunk: int = CHUNK,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Generate history for `scale` persons (chunks built by `workers` processes), then rebuild the summary."""
    from flask import current_app

    from processes.reports.summary import refresh

    started = time.perf_counter()
    zone = platform.settings.zone
    today = today or datetime.now(zone).date()
    gen = Generator(platform, scale, seed, today)
    writer = Writer()
    writer.write(ProductionBatch, gen.batch_rows())
    db.session.commit()
    spans = [(first, min(chunk, scale - first)) for first in range(0, scale, chunk)]
    by_name = {model.__tablename__: model for model in WRITE_ORDER}
    app = current_app._get_current_object()
    pool = None
    if workers > 1:
        pool = multiprocessing.get_context("fork").Pool(workers, _init_worker, (app, gen, writer.pg))
        chunks = pool.imap(_build, spans)
    else:
        _WORKER.update(generator=gen, pg=writer.pg)
        chunks = map(_build, spans)
    done = 0
    try:
        for (_first, count), rows in zip(spans, chunks, strict=True):
            for name in [m.__tablename__ for m in WRITE_ORDER]:
                writer.write(by_name[name], _unpack(rows[name]))
            db.session.commit()
            done += count
            if progress:
                progress(f"{done}/{scale} persons, {time.perf_counter() - started:.0f}s")
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if writer.pg:
        _fix_sequences()
        db.session.commit()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("ANALYZE"))
    loaded = time.perf_counter() - started
    summary = refresh(None, None, zone)
    db.session.commit()
    return {
        "rows": writer.counts,
        "load_seconds": round(loaded, 1),
        "summary_seconds": summary["seconds"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _fix_sequences() -> None:
    # COPY wrote explicit ids: move each identity sequence past them.
    for model in (*WRITE_ORDER, ProductionBatch):
        table = model.__tablename__
        db.session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")
        )
