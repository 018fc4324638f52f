"""Finding 26: the inbox service itself decides whether case data may be unmasked (person.unmask)."""

from __future__ import annotations

from processes import inbox
from processes.stepping import Actor
from tests.support import person as sim_person
from tests.webapp.test_inbox import audit_floor, cases  # noqa: F401  (fixtures)


def test_task_detail_unmasks_only_for_an_actor_holding_person_unmask(app, cases):  # noqa: F811
    platform = app.extensions["permitflow"]
    full = sim_person("long", 2).id_number
    clerk = Actor("user", "clerk01", roles=("clerk",), extra={"district": None})
    system = Actor.system()
    with app.app_context():
        allowed = inbox.task_detail(platform, cases["BK-XH2"], clerk, unmask=True)
        assert allowed["unmasked"] and not allowed["unmask_refused"] and full in str(allowed["variables"])
        refused = inbox.task_detail(platform, cases["BK-XH2"], system, unmask=True)
        assert not refused["unmasked"] and refused["unmask_refused"] and full not in str(refused["variables"])
        plain = inbox.task_detail(platform, cases["BK-XH2"], system)
        assert not plain["unmasked"] and not plain["unmask_refused"]
    assert inbox.may_unmask(clerk) and not inbox.may_unmask(system)
    assert not inbox.may_unmask(Actor("user", "analyst01", roles=("analyst",)))
