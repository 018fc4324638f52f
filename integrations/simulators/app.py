"""The simulators: one Flask app serving every external system over HTTP from the seeded population."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from integrations import idnumber
from integrations.simulators.dataset import by_id_number, consecutive_months, contribution_history, population
from integrations.simulators.faults import Fault, FaultBoard

admin = Blueprint("sim_admin", __name__, url_prefix="/_admin")
hrss = Blueprint("sim_hrss", __name__, url_prefix="/hrss")


def create_simulator_app(seed: int = 20260101) -> Flask:
    """Build the simulators app for a seed (same seed, same persons)."""
    app = Flask("permitflow-simulators")
    app.config["SIM_SEED"] = seed
    app.extensions["faults"] = FaultBoard()
    app.register_blueprint(admin)
    app.register_blueprint(hrss)
    # Imported here, not at the top: these modules reuse _guarded and _error from this one.
    from integrations.simulators import (
        sim_card_factory,
        sim_elicence,
        sim_housing,
        sim_kms,
        sim_mca,
        sim_photo,
        sim_population,
        sim_postal,
        sim_sms,
    )

    for system in (
        sim_elicence,
        sim_housing,
        sim_photo,
        sim_sms,
        sim_card_factory,
        sim_postal,
        sim_mca,
        sim_population,
        sim_kms,
    ):
        app.register_blueprint(system.blueprint)

    @app.get("/healthz")
    def healthz() -> Any:
        return {"status": "ok", "persons": len(population(seed))}

    return app


def _faults() -> FaultBoard:
    return current_app.extensions["faults"]


def _guarded(endpoint: str, payload: dict[str, Any], status: int = 200) -> Response:
    """Answer through the fault board: maybe slow, failing, malformed or missing fields."""
    outcome = _faults().apply(endpoint)
    if outcome == "malformed":
        return Response("{not json", status=200, mimetype="application/json")
    if isinstance(outcome, tuple):
        code, retry_after = outcome
        response = jsonify({"code": "SIMULATED_FAULT", "message": f"simulated {code}"})
        response.status_code = code
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    for name in _faults().dropped_fields(endpoint):
        payload.pop(name, None)
    response = jsonify(payload)
    response.status_code = status
    return response


def _error(code: str, message: str, status: int) -> Response:
    response = jsonify({"code": code, "message": message})
    response.status_code = status
    return response


@admin.post("/faults")
def set_fault() -> Any:
    """Install a fault: {endpoint, latency_ms, error_rate, error_status, outage, fail_next, ...}."""
    body = request.get_json(silent=True) or {}
    endpoint = body.pop("endpoint", None)
    if not endpoint:
        return _error("MISSING_ENDPOINT", "endpoint is required", 400)
    if "drop_fields" in body:
        body["drop_fields"] = tuple(body["drop_fields"])
    try:
        _faults().set(endpoint, Fault(**body))
    except TypeError as exc:
        return _error("BAD_FAULT", str(exc), 400)
    return _faults().snapshot()


@admin.delete("/faults")
def clear_faults() -> Any:
    """Remove every fault."""
    _faults().clear()
    return {"status": "cleared"}


@admin.get("/faults")
def list_faults() -> Any:
    """Current faults and call counts."""
    return _faults().snapshot()


@admin.get("/persons")
def persons() -> Any:
    """The seeded population (for demos and tests)."""
    return {
        "persons": [
            {
                "id_number": p.id_number,
                "name": p.name,
                "gender": p.gender,
                "birth_date": p.birth_date,
                "mobile": p.mobile,
                "hrss_profile": p.hrss_profile,
                "rare_name": p.rare_name,
                "deceased": p.deceased,
            }
            for p in population(current_app.config["SIM_SEED"])
        ]
    }


@hrss.post("/v1/insurance/status")
def insurance_status() -> Any:
    """Insured status, contribution history and consecutive months up to as_of."""
    body = request.get_json(silent=True) or {}
    id_number, name, as_of_text = body.get("id_number", ""), body.get("name", ""), body.get("as_of", "")
    if idnumber.id_number_problem(id_number):
        return _error("INVALID_ID", "invalid id number", 400)
    try:
        as_of = date.fromisoformat(as_of_text)
    except ValueError:
        return _error("INVALID_DATE", "as_of must be YYYY-MM-DD", 400)
    person = by_id_number(current_app.config["SIM_SEED"]).get(id_number)
    if person is not None and name and name != person.name:
        return _error("NAME_MISMATCH", "name does not match the insured person", 422)
    history = contribution_history(person, as_of) if person else []
    months = consecutive_months(history)
    status = "none" if not history else ("suspended" if not history[-1]["paid"] else "active")
    return _guarded(
        "hrss.insurance_status",
        {
            "insured": bool(history),
            "status": status,
            "consecutive_months": months,
            "history": history,
            "as_of": as_of.isoformat(),
        },
    )
