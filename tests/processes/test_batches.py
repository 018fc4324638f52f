"""processes.batches: keyset pages in id order, one transaction per batch (or the caller's connection)."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update

from models import db
from processes.batches import id_batches

PROBE = Table("batch_probe", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(10)))


@pytest.fixture
def probe(ctx):
    PROBE.create(db.engine, checkfirst=True)
    with db.engine.begin() as conn:
        conn.execute(PROBE.delete())
        conn.execute(insert(PROBE), [{"id": i, "v": "old"} for i in (2, 4, 6, 8, 10, 12, 14)])
    yield
    PROBE.drop(db.engine)


def _ids(rows) -> list[int]:
    return [row["id"] for row in rows]


def test_pages_follow_the_id_and_rows_added_meanwhile_behind_the_cursor_are_not_revisited(probe):
    pages = []
    for conn, rows in id_batches(select(PROBE), PROBE.c.id, 3):
        pages.append(_ids(rows))
        if len(pages) == 1:
            conn.execute(insert(PROBE), [{"id": 1, "v": "new"}, {"id": 16, "v": "new"}])
    assert pages == [[2, 4, 6], [8, 10, 12], [14, 16]]


def test_each_batch_commits_on_its_own_and_a_failure_rolls_back_only_its_batch(probe):
    with pytest.raises(RuntimeError):
        for conn, rows in id_batches(select(PROBE), PROBE.c.id, 3):
            conn.execute(update(PROBE).where(PROBE.c.id.in_(_ids(rows))).values(v="done"))
            if 8 in _ids(rows):
                raise RuntimeError("second batch fails")
    with db.engine.connect() as conn:
        states = dict(conn.execute(select(PROBE.c.id, PROBE.c.v)).all())
    assert states == {2: "done", 4: "done", 6: "done", 8: "old", 10: "old", 12: "old", 14: "old"}


def test_on_a_given_connection_nothing_is_committed_for_the_caller(probe):
    seen = []
    with db.engine.connect() as conn:
        for batch_conn, rows in id_batches(select(PROBE).where(PROBE.c.id > 4), PROBE.c.id, 2, conn):
            assert batch_conn is conn
            seen.append(_ids(rows))
            conn.execute(update(PROBE).where(PROBE.c.id.in_(_ids(rows))).values(v="x"))
        conn.rollback()  # the caller (a migration) owns the transaction: no batch committed on its own
    assert seen == [[6, 8], [10, 12], [14]]
    with db.engine.connect() as conn:
        assert set(conn.execute(select(PROBE.c.v)).scalars()) == {"old"}
