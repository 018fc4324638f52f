"""Photo-service simulator: social-security-card photos and automatic photo review."""

from __future__ import annotations

import zlib
from typing import Any

from integrations.crypto import sm3_hex
from integrations.simulators import common
from integrations.simulators.app import _guarded
from integrations.simulators.common import Invalid
from integrations.simulators.dataset import Person, photo_profile

blueprint = common.blueprint("sim_photo", "/photo")

IMAGE_MAGIC = {"image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
MIN_PHOTO_BYTES = 1024


@blueprint.post("/v1/sscard-photo")
def sscard_photo() -> Any:
    """The photo on the person's social-security card."""
    body = common.json_body()
    person = common.known(common.id_number(body), common.text(body, "name", max_len=50))
    profile = photo_profile(person)
    if profile is None:
        raise Invalid("PHOTO_NOT_FOUND", "the person has no social-security-card photo", 404)
    return _guarded(
        "photo.sscard_photo",
        {
            "content": common.b64(profile.content),
            "mime": "image/jpeg",
            "taken_at": profile.taken_at,
            "sm3": sm3_hex(profile.content),
            "size": len(profile.content),
        },
    )


def review_verdict(person: Person, photo: bytes) -> tuple[bool, int, list[str]]:
    """(passed, score, reasons): the card photo keeps its seeded verdict; a retaken photo is judged anew."""
    profile = photo_profile(person)
    if profile is not None and photo == profile.content:
        return profile.passed, profile.score, list(profile.reasons)
    if len(photo) < MIN_PHOTO_BYTES:
        return False, 20, ["照片分辨率过低，请重新拍摄"]
    return True, 80 + zlib.crc32(photo) % 20, []


@blueprint.post("/v1/reviews")
def review() -> Any:
    """Compare a photo with the person's identity photo and check its quality."""
    body = common.json_body()
    person = common.known(common.id_number(body))
    mime = common.text(body, "mime", max_len=20)
    photo = common.content(body)
    if mime not in IMAGE_MAGIC:
        raise Invalid("UNSUPPORTED_MIME", "only image/jpeg and image/png are reviewed", 422)
    if not photo.startswith(IMAGE_MAGIC[mime]):
        raise Invalid("INVALID_IMAGE", f"the content is not a {mime} image", 422)
    passed, score, reasons = review_verdict(person, photo)
    return _guarded(
        "photo.review",
        {
            "passed": passed,
            "score": score,
            "reasons": reasons,
            "photo_sm3": sm3_hex(photo),
            "reviewed_at": common.now(),
        },
    )
