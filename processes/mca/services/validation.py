"""B1.2 businesses an applicant can apply for now, and B1.17 unified validation (point, user, business)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from integrations.idnumber import id_number_problem
from models import db
from models.domain import Person
from models.platform import AppUser
from processes.domain.registrations import active_registration
from processes.domain.reissue import IN_PRODUCTION, current_permit
from processes.mca.catalog import CallContext, interface
from processes.mca.services.common import WHO

BUSINESSES: dict[str, str] = {
    "registration": "居住登记",
    "permit_application": "居住证新办",
    "endorsement": "签注",
    "address_change": "地址变更（迁移）",
    "general_change": "一般信息变更",
    "identity_change": "身份信息变更",
    "loss_report": "挂失",
    "loss_cancel": "解除挂失",
    "reissue": "补领",
    "express": "快证",
}


def _ok() -> tuple[bool, str, str]:
    return True, "", "可以办理"


def business_checks(person: Person | None) -> dict[str, tuple[bool, str, str]]:
    """Per business type: (allowed, refusal code, Chinese reason), from the person's current records."""
    if person is None:
        unknown = (False, "NO_RECORD", "未查询到该人员的登记记录，请先办理居住登记")
        return {b: _ok() if b == "registration" else unknown for b in BUSINESSES}
    if person.deceased:
        return {b: (False, "PERSON_DECEASED", "该人员已登记死亡，不能办理业务") for b in BUSINESSES}
    registration = active_registration(person.id)
    permit = current_permit(person.id)
    status = permit.status if permit is not None else None
    no_reg = (False, "NO_REGISTRATION", "没有有效的居住登记，请先办理居住登记")
    no_permit = (False, "NO_PERMIT", "没有有效的居住证")
    checks = {
        "registration": _ok(),
        "permit_application": no_reg
        if registration is None
        else (_ok() if permit is None else (False, "PERMIT_EXISTS", "已有居住证或正在办理中，不能重复申领")),
        "endorsement": no_permit
        if permit is None
        else (
            _ok()
            if status == "issued" and not permit.production_paused
            else (False, "ENDORSEMENT_NOT_ALLOWED", "居住证当前状态不能签注")
        ),
        "address_change": _ok() if registration is not None else no_reg,
        "general_change": _ok(),
        "identity_change": _ok(),
        "loss_report": no_permit
        if permit is None
        else (_ok() if status == "issued" else (False, "LOSS_NOT_ALLOWED", "只有已签发的居住证才能挂失")),
        "loss_cancel": no_permit
        if permit is None
        else (_ok() if status == "lost" else (False, "NOT_LOST", "该居住证未挂失")),
        "reissue": no_permit
        if permit is None
        else (
            _ok()
            if status in ("issued", "lost")
            else (False, "REISSUE_NOT_ALLOWED", "只有已签发或已挂失的居住证才能补办")
        ),
        "express": no_permit
        if permit is None
        else (
            _ok()
            if status in IN_PRODUCTION and not permit.express
            else (False, "EXPRESS_NOT_ALLOWED", "只有尚在制证中的居住证才能转为快证")
        ),
    }
    return checks


def _person(data: dict[str, Any]) -> Person | None:
    person = db.session.execute(select(Person).where(Person.id_number == data["idNumber"])).scalar_one_or_none()
    return person if person is not None and person.name == data["name"] else None


@interface("applicant.businessQuery", 2, "申请人当前可办业务查询", WHO)
def businesses(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Every business type with whether it can be applied for now and, if not, why."""
    checks = business_checks(_person(data))
    return {
        "businesses": [
            {"business_type": b, "title": BUSINESSES[b], "allowed": ok, "code": code, "reason": reason}
            for b, (ok, code, reason) in checks.items()
        ]
    }


@interface("validate.servicePoint", 17, "统一校验：受理网点合法性", ("servicePoint",))
def validate_point(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """A service point is legal when active staff work there (the user directory is the register of points)."""
    known = db.session.execute(
        select(AppUser.id).where(AppUser.service_point == data["servicePoint"], AppUser.active.is_(True)).limit(1)
    ).first()
    if known is None:
        return {"legal": False, "code": "SERVICE_POINT_UNKNOWN", "message": "受理网点不存在或未开通居住证业务"}
    return {"legal": True, "code": "", "message": "受理网点合法"}


@interface("validate.user", 17, "统一校验：用户（申请人）合法性", WHO)
def validate_user(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """ID number well-formed (check digit), name matches the record if any, not deceased."""
    problem = id_number_problem(data["idNumber"])
    if problem:
        return {"legal": False, "code": "ID_NUMBER_INVALID", "message": problem}
    person = db.session.execute(select(Person).where(Person.id_number == data["idNumber"])).scalar_one_or_none()
    if person is not None and person.name != data["name"]:
        return {"legal": False, "code": "NAME_MISMATCH", "message": "姓名与身份证号码不一致"}
    if person is not None and person.deceased:
        return {"legal": False, "code": "PERSON_DECEASED", "message": "该人员已登记死亡"}
    return {"legal": True, "code": "", "message": "用户合法", "on_record": person is not None}


@interface("validate.business", 17, "统一校验：该业务当前能否办理", (*WHO, "businessType"))
def validate_business(ctx: CallContext, data: dict[str, Any]) -> dict[str, Any]:
    """Whether one business type can be applied for now, with the refusal code and reason."""
    ok, code, reason = business_checks(_person(data))[data["businessType"]]
    return {"business_type": data["businessType"], "allowed": ok, "code": code, "reason": reason}
