"""Finding 18: a start whose submission record was lost (crash between the two) gets it on the client's retry."""

from __future__ import annotations

from sqlalchemy import select

from models import db
from models.mca import McaApp, McaSubmission
from processes import instances
from processes.mca import apps
from processes.platform import get_platform
from tests.processes.change_factories import make_holder
from tests.webapp.mca_support import APP_ID, mca_fixture  # noqa: F401  (the `mca` fixture)


def _submissions(app, instance_id: str) -> list[McaSubmission]:
    with app.app_context():
        db.session.rollback()
        rows = db.session.execute(select(McaSubmission).where(McaSubmission.instance_id == instance_id)).scalars()
        return list(rows)


def test_retry_after_a_lost_submission_records_it_once(mca):
    holder = make_holder(mca.app, "issued")
    business_key = "MCA-RETRY-1"
    form = {"id_number": holder.id_number, "name": holder.name, "employer": "上海重试有限公司"}
    with mca.app.app_context():
        app_row = db.session.execute(select(McaApp).where(McaApp.app_id == APP_ID)).scalar_one()
        actor = apps.app_actor(app_row, "req-crash")
        # What a crash right after the start's commit leaves behind: the instance, no submission.
        instance, created = instances.start_instance(
            get_platform(mca.app),
            "general_info_change",
            business_key,
            form,
            actor,
            idempotency_key=f"mca:{APP_ID}:{business_key}",
        )
        assert created
        instance_id = instance.public_id
    assert _submissions(mca.app, instance_id) == []
    data = {"waitSeconds": 0, "businessKey": business_key, "idNumber": holder.id_number, "name": holder.name}
    data["employer"] = "上海重试有限公司"
    retry = mca.client.call("permitGeneral.submit", data)
    assert retry.ok and retry.data["created"] is False and retry.data["instance"]["id"] == instance_id
    assert len(_submissions(mca.app, instance_id)) == 1
    again = mca.client.call("permitGeneral.submit", data)
    assert again.ok and len(_submissions(mca.app, instance_id)) == 1
    history = mca.client.call("permitGeneral.query", {"idNumber": holder.id_number, "name": holder.name})
    assert [s["instanceId"] for s in history.data["submissions"]] == [instance_id]
