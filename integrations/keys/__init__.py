"""Key management (A9): one provider interface, a local keystore and a KMS client behind it."""

from integrations.keys.base import (
    PURPOSES,
    KeyInfo,
    KeyManager,
    KeyProvider,
    KeyProviderError,
    SymmetricKey,
    UnknownKeyId,
    make_key_id,
    parse_key_id,
)
from integrations.keys.kms import KmsKeyProvider
from integrations.keys.local import LocalKeyStore, parse_master_key

__all__ = [
    "PURPOSES",
    "KeyInfo",
    "KeyManager",
    "KeyProvider",
    "KeyProviderError",
    "KmsKeyProvider",
    "LocalKeyStore",
    "SymmetricKey",
    "UnknownKeyId",
    "make_key_id",
    "parse_key_id",
    "parse_master_key",
]
