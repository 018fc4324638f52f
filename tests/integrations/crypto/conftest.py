"""Fixtures for the national-crypto tests: run SM2 tests once per backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from integrations.crypto import _libcrypto, _sm2_openssl, _sm2_pure, sm2


@pytest.fixture(params=["openssl", "pure"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run the test once per SM2 backend; a missing libcrypto fails the openssl run, it is not skipped."""
    module = _sm2_openssl if request.param == "openssl" else _sm2_pure
    if module is _sm2_openssl:
        _libcrypto.load()
    monkeypatch.setattr(sm2, "_BACKEND", module)
    yield request.param
