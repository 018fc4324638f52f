"""Walking a whole table in id order, one short transaction per batch, for the background re-sealing passes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Select
from sqlalchemy.engine import Connection

from models import db


@contextmanager
def unit(connection: Connection | None) -> Iterator[Connection]:
    """The given connection as is (a migration's), or a new connection in a transaction committed on exit."""
    if connection is not None:
        yield connection
        return
    with db.engine.begin() as conn:
        yield conn


def id_batches(
    query: Select[Any], id_column: ColumnElement[Any], batch: int, connection: Connection | None = None
) -> Iterator[tuple[Connection, Sequence[RowMapping]]]:
    """Yield (connection, rows) per batch of `query` in `id_column` order; each batch is its own transaction.

    Keyset paging (`id > last`), so rows inserted meanwhile never shift a batch; what the caller writes
    while it holds a batch commits when it asks for the next one (an error rolls that batch back).
    """
    after = None
    while True:
        page = query.order_by(id_column).limit(batch)
        if after is not None:
            page = page.where(id_column > after)
        with unit(connection) as conn:
            rows = conn.execute(page).mappings().all()
            if not rows:
                return
            after = rows[-1][id_column.key]
            yield conn, rows
