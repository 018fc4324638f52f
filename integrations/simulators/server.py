"""Start the simulators as a real HTTP service, in a subprocess (tests, make run) or in the foreground."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import requests


@dataclass
class SimulatorProcess:
    """A running simulators subprocess and its base URL."""

    process: subprocess.Popen
    url: str

    def stop(self) -> None:
        """Terminate the subprocess and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int, host: str = "127.0.0.1", seed: int = 20260101, threads: int = 8) -> None:
    """Serve the simulators in the foreground with waitress."""
    from waitress import serve as waitress_serve

    from integrations.simulators.app import create_simulator_app

    waitress_serve(create_simulator_app(seed), host=host, port=port, threads=threads, _quiet=True)


def start_subprocess(port: int | None = None, seed: int = 20260101, timeout: float = 20.0) -> SimulatorProcess:
    """Start `permitflow simulators` in a subprocess and wait until it answers."""
    port = port or free_port()
    code = f"from integrations.simulators.server import serve; serve({port}, seed={seed})"
    process = subprocess.Popen(
        [sys.executable, "-c", code], env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"simulators exited: {process.stderr.read().decode(errors='replace')}")
        try:
            if requests.get(url + "/healthz", timeout=0.5).ok:
                return SimulatorProcess(process, url)
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"simulators did not answer on {url} within {timeout}s")
