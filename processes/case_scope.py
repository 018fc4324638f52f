"""Object scope of cases (issue 6 item 3): the districts a case belongs to, and a clerk's view limited to them.

A case's districts come from its data once, when a staff query first meets it: the district of the service
point it was submitted at (the staff directory knows each point's district), the district of the residence
address (housing check or address text), and for an address change the move-in district. As in
processes.permissions.can_access_district, a clerk sees only cases of their own district: a case whose district
cannot be told is in no clerk's inbox (the operations console lists it for follow-up), and a clerk without a
district sees nothing. Approvers and other roles without a district scope see every district.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, false, select

from models import AppUser, CaseScope, HumanTask, ProcessInstance, db, utcnow
from models.protection import blind_index, blind_indexes
from processes.errors import Conflict
from processes.platform import Platform
from processes.stepping import Actor
from processes.unit_of_work import transaction

log = logging.getLogger(__name__)

# Shanghai's sixteen districts: an address names its district by one of these (a "小区" is not a district).
SHANGHAI_DISTRICTS = (
    "黄浦区", "徐汇区", "长宁区", "静安区", "普陀区", "虹口区", "杨浦区", "闵行区",
    "宝山区", "嘉定区", "浦东新区", "金山区", "松江区", "青浦区", "奉贤区", "崇明区",
)  # fmt: skip
_DISTRICT_IN_ADDRESS = re.compile("|".join(SHANGHAI_DISTRICTS))
# Variables whose "id_number" is the case's subject, most specific first.
SUBJECT_VARIABLES = ("applicant", "request", "subject", "correction")
ADDRESS_VARIABLES = ("applicant", "application", "housing_check", "registration")


def is_scoped(actor: Actor) -> bool:
    """True for a staff member bound to a district (actor.extra["district"] set by the web layer, "" = none)."""
    return actor.kind == "user" and actor.extra.get("district") is not None


def scope_clause(actor: Actor, instance_column=HumanTask.instance_id):
    """A WHERE clause limiting rows (by their instance id column) to the actor's district, or None."""
    if not is_scoped(actor):
        return None
    district = actor.extra["district"]
    if not district:
        return false()
    return exists(select(CaseScope.id).where(CaseScope.instance_id == instance_column, CaseScope.district == district))


def subject_index(id_number: str | None) -> str | None:
    """The blind index (HMAC-SM3 under the current key) of an ID number, or None."""
    if not id_number:
        return None
    return blind_index(id_number.strip().upper())


def _district_of_point(point: str) -> str | None:
    return db.session.execute(
        select(AppUser.district).where(AppUser.service_point == point, AppUser.district.is_not(None)).limit(1)
    ).scalar_one_or_none()


def service_point_of(data: dict[str, Any]) -> str | None:
    """The service point a case was submitted at (the applicant's or requester's), if any."""
    for name in SUBJECT_VARIABLES:
        holder = data.get(name)
        point = holder.get("service_point") if isinstance(holder, dict) else None
        if isinstance(point, str) and point.strip():
            return point.strip()[:40]
    return None


def case_facts(data: dict[str, Any]) -> tuple[set[str], str | None]:
    """(districts, subject ID number) read from a case's data."""
    districts: set[str] = set()
    dicts = {k: v for k, v in data.items() if isinstance(v, dict)}
    for value in dicts.values():
        point = value.get("service_point")
        if isinstance(point, str) and point.strip():
            found = _district_of_point(point.strip())
            if found:
                districts.add(found)
    housing = dicts.get("housing_check", {})
    if isinstance(housing.get("district"), str) and housing["district"].strip():
        districts.add(housing["district"].strip())
    address_check = dicts.get("address_check", {})
    if isinstance(address_check.get("current_district"), str) and address_check["current_district"]:
        districts.add(address_check["current_district"])
    request = dicts.get("request", {})
    if isinstance(request.get("new_district"), str) and request["new_district"].strip():
        districts.add(request["new_district"].strip())
    for name in ADDRESS_VARIABLES:
        address = dicts.get(name, {}).get("address")
        if isinstance(address, str):
            match = _DISTRICT_IN_ADDRESS.search(address)
            if match:
                districts.add(match.group(0))
    return districts, case_facts_subject(data)


def case_facts_subject(data: dict[str, Any]) -> str | None:
    """The ID number of the case's subject (applicant, requester, …), if the data names one."""
    for name in SUBJECT_VARIABLES:
        holder = data.get(name)
        value = holder.get("id_number") if isinstance(holder, dict) else None
        if isinstance(value, str) and value.strip():
            return value.strip().upper()
    return None


def case_data(platform: Platform, instance: ProcessInstance) -> dict[str, Any]:
    """The case's latest data (from its snapshot)."""
    if not instance.snapshot:
        return {}
    return platform.engine.data(platform.engine.load(instance.snapshot, instance.public_id))


def ensure_scopes(platform: Platform, instance_ids: Iterable[int], since: datetime | None = None) -> int:
    """Compute and store the scope of the given cases that have none yet (or, with `since`, none computed since
    then: a new task may come with new facts, e.g. the move-in district). Returns how many were computed."""
    wanted = set(instance_ids)
    if not wanted:
        return 0
    query = select(CaseScope.instance_id).where(CaseScope.instance_id.in_(wanted))
    if since is not None:
        query = query.where(CaseScope.computed_at >= since)
    current = set(db.session.execute(query.distinct()).scalars())
    return _compute(platform, sorted(wanted - current))


def _compute(platform: Platform, instance_ids: list[int]) -> int:
    if not instance_ids:
        return 0
    try:
        with transaction():
            db.session.execute(
                delete(CaseScope)
                .where(CaseScope.instance_id.in_(instance_ids))
                .execution_options(synchronize_session=False)
            )
            now = utcnow()
            for instance in db.session.execute(
                select(ProcessInstance).where(ProcessInstance.id.in_(instance_ids))
            ).scalars():
                data = case_data(platform, instance)
                districts, subject = case_facts(data)
                index, point = subject_index(subject), service_point_of(data)
                for district in sorted(districts) or [None]:
                    db.session.add(
                        CaseScope(
                            instance_id=instance.id,
                            district=district,
                            service_point=point,
                            id_index=index,
                            computed_at=now,
                        )
                    )
    except Conflict:  # another request computed the same case at the same moment: its rows stand
        log.info("case scope computed concurrently for %s", instance_ids[:5])
    return len(instance_ids)


def ensure_task_scopes(platform: Platform, actor: Actor, status: str = "ready") -> int:
    """(Re)compute the scope of every case holding a task in the actor's roles created after its scope was."""
    fresh = exists(
        select(CaseScope.id).where(
            CaseScope.instance_id == HumanTask.instance_id, CaseScope.computed_at >= HumanTask.created_at
        )
    )
    query = select(HumanTask.instance_id).where(HumanTask.status == status, ~fresh)
    if actor.kind == "user":
        query = query.where(HumanTask.role.in_(actor.roles))
    return _compute(platform, sorted(set(db.session.execute(query.limit(2000)).scalars())))


def ensure_recent_scopes(platform: Platform, limit: int = 2000) -> int:
    """Compute the scope of the newest cases that have none (an ID-number search over instances needs it)."""
    query = (
        select(ProcessInstance.id)
        .where(~exists(select(CaseScope.id).where(CaseScope.instance_id == ProcessInstance.id)))
        .order_by(ProcessInstance.id.desc())
        .limit(limit)
    )
    return _compute(platform, list(db.session.execute(query).scalars()))


def in_scope(platform: Platform, actor: Actor, instance_id: int) -> bool:
    """True when the actor may see this case (computing its scope first if needed)."""
    if not is_scoped(actor):
        return True
    ensure_scopes(platform, [instance_id])
    clause = scope_clause(actor, ProcessInstance.id)
    return (
        db.session.execute(select(ProcessInstance.id).where(and_(ProcessInstance.id == instance_id, clause))).first()
        is not None
    )


def at_service_point(point: str, instance_column=HumanTask.instance_id):
    """A WHERE clause: the case was submitted at this service point."""
    return exists(
        select(CaseScope.id).where(CaseScope.instance_id == instance_column, CaseScope.service_point == point)
    )


def districts_of(instance_id: int) -> list[str]:
    """The districts a case belongs to (empty: unknown, city-wide)."""
    return sorted(
        d
        for d in db.session.execute(select(CaseScope.district).where(CaseScope.instance_id == instance_id)).scalars()
        if d
    )


def instances_with_subject(id_number: str):
    """A subquery of the instance ids whose subject has this ID number (blind index under every known key)."""
    return select(CaseScope.instance_id).where(CaseScope.id_index.in_(blind_indexes(id_number.strip().upper())))
