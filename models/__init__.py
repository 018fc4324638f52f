"""SQLAlchemy models. Importing this package registers every table on `db.metadata`."""

from models.base import JSONType, UTCDateTime, db, utcnow
from models.domain import (
    Deregistration,
    Endorsement,
    Permit,
    Person,
    Photo,
    ProductionBatch,
    ProductionItem,
    ResidenceRegistration,
)
from models.files import UploadedFile
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
from models.sms import SmsBlock, SmsMessage, SmsStatusEvent, SmsTemplate

__all__ = [
    "AppUser",
    "ChannelClient",
    "Deregistration",
    "Endorsement",
    "HumanTask",
    "Incident",
    "IntegrationCall",
    "JSONType",
    "OutboxJob",
    "Permit",
    "Person",
    "Photo",
    "ProcessDefinition",
    "ProcessEvent",
    "ProcessInstance",
    "ProcessTimer",
    "ProductionBatch",
    "ProductionItem",
    "ResidenceRegistration",
    "SmsBlock",
    "SmsMessage",
    "SmsStatusEvent",
    "SmsTemplate",
    "UTCDateTime",
    "UploadedFile",
    "db",
    "utcnow",
]
