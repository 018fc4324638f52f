"""A3/A8 handlers against the simulators: the death list, the MCA deregistration notice, photos and their store."""

from __future__ import annotations

import base64

import pytest

from handlers.mca_notify import notify_deregistration
from handlers.photo import PhotoStore, review, store_upload, take_sscard
from handlers.population import deaths_since
from handlers.registry import DispatchError, HandlerError, dispatch
from integrations.simulators.dataset import death_record, population
from processes.platform import get_platform


@pytest.fixture
def clients(app):
    return get_platform(app).clients


def _sim(rule):
    return next(p for p in population() if rule(p))


def test_a3_deaths_since_lists_the_dead_and_where_to_continue(clients):
    result = deaths_since(population=clients["population"], since="2023-12-01")
    dead = {p.id_number: death_record(p)[1] for p in population() if p.deceased}
    assert set(result["id_numbers"]) == set(dead) and result["count"] == len(dead)
    assert result["next_since"] == max(dead.values())
    later = deaths_since(population=clients["population"], since=result["next_since"])
    assert set(later["id_numbers"]) <= set(dead) and later["next_since"] == result["next_since"]


def test_a3_deregistration_notice_is_idempotent_by_registration(clients):
    p = _sim(lambda p: not p.deceased)
    args = {
        "registration_number": "DJ2026112900000001",
        "id_number": p.id_number,
        "name": p.name,
        "reason": "request",
        "occurred_at": "2026-11-29T10:00:00+08:00",
    }
    first = notify_deregistration(mca_notify=clients["mca_notify"], **args)
    again = notify_deregistration(mca_notify=clients["mca_notify"], **args)
    assert first["department"] == "mca3" and first["receipt_no"] == again["receipt_no"] and again["duplicate"]


def test_a8_card_photo_is_stored_by_sm3_and_reviewed(clients, ctx, tmp_path):
    p = _sim(lambda p: p.index % 12 == 0 and not p.deceased)
    ref = take_sscard(photo=clients["photo"], id_number=p.id_number, name=p.name, store_root=str(tmp_path))
    assert set(ref) == {"id", "sm3", "size", "mime", "source", "taken_at"}
    assert PhotoStore(tmp_path).get(ref["sm3"])[:3] == b"\xff\xd8\xff"  # stored SM4-GCM-encrypted (finding 5)
    verdict = review(photo=clients["photo"], id_number=p.id_number, photo_file=ref, store_root=str(tmp_path))
    assert verdict["passed"] is True and verdict["sm3"] == ref["sm3"]


def test_a8_missing_card_photo_is_a_business_error(clients, tmp_path):
    p = _sim(lambda p: p.index % 12 == 11 and not p.deceased)
    with pytest.raises(HandlerError) as missing:
        take_sscard(photo=clients["photo"], id_number=p.id_number, name=p.name, store_root=str(tmp_path))
    assert missing.value.code == "PHOTO_NOT_FOUND"


@pytest.mark.parametrize(
    ("content", "mime", "code"),
    [
        ("***", "image/jpeg", "PHOTO_INVALID"),
        (base64.b64encode(b"GIF89a").decode(), "image/jpeg", "PHOTO_INVALID"),
        (base64.b64encode(b"\xff\xd8\xff" + b"0" * 10).decode(), "image/gif", "PHOTO_INVALID"),
        (base64.b64encode(b"\xff\xd8\xff" + b"0" * (2 * 1024 * 1024)).decode(), "image/jpeg", "PHOTO_TOO_LARGE"),
    ],
)
def test_a8_invalid_uploads_get_specific_errors(tmp_path, content, mime, code):
    with pytest.raises(DispatchError) as refused:
        dispatch("photo.store_upload", {"content": content, "mime": mime, "store_root": str(tmp_path)}, {})
    assert refused.value.code == code and not refused.value.transient
    assert not any(tmp_path.iterdir())


def test_a8_store_refuses_bad_keys_and_detects_corruption(ctx, tmp_path):
    store = PhotoStore(tmp_path)
    ref = store_upload(
        content=base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"1" * 50).decode(), mime="image/png", store_root=str(tmp_path)
    )
    assert store.get(ref["sm3"]).startswith(b"\x89PNG") and ref["mime"] == "image/png"
    with pytest.raises(HandlerError) as bad_key:
        store.get("../../etc/passwd")
    assert bad_key.value.code == "PHOTO_KEY_INVALID"
    with pytest.raises(HandlerError) as missing:
        store.get("0" * 64)
    assert missing.value.code == "PHOTO_FILE_MISSING"
    sealed = store.path(ref["sm3"]).read_bytes()
    store.path(ref["sm3"]).write_bytes(sealed[:-1] + bytes([sealed[-1] ^ 1]))
    with pytest.raises(HandlerError) as tampered:
        store.get(ref["sm3"])
    assert tampered.value.code == "PHOTO_FILE_TAMPERED"
    store.path(ref["sm3"]).write_bytes(b"tampered")  # not encrypted and not the photo's bytes
    with pytest.raises(HandlerError) as corrupt:
        store.get(ref["sm3"])
    assert corrupt.value.code == "PHOTO_FILE_CORRUPT"
