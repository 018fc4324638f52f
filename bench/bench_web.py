"""P1 load test: response times of the running product with many users online and 20 concurrent connections.

    .venv/bin/python bench/bench_web.py [--backend sqlite|postgresql|all] [--users 200] [--concurrency 20]
        [--seconds 30] [--json-out bench/results.json]

Starts the product exactly as `make run` does (`permitflow run`: migrations, every diagram, demo data,
simulators, waitress with the in-process job runner) on a fresh database, signs `--users` staff sessions in
through the real two-factor flow (password + software-UKey SM2 signature), then runs `--concurrency`
clients for `--seconds`: each request is one of a channel starting a residence registration, a channel
reading an instance, a clerk opening the inbox, a clerk opening a task page, an operator searching the
console. Prints mean/p95/max per kind and writes `web_*` keys into bench/results.json (other keys kept).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from integrations.crypto import SM2PrivateKey  # noqa: E402

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHALLENGE = re.compile(r'data-challenge="([0-9a-f]{64})"')
TASK_LINK = re.compile(r'href="(/inbox/tasks/\d+)"')
STAFF = ("clerk01", "approver1", "caller01", "sysadmin")  # roles whose pages the workload opens


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Product:
    """`permitflow run` in a subprocess on a fresh database; parses the printed credentials."""

    def __init__(self, database_url: str | None, data_dir: str) -> None:
        self.port, sim_port = free_port(), free_port()
        self.password = "Bench#Passw0rd-" + secrets.token_hex(4)
        env = {
            **os.environ,
            "DATA_DIR": data_dir,
            "DEMO_PASSWORD": self.password,
            "LOG_LEVEL": "WARNING",
            "PERMITFLOW_ENV": "development",
            # Every bench user signs in from 127.0.0.1: lift the flood limits meant for real clients.
            "LOGIN_RATE_PER_IP": "100000",
            "LOGIN_RATE_PER_USERNAME": "100000",
        }
        env.pop("REDIS_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        else:
            env.pop("DATABASE_URL", None)
        cmd = [str(ROOT / ".venv/bin/permitflow"), "run", "--port", str(self.port), "--simulator-port", str(sim_port)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.url = f"http://127.0.0.1:{self.port}"
        self.output: list[str] = []
        self.api_keys: dict[str, str] = {}
        self.ukey_dir: Path | None = None
        self._read_until_ready()

    def _read_until_ready(self) -> None:
        in_keys = False
        deadline = time.monotonic() + 300
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.output.append(line)
            if "API keys" in line:
                in_keys = True
            elif in_keys and re.match(r"^\s+\S+\s+pf_\S+$", line):
                code, key = line.split()
                self.api_keys[code] = key
            elif in_keys and not line.strip():
                in_keys = False
            found = re.search(r"software UKey keys in (\S+)/<user>\.pem", line)
            if found:
                self.ukey_dir = Path(found.group(1))
            if line.startswith("PermitFlow: http"):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("permitflow run did not start in time")
        else:
            raise RuntimeError("permitflow run exited:\n" + "".join(self.output[-30:]))
        threading.Thread(target=self._drain, daemon=True).start()
        for _ in range(100):
            try:
                if requests.get(self.url + "/healthz", timeout=2).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the web server does not answer /healthz")

    def _drain(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.output.append(line)

    def stop(self) -> None:
        """Stop the product (and its simulators)."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def sign_in(product: Product, username: str) -> requests.Session:
    """A staff session through the real flow: password, then the SM2 signature of the server's challenge."""
    session = requests.Session()
    page = session.get(product.url + "/login", timeout=30).text
    token = CSRF.search(page).group(1)
    form = {"username": username, "password": product.password, "csrf_token": token}
    response = session.post(product.url + "/login", data=form, allow_redirects=False, timeout=30)
    if response.status_code != 302:
        raise RuntimeError(f"password step refused for {username}: {response.status_code}")
    factor = session.get(product.url + "/login/factor?method=ukey", timeout=30).text
    challenge = CHALLENGE.search(factor).group(1)
    key = SM2PrivateKey.from_pem((product.ukey_dir / f"{username}.pem").read_bytes())
    signature = key.sign(bytes.fromhex(challenge)).hex()
    token = CSRF.search(factor).group(1)
    form = {"method": "ukey", "signature": signature, "csrf_token": token}
    done = session.post(product.url + "/login/verify", data=form, allow_redirects=False, timeout=30)
    if done.status_code != 302 or "/login" in done.headers.get("Location", ""):
        raise RuntimeError(f"second factor refused for {username}: {done.status_code}")
    return session


class Workload:
    """The request mix; every call returns the HTTP status."""

    def __init__(self, product: Product, sessions: dict[str, list[requests.Session]]) -> None:
        self.product = product
        self.sessions = sessions
        self.channel_key = product.api_keys.get("suishenban") or next(iter(product.api_keys.values()))
        self.started: list[str] = []
        self.lock = threading.Lock()

    def kinds(self) -> list[tuple[str, float, Callable[[requests.Session], int]]]:
        """(name, weight, call) of each request kind."""
        return [
            ("channel_start", 0.2, self.channel_start),
            ("channel_status", 0.2, self.channel_status),
            ("inbox", 0.25, self.inbox),
            ("task_page", 0.2, self.task_page),
            ("console_search", 0.15, self.console_search),
        ]

    def channel_start(self, http: requests.Session) -> int:
        """A channel submits a residence registration (the HRSS check runs as a background job)."""
        body = {"business_key": f"BENCH-{secrets.token_hex(6)}", "data": _applicant()}
        response = http.post(
            self.product.url + "/api/v1/processes/residence_registration/instances",
            json=body,
            headers={"X-Api-Key": self.channel_key},
            timeout=60,
        )
        if response.status_code in (200, 201, 202):
            with self.lock:
                self.started.append(response.json()["id"])
        return response.status_code

    def channel_status(self, http: requests.Session) -> int:
        """A channel reads one of its instances."""
        with self.lock:
            instance = random.choice(self.started) if self.started else None
        if instance is None:
            return self.channel_start(http)
        url = f"{self.product.url}/api/v1/instances/{instance}"
        return http.get(url, headers={"X-Api-Key": self.channel_key}, timeout=60).status_code

    def inbox(self, _http: requests.Session) -> int:
        """A clerk opens the task inbox."""
        return random.choice(self.sessions["clerk01"]).get(self.product.url + "/inbox/", timeout=60).status_code

    def task_page(self, _http: requests.Session) -> int:
        """A clerk opens the first task of the inbox."""
        staff = random.choice(self.sessions["clerk01"])
        page = staff.get(self.product.url + "/inbox/", timeout=60)
        link = TASK_LINK.search(page.text)
        if link is None:
            return page.status_code
        return staff.get(self.product.url + link.group(1), timeout=60).status_code

    def console_search(self, _http: requests.Session) -> int:
        """An operator searches the operations console."""
        staff = random.choice(self.sessions["sysadmin"])
        return staff.get(self.product.url + "/console/instances?status=waiting", timeout=60).status_code


@functools.cache
def _insured_people() -> list[Any]:
    from integrations.simulators.dataset import population

    return [p for p in population() if p.hrss_profile == "long" and not p.deceased]


def _applicant() -> dict[str, Any]:
    p = random.choice(_insured_people())  # filtered once, not on every request of the load
    return {
        "id_number": p.id_number,
        "name": p.name,
        "mobile": p.mobile,
        "address": "上海市徐汇区田林路1号",
        "reason": "employment",
    }


def run_load(work: Workload, concurrency: int, seconds: float) -> dict[str, list[tuple[float, int]]]:
    """`concurrency` clients issuing the weighted mix back to back for `seconds`; (seconds, status) per kind."""
    kinds = work.kinds()
    names, weights = [k[0] for k in kinds], [k[1] for k in kinds]
    calls = {k[0]: k[2] for k in kinds}
    samples: dict[str, list[tuple[float, int]]] = defaultdict(list)
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client() -> None:
        http = requests.Session()
        while time.monotonic() < stop_at:
            name = random.choices(names, weights)[0]
            t = time.perf_counter()
            try:
                status = calls[name](http)
            except requests.RequestException:
                status = 599
            with lock:
                samples[name].append((time.perf_counter() - t, status))

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def summarize(samples: dict[str, list[tuple[float, int]]], seconds: float) -> dict[str, Any]:
    """Mean, p95 and max ms per kind and overall; error count; requests per second."""
    per_kind, every = {}, []
    errors = 0
    for name, rows in sorted(samples.items()):
        times = sorted(s for s, _ in rows)
        every.extend(times)
        errors += sum(1 for _, status in rows if status >= 400)
        per_kind[name] = {
            "n": len(times),
            "mean_ms": round(statistics.fmean(times) * 1000, 1),
            "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1),
            "max_ms": round(times[-1] * 1000, 1),
        }
    every.sort()
    return {
        "web_requests": len(every),
        "web_rps": round(len(every) / seconds, 1),
        "web_avg_ms": round(statistics.fmean(every) * 1000, 1),
        "web_p95_ms": round(every[int(0.95 * (len(every) - 1))] * 1000, 1),
        "web_max_ms": round(every[-1] * 1000, 1),
        "web_errors": errors,
        "web_by_kind": per_kind,
    }


def bench_backend(name: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """Start the product on one backend, sign the users in, run the load; None when the backend is absent."""
    database_url, drop = None, None
    if name == "postgresql":
        try:
            import psycopg

            db = f"permitflow_bench_web_{os.getpid()}_{secrets.token_hex(3)}"
            admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'CREATE DATABASE "{db}"')
        except Exception as exc:  # any failure to reach the server: report and skip the backend
            print(f"[{name}] skipped: {exc}")
            return None
        database_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{db}"

        def drop() -> None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    with tempfile.TemporaryDirectory(prefix="permitflow-bench-web-") as data_dir:
        print(f"[{name}] starting the product (permitflow run) …", flush=True)
        product = Product(database_url, data_dir)
        try:
            sessions: dict[str, list[requests.Session]] = defaultdict(list)
            started = time.perf_counter()
            for i in range(args.users):
                username = STAFF[i % len(STAFF)]
                sessions[username].append(sign_in(product, username))
            sign_in_s = time.perf_counter() - started
            print(f"[{name}] {args.users} staff sessions signed in ({sign_in_s:.1f} s); warming up …", flush=True)
            work = Workload(product, sessions)
            run_load(work, args.concurrency, 3)
            print(f"[{name}] {args.concurrency} concurrent clients for {args.seconds} s …", flush=True)
            figures = summarize(run_load(work, args.concurrency, args.seconds), args.seconds)
        finally:
            product.stop()
            if drop is not None:
                drop()
    return {
        "web_users": args.users,
        "web_concurrency": args.concurrency,
        "web_seconds": args.seconds,
        "web_sign_in_s_per_user": round(sign_in_s / args.users, 3),
        **figures,
    }


def merge(path: Path, backend: str, figures: dict[str, Any]) -> None:
    """Write this backend's web_* keys into results.json, keeping every other key."""
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
    row = next((r for r in results if r.get("backend") == backend), None)
    if row is None:
        row = {"backend": backend}
        results.append(row)
    row.update(figures)
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the P1 load test and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "all"], default="all")
    parser.add_argument("--users", type=int, default=200, help="staff sessions signed in (users online)")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent connections")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--json-out", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "all" else [args.backend]
    for name in backends:
        figures = bench_backend(name, args)
        if figures is None:
            continue
        verdict = "met" if figures["web_avg_ms"] <= 5000 and not figures["web_errors"] else "NOT met"
        print(
            f"[{name}] {figures['web_requests']} requests, {figures['web_rps']}/s: mean {figures['web_avg_ms']} ms, "
            f"p95 {figures['web_p95_ms']} ms, max {figures['web_max_ms']} ms, errors {figures['web_errors']}"
        )
        for kind, row in figures["web_by_kind"].items():
            print(f"    {kind:<15} n={row['n']:<5} mean {row['mean_ms']:>7} ms  p95 {row['p95_ms']:>7} ms")
        print(
            f"[{name}] P1 target (mean ≤ 5 s with {args.users} users online, {args.concurrency} concurrent): {verdict}"
        )
        merge(args.json_out, name, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
