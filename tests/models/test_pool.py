"""Pooled connections are pinged only after sitting idle; a stale one is replaced before use."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import QueuePool

from models.pool import ping_when_idle


def _counting_engine(url: str, idle: float):
    engine = create_engine(url, poolclass=QueuePool, pool_size=1, max_overflow=0)
    pings = []
    real_ping = engine.dialect.do_ping
    engine.dialect.do_ping = lambda conn: pings.append(1) or real_ping(conn)
    ping_when_idle(engine, idle)
    return engine, pings


def test_busy_connections_are_not_pinged_idle_ones_are(tmp_path):
    engine, pings = _counting_engine(f"sqlite:///{tmp_path / 'pool.db'}", idle=1.0)
    for _ in range(5):  # back-to-back transactions: no round trip spent on pings (1 s leaves room on a busy machine)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
    assert pings == []
    time.sleep(1.05)
    with engine.connect() as conn:
        conn.execute(text("select 1"))
    assert pings == [1]


def test_a_connection_killed_while_idle_is_replaced_before_use(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("needs PostgreSQL (a server-side kill)")
    engine, pings = _counting_engine(database_url, idle=0.2)
    with engine.connect() as conn:
        victim = conn.execute(text("select pg_backend_pid()")).scalar_one()
    with create_engine(database_url).connect() as admin:
        admin.execute(text("select pg_terminate_backend(:pid)"), {"pid": victim})
        admin.commit()
    time.sleep(0.25)
    with engine.connect() as conn:  # pinged, found dead, reconnected: the caller never sees the error
        assert conn.execute(text("select pg_backend_pid()")).scalar_one() != victim
    assert pings
