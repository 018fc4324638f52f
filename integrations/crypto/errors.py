"""Exceptions of the national-crypto module, so callers can tell a bad input from a forgery."""

from __future__ import annotations


class CryptoError(Exception):
    """Base of every failure raised by `integrations.crypto`."""


class SM2Error(CryptoError):
    """An SM2 key could not be made, loaded or used (wrong curve, malformed PEM, backend failure)."""


class SM2DecryptError(SM2Error):
    """An SM2 ciphertext is malformed, was tampered with (C3 mismatch) or is for another key."""


class SM4Error(CryptoError):
    """An SM4 key or nonce has the wrong length, or the input is not usable."""


class SM4DecryptError(SM4Error):
    """An SM4 ciphertext failed its GCM tag or its CBC padding check."""
