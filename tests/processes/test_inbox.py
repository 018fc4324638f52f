"""Inbox services: case districts from case data, the clerk's district scope in queues and actions, filters."""

from __future__ import annotations

import pytest

from processes import case_scope
from processes.case_masking import masked
from processes.errors import NotFound
from processes.inbox import dashboard, inbox, parse_filters
from processes.instances import start_instance
from processes.stepping import Actor
from processes.tasks import TaskFilter, claim_task, get_task, list_tasks
from processes.users import upsert_user
from tests.support import application
from tests.support import person as sim_person

OPS = Actor(kind="ops", name="ops:test")


def clerk(name: str, district: str | None) -> Actor:
    """A clerk as the web layer builds them (district "" = a clerk without a district)."""
    return Actor(kind="user", name=name, roles=("clerk",), extra={"district": district})


def test_case_facts_read_districts_and_the_subject(ctx):
    upsert_user("clerk-x", "测试", "clerk", "Pf#Passw0rd-x1", "PD-HM-01", "浦东新区")
    districts, subject = case_scope.case_facts(
        {
            "applicant": {
                "id_number": "31010419900101123x",
                "address": "上海市徐汇区田林路200号",
                "service_point": "PD-HM-01",
            },
            "housing_check": {"district": "闵行区"},
        }
    )
    assert districts == {"徐汇区", "浦东新区", "闵行区"} and subject == "31010419900101123X"
    moved = case_scope.case_facts(
        {"request": {"id_number": "x", "new_district": "静安区"}, "address_check": {"current_district": "黄浦区"}}
    )
    assert moved == ({"静安区", "黄浦区"}, "X")
    assert case_scope.case_facts({"applicant": {"address": "某小区5号楼"}, "note": "text"}) == (set(), None)


@pytest.fixture
def queue(ctx, drain):
    platform = ctx.extensions["permitflow"]
    start_instance(platform, "residence_registration", "BK-S-XH", application(sim_person("long", 0)), OPS)
    start_instance(
        platform,
        "residence_registration",
        "BK-S-UNK",
        application(sim_person("long", 1), address="某小区5号楼"),  # no district can be told
        OPS,
    )
    drain()
    rows, _ = list_tasks(Actor(kind="user", name="any", roles=("clerk",)), TaskFilter(), 1, 50)
    return platform, {t.business_key: t.id for t in rows}


def test_clerks_see_only_their_district_unknown_cases_go_to_no_clerk(queue):
    _platform, ids = queue
    assert set(ids) == {"BK-S-XH", "BK-S-UNK"}
    xuhui, pudong, nowhere = clerk("c1", "徐汇区"), clerk("c2", "浦东新区"), clerk("c3", "")
    assert [t.business_key for t in list_tasks(xuhui, TaskFilter(), 1, 50)[0]] == ["BK-S-XH"]
    assert list_tasks(pudong, TaskFilter(), 1, 50) == ([], 0)
    assert list_tasks(nowhere, TaskFilter(), 1, 50) == ([], 0)
    with pytest.raises(NotFound):
        get_task(ids["BK-S-XH"], pudong)
    with pytest.raises(NotFound):
        claim_task(ids["BK-S-UNK"], xuhui)
    assert claim_task(ids["BK-S-XH"], xuhui).assignee == "c1"
    # Approvers and other unscoped staff (extra without a district) are not limited by district.
    assert (
        list_tasks(Actor(kind="user", name="a", roles=("clerk",), extra={"district": None}), TaskFilter(), 1, 50)[1]
        == 2
    )
    assert case_scope.districts_of(get_task(ids["BK-S-XH"], xuhui).instance_id) == ["徐汇区"]
    nobody = Actor(kind="user", name="a", roles=("clerk",))
    assert case_scope.districts_of(get_task(ids["BK-S-UNK"], nobody).instance_id) == []


def test_inbox_rows_filters_and_dashboard(queue):
    xuhui = clerk("c1", "徐汇区")
    filters, page, per_page = parse_filters({"business_key": "BK-S-XH", "per_page": "10"})
    result = inbox(xuhui, filters, page, per_page)
    assert result.total == 1 and result.pages == 1 and result.items[0]["process_name"]
    assert result.items[0]["overdue"] is False and result.items[0]["mine"] is False
    assert dashboard(xuhui, frozenset({"inbox.view"})) == {"ready": 1, "mine": 0, "overdue": 0}
    assert dashboard(xuhui, frozenset()) == {}


def test_masking_hides_identifiers_recursively():
    data = {
        "applicant": {"id_number": "310104199001011234", "mobile": "13812345678", "name": "张三"},
        "list": [{"reporter_id_number": "310104199001011234"}],
        "other": "310104199001011234",
    }
    shown = masked(data)
    assert shown["applicant"] == {"id_number": "310104********1234", "mobile": "138****5678", "name": "张*"}
    assert shown["list"][0]["reporter_id_number"].startswith("310104*") and shown["other"].endswith("*1234")
    assert masked(data, unmask=True) == data


def test_id_number_search_goes_through_the_blind_index(queue):
    from models import CaseScope, db

    xuhui = clerk("c1", "徐汇区")
    subject = sim_person("long", 0).id_number
    found, total = list_tasks(xuhui, TaskFilter(id_number=subject), 1, 50)
    assert total == 1 and found[0].business_key == "BK-S-XH"
    assert list_tasks(xuhui, TaskFilter(id_number=sim_person("long", 1).id_number), 1, 50)[1] == 0  # not theirs
    stored = set(db.session.execute(db.select(CaseScope.id_index)).scalars())
    assert subject not in {s.split("$")[-1] for s in stored if s} and all(s.count("$") == 1 for s in stored if s)


def test_a_new_task_refreshes_a_stale_scope(queue):
    from datetime import timedelta

    from models import CaseScope, db, utcnow

    platform, ids = queue
    anyone = Actor(kind="user", name="a", roles=("clerk",))
    task = get_task(ids["BK-S-XH"], anyone)
    assert case_scope.ensure_scopes(platform, [task.instance_id]) == 1
    db.session.execute(db.update(CaseScope).values(district="黄浦区", computed_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    assert case_scope.ensure_scopes(platform, [task.instance_id]) == 0  # rows exist: no recompute without `since`
    assert case_scope.ensure_scopes(platform, [task.instance_id], since=utcnow() - timedelta(hours=1)) == 1
    assert case_scope.districts_of(task.instance_id) == ["徐汇区"]


def test_the_service_point_filter(queue, drain):
    platform, _ids = queue
    # A service point is legal when staff work there (registration.validate): give XH-TL-01 a clerk.
    upsert_user("clerk-pt", "网点受理员", "clerk", "Pf#Passw0rd-x1", "XH-TL-01", "徐汇区")
    start_instance(
        platform,
        "residence_registration",
        "BK-S-PT",
        application(sim_person("long", 2), service_point="XH-TL-01"),
        OPS,
    )
    drain()
    xuhui = clerk("c1", "徐汇区")
    everything = {t.business_key for t in list_tasks(xuhui, TaskFilter(), 1, 50)[0]}
    at_point = {t.business_key for t in list_tasks(xuhui, TaskFilter(service_point="XH-TL-01"), 1, 50)[0]}
    assert everything == {"BK-S-XH", "BK-S-PT"} and at_point == {"BK-S-PT"}
