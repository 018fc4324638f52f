"""Contract tests of the SMS-platform client against the simulators (B2, B3)."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests

from integrations.errors import PermanentError
from integrations.sms import SmsClient

CODE = {"code": "123456"}


def test_b2_send_and_delivery_status(sim, people):
    client, records = sim.client(SmsClient, "/sms")
    person = people[0]
    params = {"name": person.name, "office": "浦东新区社区事务受理中心"}
    receipt = client.send("CARD_READY", person.mobile, params, "cm-0001", business_key="BK1")
    assert (receipt.status, receipt.client_msg_id, receipt.duplicate) == ("accepted", "cm-0001", False)
    status = client.delivery_status(receipt.msg_id)
    assert (status.msg_id, status.status, status.error_code) == (receipt.msg_id, "delivered", None)
    unknown = client.delivery_status(client.send("VERIFY_CODE", "13700000000", CODE, "cm-0002").msg_id)
    assert (unknown.status, unknown.error_code) == ("failed", "EMPTY_NUMBER")
    assert all(person.mobile not in repr(r) for r in records)
    assert all(person.mobile not in url for url in client.session.urls)


def test_b2_same_client_message_id_is_sent_once(sim, people):
    client, _ = sim.client(SmsClient, "/sms")
    first = client.send("VERIFY_CODE", people[1].mobile, CODE, "cm-idem")
    again = client.send("VERIFY_CODE", people[1].mobile, CODE, "cm-idem")
    assert (again.msg_id, again.duplicate) == (first.msg_id, True)


def test_b3_template_is_checked(sim, people):
    client, records = sim.client(SmsClient, "/sms")
    with pytest.raises(PermanentError) as unknown:
        client.send("NO_SUCH", people[0].mobile, {}, "cm-t1")
    with pytest.raises(PermanentError) as params:
        client.send("CARD_ISSUED", people[0].mobile, {"name": "王芳"}, "cm-t2")
    with pytest.raises(PermanentError) as mobile:
        client.send("VERIFY_CODE", "12345", CODE, "cm-t3")
    assert [e.value.code for e in (unknown, params, mobile)] == [
        "TEMPLATE_NOT_FOUND",
        "TEMPLATE_PARAMS",
        "INVALID_MOBILE",
    ]
    assert [r.attempts for r in records] == [1, 1, 1]  # refusals are not retried


def test_b2_platform_rate_limit_is_honoured(sim, people):
    requests.post(
        f"{sim.url}/sms/_admin/limits", json={"per_mobile": 1, "window_seconds": 1.0}, timeout=5
    ).raise_for_status()
    client, records = sim.client(SmsClient, "/sms")
    mobile = people[2].mobile
    client.send("VERIFY_CODE", mobile, CODE, "cm-rate-1")
    started = time.monotonic()
    second = client.send("VERIFY_CODE", mobile, CODE, "cm-rate-2")
    assert time.monotonic() - started >= 0.9 and not second.duplicate
    assert [(r.status, r.attempts) for r in records] == [("ok", 1), ("ok", 2)]


class _Callbacks(BaseHTTPRequestHandler):
    received: queue.Queue

    def do_POST(self) -> None:
        self.received.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_b2_delivery_report_is_called_back(sim, people):
    handler = type("Handler", (_Callbacks,), {"received": queue.Queue()})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client, _ = sim.client(SmsClient, "/sms")
        receipt = client.send(
            "VERIFY_CODE",
            people[3].mobile,
            CODE,
            "cm-cb",
            callback_url=f"http://127.0.0.1:{server.server_port}/sms-report",
        )
        report = handler.received.get(timeout=3)
    finally:
        server.shutdown()
        server.server_close()
    assert (report["msg_id"], report["client_msg_id"], report["status"]) == (receipt.msg_id, "cm-cb", "delivered")


def test_sms_fault_contract(contract, fault_kind, people):
    person = people[4]
    contract.check(
        fault_kind,
        SmsClient,
        "/sms",
        endpoint="sms.send",
        operation="send",
        invoke=lambda c: c.send(
            "VERIFY_CODE", person.mobile, CODE, f"cm-fault-{fault_kind}", business_key=contract.key
        ),
        missing="msg_id",
        secrets=(person.mobile,),
    )


def test_sms_status_missing_field(contract, sim, people):
    setup, _ = sim.client(SmsClient, "/sms")
    msg_id = setup.send("VERIFY_CODE", people[5].mobile, CODE, "cm-status").msg_id
    contract.check(
        "missing_field",
        SmsClient,
        "/sms",
        endpoint="sms.status",
        operation="delivery_status",
        invoke=lambda c: c.delivery_status(msg_id, business_key=contract.key),
        missing="status",
        secrets=(people[5].mobile,),
    )
