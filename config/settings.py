"""Typed settings: documented defaults, environment overlay, validation at start-up."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ENVIRONMENTS = ("development", "test", "production")
# Where each external system lives under SIMULATOR_URL when its own URL is not configured.
SYSTEM_PATHS = {
    "HRSS_URL": "/hrss",
    "ELICENCE_URL": "/elicence",
    "HOUSING_URL": "/housing",
    "PHOTO_URL": "/photo",
    "SMS_URL": "/sms",
    "CARD_FACTORY_URL": "/card-factory",
    "POSTAL_URL": "/postal",
    "MCA_NOTIFY_URL": "/mca",
    "POPULATION_URL": "/population",
}
JOB_MODES = ("auto", "thread", "eager", "rq")


class ConfigError(ValueError):
    """A setting is missing or invalid; the message names the key."""


def _doc(text: str, default: Any, secret: bool = False) -> Any:
    return field(default=default, metadata={"doc": text, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Every configuration key of PermitFlow. Environment variables of the same name override."""

    PERMITFLOW_ENV: str = _doc("development, test or production; production enforces secrets", "development")
    DATA_DIR: str = _doc("Folder for the embedded database and local files", "var")
    DATABASE_URL: str = _doc("SQLAlchemy URL; default is SQLite in DATA_DIR. Production: postgresql+psycopg://…", "")
    DATABASE_POOL_SIZE: int = _doc("Connections per process (PostgreSQL)", 10)
    REDIS_URL: str = _doc("Redis for RQ jobs; empty runs jobs in-process", "")
    JOB_MODE: str = _doc("auto (rq when REDIS_URL is set, else thread), thread, eager or rq", "auto")
    JOB_QUEUE: str = _doc("RQ queue name", "permitflow")
    SECRET_KEY: str = _doc("Flask session signing key (required in production)", "", secret=True)
    TIMEZONE: str = _doc("Time zone for business dates (times are stored in UTC)", "Asia/Shanghai")
    LOG_LEVEL: str = _doc("Python logging level", "INFO")
    LOG_JSON: bool = _doc("Structured JSON log lines (true) or plain text", True)
    WEB_HOST: str = _doc("Address `permitflow web` binds", "127.0.0.1")
    WEB_PORT: int = _doc("Port `permitflow web` binds", 5000)
    WEB_THREADS: int = _doc("Request threads per web process", 8)
    API_MAX_BODY_BYTES: int = _doc("Largest accepted request body; larger gets 413", 2 * 1024 * 1024)
    API_PAGE_SIZE_MAX: int = _doc("Largest page size any list endpoint returns", 200)
    START_WAIT_MAX_SECONDS: float = _doc("Longest a channel may ask a start call to wait for feedback", 10.0)
    SIMULATOR_URL: str = _doc("Base URL of the external-system simulators", "http://127.0.0.1:5100")
    HRSS_URL: str = _doc("HRSS (social insurance) service base URL; default SIMULATOR_URL/hrss", "")
    ELICENCE_URL: str = _doc("E-licence library base URL; default SIMULATOR_URL/elicence", "")
    HOUSING_URL: str = _doc("Housing data base URL; default SIMULATOR_URL/housing", "")
    PHOTO_URL: str = _doc("Photo service base URL; default SIMULATOR_URL/photo", "")
    SMS_URL: str = _doc("Big-data centre SMS platform base URL; default SIMULATOR_URL/sms", "")
    CARD_FACTORY_URL: str = _doc("Card factory base URL; default SIMULATOR_URL/card-factory", "")
    POSTAL_URL: str = _doc("Postal service base URL; default SIMULATOR_URL/postal", "")
    MCA_NOTIFY_URL: str = _doc("MCA 3.0 outbound notification base URL; default SIMULATOR_URL/mca", "")
    POPULATION_URL: str = _doc("Population office death-list feed base URL; default SIMULATOR_URL/population", "")
    HTTP_CONNECT_TIMEOUT: float = _doc("Seconds to connect to an external system", 3.0)
    HTTP_READ_TIMEOUT: float = _doc("Seconds to wait for an external system's answer", 10.0)
    HTTP_RETRIES: int = _doc("In-call retries of a transient external failure", 2)
    CIRCUIT_FAILURES: int = _doc("Consecutive failures that open a client's circuit", 5)
    CIRCUIT_RESET_SECONDS: float = _doc("Seconds an open circuit waits before a trial call", 30.0)
    SERVICE_TASK_MAX_ATTEMPTS: int = _doc("Attempts of a service task before it becomes an incident", 5)
    SERVICE_TASK_BACKOFF_SECONDS: float = _doc("Base of the exponential backoff between attempts", 2.0)
    SERVICE_TASK_RETRY_OVERRIDES: str = _doc(
        "Per-operator retry policy over the handler's own: 'operator=attempts/backoff_seconds,…'", ""
    )
    SCHEDULER_INTERVAL: float = _doc("Seconds between scheduler polls of due timers and jobs", 1.0)
    OUTBOX_BATCH: int = _doc("Outbox rows relayed per pass", 200)
    TASK_DEFAULT_DUE_HOURS: int = _doc("Due time of a user task that names none", 72)
    DEMO_PASSWORD: str = _doc("Password given to demo users by `permitflow demo-data`", "", secret=True)
    SMS_CALLBACK_URL: str = _doc(
        "Our delivery-report webhook as the SMS platform reaches it (…/api/v1/callbacks/sms); empty: poll only", ""
    )
    SMS_CALLBACK_SECRET: str = _doc(
        "Key of the HMAC-SM3 signature put in each message's callback URL; required with SMS_CALLBACK_URL",
        "",
        secret=True,
    )
    SMS_SEND_MAX_ATTEMPTS: int = _doc("Attempts to hand a message to the SMS platform before it is failed", 6)
    SMS_SEND_BACKOFF_SECONDS: float = _doc(
        "Base of the exponential backoff between SMS send attempts (a longer Retry-After wins)", 5.0
    )
    SMS_POLL_AFTER_SECONDS: float = _doc("Seconds after sending before polling for an uncalled-back report", 600.0)
    SMS_POLL_MAX: int = _doc("Delivery-report polls per message (interval doubling) before giving up", 5)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Build settings from defaults, then the environment, then explicit overrides; validate."""
        environ = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in overrides:
                values[f.name] = overrides[f.name]
            elif f.name in environ:
                values[f.name] = _parse(f.name, environ[f.name], type(f.default))
        settings = cls(**values)
        return settings.validated()

    def validated(self) -> Settings:
        """Return settings with derived defaults filled in; raise ConfigError naming a bad key."""
        if self.PERMITFLOW_ENV not in ENVIRONMENTS:
            raise ConfigError(f"PERMITFLOW_ENV must be one of {ENVIRONMENTS}, got {self.PERMITFLOW_ENV!r}")
        if self.JOB_MODE not in JOB_MODES:
            raise ConfigError(f"JOB_MODE must be one of {JOB_MODES}, got {self.JOB_MODE!r}")
        if self.JOB_MODE == "rq" and not self.REDIS_URL:
            raise ConfigError("JOB_MODE=rq needs REDIS_URL")
        try:
            ZoneInfo(self.TIMEZONE)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"TIMEZONE {self.TIMEZONE!r} is not a known time zone") from exc
        for name in (
            "WEB_PORT",
            "WEB_THREADS",
            "API_MAX_BODY_BYTES",
            "SERVICE_TASK_MAX_ATTEMPTS",
            "DATABASE_POOL_SIZE",
            "OUTBOX_BATCH",
            "API_PAGE_SIZE_MAX",
            "SMS_SEND_MAX_ATTEMPTS",
            "SMS_POLL_MAX",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        for name, (attempts, backoff) in self.retry_overrides.items():
            if attempts < 1 or backoff < 0:
                raise ConfigError(f"SERVICE_TASK_RETRY_OVERRIDES for {name}: attempts ≥ 1 and backoff ≥ 0")
        if self.SMS_CALLBACK_URL and len(self.SMS_CALLBACK_SECRET) < 16:
            raise ConfigError("SMS_CALLBACK_URL needs SMS_CALLBACK_SECRET of at least 16 characters")
        changes: dict[str, Any] = {}
        secret = self.SECRET_KEY
        if not secret:
            if self.PERMITFLOW_ENV == "production":
                raise ConfigError("SECRET_KEY must be set in production (from the environment)")
            changes["SECRET_KEY"] = secrets.token_hex(32)
        if self.PERMITFLOW_ENV == "production":
            if not self.DATABASE_URL.startswith("postgresql"):
                raise ConfigError("production needs DATABASE_URL=postgresql+psycopg://…")
            if len(secret) < 32:
                raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        if not self.DATABASE_URL:
            path = Path(self.DATA_DIR).resolve() / "permitflow.db"
            changes["DATABASE_URL"] = f"sqlite:///{path}"
        for key, path in SYSTEM_PATHS.items():
            if not getattr(self, key):
                changes[key] = self.SIMULATOR_URL.rstrip("/") + path
        return replace(self, **changes) if changes else self

    @property
    def retry_overrides(self) -> dict[str, tuple[int, float]]:
        """{operator: (max attempts, backoff seconds)} from SERVICE_TASK_RETRY_OVERRIDES."""
        return _parse_overrides(self.SERVICE_TASK_RETRY_OVERRIDES)

    @property
    def job_mode(self) -> str:
        """The job mode in force, with auto resolved."""
        if self.JOB_MODE != "auto":
            return self.JOB_MODE
        return "rq" if self.REDIS_URL else "thread"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is the embedded SQLite file."""
        return self.DATABASE_URL.startswith("sqlite")

    @property
    def zone(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.TIMEZONE)

    def public_items(self) -> list[tuple[str, Any, str]]:
        """(key, value, doc) for each setting, secrets masked."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("secret") and value:
                value = "********"
            out.append((f.name, value, f.metadata.get("doc", "")))
        return out


def _parse_overrides(raw: str) -> dict[str, tuple[int, float]]:
    overrides: dict[str, tuple[int, float]] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        try:
            name, policy = item.split("=")
            attempts, backoff = policy.split("/")
            overrides[name.strip()] = (int(attempts), float(backoff))
        except ValueError as exc:
            raise ConfigError(f"SERVICE_TASK_RETRY_OVERRIDES item {item!r} is not operator=attempts/backoff") from exc
    return overrides


def _parse(name: str, raw: str, kind: type) -> Any:
    raw = raw.strip()
    try:
        if kind is bool:
            lowered = raw.lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a {kind.__name__}, got {raw!r}") from exc
    return raw


def settings_table_markdown() -> str:
    """The README table of every key with its default and meaning."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for f in fields(Settings):
        default = f.default if f.default not in ("", None) else "(empty)"
        rows.append(f"| `{f.name}` | `{default}` | {f.metadata.get('doc', '')} |")
    return "\n".join(rows)
