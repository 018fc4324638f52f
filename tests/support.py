"""Helpers shared by tests: API clients, applicants from the simulated population, actors."""

from __future__ import annotations

import re
import secrets
from typing import Any

from integrations.simulators.dataset import population
from processes.stepping import Actor

ADDRESS = "上海市徐汇区田林路200号3号楼502室"

# An attribute that makes the browser fetch from another origin: absolute or protocol-relative URLs.
_OFF_SITE = re.compile(r"""\b(?:src|href|action|srcset)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.IGNORECASE)


def register_key(app, code: str | None = None, kind: str = "channel") -> str:
    """Register an API client and return its key."""
    from processes.channels import register_client

    with app.app_context():
        _, key = register_client(code or f"{kind}-{secrets.token_hex(4)}", f"测试{kind}", kind)
    return key


def person(profile: str = "long", nth: int = 0, rare: bool | None = None):
    """The nth simulated person with an HRSS profile (and optionally a rare-character name)."""
    matches = [
        p
        for p in population()
        if p.hrss_profile == profile and not p.deceased and (rare is None or p.rare_name == rare)
    ]
    return matches[nth]


def application(p, **overrides: Any) -> dict[str, Any]:
    """Registration start-form data for a person."""
    data = {"id_number": p.id_number, "name": p.name, "mobile": p.mobile, "address": ADDRESS, "reason": "employment"}
    data.update(overrides)
    return data


def start_registration(
    client, key: str, p, business_key: str | None = None, idempotency_key: str | None = None, **overrides: Any
):
    """POST a residence registration through the channel API."""
    headers = {"X-Api-Key": key}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    return client.post(
        "/api/v1/processes/residence_registration/instances",
        headers=headers,
        json={"business_key": business_key or f"BK-{secrets.token_hex(4)}", "data": application(p, **overrides)},
    )


def clerk(name: str = "clerk01") -> Actor:
    """A clerk acting in the staff UI."""
    return Actor(kind="user", name=name, roles=("clerk",))


def ready_task(app, instance_public_id: str, role: str = "clerk"):
    """The one ready human task of an instance for a role."""
    from sqlalchemy import select

    from models import HumanTask, ProcessInstance, db

    with app.app_context():
        return db.session.execute(
            select(HumanTask)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .where(ProcessInstance.public_id == instance_public_id, HumanTask.status == "ready", HumanTask.role == role)
        ).scalar_one()


def instance_row(app, public_id: str):
    """The instance row, freshly read."""
    from sqlalchemy import select

    from models import ProcessInstance, db

    with app.app_context():
        db.session.rollback()
        return db.session.execute(select(ProcessInstance).where(ProcessInstance.public_id == public_id)).scalar_one()


def set_fault(simulator, endpoint: str, **fault: Any) -> None:
    """Install a fault on a simulator endpoint."""
    import requests

    response = requests.post(simulator.url + "/_admin/faults", json={"endpoint": endpoint, **fault}, timeout=5)
    response.raise_for_status()


def sim_calls(simulator, endpoint: str) -> int:
    """How many calls a simulator endpoint has answered since the last reset."""
    import requests

    return requests.get(simulator.url + "/_admin/faults", timeout=5).json()["calls"].get(endpoint, 0)


def off_site_references(html: str) -> list[str]:
    """Attributes in a page that would load or link anything from another origin."""
    return [match.group(0) for match in _OFF_SITE.finditer(html)]
