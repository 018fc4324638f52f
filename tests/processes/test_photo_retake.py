"""A8 photo retake: card photo, automatic review, outbound call, uploaded retake, escalation after 3 failures."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.photo import PhotoStore
from handlers.registry import DispatchError, dispatch
from integrations.simulators.dataset import population
from models import Incident, db
from models.domain import Permit, Photo
from processes.stepping import Actor
from processes.tasks import complete_task
from tests.processes.domain_factories import make_permit
from tests.support import instance_row, ready_task, register_key

AGENT = Actor(kind="user", name="agent01", roles=("outbound_agent",))
CENTRE = Actor(kind="user", name="centre01", roles=("approver_l2",))
GOOD_RETAKE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
SMALL_RETAKE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x01" * 200 + b"\xff\xd9"


def _sim(remainder: int):
    """A living simulated person whose card photo is: 5 → failing, 11 → missing, else passing (index % 12)."""
    return next(p for p in population() if p.index % 12 == remainder and not p.deceased)


class Retake:
    """One photo-retake instance driven through the channel API and the staff task services."""

    def __init__(self, app, drain, remainder: int, **permit) -> None:
        self.app, self.drain = app, drain
        self.client = app.test_client()
        self.key = register_key(app)
        with app.app_context():
            self.permit_number = make_permit(sim=_sim(remainder), **permit).number
        response = self.client.post(
            "/api/v1/processes/photo_retake/instances",
            headers={"X-Api-Key": self.key},
            json={"business_key": f"PR-{self.permit_number}", "data": {"permit_number": self.permit_number}},
        )
        assert response.status_code == 201, response.get_json()
        self.id = response.get_json()["id"]
        drain()

    @property
    def row(self):
        return instance_row(self.app, self.id)

    def staff(self, role: str, actor: Actor, data: dict) -> None:
        task = ready_task(self.app, self.id, role)
        with self.app.app_context():
            complete_task(self.app.extensions["permitflow"], task.id, data, actor)
        self.drain()

    def upload_file(self, content: bytes, mime: str = "image/jpeg", key: str | None = None):
        """POST the raw bytes to /api/v1/files (the channel's own key unless another is given)."""
        return self.client.post(
            "/api/v1/files", headers={"X-Api-Key": key or self.key}, data=content, content_type=mime
        )

    def complete_upload(self, file_id: str):
        """Complete the applicant's retake task with an uploaded file's id."""
        body = self.client.get(f"/api/v1/instances/{self.id}", headers={"X-Api-Key": self.key}).get_json()
        [task] = body["current_tasks"]
        assert task["form_key"] == "retake_upload" and task["role"] == "applicant"
        return self.client.post(
            f"/api/v1/tasks/{task['id']}/complete", headers={"X-Api-Key": self.key}, json={"data": {"photo": file_id}}
        )

    def upload(self, content: bytes, mime: str = "image/jpeg") -> dict:
        """Upload the photo, then reference it by id in the task; returns the file reference."""
        stored = self.upload_file(content, mime)
        assert stored.status_code in (200, 201), stored.get_json()
        response = self.complete_upload(stored.get_json()["id"])
        assert response.status_code == 200, response.get_json()
        self.drain()
        return stored.get_json()

    def photos(self) -> tuple[Permit, list[Photo]]:
        with self.app.app_context():
            permit = db.session.execute(select(Permit).where(Permit.number == self.permit_number)).scalar_one()
            rows = db.session.execute(select(Photo).where(Photo.person_id == permit.person_id)).scalars().all()
            db.session.expunge_all()
        return permit, rows


def _stored(app, sm3: str) -> Path:
    return Path(app.extensions["permitflow"].settings.DATA_DIR).resolve() / "photos" / sm3[:2] / sm3


def test_a8_card_photo_passes_review_and_becomes_the_permits_photo(app, drain):
    retake = Retake(app, drain, 0)
    row = retake.row
    assert row.status == "completed" and row.result["photo_status"] == "updated"
    photo_file = row.result["photo_file"]
    assert set(photo_file) == {"id", "sm3", "size", "mime", "source", "taken_at"}  # no binary in workflow data
    with app.app_context():  # stored SM4-GCM-encrypted (review finding 5), read back transparently
        assert len(PhotoStore(_stored(app, "0" * 64).parents[1]).get(photo_file["sm3"])) == photo_file["size"]
    permit, [photo] = retake.photos()
    assert permit.photo_id == photo.id and photo.source == "social_security" and photo.review_status == "passed"
    assert photo.review_score >= 80 and photo.sm3 == photo_file["sm3"]


def test_a8_failed_review_goes_to_outbound_call_and_an_uploaded_retake_passes(app, drain):
    retake = Retake(app, drain, 5)
    assert retake.row.result["photo_review"]["passed"] is False and retake.row.result["review_failures"] == 1
    task = ready_task(app, retake.id, "outbound_agent")
    assert task.form_key == "retake_call"
    retake.staff("outbound_agent", AGENT, {"outcome": "retake_booked", "note": "周三到网点重拍"})
    ref = retake.upload(GOOD_RETAKE)
    row = retake.row
    assert row.status == "completed" and row.result["photo_status"] == "updated"
    assert row.result["photo_file"] == {**ref, "source": "retake"}
    permit, photos = retake.photos()
    [adopted] = [p for p in photos if p.id == permit.photo_id]
    assert adopted.source == "retake" and GOOD_RETAKE[12:60] not in _stored(app, adopted.sm3).read_bytes()
    with app.app_context():
        assert PhotoStore(_stored(app, adopted.sm3).parents[1]).get(adopted.sm3) == GOOD_RETAKE
    with app.app_context():  # the engine's saved state (opened) keeps the reference, never the photo (DESIGN-NOTES §3)
        snapshot = app.extensions["permitflow"].engine.sealer.open(row.snapshot, row.public_id)
    assert ref["sm3"] in snapshot and base64.b64encode(GOOD_RETAKE).decode() not in snapshot
    assert base64.b64encode(GOOD_RETAKE[:48]).decode() not in snapshot and GOOD_RETAKE[12:60].hex() not in snapshot


def test_a8_unreachable_applicant_closes_the_case(app, drain):
    retake = Retake(app, drain, 5)
    retake.staff("outbound_agent", AGENT, {"outcome": "unreachable", "note": "三次无人接听"})
    assert retake.row.status == "completed" and retake.row.result["photo_status"] == "unreachable"
    assert retake.photos()[0].photo_id is None


def test_a8_missing_card_photo_goes_to_the_outbound_queue(app, drain):
    retake = Retake(app, drain, 11)
    assert retake.row.result["photo_review"]["reasons"] == ["社保卡照片不存在"]
    retake.staff("outbound_agent", AGENT, {"outcome": "reached"})
    retake.upload(GOOD_RETAKE)
    assert retake.row.result["photo_status"] == "updated"


def test_a8_an_upload_that_is_not_an_image_is_refused_and_the_task_stays_open(app, drain):
    retake = Retake(app, drain, 5)
    retake.staff("outbound_agent", AGENT, {"outcome": "reached"})
    response = retake.upload_file(b"not an image at all")
    assert response.status_code == 422 and response.get_json()["code"] == "FILE_NOT_IMAGE"
    response = retake.complete_upload("0123456789abcdef")
    assert response.status_code == 422 and "photo" in response.get_json()["details"]["fields"]
    assert retake.row.status == "waiting" and retake.row.result["review_failures"] == 1
    assert ready_task(app, retake.id, "applicant").form_key == "retake_upload"


def test_a8_a_file_uploaded_by_another_channel_cannot_be_referenced(app, drain):
    retake = Retake(app, drain, 5)
    retake.staff("outbound_agent", AGENT, {"outcome": "reached"})
    other = retake.upload_file(GOOD_RETAKE, key=register_key(app))
    assert other.status_code == 201
    response = retake.complete_upload(other.get_json()["id"])
    assert response.status_code == 422 and "photo" in response.get_json()["details"]["fields"]
    assert ready_task(app, retake.id, "applicant").form_key == "retake_upload"
    retake.upload(GOOD_RETAKE)  # the same bytes uploaded by this channel itself: accepted, same file id
    assert retake.row.result["photo_file"]["id"] == other.get_json()["id"]
    assert retake.row.result["photo_status"] == "updated"


def _fail_three_times(app, drain) -> Retake:
    retake = Retake(app, drain, 5)
    for _ in range(2):
        retake.staff("outbound_agent", AGENT, {"outcome": "retake_booked"})
        retake.upload(SMALL_RETAKE)  # too small: the review fails again
    assert retake.row.result["review_failures"] == 3
    assert retake.row.result["photo_review"]["reasons"] == ["照片分辨率过低，请重新拍摄"]
    return retake


def test_a8_third_failure_escalates_to_the_centre_which_accepts_the_photo(app, drain):
    retake = _fail_three_times(app, drain)
    task = ready_task(app, retake.id, "approver_l2")
    assert task.form_key == "retake_escalation"
    retake.staff("approver_l2", CENTRE, {"decision": "accept", "comment": "照片可辨认，予以认可"})
    assert retake.row.result["photo_status"] == "accepted"
    permit, photos = retake.photos()
    [adopted] = [p for p in photos if p.id == permit.photo_id]
    assert adopted.review_status == "accepted" and adopted.sm3 == retake.row.result["photo_file"]["sm3"]


def test_a8_centre_may_close_the_case_instead(app, drain):
    retake = _fail_three_times(app, drain)
    retake.staff("approver_l2", CENTRE, {"decision": "close", "comment": "通知本人到场拍照"})
    assert retake.row.result["photo_status"] == "closed" and retake.photos()[0].photo_id is None


def test_a8_cancelled_permit_gets_a_specific_error_and_no_photo(app, drain):
    retake = Retake(app, drain, 0, status="cancelled")
    assert retake.row.status == "error"
    with app.app_context():
        incident = db.session.execute(select(Incident)).scalar_one()
    assert incident.error_code == "PERMIT_CANCELLED"
    assert retake.photos()[1] == []


@pytest.mark.parametrize(
    ("content", "mime", "code"),
    [
        (b"GIF89a" + b"0" * 10, "image/jpeg", "PHOTO_INVALID"),  # a store written by other means than the API
        (GOOD_RETAKE, "image/png", "PHOTO_INVALID"),
        (b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024), "image/jpeg", "PHOTO_TOO_LARGE"),
    ],
)
def test_a8_use_upload_checks_the_stored_bytes_again(ctx, tmp_path, content, mime, code):
    ref = PhotoStore(tmp_path).put(content, mime)
    with pytest.raises(DispatchError) as refused:
        dispatch("photo.use_upload", {"upload_file": ref, "store_root": str(tmp_path)}, {})
    assert refused.value.code == code and not refused.value.transient


def test_a8_use_upload_returns_only_the_reference(ctx, tmp_path):
    ref = PhotoStore(tmp_path).put(GOOD_RETAKE, "image/jpeg")
    result = dispatch("photo.use_upload", {"upload_file": ref, "store_root": str(tmp_path)}, {})
    assert result == {**ref, "source": "retake"}
