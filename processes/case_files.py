"""A case's files for staff: the subject's latest photo (A4) and its e-licences (A5); every view is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from handlers.photo import PhotoStore
from models import Person, ProcessInstance, db
from processes import audit, case_scope, tasks
from processes.domain.photos import store_root
from processes.domain.registration_rules import latest_photo
from processes.errors import NotFound, ProcessError
from processes.platform import Platform
from processes.served_files import servable_mime
from processes.stepping import Actor
from processes.unit_of_work import transaction


class Unavailable(ProcessError):
    """A partner system could not answer now (503)."""

    status = 503


def subject_id_number(data: dict[str, Any]) -> str | None:
    """The case subject's ID number, if the case data names one."""
    return case_scope.case_facts_subject(data)


def photo_of_subject(id_number: str | None) -> Any:
    """The newest photo row of the person with this ID number, or None."""
    if not id_number:
        return None
    person_id = db.session.execute(select(Person.id).where(Person.id_number == id_number)).scalar_one_or_none()
    return latest_photo(person_id) if person_id is not None else None


def photo_file_exists(storage_key: str) -> bool:
    """True when the photo store holds the file (an invalid key counts as missing)."""
    try:
        return PhotoStore(store_root()).path(storage_key).exists()
    except Exception:  # an invalid key is a missing file for the viewer
        return False


def latest_photo_of_case(platform: Platform, task_id: int, actor: Actor) -> tuple[bytes, str]:
    """A4: the newest photo of the case's subject (history stays hidden); the view is audited."""
    task = tasks.get_task(task_id, actor)
    data = case_scope.case_data(platform, db.session.get(ProcessInstance, task.instance_id))
    photo = photo_of_subject(subject_id_number(data))
    if photo is None:
        raise NotFound("PHOTO_NOT_FOUND", "该申请人暂无照片")
    try:
        content = PhotoStore(store_root()).get(photo.storage_key)
    except ProcessError:
        raise
    except Exception as exc:  # a missing or corrupt file is a 404 for the viewer, not a crash
        raise NotFound("PHOTO_FILE_MISSING", "照片文件不存在或已损坏") from exc
    mime = servable_mime(photo.mime)  # never render anything but PNG/JPEG for staff
    audit.log("person.photo_view", object_type="task", object_id=str(task.id), details={"photo_id": photo.id})
    return content, mime


def licence_document(platform: Platform, task_id: int, licence_no: str, actor: Actor):
    """A5: one of the case's e-licences with its file, fetched from the library; the view is audited."""
    task = tasks.get_task(task_id, actor)
    data = case_scope.case_data(platform, db.session.get(ProcessInstance, task.instance_id))
    licences = data.get("licences") if isinstance(data.get("licences"), dict) else {}
    known = {item.get("licence_no") for item in licences.get("licences", []) if isinstance(item, dict)}
    if not licence_no or licence_no not in known:
        raise NotFound("LICENCE_NOT_FOUND", "本案未调取该电子证照", {"licence_no": licence_no})
    subject = subject_id_number(data)
    if not subject:
        raise NotFound("LICENCE_NOT_FOUND", "本案没有申请人身份证号码，无法调取证照")
    from integrations.errors import IntegrationError

    try:
        with transaction():  # the client's call record is kept with this unit of work
            document = platform.clients["elicence"].licence_file(licence_no, subject, business_key=task.business_key)
    except IntegrationError as exc:
        raise Unavailable("LICENCE_UNAVAILABLE", "电子证照库暂时无法提供该证照文件，请稍后重试") from exc
    servable_mime(document.mime)  # the library's file is shown only if it is a PDF, PNG or JPEG
    audit.log("person.licence_view", object_type="task", object_id=str(task.id), details={"licence_no": licence_no})
    return document


def licence_file(platform: Platform, task_id: int, licence_no: str, actor: Actor) -> tuple[bytes, str]:
    """A5 for the viewer: the e-licence's bytes and normalized MIME type (PDF, PNG or JPEG only)."""
    document = licence_document(platform, task_id, licence_no, actor)
    return document.content, servable_mime(document.mime)
