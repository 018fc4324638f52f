"""SQLAlchemy models. Importing this package registers every table on `db.metadata`."""

from models.base import JSONType, UTCDateTime, db, utcnow
from models.case_scope import CaseScope
from models.changes import ChangeRequest, DeathListImport, DeathListRow, RareCharacter  # noqa: F401  (C1/C2 tables)
from models.design import DiagramDraft
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
from models.mca import McaApp, McaCallAudit, McaSubmission  # noqa: F401  (MCA 3.0 tables)
from models.platform import AppUser, ChannelClient, OutboxJob
from models.process import (
    HumanTask,
    Incident,
    ProcessDefinition,
    ProcessEvent,
    ProcessInstance,
    ProcessTimer,
)
from models.reports import ExportJob, MonthlyReport, ReportDailyStat, ReportRefresh  # noqa: F401  (C4 statistics)
from models.security import AuditChainHead, AuditLog, LoginAttempt, PasswordHistory, StaffSession
from models.sms import SmsBlock, SmsMessage, SmsStatusEvent, SmsTemplate

__all__ = [
    "AppUser",
    "AuditChainHead",
    "AuditLog",
    "CaseScope",
    "ChannelClient",
    "Deregistration",
    "DiagramDraft",
    "Endorsement",
    "HumanTask",
    "Incident",
    "IntegrationCall",
    "JSONType",
    "LoginAttempt",
    "OutboxJob",
    "PasswordHistory",
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
    "StaffSession",
    "UTCDateTime",
    "UploadedFile",
    "db",
    "utcnow",
]
