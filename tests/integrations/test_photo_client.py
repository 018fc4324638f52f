"""Contract tests of the photo-service client against the simulators (A8)."""

from __future__ import annotations

import pytest

from integrations.crypto import sm3_hex
from integrations.errors import PermanentError
from integrations.photo import PhotoClient, PhotoReview
from integrations.responses import build, decode_file, encode_file
from integrations.simulators.dataset import photo_profile


def test_a8_social_security_photo_matches_the_dataset(sim, people):
    client, records = sim.client(PhotoClient, "/photo")
    person = people[0]
    photo = client.social_security_photo(person.id_number, person.name, business_key="BK1")
    profile = photo_profile(person)
    assert (photo.content, photo.mime, photo.taken_at) == (profile.content, "image/jpeg", profile.taken_at)
    assert photo.sm3 == sm3_hex(profile.content)
    assert person.id_number not in repr(records)


def test_a8_person_without_photo(sim, people):
    client, _ = sim.client(PhotoClient, "/photo")
    person = people[11]  # index % 12 == 11: no photo on record
    with pytest.raises(PermanentError) as info:
        client.social_security_photo(person.id_number, person.name)
    assert (info.value.code, info.value.status) == ("PHOTO_NOT_FOUND", 404)


def test_a8_review_passes_and_fails_per_the_dataset(sim, people):
    client, _ = sim.client(PhotoClient, "/photo")
    for person in (people[0], people[5], people[17]):  # index % 12 == 5 fails review
        profile = photo_profile(person)
        review = client.review(person.id_number, profile.content)
        assert (review.passed, review.score) == (profile.passed, profile.score)
        assert review.reasons == profile.reasons
        assert review.photo_sm3 == sm3_hex(profile.content)
    failed = client.review(people[5].id_number, photo_profile(people[5]).content)
    assert not failed.passed and failed.score < 60
    assert failed.reasons and all("\u4e00" <= r[0] <= "\u9fff" for r in failed.reasons)  # Chinese reasons


def test_a8_retaken_photo_is_judged_anew(sim, people):
    client, _ = sim.client(PhotoClient, "/photo")
    person = people[5]
    retake = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 8 + b"\xff\xd9"
    assert client.review(person.id_number, retake).passed
    too_small = client.review(person.id_number, b"\xff\xd8\xff\xe0tiny\xff\xd9")
    assert (too_small.passed, too_small.reasons) == (False, ("照片分辨率过低，请重新拍摄",))
    with pytest.raises(PermanentError) as info:
        client.review(person.id_number, b"GIF89a....", mime="image/gif")
    assert info.value.code == "UNSUPPORTED_MIME"


def test_photo_fault_contract(contract, fault_kind, people):
    person = people[0]
    contract.check(
        fault_kind,
        PhotoClient,
        "/photo",
        endpoint="photo.sscard_photo",
        operation="social_security_photo",
        invoke=lambda c: c.social_security_photo(person.id_number, person.name, business_key=contract.key),
        missing="sm3",
        secrets=(person.id_number,),
    )


def test_photo_review_missing_field(contract, people):
    person = people[0]
    contract.check(
        "missing_field",
        PhotoClient,
        "/photo",
        endpoint="photo.review",
        operation="review",
        invoke=lambda c: c.review(person.id_number, photo_profile(person).content, business_key=contract.key),
        missing="passed",
        secrets=(person.id_number,),
    )


@pytest.mark.parametrize("field", [("score", "88"), ("passed", 1), ("reasons", "x"), ("reviewed_at", None)])
def test_answers_are_type_checked_field_by_field(field):
    answer = {"passed": True, "score": 88, "reasons": [], "photo_sm3": sm3_hex(b"x"), "reviewed_at": "2026-01-01"}
    assert build(PhotoReview, answer, "photo").reasons == ()
    with pytest.raises(PermanentError) as info:
        build(PhotoReview, {**answer, field[0]: field[1]}, "photo")
    assert info.value.code == "MALFORMED_RESPONSE" and field[0] in str(info.value)


def test_file_content_must_match_its_digest():
    assert decode_file("photo", encode_file(b"abc"), sm3_hex(b"abc")) == b"abc"
    with pytest.raises(PermanentError) as mismatch:
        decode_file("photo", encode_file(b"abd"), sm3_hex(b"abc"))
    with pytest.raises(PermanentError) as garbage:
        decode_file("photo", "not base64!", sm3_hex(b"abc"))
    assert (mismatch.value.code, garbage.value.code) == ("DIGEST_MISMATCH", "MALFORMED_RESPONSE")
