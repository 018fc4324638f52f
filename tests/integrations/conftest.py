"""The simulators as a real HTTP subprocess, and the fault contract every external-system client must keep."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import pytest
import requests

from integrations.errors import IntegrationError, PermanentError, TransientError
from integrations.http import CallRecord, HttpSettings, JsonHttpClient
from integrations.simulators.dataset import population
from integrations.simulators.server import SimulatorProcess

SEED = 20260101
BUSINESS_KEY = "BK-CONTRACT-1"
SM3 = re.compile(r"^[0-9a-f]{64}$")
# Short timeouts and a tiny backoff keep the suite fast; Retry-After still decides the wait after a 429.
TEST_SETTINGS = {
    "connect_timeout": 1.0,
    "read_timeout": 0.3,
    "retries": 1,
    "backoff_seconds": 0.01,
    "circuit_failures": 100,
    "circuit_reset_seconds": 0.3,
}
FAULT_KINDS = ("timeout", "server_error", "rate_limited", "malformed", "missing_field", "circuit")


class RecordingSession(requests.Session):
    """A requests session that remembers every URL it was asked for (to check none carries personal data)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """Record the URL, then send."""
        self.urls.append(str(url))
        return super().request(method, url, *args, **kwargs)


@dataclass
class Sim:
    """Handle on the running simulators for one test."""

    url: str

    def fault(self, endpoint: str, **fault: Any) -> None:
        """Install a fault on one simulator endpoint."""
        answer = requests.post(f"{self.url}/_admin/faults", json={"endpoint": endpoint, **fault}, timeout=5)
        answer.raise_for_status()

    def clear(self) -> None:
        """Remove every fault and reset the SMS rate limit."""
        requests.delete(f"{self.url}/_admin/faults", timeout=5).raise_for_status()
        requests.delete(f"{self.url}/sms/_admin/limits", timeout=5).raise_for_status()

    def calls(self, endpoint: str) -> int:
        """How many requests an endpoint answered since the last clear."""
        return requests.get(f"{self.url}/_admin/faults", timeout=5).json()["calls"].get(endpoint, 0)

    def client(self, cls: type[JsonHttpClient], prefix: str, **settings: Any) -> tuple[Any, list[CallRecord]]:
        """A client of `cls` on the simulators' `prefix`, with test settings and a list sink."""
        records: list[CallRecord] = []
        client = cls(
            self.url + prefix,
            HttpSettings(**{**TEST_SETTINGS, **settings}),
            sink=records.append,
            session=RecordingSession(),
        )
        return client, records


@pytest.fixture
def sim(simulator: SimulatorProcess) -> Sim:
    """The simulators, with no faults left over from another test."""
    handle = Sim(simulator.url)
    handle.clear()
    return handle


@pytest.fixture
def people() -> tuple:
    """The seeded population the simulators serve."""
    return population(SEED)


@dataclass
class Case:
    """One client operation under contract: how to call it and what its records must say."""

    cls: type[JsonHttpClient]
    prefix: str
    endpoint: str  # the simulator's fault-board name
    operation: str  # the CallRecord operation
    invoke: Callable[[Any], Any]  # calls the operation with business_key=BUSINESS_KEY
    missing: str  # a required response field to drop
    secrets: tuple[str, ...] = ()  # ID numbers and phones that must appear in no record and no URL


class Contract:
    """Checks a client operation against one injected fault, its exception and its CallRecords."""

    key = BUSINESS_KEY

    def __init__(self, sim: Sim) -> None:
        self.sim = sim

    def check(self, kind: str, cls: type[JsonHttpClient], prefix: str, **case: Any) -> None:
        """Inject the fault `kind`, call the operation (see Case), check the outcome and the records."""
        case = Case(cls, prefix, **case)
        if kind == "circuit":
            self._circuit(case)
            return
        client, records = self.sim.client(case.cls, case.prefix)
        expected = getattr(self, f"_{kind}")(case, client)
        assert [(r.status, r.http_status, r.attempts) for r in records] == [expected]
        record = records[0]
        assert (record.response_sm3 is not None) == (expected[1] == 200)
        self._clean(case, client, records)

    def _timeout(self, case: Case, client: Any) -> tuple[str, int | None, int]:
        self.sim.fault(case.endpoint, latency_ms=700)
        self._raises(case, client, TransientError, "TIMEOUT")
        return "TIMEOUT", None, 2

    def _server_error(self, case: Case, client: Any) -> tuple[str, int | None, int]:
        self.sim.fault(case.endpoint, error_rate=1.0, error_status=500)
        self._raises(case, client, TransientError, "SERVER_ERROR")
        assert self.sim.calls(case.endpoint) == 2  # retried once
        return "SERVER_ERROR", 500, 2

    def _rate_limited(self, case: Case, client: Any) -> tuple[str, int | None, int]:
        self.sim.fault(case.endpoint, fail_next=1, error_status=429, retry_after=1)
        started = time.monotonic()
        case.invoke(client)
        assert time.monotonic() - started >= 1.0  # the backoff is 10 ms: only Retry-After explains the wait
        return "ok", 200, 2

    def _malformed(self, case: Case, client: Any) -> tuple[str, int | None, int]:
        self.sim.fault(case.endpoint, malformed=True)
        self._raises(case, client, PermanentError, "MALFORMED_RESPONSE")
        return "MALFORMED_RESPONSE", 200, 1

    def _missing_field(self, case: Case, client: Any) -> tuple[str, int | None, int]:
        self.sim.fault(case.endpoint, drop_fields=[case.missing])
        self._raises(case, client, PermanentError, "INCOMPLETE_RESPONSE")
        return "INCOMPLETE_RESPONSE", 200, 1

    def _circuit(self, case: Case) -> None:
        # Open long enough that a slow machine cannot reach the trial before the refusal is checked.
        client, records = self.sim.client(
            case.cls, case.prefix, retries=0, circuit_failures=2, circuit_reset_seconds=60
        )
        self.sim.fault(case.endpoint, outage=True)
        for _ in range(2):
            self._raises(case, client, TransientError, "SERVER_ERROR")
        assert client.breaker.is_open
        sent = self.sim.calls(case.endpoint)
        error = self._raises(case, client, TransientError, "CIRCUIT_OPEN")
        assert error.retry_after is not None and error.retry_after > 0
        assert self.sim.calls(case.endpoint) == sent  # refused without a request
        self.sim.clear()
        client.breaker.reset_seconds = TEST_SETTINGS["circuit_reset_seconds"]
        time.sleep(TEST_SETTINGS["circuit_reset_seconds"] + 0.05)
        case.invoke(client)  # the trial call succeeds and closes the circuit
        assert not client.breaker.is_open
        assert [(r.status, r.http_status, r.attempts) for r in records] == [
            ("SERVER_ERROR", 503, 1),
            ("SERVER_ERROR", 503, 1),
            ("CIRCUIT_OPEN", None, 1),
            ("ok", 200, 1),
        ]
        self._clean(case, client, records)

    @staticmethod
    def _raises(case: Case, client: Any, error: type[IntegrationError], code: str) -> IntegrationError:
        with pytest.raises(error) as info:
            case.invoke(client)
        assert info.value.code == code and info.value.system == client.system
        return info.value

    @staticmethod
    def _clean(case: Case, client: Any, records: list[CallRecord]) -> None:
        for record in records:
            assert (record.system, record.operation, record.direction) == (client.system, case.operation, "outbound")
            assert record.business_key == BUSINESS_KEY
            assert SM3.match(record.request_sm3)
            assert record.response_sm3 is None or SM3.match(record.response_sm3)
            for secret in case.secrets:
                assert all(secret not in str(getattr(record, f.name)) for f in fields(record))
        for secret in case.secrets:
            assert all(secret not in url for url in client.session.urls)


@pytest.fixture
def contract(sim: Sim) -> Contract:
    """The fault contract, on clean simulators."""
    return Contract(sim)


@pytest.fixture(params=FAULT_KINDS)
def fault_kind(request: pytest.FixtureRequest) -> str:
    """Each fault of the contract in turn."""
    return request.param
