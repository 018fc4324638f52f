"""Pure-Python SM2 (GB/T 32918), used only where no OpenSSL 3 libcrypto with SM2 is present.

Written from the standard rather than wrapping gmssl, whose traps (C1C2C3 default, no C3 check,
`lstrip("04")` on keys, Mersenne-Twister nonces) are listed in DESIGN-NOTES §4. It is slow (a few
hundred operations per second) and makes no constant-time claim: big-int arithmetic in CPython leaks
timing, which is why the libcrypto backend is the one selected whenever it loads.
"""

from __future__ import annotations

import hmac
import secrets

from cryptography.hazmat.primitives import hashes

from integrations.crypto import _asn1
from integrations.crypto.errors import SM2DecryptError, SM2Error

NAME = "pure"

# sm2p256v1, GB/T 32918.5-2017
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

Jacobian = tuple[int, int, int]  # (X, Y, Z) with x = X/Z², y = Y/Z³; Z == 0 is the point at infinity
Affine = tuple[int, int]
_INFINITY: Jacobian = (1, 1, 0)
_WINDOW = 4


def _sm3(*parts: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    for part in parts:
        digest.update(part)
    return digest.finalize()


def _double(pt: Jacobian) -> Jacobian:
    x, y, z = pt
    if z == 0 or y == 0:
        return _INFINITY
    # a = -3, so 3x² + a·z⁴ = 3(x - z²)(x + z²) (saves two multiplications).
    zz = z * z % P
    m = 3 * (x - zz) * (x + zz) % P
    yy = y * y % P
    s = 4 * x * yy % P
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    return x3, y3, 2 * y * z % P


def _add(p1: Jacobian, p2: Jacobian) -> Jacobian:
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    if z1 == 0:
        return p2
    if z2 == 0:
        return p1
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    h, r = (u2 - u1) % P, (s2 - s1) % P
    if h == 0:
        return _double(p1) if r == 0 else _INFINITY
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    return x3, y3, z1 * z2 * h % P


def _to_affine(pt: Jacobian) -> Affine | None:
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _table(point: Affine) -> list[Jacobian]:
    """[0]P … [2^w − 1]P for the fixed-window method."""
    base: Jacobian = (point[0], point[1], 1)
    table = [_INFINITY, base]
    for _ in range(2, 1 << _WINDOW):
        table.append(_add(table[-1], base))
    return table


def _multiply(k: int, table: list[Jacobian]) -> Jacobian:
    result = _INFINITY
    for shift in range((256 // _WINDOW - 1) * _WINDOW, -1, -_WINDOW):
        for _ in range(_WINDOW):
            result = _double(result)
        result = _add(result, table[(k >> shift) & ((1 << _WINDOW) - 1)])
    return result


_G_TABLE = _table((GX, GY))


def _mul_g(k: int) -> Jacobian:
    return _multiply(k % N, _G_TABLE)


def _on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def decode_point(data: bytes) -> Affine:
    """A validated curve point from SEC1 encoding (04‖X‖Y, or compressed 02/03‖X)."""
    if len(data) == 65 and data[0] == 4:
        x, y = int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")
    elif len(data) == 33 and data[0] in (2, 3):
        x = int.from_bytes(data[1:], "big")
        y = pow((x * x * x + A * x + B) % P, (P + 1) // 4, P)  # P ≡ 3 (mod 4)
        if (y & 1) != (data[0] & 1):
            y = P - y
    else:
        raise SM2Error("an SM2 point is 65 bytes 04‖X‖Y (or 33 bytes compressed)")
    if not _on_curve(x, y):
        raise SM2Error("the point is not on the SM2 curve")
    return x, y  # the cofactor is 1, so every curve point other than infinity is in the group


def _point_bytes(pt: Affine) -> bytes:
    return b"\x04" + pt[0].to_bytes(32, "big") + pt[1].to_bytes(32, "big")


def za(user_id: bytes, point: Affine) -> bytes:
    """ZA = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA)."""
    curve = b"".join(v.to_bytes(32, "big") for v in (A, B, GX, GY, point[0], point[1]))
    return _sm3((len(user_id) * 8).to_bytes(2, "big"), user_id, curve)


def _kdf(z: bytes, length: int) -> bytes:
    blocks = (_sm3(z, counter.to_bytes(4, "big")) for counter in range(1, (length + 31) // 32 + 1))
    return b"".join(blocks)[:length]


class PublicKey:
    """An SM2 public key as an affine point."""

    __slots__ = ("_point", "_table")

    def __init__(self, point: Affine) -> None:
        self._point = point
        self._table: list[Jacobian] | None = None

    def _mul(self, k: int) -> Jacobian:
        if self._table is None:
            self._table = _table(self._point)
        return _multiply(k, self._table)

    def verify(self, data: bytes, signature: bytes, user_id: bytes) -> bool:
        """True when the DER signature is valid for the data under ZA(user_id)."""
        try:
            r, s = _asn1.decode_signature(signature)
        except SM2Error:
            return False
        if not (1 <= r < N and 1 <= s < N):
            return False
        t = (r + s) % N
        if t == 0:
            return False
        e = int.from_bytes(_sm3(za(user_id, self._point), data), "big")
        x1y1 = _to_affine(_add(_mul_g(s), self._mul(t)))
        return x1y1 is not None and (e + x1y1[0]) % N == r

    def encrypt(self, data: bytes) -> bytes:
        """C1C3C2 ciphertext, DER SEQUENCE{x,y,C3,C2}."""
        if not data:
            raise SM2Error("SM2 cannot encrypt an empty message")
        while True:
            k = secrets.randbelow(N - 1) + 1
            c1 = _to_affine(_mul_g(k))
            shared = _to_affine(self._mul(k))
            assert c1 is not None and shared is not None  # k < N and the point has order N
            x2, y2 = (v.to_bytes(32, "big") for v in shared)
            mask = _kdf(x2 + y2, len(data))
            if any(mask):  # an all-zero mask would leak the plaintext: pick another k (§ 6.1 A5)
                break
        c2 = bytes(a ^ b for a, b in zip(data, mask, strict=True))
        return _asn1.encode_ciphertext(c1[0], c1[1], _sm3(x2, data, y2), c2)

    def to_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        return _asn1.pem_encode("PUBLIC KEY", _asn1.spki(self.point()))

    def point(self) -> bytes:
        """Uncompressed point 04‖X‖Y."""
        return _point_bytes(self._point)


class PrivateKey:
    """An SM2 private key: the scalar d and its public point."""

    __slots__ = ("_d", "_public")

    def __init__(self, d: int, point: bytes | None = None) -> None:
        if not 1 <= d <= N - 2:  # d = n − 1 would make (1 + d) non-invertible when signing
            raise SM2Error("the SM2 private scalar is out of range [1, n-2]")
        derived = _to_affine(_mul_g(d))
        assert derived is not None
        if point is not None and decode_point(point) != derived:
            raise SM2Error("the stored public key does not match the private key")
        self._d = d
        self._public = PublicKey(derived)

    def sign(self, data: bytes, user_id: bytes) -> bytes:
        """DER SEQUENCE{r,s} over SM3(ZA(user_id) ‖ data), with k from `secrets`."""
        e = int.from_bytes(_sm3(za(user_id, self._public._point), data), "big")
        d_inv = pow(1 + self._d, -1, N)
        while True:
            k = secrets.randbelow(N - 1) + 1
            x1 = _to_affine(_mul_g(k))
            assert x1 is not None
            r = (e + x1[0]) % N
            if r == 0 or r + k == N:
                continue
            s = d_inv * (k - r * self._d) % N
            if s:
                return _asn1.encode_signature(r, s)

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Plaintext of a DER C1C3C2 ciphertext; SM2DecryptError when C3 or the format is wrong."""
        try:
            x, y, c3, c2 = _asn1.decode_ciphertext(ciphertext)
        except SM2Error as exc:
            raise SM2DecryptError(f"malformed SM2 ciphertext: {exc}") from None
        if not _on_curve(x, y):
            raise SM2DecryptError("C1 is not a point on the SM2 curve")
        if len(c3) != 32 or not c2:
            raise SM2DecryptError("malformed SM2 ciphertext: C3 must be 32 bytes and C2 non-empty")
        shared = _to_affine(_multiply(self._d, _table((x, y))))
        assert shared is not None
        x2, y2 = (v.to_bytes(32, "big") for v in shared)
        mask = _kdf(x2 + y2, len(c2))
        if not any(mask):
            raise SM2DecryptError("SM2 KDF produced an all-zero mask")
        plain = bytes(a ^ b for a, b in zip(c2, mask, strict=True))
        if not hmac.compare_digest(_sm3(x2, plain, y2), c3):
            raise SM2DecryptError("SM2 ciphertext failed its C3 check (tampered, or for another key)")
        return plain

    def public(self) -> PublicKey:
        """The matching public key."""
        return self._public

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM, laid out as OpenSSL 3 writes it."""
        return _asn1.pem_encode("PRIVATE KEY", _asn1.pkcs8(self._d, self._public.point()))

    def scalar(self) -> int:
        """The private scalar d."""
        return self._d


def generate() -> PrivateKey:
    """A new key pair with d from `secrets` in [1, n-2]."""
    return PrivateKey(secrets.randbelow(N - 2) + 1)


def private_from_pem(pem: bytes) -> PrivateKey:
    """Load a PKCS#8 or SEC1 ("SM2/EC PRIVATE KEY") PEM private key."""
    text = pem.decode("ascii", "replace")
    if "-----BEGIN PRIVATE KEY-----" in text:
        d, point = _asn1.parse_pkcs8(_asn1.pem_decode("PRIVATE KEY", text))
        return PrivateKey(d, point)
    for label in ("SM2 PRIVATE KEY", "EC PRIVATE KEY"):  # `openssl ec` writes the SM2 label
        if f"-----BEGIN {label}-----" in text:
            d, point = _asn1.parse_sec1(_asn1.pem_decode(label, text))
            return PrivateKey(d, point)
    raise SM2Error("no PRIVATE KEY, SM2 PRIVATE KEY or EC PRIVATE KEY PEM block found")


def public_from_pem(pem: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo PEM public key."""
    return public_from_der(_asn1.pem_decode("PUBLIC KEY", pem))


def public_from_der(der: bytes) -> PublicKey:
    """Load a SubjectPublicKeyInfo DER public key, checking the point is on the curve."""
    return PublicKey(decode_point(_asn1.parse_spki(der)))


def private_from_scalar(d: int) -> PrivateKey:
    """A key from its scalar."""
    return PrivateKey(d)
