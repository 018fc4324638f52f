"""MCA 3.0 envelope (B1): every refusal has its own code, is signed, audited, and changes nothing."""

from __future__ import annotations

import base64
import json
import secrets
import time
from dataclasses import replace

import pytest
import requests
from sqlalchemy import func, select

from integrations.crypto import SM2PrivateKey, SM2PublicKey, sm3_hex, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.mca_v3_client import McaClientError, open_response
from tests.support import person as sim_person
from tests.webapp.mca_support import APP_ID, mca_fixture  # noqa: F401  (the `mca` fixture)

ADDRESS = "上海市徐汇区田林路200号3号楼502室"


def _registration(p, business_key: str = "MCA-BK-1", **overrides) -> dict:
    data = {
        "businessKey": business_key,
        "idNumber": p.id_number,
        "name": p.name,
        "mobile": p.mobile,
        "address": ADDRESS,
        "reason": "employment",
        "waitSeconds": 0,
    }
    data.update(overrides)
    return data


def _business_rows(app) -> dict[str, int]:
    from models import ProcessInstance, db
    from models.files import UploadedFile
    from models.mca import McaSubmission

    with app.app_context():
        db.session.rollback()
        return {
            m.__tablename__: db.session.execute(select(func.count()).select_from(m)).scalar_one()
            for m in (ProcessInstance, UploadedFile, McaSubmission)
        }


NOTHING = {"process_instance": 0, "uploaded_file": 0, "mca_submission": 0}


def _refused(mca, response, status: int, code: str, signature: str) -> None:
    """A signed refusal with its own code, one audit row saying so, and no business row written."""
    assert (response.status, response.code) == (status, code), (response.status, response.code, response.details)
    assert response.message and response.data is None and response.signed_by == mca.server_key_id
    [row] = [r for r in mca.audit_rows() if r.request_id == response.request_id]
    assert (row.app_id, row.result_code, row.http_status, row.signature_result) == (row.app_id, code, status, signature)
    assert len(row.request_sm3) == 64 and len(row.response_sm3) == 64 and row.latency_ms >= 0
    assert _business_rows(mca.app) == NOTHING


def test_b1_a_call_is_encrypted_both_ways_signed_and_audited(mca):
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路", "limit": 5})
    assert "田林路".encode() not in prepared.body and b"partialAddress" not in prepared.body
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=prepared.body, headers=prepared.headers)
    assert raw.status_code == 200 and json.loads(raw.content)["cipherText"]
    assert b"candidates" not in raw.content  # the result travels only inside cipherText
    answer = open_response(prepared, raw.status_code, raw.headers, raw.content, SM2PublicKey.from_pem(mca.server_pem))
    assert answer.ok and set(answer.data) == {"candidates", "total", "truncated"}
    [row] = mca.audit_rows()
    assert (row.app_id, row.interface_code, row.result_code, row.http_status, row.signature_result) == (
        APP_ID,
        "house.fuzzyQuery",
        "OK",
        200,
        "valid",
    )
    assert row.request_sm3 == sm3_hex(prepared.body) and row.response_sm3 == sm3_hex(raw.content)
    assert row.nonce == prepared.nonce and row.request_id == answer.request_id


def test_b1_the_documented_canonical_string_built_by_hand_is_accepted(mca):
    """An integrator following only the OpenAPI text (no reference client) gets through."""
    session_key = secrets.token_bytes(16)
    server = SM2PublicKey.from_pem(mca.server_pem)
    body = json.dumps(
        {
            "encryptedKey": base64.b64encode(server.encrypt(session_key)).decode(),
            "cipherText": base64.b64encode(
                sm4_gcm_encrypt(session_key, '{"partialAddress":"田林路"}'.encode())
            ).decode(),
        }
    ).encode()
    stamp, nonce = str(int(time.time() * 1000)), secrets.token_hex(12)
    canonical = f"{APP_ID}\nhouse.fuzzyQuery\n{stamp}\n{nonce}\n{mca.server_key_id}\n{sm3_hex(body)}"
    headers = {
        "X-Mca-App-Id": APP_ID,
        "X-Mca-Interface": "house.fuzzyQuery",
        "X-Mca-Timestamp": stamp,
        "X-Mca-Nonce": nonce,
        "X-Mca-Key-Id": mca.server_key_id,
        "X-Mca-Signature": base64.b64encode(mca.app_key.sign(canonical.encode())).decode(),
    }
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=body, headers=headers)
    assert raw.status_code == 200, raw.text
    h = raw.headers
    assert (h["X-Mca-App-Id"], h["X-Mca-Interface"], h["X-Mca-Request-Sm3"]) == (
        APP_ID,
        "house.fuzzyQuery",
        sm3_hex(body),
    )
    response_canonical = "\n".join(
        [
            APP_ID,
            "house.fuzzyQuery",
            h["X-Mca-Timestamp"],
            nonce,
            h["X-Mca-Key-Id"],
            sm3_hex(raw.content),
            sm3_hex(body),
        ]
    )
    assert h["X-Mca-Nonce"] == nonce
    assert server.verify(response_canonical.encode(), base64.b64decode(h["X-Mca-Signature"]))
    result = json.loads(sm4_gcm_decrypt(session_key, base64.b64decode(raw.json()["cipherText"])))
    assert "candidates" in result


def test_b1_bad_signature_is_refused(mca):
    forger = mca.other_client(key=SM2PrivateKey.generate())
    _refused(
        mca,
        forger.call("registration.submit", _registration(sim_person("long"))),
        401,
        "MCA_SIGNATURE_INVALID",
        "invalid",
    )


def test_b1_expired_timestamp_is_refused_either_way(mca):
    for skew in (-301, 301):
        stamp = str(int((time.time() + skew) * 1000))
        prepared = mca.client.prepare("registration.submit", _registration(sim_person("long")), timestamp=stamp)
        _refused(mca, mca.client.send(prepared), 401, "MCA_TIMESTAMP_EXPIRED", "not_checked")


def test_b1_replayed_nonce_is_refused_and_the_replay_changes_nothing(mca):
    p = sim_person("long")
    prepared = mca.client.prepare("registration.submit", _registration(p))
    first = mca.client.send(prepared)
    assert first.ok and first.data["created"] is True
    before = _business_rows(mca.app)
    replay = mca.client.send(prepared)
    assert (replay.status, replay.code) == (409, "MCA_NONCE_REPLAYED")
    assert _business_rows(mca.app) == before == {"process_instance": 1, "uploaded_file": 0, "mca_submission": 1}
    # A submission is audited before its service runs (MCA_ACCEPTED) and again with its outcome.
    assert [r.result_code for r in mca.audit_rows()] == ["MCA_ACCEPTED", "OK", "MCA_NONCE_REPLAYED"]
    # The same nonce with a fresh timestamp and signature is still a replay.
    again = mca.client.prepare("registration.submit", _registration(p), nonce=prepared.nonce)
    assert mca.client.send(again).code == "MCA_NONCE_REPLAYED"


def test_b1_unknown_and_disabled_apps_are_refused(mca):
    from processes.mca.apps import set_active

    stranger = mca.other_client(app_id="no-such-app", key=SM2PrivateKey.generate())
    _refused(
        mca, stranger.call("house.fuzzyQuery", {"partialAddress": "田林路"}), 401, "MCA_APP_UNKNOWN", "not_checked"
    )
    with mca.app.app_context():
        set_active(APP_ID, False)
    _refused(
        mca, mca.client.call("house.fuzzyQuery", {"partialAddress": "田林路"}), 403, "MCA_APP_DISABLED", "not_checked"
    )


def test_b1_tampered_ciphertext_is_refused(mca):
    p = sim_person("long")
    prepared = mca.client.prepare("registration.submit", _registration(p))
    envelope = json.loads(prepared.body)
    cipher = bytearray(base64.b64decode(envelope["cipherText"]))
    cipher[20] ^= 0x01
    envelope["cipherText"] = base64.b64encode(bytes(cipher)).decode()
    prepared.body = json.dumps(envelope).encode()
    # On the wire: the signature no longer matches.
    _refused(mca, mca.client.send(prepared), 401, "MCA_SIGNATURE_INVALID", "invalid")
    # Signed after the damage (a broken or malicious caller): the GCM tag catches it.
    resealed = mca.client.prepare("registration.submit", _registration(p))
    envelope = json.loads(resealed.body)
    cipher = bytearray(base64.b64decode(envelope["cipherText"]))
    cipher[-1] ^= 0x80
    envelope["cipherText"] = base64.b64encode(bytes(cipher)).decode()
    _refused(mca, _resign(mca, resealed, json.dumps(envelope).encode()), 400, "MCA_DECRYPT_FAILED", "valid")


def _resign(mca, prepared, body: bytes):
    """Send `body` under the prepared headers with a valid signature over it."""
    from integrations.mca_v3_client import canonical_string

    h = prepared.headers
    canonical = canonical_string(
        APP_ID, prepared.interface_code, h["X-Mca-Timestamp"], h["X-Mca-Nonce"], h["X-Mca-Key-Id"], body
    )
    prepared.headers = {**h, "X-Mca-Signature": base64.b64encode(mca.app_key.sign(canonical)).decode()}
    prepared.body = body
    return mca.client.send(prepared)


def test_b1_unknown_interface_is_refused_after_authentication(mca):
    _refused(mca, mca.client.call("house.teleport", {}), 404, "MCA_INTERFACE_UNKNOWN", "valid")
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    raw = requests.post(f"{mca.url}/api/mca/v3/%E6%88%BF%E5%B1%8B", data=prepared.body, headers=prepared.headers)
    assert raw.status_code == 404 and raw.json()["code"] == "MCA_INTERFACE_UNKNOWN"
    assert raw.headers["X-Mca-Interface"] == "" and mca.audit_rows()[-1].interface_code == ""


def test_b1_unknown_key_id_is_refused(mca):
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    prepared.headers = {**prepared.headers, "X-Mca-Key-Id": "mca:99"}
    _refused(mca, _resign(mca, prepared, prepared.body), 400, "MCA_KEY_UNKNOWN", "valid")


def test_b1_malformed_envelope_and_plaintext_are_refused(mca):
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    _refused(mca, _resign(mca, prepared, b'{"encryptedKey": "!!"}'), 400, "MCA_ENVELOPE_MALFORMED", "valid")
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    envelope = json.loads(prepared.body)
    envelope["cipherText"] = base64.b64encode(sm4_gcm_encrypt(prepared.session_key, b"{not json")).decode()
    _refused(mca, _resign(mca, prepared, json.dumps(envelope).encode()), 400, "MCA_JSON_MALFORMED", "valid")


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"name": None}, "MCA_FIELD_REQUIRED", "name"),
        ({"address": "长" * 201}, "MCA_FIELD_TOO_LONG", "address"),
        ({"idNumber": "12345"}, "MCA_FIELD_INVALID", "idNumber"),
        ({"address": "田林路\x00200号"}, "MCA_FIELD_INVALID", "address"),  # PostgreSQL text cannot hold a NUL
        ({"reason": "tourism"}, "MCA_FIELD_INVALID", "reason"),
        ({"waitSeconds": "3"}, "MCA_FIELD_INVALID", "waitSeconds"),
        ({"id_number": "x"}, "MCA_FIELD_UNKNOWN", "id_number"),
    ],
)
def test_b1_invalid_body_fields_are_refused_by_name(mca, change, code, field):
    data = {k: v for k, v in {**_registration(sim_person("long")), **change}.items() if v is not None}
    response = mca.client.call("registration.submit", data)
    _refused(mca, response, 422, code, "valid")
    assert field in response.details["fields"] and response.details["codes"][field] == code


def test_b1_missing_headers_get_a_signed_refusal(mca):
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    headers = {k: v for k, v in prepared.headers.items() if k != "X-Mca-Signature"}
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=prepared.body, headers=headers)
    assert raw.status_code == 400 and raw.json()["code"] == "MCA_HEADER_MISSING"
    answer = open_response(prepared, raw.status_code, raw.headers, raw.content, SM2PublicKey.from_pem(mca.server_pem))
    assert answer.details == {"headers": ["X-Mca-Signature"]}
    assert mca.audit_rows()[-1].result_code == "MCA_HEADER_MISSING"


def test_b1_client_refuses_a_forged_or_misdirected_answer(mca):
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=prepared.body, headers=prepared.headers)
    server = SM2PublicKey.from_pem(mca.server_pem)
    forged = raw.content.replace(b'"code":"OK"', b'"code":"OK" ')
    with pytest.raises(McaClientError, match="signature"):
        open_response(prepared, 200, raw.headers, forged, server)
    other = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    with pytest.raises(McaClientError, match="not for this request"):
        open_response(other, 200, raw.headers, raw.content, server)
    with pytest.raises(McaClientError, match="signature"):
        open_response(prepared, 200, raw.headers, raw.content, SM2PrivateKey.generate().public_key())


def test_b1_a_signed_refusal_of_another_request_is_rejected_by_the_client(mca):
    """Finding 11: same app, interface and nonce but another body: the server's signed refusal does not fit."""
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    tampered = prepared.body.replace(b'"cipherText":"', b'"cipherText":"AAAA')
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=tampered, headers=prepared.headers)
    assert raw.status_code == 401 and raw.json()["code"] == "MCA_SIGNATURE_INVALID"
    server = SM2PublicKey.from_pem(mca.server_pem)
    with pytest.raises(McaClientError, match="request digest differs"):
        open_response(prepared, raw.status_code, raw.headers, raw.content, server)
    # Another app's answer with the same nonce and interface is not ours either.
    other = replace(prepared, app_id="mca-other-app")
    good = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=prepared.body, headers=prepared.headers)
    assert open_response(prepared, good.status_code, good.headers, good.content, server).ok
    with pytest.raises(McaClientError, match="not for this request"):
        open_response(other, good.status_code, good.headers, good.content, server)
    # The answer is bound by its signature: swapping in the refused request's digest breaks it.
    forged = dict(good.headers, **{"X-Mca-Request-Sm3": sm3_hex(tampered)})
    with pytest.raises(McaClientError, match="signature"):
        open_response(prepared, good.status_code, forged, good.content, server)


def test_b1_openapi_documents_every_group_field_and_error_in_chinese(mca):
    from processes.mca.catalog import all_interfaces

    doc = requests.get(f"{mca.url}/api/mca/v3/openapi.json").json()
    assert "待签名串" in doc["info"]["description"] and "会话密钥" in doc["info"]["description"]
    groups = {i.group for i in all_interfaces()}
    assert groups == set(range(18))
    for spec in all_interfaces():
        op = doc["paths"][f"/api/mca/v3/{spec.code}"]["post"]
        schema = doc["components"]["schemas"][op["x-plaintext-request"]["$ref"].rsplit("/", 1)[1]]
        assert schema["required"] == list(spec.required)
        for name, prop in schema["properties"].items():
            assert name[0].islower() and "_" not in name
            assert any("\u4e00" <= c <= "\u9fff" for c in prop["description"])
            assert prop["type"] != "string" or prop.get("maxLength")
    assert doc["x-error-codes"]["MCA_NONCE_REPLAYED"]["status"] == 409
    key = requests.get(f"{mca.url}/api/mca/v3/server-key").json()
    assert key["keyId"] == mca.server_key_id and SM2PublicKey.from_pem(key["publicKeyPem"]).to_pem() == mca.server_pem


def test_b1_an_oversized_body_gets_a_signed_refusal(mca):
    limit = mca.app.config["PERMITFLOW_SETTINGS"].API_MAX_BODY_BYTES
    prepared = mca.client.prepare("house.fuzzyQuery", {"partialAddress": "田林路"})
    raw = requests.post(f"{mca.url}/api/mca/v3/house.fuzzyQuery", data=b"x" * (limit + 1), headers=prepared.headers)
    answer = open_response(prepared, raw.status_code, raw.headers, raw.content, SM2PublicKey.from_pem(mca.server_pem))
    assert (answer.status, answer.code) == (413, "MCA_BODY_TOO_LARGE")
    assert mca.audit_rows()[-1].result_code == "MCA_BODY_TOO_LARGE"
