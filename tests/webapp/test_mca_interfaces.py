"""MCA 3.0 interfaces (B1.1-17): the normal path of every interface, through the reference client over HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from integrations.idnumber import mask
from integrations.simulators.dataset import houses
from models import ProcessInstance, db
from models.domain import Endorsement, Permit
from processes.mca.catalog import all_interfaces, find
from tests.processes.change_factories import DISTRICT, make_holder
from tests.support import ADDRESS
from tests.webapp.mca_support import APP_ID, mca_fixture  # noqa: F401  (the `mca` fixture)

GOOD_PHOTO = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 8 + b"\xff\xd9"


def call(mca, code: str, data: dict[str, Any]) -> Any:
    """Call and require success (submissions answer at once: the tests drain jobs themselves)."""
    spec = find(code)
    if spec is not None and "waitSeconds" in spec.optional:
        data = {"waitSeconds": 0, **data}
    response = mca.client.call(code, data)
    assert response.ok, (code, response.status, response.code, response.message, response.details)
    return response.data


def who(holder) -> dict[str, str]:
    return {"idNumber": holder.id_number, "name": holder.name}


def started(mca, data: dict, process_key: str) -> dict:
    """A start answer: a new instance of the process, started by the app, with a submission recorded."""
    instance = data["instance"]
    assert data["created"] is True and instance["processKey"] == process_key
    with mca.app.app_context():
        row = db.session.execute(
            select(ProcessInstance).where(ProcessInstance.public_id == instance["id"])
        ).scalar_one()
        assert row.started_by == f"mca:{APP_ID}" and row.business_key == instance["businessKey"]
    assert instance["incidents"] == []
    return instance


@pytest.fixture
def holder(mca):
    return make_holder(mca.app, "issued")


def test_b1_0_instance_query_and_idempotent_submission(mca, holder):
    data = {"businessKey": "MCA-G-1", **who(holder), "employer": "上海新单位有限公司"}
    first = started(mca, call(mca, "permitGeneral.submit", data), "general_info_change")
    again = call(mca, "permitGeneral.submit", data)
    assert again["created"] is False and again["instance"]["id"] == first["id"]
    assert call(mca, "common.instanceQuery", {"instanceId": first["id"]})["instance"]["id"] == first["id"]
    # Another app on the same channel neither sees the instance nor the person's submissions.
    from integrations.crypto import SM2PrivateKey
    from processes.mca.apps import register_app

    other_key = SM2PrivateKey.generate()
    with mca.app.app_context():
        register_app("mca-other-app", "另一应用", other_key.public_key().to_pem())
    other = mca.other_client("mca-other-app", other_key)
    assert other.call("common.instanceQuery", {"instanceId": first["id"]}).code == "INSTANCE_NOT_FOUND"
    assert other.call("permitGeneral.query", who(holder)).data["submissions"] == []


def test_b1_1_2_house_exact_fuzzy_occupants(mca, holder):
    house = houses()[0]
    by_code = call(mca, "house.exactQuery", {"addressCode": house.address_code})["house"]
    by_id = call(mca, "house.exactQuery", {"houseId": house.house_id})["house"]
    assert by_code == by_id and by_code["houseId"] == house.house_id and "occupantCount" in by_code
    fuzzy = call(mca, "house.fuzzyQuery", {"partialAddress": house.address[3:9], "limit": 20})
    assert house.house_id in [c["houseId"] for c in fuzzy["candidates"]]
    occupants = call(mca, "house.occupantQuery", {"houseId": house.house_id})
    assert occupants["houseId"] == house.house_id
    assert all("*" in o["idNumber"] for o in occupants["occupants"])


def test_b1_2_17_businesses_and_unified_validation(mca, holder):
    answer = call(mca, "applicant.businessQuery", who(holder))
    allowed = {b["businessType"]: b["allowed"] for b in answer["businesses"]}
    assert allowed["loss_report"] and allowed["reissue"] and not allowed["loss_cancel"]
    assert not allowed["permit_application"]  # already holds a permit
    check = call(mca, "validate.business", {**who(holder), "businessType": "loss_cancel"})
    assert check == {"businessType": "loss_cancel", "allowed": False, "code": "NOT_LOST", "reason": "该居住证未挂失"}
    assert call(mca, "validate.user", who(holder))["legal"] is True
    assert call(mca, "validate.user", {**who(holder), "name": "别人"})["code"] == "NAME_MISMATCH"
    assert call(mca, "validate.servicePoint", {"servicePoint": "NOWHERE-1"})["legal"] is False


def test_b1_3_permit_detail_photos_and_apply(mca, holder):
    detail = call(mca, "permit.detailQuery", who(holder))
    assert detail["identity"]["idNumber"] == mask(holder.id_number)
    assert detail["residence"]["address"] == ADDRESS and detail["residence"]["district"] == DISTRICT
    assert detail["permit"]["status"] == "issued" and detail["permit"]["submittedAt"]
    assert call(mca, "permit.photoQuery", who(holder))["photos"] == []
    fresh = make_holder(mca.app, None, nth=1)
    answer = call(
        mca, "permit.apply", {"businessKey": "MCA-P-1", **who(fresh), "mobile": "13912345678", "delivery": "counter"}
    )
    started(mca, answer, "permit_application")


def test_b1_4_retake_history_and_upload(mca, drain):
    from integrations.simulators.dataset import population
    from tests.processes.domain_factories import make_permit

    # A person whose social-security-card photo fails review (simulator: index % 12 == 5) needs a retake.
    sim = next(p for p in population() if p.index % 12 == 5 and not p.deceased)
    with mca.app.app_context():
        permit = make_permit(sim=sim)
        holder = type("Holder", (), {"id_number": sim.id_number, "name": sim.name, "permit_id": permit.id})
    from processes.instances import start_instance
    from processes.platform import get_platform
    from processes.stepping import Actor
    from processes.tasks import complete_task
    from tests.support import ready_task

    with mca.app.app_context():
        number = db.session.get(Permit, holder.permit_id).number
        instance, _ = start_instance(
            get_platform(mca.app), "photo_retake", f"PR-{number}", {"permit_number": number}, Actor("ops", "ops:t")
        )
        public_id = instance.public_id
    drain()  # service tasks run as jobs (RQ on the production stack)
    task = ready_task(mca.app, public_id, "outbound_agent")
    with mca.app.app_context():
        complete_task(get_platform(mca.app), task.id, {"outcome": "reached"}, Actor("user", "a1", ("outbound_agent",)))
    drain()
    before = call(mca, "retake.historyQuery", who(holder))["photos"]
    import base64

    upload = call(
        mca,
        "retake.upload",
        {
            **who(holder),
            "permitNumber": number,
            "photoBase64": base64.b64encode(GOOD_PHOTO).decode(),
            "photoMime": "image/jpeg",
        },
    )
    assert upload["file"]["size"] == len(GOOD_PHOTO) and upload["task"]
    drain()
    after = call(mca, "retake.historyQuery", who(holder))["photos"]
    assert len(after) > len(before) and after[0]["source"] == "retake"
    [photo] = call(mca, "permit.photoQuery", who(holder))["photos"]
    assert base64.b64decode(photo["contentBase64"]) == GOOD_PHOTO


def test_b1_5_issuance_status_and_notice(mca, holder):
    from processes.sms_templates import ensure_default_templates

    with mca.app.app_context():
        ensure_default_templates()
        number = db.session.get(Permit, holder.permit_id).number
    status = call(mca, "issuance.statusQuery", who(holder))
    assert status["status"] == "issued" and status["pickup"] == "post"
    assert status["issuingOffice"] == {"servicePoint": "XH01", "district": DISTRICT}
    notice = call(mca, "issuance.notice", {**who(holder), "permitNumber": number})
    assert notice["template"] == "CARD_ISSUED" and notice["created"] is True
    assert call(mca, "issuance.notice", {**who(holder), "permitNumber": number})["created"] is False


def test_b1_6_endorsement_submit_history_reissue(mca, holder):
    with mca.app.app_context():
        number = db.session.get(Permit, holder.permit_id).number
    answer = call(
        mca,
        "endorsement.submit",
        {
            "businessKey": "MCA-E-1",
            **who(holder),
            "permitNumber": number,
            "endorsementType": "annual",
            "endorsementReason": "年度签注",
            "requestedAt": "2026-11-29",
        },
    )
    started(mca, answer, "auto_endorsement")
    with mca.app.app_context():
        endorsed = db.session.execute(select(Endorsement).where(Endorsement.permit_id == holder.permit_id)).first()
    history = call(mca, "endorsement.historyQuery", who(holder))["endorsements"]
    assert len(history) == (1 if endorsed else 0)
    reissue = call(mca, "endorsement.reissue", {"businessKey": "MCA-E-2", **who(holder), "note": "芯片异常"})
    started(mca, reissue, "permit_reissue")


def test_b1_7_13_address_moves(mca, holder):
    materials = call(mca, "permitMove.materialQuery", who(holder))
    assert materials["registration"]["address"] == ADDRESS
    move = {
        "businessKey": "MCA-M-1",
        **who(holder),
        "newAddress": "上海市浦东新区世纪大道100号",
        "newDistrict": "浦东新区",
    }
    started(mca, call(mca, "permitMove.submit", move), "address_change")
    query = call(mca, "permitMove.query", who(holder))
    assert query["registrations"] and [s["businessKey"] for s in query["submissions"]] == ["MCA-M-1"]
    move2 = {**move, "businessKey": "MCA-M-2", "newAddress": "上海市闵行区七莘路1号", "newDistrict": "闵行区"}
    started(mca, call(mca, "registrationMove.submit", move2), "address_change")
    moves = call(mca, "registrationMove.query", who(holder))
    assert {s["businessKey"] for s in moves["submissions"]} == {"MCA-M-1", "MCA-M-2"}
    for m in moves["moves"]:
        assert m["movedOutOf"]["registrationNumber"] != m["movedInto"]["registrationNumber"]


def test_b1_8_9_14_15_information_changes(mca, holder):
    general = call(mca, "permitGeneral.query", who(holder))
    assert general["general"]["employer"] == "上海某科技有限公司" and general["submissions"] == []
    started(
        mca,
        call(mca, "permitGeneral.submit", {"businessKey": "MCA-C-1", **who(holder), "education": "postgraduate"}),
        "general_info_change",
    )
    started(
        mca,
        call(mca, "registrationGeneral.submit", {"businessKey": "MCA-C-2", **who(holder), "employer": "上海另一单位"}),
        "general_info_change",
    )
    assert len(call(mca, "registrationGeneral.query", who(holder))["submissions"]) == 2
    identity = {"businessKey": "MCA-C-3", **who(holder), "newEthnicity": "回族", "changeReason": "户籍民族更正"}
    started(mca, call(mca, "permitIdentity.submit", identity), "identity_info_change")
    started(
        mca, call(mca, "registrationIdentity.submit", {**identity, "businessKey": "MCA-C-4"}), "identity_info_change"
    )
    assert len(call(mca, "permitIdentity.query", who(holder))["submissions"]) == 2
    assert call(mca, "registrationIdentity.query", who(holder))["identity"]["ethnicity"] == "汉族"


def test_b1_10_11_loss_cancel_and_reissue(mca, holder, drain):
    loss = {"businessKey": "MCA-L-1", **who(holder), "reporterIdNumber": holder.id_number}
    started(mca, call(mca, "loss.report", loss), "permit_loss_report")
    drain()
    with mca.app.app_context():
        assert db.session.get(Permit, holder.permit_id).status == "lost"
    started(mca, call(mca, "loss.cancel", {**loss, "businessKey": "MCA-L-2"}), "permit_loss_report")
    drain()
    with mca.app.app_context():
        assert db.session.get(Permit, holder.permit_id).status == "issued"
    started(
        mca,
        call(mca, "reissue.submit", {"businessKey": "MCA-R-1", **who(holder), "reissueType": "loss"}),
        "permit_reissue",
    )
    progress = call(mca, "reissue.progressQuery", who(holder))
    assert [s["businessKey"] for s in progress["submissions"]] == ["MCA-R-1"]


def test_b1_12_registration_query_photos_submit(mca, holder):
    query = call(mca, "registration.query", who(holder))
    assert query["registrations"][0]["status"] == "active" and query["identity"]["name"] == holder.name
    assert call(mca, "registration.photoQuery", who(holder))["photos"] == []
    fresh = make_holder(mca.app, None, nth=2, registration=False)
    answer = call(
        mca,
        "registration.submit",
        {"businessKey": "MCA-REG-1", **who(fresh), "mobile": "13912345678", "address": ADDRESS, "reason": "employment"},
    )
    started(mca, answer, "residence_registration")


def test_b1_16_postal_upload_track_and_temporary_card(mca, holder):
    with mca.app.app_context():
        number = db.session.get(Permit, holder.permit_id).number
    upload = call(
        mca,
        "postal.upload",
        {
            "permitNumber": number,
            "recipientName": holder.name,
            "recipientMobile": "13912345678",
            "province": "上海市",
            "city": "上海市",
            "district": DISTRICT,
            "addressDetail": ADDRESS,
            "postcode": "200030",
        },
    )
    assert upload["waybillNo"] and upload["permitNumber"] == number
    track = call(mca, "postal.trackQuery", {"permitNumber": number})
    assert track["waybillNo"] == upload["waybillNo"] and track["events"]
    assert call(mca, "tempCard.return", {**who(holder), "permitNumber": number})["returnRequired"] is True


def test_b1_every_interface_has_a_normal_path_test_here():
    """Every registered interface code is called through `call(...)` somewhere in this file."""
    import re
    from pathlib import Path

    called = set(re.findall(r'call\(\s*mca,\s*"([A-Za-z.]+)"', Path(__file__).read_text(encoding="utf-8")))
    missing = {i.code for i in all_interfaces()} - called
    assert called and not missing, sorted(missing)
