"""Throughput of the national-crypto module: SM2 sign/verify/encrypt/decrypt, SM3, SM4 and HMAC-SM3.

Usage: .venv/bin/python bench/bench_crypto.py [--json] [--seconds 1.0] [--backend openssl|pure]
Each figure is operations per second on one core (best of three timed rounds); the 1 KB figures
are messages of 1,024 bytes per second.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Run from a checkout without relying on the editable install's path mapping.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MESSAGE_1K = os.urandom(1024)
SHORT = b"residence permit application 2024-0001"
SM2_TARGET_PER_S = 500  # signs and verifies per second (A9)


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second: best of three rounds of roughly `seconds` / 3 each."""
    operation()  # warm-up: first-call costs (library loading, tables) are not throughput
    batch = 1
    while True:  # size a batch to ~10 ms so the clock is read rarely
        start = time.perf_counter()
        for _ in range(batch):
            operation()
        if time.perf_counter() - start >= 0.01:
            break
        batch *= 2
    best = 0.0
    for _ in range(3):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            for _ in range(batch):
                operation()
            count += batch
        best = max(best, count / elapsed)
    return best


def run(seconds: float) -> dict[str, float | str]:
    """All figures, keyed by name."""
    from integrations.crypto import (
        SM2PrivateKey,
        hmac_sm3,
        sm2_backend,
        sm3_hex,
        sm4_cbc_encrypt,
        sm4_gcm_encrypt,
    )

    key = SM2PrivateKey.generate()
    pub = key.public_key()
    signature = key.sign(SHORT)
    ciphertext = pub.encrypt(SHORT)
    sm4_key, mac_key = os.urandom(16), os.urandom(32)
    cases: dict[str, Callable[[], object]] = {
        "sm2_sign_per_s": lambda: key.sign(SHORT),
        "sm2_verify_per_s": lambda: pub.verify(SHORT, signature),
        "sm2_encrypt_per_s": lambda: pub.encrypt(SHORT),
        "sm2_decrypt_per_s": lambda: key.decrypt(ciphertext),
        "sm3_1kb_per_s": lambda: sm3_hex(MESSAGE_1K),
        "sm4_cbc_1kb_per_s": lambda: sm4_cbc_encrypt(sm4_key, MESSAGE_1K),
        "sm4_gcm_1kb_per_s": lambda: sm4_gcm_encrypt(sm4_key, MESSAGE_1K),
        "hmac_sm3_1kb_per_s": lambda: hmac_sm3(mac_key, MESSAGE_1K),
    }
    results: dict[str, float | str] = {"sm2_backend": sm2_backend()}
    for name, operation in cases.items():
        results[name] = round(rate(operation, seconds), 1)
    return results


def main(argv: list[str] | None = None) -> int:
    """Print the figures as a table, or as one JSON object with --json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--seconds", type=float, default=1.5, help="time per figure (default 1.5)")
    parser.add_argument("--backend", choices=["openssl", "pure"], help="force the SM2 backend")
    args = parser.parse_args(argv)
    if args.backend:
        os.environ["PERMITFLOW_SM2_BACKEND"] = args.backend
    results = run(args.seconds)
    if args.json:
        print(json.dumps(results))
        return 0
    print(f"SM2 backend: {results.pop('sm2_backend')}")
    for name, value in results.items():
        print(f"{name:<22}{value:>14,.1f}")
    slowest = min(float(results["sm2_sign_per_s"]), float(results["sm2_verify_per_s"]))
    print(f"target: SM2 sign and verify >= {SM2_TARGET_PER_S}/s {'met' if slowest >= SM2_TARGET_PER_S else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
