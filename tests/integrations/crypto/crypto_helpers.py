"""Helpers shared by the national-crypto tests (a uniquely named module, unlike `conftest`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl command-line tool is not installed")
# OpenSSL 3.0's CLI computes ZA with an empty ID unless told the standard one.
DISTID = "distid:1234567812345678"


def run_openssl(*args: str | Path, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the openssl CLI without raising, so a test can assert on success and on failure."""
    assert OPENSSL is not None
    return subprocess.run([OPENSSL, *map(str, args)], input=data, capture_output=True, check=False, timeout=60)


def openssl_ok(*args: str | Path, data: bytes | None = None) -> bytes:
    """Run the openssl CLI and return its stdout, failing the test with its stderr if it fails."""
    result = run_openssl(*args, data=data)
    assert result.returncode == 0, f"openssl {' '.join(map(str, args))}: {result.stderr.decode()}"
    return result.stdout
