"""The long-running batch processes (daily endorsement run, deregistration sweep), started once per system."""

from __future__ import annotations

from datetime import date, timedelta

from processes.instances import start_instance
from processes.platform import Platform
from processes.stepping import Actor

# process key → (business key, start data); the idempotency key makes starting them again a no-op.
SCHEDULES = {
    "endorsement_schedule": ("SCHEDULE-ENDORSEMENT", {"within_days": 30, "batch_size": 100, "interval": "PT24H"}),
    "deregistration_sweep": ("SCHEDULE-DEREGISTRATION", {"batch_size": 100, "interval": "PT24H"}),
    # Daily statistics recomputed hourly; last month's report generated once on (or after) the 1st (C4.2).
    "report_schedule": ("SCHEDULE-REPORTS", {"refresh_days": 3, "interval": "PT1H"}),
}


def start_schedules(platform: Platform, actor: Actor) -> list[tuple[str, str, bool]]:
    """Start each batch process unless it already runs; returns (process key, instance id, newly started)."""
    started = []
    for key, (business_key, data) in SCHEDULES.items():
        if key == "deregistration_sweep":
            data = {**data, "since": (date.today() - timedelta(days=30)).isoformat()}
        if key == "report_schedule":
            data = {**data, "refresh_days": platform.settings.REPORT_REFRESH_DAYS}
        instance, created = start_instance(platform, key, business_key, data, actor, idempotency_key=f"schedule:{key}")
        started.append((key, instance.public_id, created))
    return started
