"""Workflow snapshots are SM4-GCM-sealed at rest and bound to their instance."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from models import db
from processes.errors import Conflict
from processes.tasks import complete_task
from tests.support import clerk, person, ready_task, register_key, start_registration


def _raw(public_id: str) -> str:
    return db.session.execute(
        text("SELECT snapshot FROM process_instance WHERE public_id = :p"), {"p": public_id}
    ).scalar_one()


def _started(app, drain, nth: int) -> tuple[str, object]:
    p = person("long", nth)
    body = start_registration(app.test_client(), register_key(app), p).get_json()
    drain()
    return body["id"], p


def test_a_snapshot_holds_no_personal_data_in_clear(app, drain):
    public_id, p = _started(app, drain, 0)
    with app.app_context():
        stored = _raw(public_id)
    assert stored.startswith("pfsnap1:field-enc:")
    assert p.id_number not in stored and p.name not in stored and p.mobile not in stored
    assert ready_task(app, public_id).task_spec == "Task_clerk_review"  # and it still runs


def test_a_snapshot_moved_to_another_instance_is_refused(app, drain):
    first, _ = _started(app, drain, 1)
    second, _ = _started(app, drain, 2)
    task = ready_task(app, second)
    with app.app_context():
        # Someone with database access gives the second case the first case's (valid) snapshot.
        db.session.execute(
            text("UPDATE process_instance SET snapshot = :s WHERE public_id = :p"), {"s": _raw(first), "p": second}
        )
        db.session.commit()
        with pytest.raises(Conflict) as refused:
            complete_task(app.extensions["permitflow"], task.id, {"decision": "approve", "comment": "ok"}, clerk())
    assert refused.value.code == "RECORD_TAMPERED"


def test_a_snapshot_from_before_sealing_still_opens(app):
    with app.app_context():
        engine = app.extensions["permitflow"].engine
        sealed = engine.sealer.seal('{"x": 1}', "abc")
        assert engine.sealer.open(sealed, "abc") == '{"x": 1}'
        assert engine.sealer.open('{"x": 1}', "abc") == '{"x": 1}'  # a plain snapshot written before sealing
        with pytest.raises(Conflict):
            engine.sealer.open(sealed, "another-instance")
        with pytest.raises(Conflict):
            engine.sealer.open(sealed[:-8] + "AAAAAAA=", "abc")


def test_reseal_moves_clear_and_old_key_snapshots_onto_the_current_key(app, drain):
    from processes.snapshots import reseal_snapshots

    public_id, p = _started(app, drain, 3)
    with app.app_context():
        platform = app.extensions["permitflow"]
        clear = platform.engine.sealer.open(_raw(public_id), public_id)
        db.session.execute(  # as written before snapshots were sealed
            text("UPDATE process_instance SET snapshot = :s WHERE public_id = :p"), {"s": clear, "p": public_id}
        )
        db.session.commit()
        result = reseal_snapshots(platform)
        assert result.resealed >= 1 and result.refused == 0
        stored = _raw(public_id)
        assert stored.startswith("pfsnap1:") and p.id_number not in stored
        assert reseal_snapshots(platform).resealed == 0  # nothing left on an old key
    assert ready_task(app, public_id).task_spec == "Task_clerk_review"
