"""POST /api/v1/files: binaries stored once by SM3, references {id, sm3, size, mime}, channel ownership."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from handlers.photo import PhotoStore
from handlers.registry import HandlerError
from handlers.sealed_files import SealedFileError, open_bytes, seal_bytes
from integrations.crypto import sm3_hex
from models import db
from models.files import UploadedFile
from processes.errors import ValidationFailed
from processes.stepping import Actor
from tests.support import register_key

FILES = "/api/v1/files"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x07" * 300


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def key(app):
    return register_key(app, "suishenban")


def _post(client, key: str, content: bytes, mime: str = "image/jpeg"):
    return client.post(FILES, headers={"X-Api-Key": key}, data=content, content_type=mime)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["code"] == code and body["message"] and "details" in body
    return body


def _stored(app, sm3: str) -> Path:
    return Path(app.extensions["permitflow"].settings.DATA_DIR).resolve() / "photos" / sm3[:2] / sm3


def test_upload_stores_the_bytes_once_and_returns_the_reference(app, client, key):
    response = _post(client, key, JPEG)
    assert response.status_code == 201, response.get_json()
    ref = response.get_json()
    assert ref == {"id": ref["sm3"][:16], "sm3": sm3_hex(JPEG), "size": len(JPEG), "mime": "image/jpeg"}
    on_disk = _stored(app, ref["sm3"]).read_bytes()
    assert on_disk.startswith(b"PFSEALED1\nfield-enc:") and JPEG[12:80] not in on_disk  # SM4-GCM at rest
    with app.app_context():
        assert PhotoStore(_stored(app, ref["sm3"]).parents[1]).get(ref["sm3"]) == JPEG  # read back transparently
    png = _post(client, key, PNG, "image/png")
    assert png.status_code == 201 and png.get_json()["mime"] == "image/png"
    with app.app_context():
        [row] = db.session.execute(select(UploadedFile).where(UploadedFile.file_id == ref["id"])).scalars().all()
    assert row.uploaded_by == "channel:suishenban" and row.channel_id is not None


def test_same_bytes_give_the_same_id_and_one_record_per_uploader(app, client, key):
    first = _post(client, key, JPEG)
    again = _post(client, key, JPEG)
    other = _post(client, register_key(app, "terminal"), JPEG)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert first.get_json() == again.get_json() == other.get_json()
    with app.app_context():
        owners = db.session.execute(
            select(UploadedFile.uploaded_by).where(UploadedFile.file_id == first.get_json()["id"])
        ).scalars()
        assert sorted(owners) == ["channel:suishenban", "channel:terminal"]


def test_413_for_a_body_over_the_limit(app, client, key):
    limit = app.extensions["permitflow"].settings.API_MAX_BODY_BYTES
    _error(_post(client, key, JPEG[:3] + b"\x00" * limit), 413, "PAYLOAD_TOO_LARGE")


def test_422_for_bytes_that_are_not_the_declared_image(client, key):
    body = _error(_post(client, key, b"GIF89a not a jpeg"), 422, "FILE_NOT_IMAGE")
    assert body["details"] == {"mime": "image/jpeg"}
    _error(_post(client, key, JPEG, "image/png"), 422, "FILE_NOT_IMAGE")
    _error(_post(client, key, JPEG, "application/octet-stream"), 422, "FILE_TYPE_UNSUPPORTED")
    _error(
        client.post(FILES, headers={"X-Api-Key": key}, json={"content_base64": "AAAA"}), 422, "FILE_TYPE_UNSUPPORTED"
    )
    _error(_post(client, key, b""), 400, "FILE_EMPTY")


def test_401_without_a_key(client):
    _error(client.post(FILES, data=JPEG, content_type="image/jpeg"), 401, "API_KEY_MISSING")


def test_a_file_field_accepts_only_the_channels_own_uploads(app, client, key):
    ref = _post(client, key, JPEG).get_json()
    form = app.extensions["permitflow"].form("retake_upload")
    with app.app_context():
        from processes.channels import authenticate

        owner = authenticate(key)
        stranger = authenticate(register_key(app, "mca3"))
        assert form.validate({"photo": ref["id"]}, owner) == {"photo": ref}
        with pytest.raises(ValidationFailed) as refused:
            form.validate({"photo": ref["id"]}, stranger)
        assert set(refused.value.details["fields"]) == {"photo"}
        staff = Actor(kind="user", name="clerk01", roles=("clerk",))
        assert form.validate({"photo": ref["id"]}, staff) == {"photo": ref}  # staff see every upload
        with pytest.raises(ValidationFailed):
            form.validate({"photo": "0000000000000000"}, staff)
        with pytest.raises(ValidationFailed):
            form.validate({"photo": {"id": ref["id"]}}, owner)  # a reference must come from the store, not the caller


def test_the_upload_is_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    post = doc["paths"]["/files"]["post"]
    assert set(post["requestBody"]["content"]) == {"image/jpeg", "image/png"}
    assert {"200", "201", "413", "422"} <= set(post["responses"])


def test_stored_files_are_refused_when_tampered_moved_or_under_an_unknown_key(app, client, key):
    ref = _post(client, key, JPEG).get_json()
    path = _stored(app, ref["sm3"])
    sealed = path.read_bytes()
    with app.app_context():
        keys = app.extensions["permitflow"].keys
        store = PhotoStore(path.parents[1])
        try:
            path.write_bytes(sealed[:-20] + bytes([sealed[-20] ^ 1]) + sealed[-19:])  # one ciphertext bit
            with pytest.raises(HandlerError) as tampered:
                store.get(ref["sm3"])
            assert tampered.value.code == "PHOTO_FILE_TAMPERED"
            png = sm3_hex(PNG)
            path.write_bytes(seal_bytes(PNG, png, keys))  # another file's (valid) ciphertext under this name
            with pytest.raises(HandlerError) as moved:
                store.get(ref["sm3"])
            assert moved.value.code == "PHOTO_FILE_TAMPERED"
            path.write_bytes(sealed.replace(b"field-enc:", b"field-enc:9", 1))
            with pytest.raises(HandlerError) as unknown:
                store.get(ref["sm3"])
            assert unknown.value.code == "PHOTO_FILE_KEY_UNKNOWN"
            with pytest.raises(SealedFileError) as plain:
                open_bytes(JPEG, ref["sm3"], keys)
            assert plain.value.code == "FILE_NOT_SEALED"
        finally:
            path.write_bytes(sealed)
        assert store.get(ref["sm3"]) == JPEG
