"""SQLAlchemy models. Importing this package registers every table on `db.metadata`."""

from models.base import JSONType, UTCDateTime, db, utcnow
from models.integration import IntegrationCall
from models.platform import AppUser, ChannelClient, OutboxJob
from models.process import (
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessTimer,
)

__all__ = [
    "AppUser",
    "ChannelClient",
    "HumanTask",
    "Incident",
    "IntegrationCall",
    "JSONType",
    "OutboxJob",
    "ProcessDefinition",
    "ProcessEvent",
    "ProcessInstance",
    "ProcessTimer",
    "UTCDateTime",
    "db",
    "utcnow",
]
