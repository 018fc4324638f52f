"""Client of the photo service: the social-security-card photo and its automatic review (A8)."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.crypto import sm3_hex
from integrations.errors import PermanentError
from integrations.http import JsonHttpClient
from integrations.responses import build, call_as, decode_file, encode_file, required_fields


@dataclass(frozen=True)
class Photo:
    """A photo, its content checked against the service's SM3 digest."""

    content: bytes
    mime: str
    taken_at: str
    sm3: str


@dataclass(frozen=True)
class PhotoReview:
    """The automatic comparison and quality review of a photo; reasons are in Chinese."""

    passed: bool
    score: int  # 0-100
    reasons: tuple[str, ...]
    photo_sm3: str
    reviewed_at: str


class PhotoClient(JsonHttpClient):
    """Typed operations on the photo service."""

    system = "photo"

    def social_security_photo(self, id_number: str, name: str, *, business_key: str | None = None) -> Photo:
        """The photo on the person's social-security card."""
        data = self.call(
            "social_security_photo",
            "POST",
            "/v1/sscard-photo",
            body={"id_number": id_number, "name": name},
            business_key=business_key,
            required=required_fields(Photo),
        )
        return build(Photo, data, self.system, content=decode_file(self.system, data["content"], data["sm3"]))

    def review(
        self, id_number: str, photo: bytes, *, mime: str = "image/jpeg", business_key: str | None = None
    ) -> PhotoReview:
        """Compare a photo with the person's identity photo and check its quality."""
        result = call_as(
            self,
            PhotoReview,
            "review",
            "POST",
            "/v1/reviews",
            body={"id_number": id_number, "content": encode_file(photo), "mime": mime},
            business_key=business_key,
        )
        if not 0 <= result.score <= 100:
            raise PermanentError("MALFORMED_RESPONSE", "photo score is outside 0-100", system=self.system)
        if result.photo_sm3 != sm3_hex(photo):
            # A verdict about another photo must never be recorded against this one.
            raise PermanentError("DIGEST_MISMATCH", "photo review is about another photo", system=self.system)
        return result
