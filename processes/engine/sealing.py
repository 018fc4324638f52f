"""Workflow snapshots at rest: compressed, then SM4-GCM-encrypted and bound to their instance.

A snapshot holds the case's data (names, ID numbers, addresses, e-licence details), so it is
protected like any personal field (GB/T 39786): SM4-GCM under the current "field-enc" key, the key id
carried in the stored value so keys can rotate, and the instance's public id as associated data, so a
snapshot copied onto another instance does not open. zlib first: a 10 KB snapshot seals in ~0.05 ms and
is stored in ~1.5 KB.
"""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from collections.abc import Callable

from integrations.crypto import SM4DecryptError, sm4_gcm_decrypt, sm4_gcm_encrypt
from integrations.keys import KeyProviderError, SymmetricKey
from processes.errors import Conflict

PREFIX = "pfsnap1:"
PURPOSE = "field-enc"
alert_log = logging.getLogger("permitflow.alert")

KeyLookup = Callable[[str, str | None], SymmetricKey]  # (purpose, key id or None for the current key)


class SnapshotTampered(Conflict):
    """A stored snapshot does not open: changed, moved from another instance, or its key is gone."""

    def __init__(self, context: str) -> None:
        super().__init__("RECORD_TAMPERED", "流程实例数据校验失败，已拒绝使用，请联系安全管理员", {"instance": context})


class SnapshotSealer:
    """Seals and opens snapshot text with keys from the key provider."""

    def __init__(self, key_lookup: KeyLookup) -> None:
        self._key = key_lookup

    def seal(self, text: str, context: str) -> str:
        """The stored form of a snapshot of the instance `context` (its public id)."""
        key = self._key(PURPOSE, None)
        blob = sm4_gcm_encrypt(key.material, zlib.compress(text.encode("utf-8"), 1), _aad(context))
        return f"{PREFIX}{key.key_id}${base64.b64encode(blob).decode('ascii')}"

    def open(self, stored: str, context: str) -> str:
        """The snapshot text; a snapshot written before sealing existed (plain JSON) is returned as it is."""
        if not stored.startswith(PREFIX):
            if stored.startswith("{"):
                return stored
            raise SnapshotTampered(context)
        key_id, sep, payload = stored[len(PREFIX) :].partition("$")
        try:
            if not sep:
                raise ValueError("no key id")
            key = self._key(PURPOSE, key_id)
            clear = sm4_gcm_decrypt(key.material, base64.b64decode(payload, validate=True), _aad(context))
            return zlib.decompress(clear).decode("utf-8")
        except (SM4DecryptError, KeyProviderError, binascii.Error, ValueError, zlib.error) as exc:
            alert_log.error("snapshot of instance %s does not open (%s): tampered, moved, or key gone", context, exc)
            raise SnapshotTampered(context) from exc

    @staticmethod
    def key_id(stored: str | None) -> str | None:
        """The key id a sealed snapshot carries (None for a plain one)."""
        if not stored or not stored.startswith(PREFIX):
            return None
        return stored[len(PREFIX) :].partition("$")[0]


def _aad(context: str) -> bytes:
    return f"process_instance.snapshot:{context}".encode()
