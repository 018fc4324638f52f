"""Small helpers the change types share: identity check, look-ups, and the stale-data guard."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.registry import HandlerError
from integrations.idnumber import mask
from models import db
from models.domain import Permit, Person
from processes.domain.permits import find_permit
from processes.domain.reissue import find_person
from processes.integrity import require_intact

ID_FIELD = {"name": "id_number", "label": "身份证号码", "type": "id_number", "required": True}
NAME_FIELD = {
    "name": "name",
    "label": "现登记姓名（身份核验）",
    "type": "string",
    "required": True,
    "max_length": 30,
    "help": "与身份证号码一起核验当事人身份",
}
PERMIT_FIELD = {"name": "permit_number", "label": "居住证编号", "type": "string", "required": True, "max_length": 32}


def checked_person(fields: dict[str, Any]) -> Person:
    """Identity check: the person on record with this ID number and exactly this name."""
    return find_person(fields["id_number"], fields["name"])


def permit(number: str) -> Permit:
    """The permit with this number (PERMIT_NOT_FOUND otherwise)."""
    return find_permit(number.strip())


def person_of(permit_row: Permit) -> Person:
    """The person a permit belongs to."""
    return require_intact(db.session.get(Person, permit_row.person_id))


def who(person: Person) -> str:
    """A person for lists: masked ID number and name."""
    return f"{mask(person.id_number)} {person.name}"


def plain(value: Any) -> Any:
    """A value as before/after snapshots keep it (JSON: dates as ISO text, encrypted strings as plain text)."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return str(value)
    return value


def require_unchanged(current: dict[str, Any], before: dict[str, Any]) -> None:
    """Refuse to apply when what the approvers saw is no longer what is on record."""
    changed = sorted(k for k, v in before.items() if plain(current.get(k)) != v)
    if changed:
        raise HandlerError(
            "CHANGED_SINCE_SUBMIT",
            "提交后相关数据已被其他业务修改，本次变更未执行，请核对后重新申请",
            {"fields": changed},
        )


def need_one(fields: dict[str, Any], names: tuple[str, ...], message: str) -> None:
    """At least one of the optional fields must be given."""
    if not any(fields.get(n) not in (None, "") for n in names):
        raise HandlerError("NOTHING_TO_CHANGE", message)
