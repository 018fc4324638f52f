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
    "KMS_URL": "/kms",
}
KEY_PROVIDERS = ("local", "kms")
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
    DATABASE_PING_IDLE_SECONDS: float = _doc(
        "Ping a pooled PostgreSQL connection before use only after it sat idle this long (0: always)", 10.0
    )
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
    WEB_CONNECTION_LIMIT: int = _doc("Open client connections per web process (browsers keep theirs alive)", 1000)
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
    KEY_PROVIDER: str = _doc("Key management (A9): local (keystore file) or kms (government cloud KMS)", "local")
    KEYSTORE_PATH: str = _doc(
        "Local keystore file; empty: keystore.json next to the SQLite database / in DATA_DIR (test: in memory)", ""
    )
    PERMITFLOW_MASTER_KEY: str = _doc(
        "Master key (32 hex) wrapping the local keystore's data keys; required in production with KEY_PROVIDER=local",
        "",
        secret=True,
    )
    KMS_URL: str = _doc("Key-management and signing service base URL; default SIMULATOR_URL/kms", "")
    KMS_TOKEN: str = _doc("Bearer token of this application at the KMS; required in production with kms", "", True)
    KMS_CURRENT_TTL_SECONDS: float = _doc("Seconds a process trusts its idea of a purpose's current KMS key", 30.0)
    KEY_ROTATE_BATCH: int = _doc("Rows re-protected per transaction by `permitflow keys rotate`", 500)
    PASSWORD_MIN_LENGTH: int = _doc("Shortest accepted staff password (S2)", 10)
    PASSWORD_MIN_CLASSES: int = _doc("Character classes a password needs of: lower, upper, digit, symbol (1-4)", 3)
    PASSWORD_MAX_AGE_DAYS: int = _doc("Days before a password expires and must be changed at sign-in", 90)
    PASSWORD_HISTORY: int = _doc("How many recent passwords may not be reused", 5)
    LOGIN_MAX_FAILURES: int = _doc("Consecutive failed sign-ins (either factor) that lock an account", 5)
    LOGIN_LOCK_MINUTES: int = _doc("Minutes a locked account stays locked", 30)
    LOGIN_RATE_WINDOW_SECONDS: int = _doc("Sliding window of the sign-in flood limits (per web worker)", 300)
    LOGIN_RATE_PER_IP: int = _doc("Password attempts one client IP may make per window, checked before hashing", 30)
    LOGIN_RATE_PER_USERNAME: int = _doc("Password attempts for one username per window, checked before hashing", 10)
    LOGIN_FACTORS: str = _doc("Second factors offered after the password: sms, ukey or both ('sms,ukey')", "sms,ukey")
    LOGIN_STEP_SECONDS: int = _doc("Seconds allowed between the right password and the second factor", 300)
    LOGIN_CODE_TTL_SECONDS: int = _doc("Validity of an SMS sign-in code", 300)
    LOGIN_CODE_MAX_ATTEMPTS: int = _doc("Wrong entries of one SMS sign-in code before it is void", 3)
    LOGIN_CODE_RESEND_SECONDS: int = _doc("Seconds before another SMS sign-in code may be requested", 60)
    SESSION_IDLE_MINUTES: int = _doc("Minutes without a request that end a staff session", 30)
    AUDIT_RETENTION_DAYS: int = _doc("Days the audit log is kept online (at least 180, MLPS level 3)", 180)
    GATEWAY_REQUIRED: bool = _doc("Production: accept requests only through the security gateway (S3)", False)
    GATEWAY_SHARED_KEY: str = _doc(
        "Key of the gateway's HMAC-SM3 request signature (≥ 32 characters); required with GATEWAY_REQUIRED",
        "",
        secret=True,
    )
    GATEWAY_PROXIES: str = _doc("Gateway addresses or networks allowed to forward requests, comma-separated", "")
    GATEWAY_MAX_SKEW_SECONDS: int = _doc("Largest age (either way) of a gateway signature's timestamp", 30)
    DEMO_KEY_DIR: str = _doc("Folder for the demo users' software-UKey key pairs; default DATA_DIR/demo-ukeys", "")
    MCA_TIMESTAMP_WINDOW_SECONDS: int = _doc(
        "MCA 3.0: largest clock difference (either way) of a request's timestamp; nonces are kept twice as long", 300
    )
    MCA_AUDIT_RETENTION_DAYS: int = _doc(
        "MCA 3.0: days call-audit rows are kept before `permitflow mca purge-audit` may remove them (at least 180)", 180
    )
    DEATH_LIST_MAX_ROWS: int = _doc("Most rows one uploaded death-list Excel file (C1.3) may hold", 10000)
    EXPORT_DIR: str = _doc(
        "Folder for finished Excel exports (shared by all web and worker nodes); default DATA_DIR/exports", ""
    )
    EXPORT_MAX_ROWS: int = _doc("Most rows one query export (C3.4) writes", 200000)
    EXPORT_KEEP_HOURS: int = _doc("Hours a finished export file stays downloadable before it is deleted", 24)
    REPORT_REFRESH_DAYS: int = _doc("Days back the report schedule recomputes the daily statistics each run", 3)

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
            "WEB_CONNECTION_LIMIT",
            "API_MAX_BODY_BYTES",
            "SERVICE_TASK_MAX_ATTEMPTS",
            "DATABASE_POOL_SIZE",
            "OUTBOX_BATCH",
            "API_PAGE_SIZE_MAX",
            "SMS_SEND_MAX_ATTEMPTS",
            "SMS_POLL_MAX",
            "KEY_ROTATE_BATCH",
            "DEATH_LIST_MAX_ROWS",
            "EXPORT_MAX_ROWS",
            "EXPORT_KEEP_HOURS",
            "REPORT_REFRESH_DAYS",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        for name, (attempts, backoff) in self.retry_overrides.items():
            if attempts < 1 or backoff < 0:
                raise ConfigError(f"SERVICE_TASK_RETRY_OVERRIDES for {name}: attempts ≥ 1 and backoff ≥ 0")
        if self.DATABASE_PING_IDLE_SECONDS < 0:
            raise ConfigError("DATABASE_PING_IDLE_SECONDS must not be negative")
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
        self._validate_keys()
        self._validate_auth()
        self._validate_mca()
        if not self.DATABASE_URL:
            path = Path(self.DATA_DIR).resolve() / "permitflow.db"
            changes["DATABASE_URL"] = f"sqlite:///{path}"
        for key, path in SYSTEM_PATHS.items():
            if not getattr(self, key):
                changes[key] = self.SIMULATOR_URL.rstrip("/") + path
        return replace(self, **changes) if changes else self

    def _validate_mca(self) -> None:
        """MCA 3.0 (B1): a sane replay window; call audit kept at least 180 days (MLPS level 3)."""
        if not 1 <= self.MCA_TIMESTAMP_WINDOW_SECONDS <= 3600:
            raise ConfigError("MCA_TIMESTAMP_WINDOW_SECONDS must be from 1 to 3600")
        if self.MCA_AUDIT_RETENTION_DAYS < 180:
            raise ConfigError("MCA_AUDIT_RETENTION_DAYS must be at least 180 (MLPS level 3 audit retention)")

    def _validate_keys(self) -> None:
        """Key management (A9): production never runs on a generated development master key."""
        if self.KEY_PROVIDER not in KEY_PROVIDERS:
            raise ConfigError(f"KEY_PROVIDER must be one of {KEY_PROVIDERS}, got {self.KEY_PROVIDER!r}")
        if self.PERMITFLOW_MASTER_KEY:
            try:
                ok = len(bytes.fromhex(self.PERMITFLOW_MASTER_KEY.strip())) == 16
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError("PERMITFLOW_MASTER_KEY must be 32 hex characters (16 bytes)")
        if self.PERMITFLOW_ENV == "production":
            if self.KEY_PROVIDER == "local" and not self.PERMITFLOW_MASTER_KEY:
                raise ConfigError("PERMITFLOW_MASTER_KEY must be set in production (from the environment)")
            if self.KEY_PROVIDER == "kms" and not self.KMS_TOKEN:
                raise ConfigError("KMS_TOKEN must be set in production with KEY_PROVIDER=kms")
        if self.KMS_CURRENT_TTL_SECONDS < 0:
            raise ConfigError("KMS_CURRENT_TTL_SECONDS must not be negative")

    def _validate_auth(self) -> None:
        """Sign-in, session, gateway and audit settings (S2-S4)."""
        for name in (
            "PASSWORD_MIN_LENGTH",
            "PASSWORD_MAX_AGE_DAYS",
            "LOGIN_MAX_FAILURES",
            "LOGIN_LOCK_MINUTES",
            "LOGIN_RATE_WINDOW_SECONDS",
            "LOGIN_RATE_PER_IP",
            "LOGIN_RATE_PER_USERNAME",
            "LOGIN_STEP_SECONDS",
            "LOGIN_CODE_TTL_SECONDS",
            "LOGIN_CODE_MAX_ATTEMPTS",
            "SESSION_IDLE_MINUTES",
            "GATEWAY_MAX_SKEW_SECONDS",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.PASSWORD_MIN_LENGTH < 8:
            raise ConfigError("PASSWORD_MIN_LENGTH must be at least 8")
        if not 1 <= self.PASSWORD_MIN_CLASSES <= 4:
            raise ConfigError("PASSWORD_MIN_CLASSES must be between 1 and 4")
        if self.PASSWORD_HISTORY < 0 or self.LOGIN_CODE_RESEND_SECONDS < 0:
            raise ConfigError("PASSWORD_HISTORY and LOGIN_CODE_RESEND_SECONDS must not be negative")
        factors = [f.strip() for f in self.LOGIN_FACTORS.split(",") if f.strip()]
        if not factors or any(f not in ("sms", "ukey") for f in factors):
            raise ConfigError(f"LOGIN_FACTORS must list sms and/or ukey, got {self.LOGIN_FACTORS!r}")
        if self.AUDIT_RETENTION_DAYS < 180:
            raise ConfigError("AUDIT_RETENTION_DAYS must be at least 180 (six months)")
        try:
            networks = self.gateway_networks
        except ValueError as exc:
            raise ConfigError(f"GATEWAY_PROXIES has a bad address or network: {exc}") from exc
        if self.PERMITFLOW_ENV == "production" and not self.GATEWAY_REQUIRED:
            raise ConfigError("production needs GATEWAY_REQUIRED=true (staff pages only through the security gateway)")
        if self.GATEWAY_REQUIRED:
            if len(self.GATEWAY_SHARED_KEY) < 32:
                raise ConfigError("GATEWAY_REQUIRED needs GATEWAY_SHARED_KEY of at least 32 characters")
            if not networks:
                raise ConfigError("GATEWAY_REQUIRED needs GATEWAY_PROXIES (the gateway's addresses)")

    @property
    def gateway_networks(self) -> list[Any]:
        """The gateway addresses of GATEWAY_PROXIES as ip_network objects."""
        import ipaddress

        return [ipaddress.ip_network(p.strip(), strict=False) for p in self.GATEWAY_PROXIES.split(",") if p.strip()]

    @property
    def login_factors(self) -> tuple[str, ...]:
        """The second factors offered, from LOGIN_FACTORS."""
        return tuple(f.strip() for f in self.LOGIN_FACTORS.split(",") if f.strip())

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
