"""Two completions of one task: exactly one wins, the other gets 409 and nothing is half-written."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from models import ProcessEvent, db
from processes.errors import Conflict
from processes.tasks import complete_task
from tests.support import clerk, ready_task, register_key, start_registration
from tests.support import person as sim_person


def test_two_concurrent_completions_exactly_one_wins(app, drain):
    client = app.test_client()
    started = start_registration(client, register_key(app), sim_person("long")).get_json()
    drain()
    task = ready_task(app, started["id"])
    platform = app.extensions["permitflow"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def complete(name: str) -> None:
        with app.app_context():
            barrier.wait()
            try:
                complete_task(platform, task.id, {"decision": "approve"}, clerk(name))
                outcomes.append("ok")
            except Conflict as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=complete, args=(n,)) for n in ("clerk01", "clerk02")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(outcomes) == 2 and outcomes.count("ok") == 1, outcomes
    assert set(outcomes) - {"ok"} <= {"TASK_NOT_READY", "CONCURRENT_UPDATE", "BUSY"}
    with app.app_context():
        completions = db.session.execute(select(func.count()).where(ProcessEvent.kind == "task_completed")).scalar_one()
    assert completions == 1


def test_completing_a_done_task_again_is_409_over_the_api(app, drain):
    client = app.test_client()
    key = register_key(app)
    started = start_registration(client, key, sim_person("exactly5")).get_json()
    drain()
    task_id = client.get(f"/api/v1/instances/{started['id']}", headers={"X-Api-Key": key}).get_json()["current_tasks"][
        0
    ]["id"]
    first = client.post(
        f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "continue"}}
    )
    second = client.post(
        f"/api/v1/tasks/{task_id}/complete", headers={"X-Api-Key": key}, json={"data": {"choice": "continue"}}
    )
    assert first.status_code == 200
    assert second.status_code == 409 and second.get_json()["code"] == "TASK_NOT_READY"
