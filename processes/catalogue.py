"""Read-only summaries for the home page: deployed processes and work in progress."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from models import HumanTask, Incident, ProcessDefinition, ProcessInstance, db
from processes.deployment import latest_versions
from processes.platform import Platform
from processes.roles import ROLES


def overview(platform: Platform) -> dict[str, Any]:
    """Latest version of each process with instance counts by status, ready tasks by role, open incidents."""
    processes = db.session.execute(
        latest_versions(
            "bpmn",
            ProcessDefinition.key,
            ProcessDefinition.name,
            ProcessDefinition.version,
            ProcessDefinition.deployed_at,
        ).order_by(ProcessDefinition.key)
    ).all()
    counts = db.session.execute(
        select(ProcessInstance.process_key, ProcessInstance.status, func.count()).group_by(
            ProcessInstance.process_key, ProcessInstance.status
        )
    ).all()
    by_key: dict[str, dict[str, int]] = {}
    for key, status, count in counts:
        by_key.setdefault(key, {})[status] = count
    queues = db.session.execute(
        select(HumanTask.role, func.count()).where(HumanTask.status == "ready").group_by(HumanTask.role)
    ).all()
    incidents = db.session.execute(select(func.count()).where(Incident.status == "open")).scalar_one()
    return {
        "processes": [
            {
                "key": p.key,
                "name": p.name,
                "version": p.version,
                "deployed_at": p.deployed_at,
                "counts": by_key.get(p.key, {}),
            }
            for p in processes
        ],
        "queues": [{"role": ROLES.get(role, role), "count": count} for role, count in queues],
        "incidents": incidents,
        "job_mode": platform.settings.job_mode,
    }
