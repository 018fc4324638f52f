"""Migrations build exactly the models' schema; history tables refuse change."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from models import ProcessEvent, db
from models.base import Base
from models.schema import current_revision, head_revision


def test_database_is_at_head_and_matches_the_models(ctx):
    assert current_revision() == head_revision()
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_process_events_are_append_only(ctx):
    from processes.instances import start_instance
    from processes.stepping import Actor
    from tests.support import application
    from tests.support import person as sim_person

    platform = ctx.extensions["permitflow"]
    instance, _ = start_instance(
        platform, "residence_registration", "BK-AO", application(sim_person("long")), Actor(kind="ops", name="ops:t")
    )
    event = db.session.execute(db.select(ProcessEvent).where(ProcessEvent.instance_id == instance.id)).scalars().first()
    event.kind = "forged"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    if db.engine.dialect.name == "postgresql":  # the database itself refuses, whatever the client
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as conn:
            conn.execute(text("UPDATE process_event SET kind = 'forged'"))
