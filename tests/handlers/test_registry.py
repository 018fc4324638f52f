"""The dispatch point: operator lookup, parameter checks, failure mapping; the HRSS handler's feedback."""

from __future__ import annotations

import pytest

from handlers.registry import DispatchError, HandlerError, dispatch, operator, registry
from integrations.errors import PermanentError, TransientError
from integrations.hrss import HrssClient
from integrations.http import HttpSettings
from tests.support import person as sim_person


@operator("test.echo", clients=("echo_client",))
def _echo(*, echo_client, text: str, times: int = 1) -> dict:
    """Echo the text through the injected client."""
    return {"text": echo_client(text) * times}


@operator("test.fail")
def _fail(*, kind: str) -> dict:
    """Fail in the requested way."""
    if kind == "transient":
        raise TransientError("TIMEOUT", "slow", retry_after=3)
    if kind == "permanent":
        raise PermanentError("HTTP_400", "refused")
    if kind == "business":
        raise HandlerError("NOT_ELIGIBLE", "不符合条件", {"why": "x"})
    return "not a dict"  # type: ignore[return-value]


def test_dispatch_injects_clients_and_checks_parameters():
    assert dispatch("test.echo", {"text": "ab", "times": 2}, {"echo_client": str.upper}) == {"text": "ABAB"}
    with pytest.raises(DispatchError) as unknown:
        dispatch("test.nope", {}, {})
    assert unknown.value.code == "UNKNOWN_OPERATOR" and not unknown.value.transient
    with pytest.raises(DispatchError) as bad:
        dispatch("test.echo", {"txt": "a"}, {"echo_client": str})
    assert bad.value.code == "BAD_PARAMETERS"
    assert bad.value.details == {"unknown": ["txt"], "missing": ["text"]}


@pytest.mark.parametrize(
    ("kind", "code", "transient"),
    [
        ("transient", "TIMEOUT", True),
        ("permanent", "HTTP_400", False),
        ("business", "NOT_ELIGIBLE", False),
        ("result", "BAD_HANDLER_RESULT", False),
    ],
)
def test_failures_are_mapped_to_transient_or_permanent(kind, code, transient):
    with pytest.raises(DispatchError) as info:
        dispatch("test.fail", {"kind": kind}, {})
    assert (info.value.code, info.value.transient) == (code, transient)


def test_registry_lists_the_builtin_operators_with_their_params():
    op = registry()["hrss.check_insurance"]
    assert op.clients == ("hrss",) and op.required_params == ("id_number", "name", "as_of")


@pytest.fixture
def hrss(simulator):
    return HrssClient(simulator.url + "/hrss", HttpSettings(retries=0))


@pytest.mark.parametrize(
    ("profile", "nth", "passed", "months", "phrase"),
    [
        ("long", 0, True, 24, "符合扩围条件"),
        ("exactly6", 0, True, 6, "符合扩围条件"),
        ("exactly5", 0, False, 5, "还差1个月"),
        ("gap", 0, False, 3, "未缴费导致连续缴纳中断"),
        ("gap", 1, True, 7, "符合扩围条件"),  # an old gap does not matter once the last 6 months are paid
        ("none", 0, False, 0, "未查询到本市社会保险参保记录"),
        ("suspended", 0, False, 0, "暂停缴费"),
        ("new2", 0, False, 2, "还差4个月"),
    ],
)
def test_a1_hrss_check_explains_each_outcome(hrss, profile, nth, passed, months, phrase):
    p = sim_person(profile, nth)
    result = dispatch(
        "hrss.check_insurance", {"id_number": p.id_number, "name": p.name, "as_of": "2026-11-29"}, {"hrss": hrss}
    )
    assert result["passed"] is passed
    assert result["consecutive_months"] == months
    assert any(phrase in line for line in result["feedback"]), result["feedback"]


def test_a2_hrss_name_mismatch_is_the_correctable_bpmn_error(hrss):
    p = sim_person("long")
    with pytest.raises(DispatchError) as info:
        dispatch(
            "hrss.check_insurance", {"id_number": p.id_number, "name": "某某", "as_of": "2026-11-29"}, {"hrss": hrss}
        )
    assert (info.value.code, info.value.transient) == ("HRSS_REJECTED", False)
    assert "姓名" in info.value.message
