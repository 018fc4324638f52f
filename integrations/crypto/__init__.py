"""National cryptography (SM2/SM3/SM4): the one place every other part uses."""

from integrations.crypto.errors import CryptoError, SM2DecryptError, SM2Error, SM4DecryptError, SM4Error
from integrations.crypto.sm2 import DEFAULT_USER_ID, SM2PrivateKey, SM2PublicKey, sm2_backend
from integrations.crypto.sm3 import hmac_sm3, sm3_hex
from integrations.crypto.sm4 import (
    generate_sm4_key,
    sm4_cbc_decrypt,
    sm4_cbc_encrypt,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

__all__ = [
    "DEFAULT_USER_ID",
    "CryptoError",
    "SM2DecryptError",
    "SM2Error",
    "SM2PrivateKey",
    "SM2PublicKey",
    "SM4DecryptError",
    "SM4Error",
    "generate_sm4_key",
    "hmac_sm3",
    "sm2_backend",
    "sm3_hex",
    "sm4_cbc_decrypt",
    "sm4_cbc_encrypt",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
]
