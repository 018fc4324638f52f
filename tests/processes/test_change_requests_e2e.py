"""Change requests on records made by the real A6 permit process: rare characters at card export, pause and
terminate production, undo of a running permit application (its process is cancelled)."""

from __future__ import annotations

from integrations.simulators.dataset import RARE_GIVEN
from processes.changes.rare_chars import is_common
from tests.processes.change_request_support import (
    approve_all,
    clean_change_tables,  # noqa: F401  (autouse fixture)
    request_row,
    submit,
)
from tests.processes.permit_support import apply, approve_through, card_person, permit_row, run_batch, seed_registration
from tests.support import instance_row
from tests.support import person as sim_person


def _approved_permit(app, drain, p) -> tuple[str, str]:
    seed_registration(app, p, months=2, legality="legal")
    public_id = apply(app, drain, p)
    approve_through(app, drain, public_id, risk=False)
    return public_id, instance_row(app, public_id).result["application"]["number"]


def test_c2_2_rare_name_card_is_made_once_its_character_is_in_the_library(permit_app, drain):
    p = sim_person("long", rare=True)
    public_id, number = _approved_permit(permit_app, drain, p)
    rare = [c for c in p.name if not is_common(c)] or [c for c in p.name if c in "".join(RARE_GIVEN)]
    for char in rare:
        approve_all(
            permit_app, drain, submit(permit_app, "rare_char_add", {"character": char, "description": "测试字形"})
        )
    batch = run_batch(permit_app, drain)
    assert batch.result["collected"]["cards"][0]["rare_chars_ready"] is True
    assert batch.result["imported"]["made"] == 1 and batch.result["imported"]["failed"] == 0
    assert permit_row(permit_app, number).card_status == "made"
    assert instance_row(permit_app, public_id).status == "waiting"  # on to the counter hand-over


def test_c2_1_paused_permit_skips_the_batch_then_termination_voids_it_and_ends_its_process(permit_app, drain):
    public_id, number = _approved_permit(permit_app, drain, card_person("long", nth=3))
    approve_all(permit_app, drain, submit(permit_app, "production_pause", {"permit_number": number}))
    assert permit_row(permit_app, number).production_paused is True
    assert run_batch(permit_app, drain).result["collected"]["count"] == 0
    request = submit(permit_app, "production_terminate", {"permit_number": number}, "申请人放弃办证")
    approve_all(permit_app, drain, request)
    assert request_row(permit_app, request).after["instance_cancelled"] is True
    assert permit_row(permit_app, number).status == "voided"
    assert instance_row(permit_app, public_id).status == "cancelled"


def test_c2_3_undo_running_permit_application_cancels_its_process(permit_app, drain):
    public_id, number = _approved_permit(permit_app, drain, card_person("long", nth=4))
    request = submit(permit_app, "undo_permit_application", {"permit_number": number}, "申请人要求撤销")
    approve_all(permit_app, drain, request)
    assert request_row(permit_app, request).after == {
        "status": "voided",
        "card_status": "queued",
        "instance_cancelled": True,
    }
    assert instance_row(permit_app, public_id).status == "cancelled"
