"""The process platform: engine, spec cache, forms, clients and job runner, bound to a Flask app."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import Flask, current_app

# Imported for what they register: process-level operators (A-series, C1/C2 change requests, C4 report
# schedule) and the query export job kind (C3).
import processes.changes
import processes.domain
import processes.queries
import processes.reports  # noqa: F401
from config import Settings
from integrations.card_factory import CardFactoryClient
from integrations.elicence import ElicenceClient
from integrations.housing import HousingClient
from integrations.hrss import HrssClient
from integrations.http import HttpSettings
from integrations.keys import KeyManager
from integrations.mca_notify import McaNotifyClient
from integrations.photo import PhotoClient
from integrations.population import PopulationClient
from integrations.postal import PostalClient
from integrations.sms import SmsClient
from models import ProcessDefinition, db
from models.protection import set_key_provider_accessor
from processes.engine.runtime import Engine
from processes.engine.sealing import SnapshotSealer
from processes.engine.serializer import SnapshotSerializer, SpecPair
from processes.errors import NotFound
from processes.forms import FormDefinition, load_forms
from processes.keys import build_key_provider
from processes.unit_of_work import record_call

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"

# Client name (as handlers ask for it) → client class and the setting holding its base URL.
CLIENTS: dict[str, tuple[type, str]] = {
    "hrss": (HrssClient, "HRSS_URL"),
    "elicence": (ElicenceClient, "ELICENCE_URL"),
    "housing": (HousingClient, "HOUSING_URL"),
    "photo": (PhotoClient, "PHOTO_URL"),
    "sms": (SmsClient, "SMS_URL"),
    "card_factory": (CardFactoryClient, "CARD_FACTORY_URL"),
    "postal": (PostalClient, "POSTAL_URL"),
    "mca_notify": (McaNotifyClient, "MCA_NOTIFY_URL"),
    "population": (PopulationClient, "POPULATION_URL"),
}


class SpecCache:
    """Parsed specs per definition version; versions are immutable so entries never go stale."""

    def __init__(self, size: int = 256) -> None:
        self._entries: OrderedDict[int, SpecPair] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size
        self._loader = SnapshotSerializer()

    def get(self, definition_id: int) -> SpecPair:
        """The (spec, subprocess specs) of a definition version, loading it once."""
        with self._lock:
            entry = self._entries.get(definition_id)
            if entry is not None:
                self._entries.move_to_end(definition_id)
                return entry
        serialized = db.session.execute(
            db.select(ProcessDefinition.serialized_spec).where(ProcessDefinition.id == definition_id)
        ).scalar_one_or_none()
        if serialized is None:
            raise NotFound("DEFINITION_NOT_FOUND", f"流程定义 {definition_id} 不存在")
        entry = self._loader.load_specs(serialized)
        with self._lock:
            self._entries[definition_id] = entry
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return entry

    def put(self, definition_id: int, entry: SpecPair) -> None:
        """Prime the cache right after a deployment."""
        with self._lock:
            self._entries[definition_id] = entry


class Platform:
    """Everything the process services need, created once per app."""

    def __init__(
        self, settings: Settings, clients: dict[str, Any] | None = None, forms_dir: Path | None = None
    ) -> None:
        self.settings = settings
        self.specs = SpecCache()
        self.keys: KeyManager = build_key_provider(settings)  # A9: every key, MAC and signature goes through it
        self.engine = Engine(self.specs.get, SnapshotSealer(self.keys.symmetric_key))
        self.forms: dict[str, FormDefinition] = load_forms(forms_dir or BPMN_DIR / "forms")
        self.clients: dict[str, Any] = clients if clients is not None else build_clients(settings)
        self.jobs: Any = None  # a processes.jobs.runner.JobRunner, set by init_app

    def form(self, key: str) -> FormDefinition:
        """The form definition for a key."""
        try:
            return self.forms[key]
        except KeyError as exc:
            raise NotFound("FORM_NOT_FOUND", f"表单 {key} 不存在") from exc


def build_clients(settings: Settings) -> dict[str, Any]:
    """One client per external system, configured from settings, logging every call."""
    http = HttpSettings(
        connect_timeout=settings.HTTP_CONNECT_TIMEOUT,
        read_timeout=settings.HTTP_READ_TIMEOUT,
        retries=settings.HTTP_RETRIES,
        circuit_failures=settings.CIRCUIT_FAILURES,
        circuit_reset_seconds=settings.CIRCUIT_RESET_SECONDS,
    )
    return {name: cls(getattr(settings, key), http, sink=record_call) for name, (cls, key) in CLIENTS.items()}


def init_app(app: Flask, settings: Settings, clients: dict[str, Any] | None = None) -> Platform:
    """Create the platform for an app and start its job runner."""
    from processes.jobs.runner import make_runner
    from processes.sms import SmsOutbox  # here, not at the top: processes.sms imports this module

    platform = Platform(settings, clients)
    set_key_provider_accessor(_current_key_provider)  # models.protection reaches the keys without Flask
    # The SMS outbox is a process-level client: operators queue messages in the step's own transaction.
    platform.clients.setdefault("sms_outbox", SmsOutbox(platform))
    app.extensions["permitflow"] = platform
    platform.jobs = make_runner(app, platform)
    return platform


def _current_key_provider() -> Any:
    # The current app's provider, as before: several apps in one process (tests) each keep their own keys.
    return current_app.extensions["permitflow"].keys


def get_platform(app: Flask | None = None) -> Platform:
    """The platform of the given (or current) app."""
    return (app or current_app).extensions["permitflow"]
