"""The few strict-DER structures SM2 needs: signatures, ciphertexts, PKCS#8 and SubjectPublicKeyInfo.

Strict means one encoding per value (minimal lengths and integers, no trailing bytes), so a signature
or ciphertext cannot be re-encoded into a second valid form (malleability).
"""

from __future__ import annotations

import base64
import re

from integrations.crypto.errors import SM2Error

_INTEGER, _BIT_STRING, _OCTET_STRING, _OID, _SEQUENCE = 0x02, 0x03, 0x04, 0x06, 0x30
_CTX0, _CTX1 = 0xA0, 0xA1  # [0] parameters and [1] publicKey of ECPrivateKey (RFC 5915)

OID_EC_PUBLIC_KEY = bytes.fromhex("2a8648ce3d0201")  # 1.2.840.10045.2.1
OID_SM2_CURVE = bytes.fromhex("2a811ccf5501822d")  # 1.2.156.10197.1.301
_ALGORITHM = bytes.fromhex("3013") + bytes([_OID, 7]) + OID_EC_PUBLIC_KEY + bytes([_OID, 8]) + OID_SM2_CURVE


class DERError(SM2Error):
    """The bytes are not the expected strict-DER structure."""


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element."""
    return bytes([tag]) + _length(len(content)) + content


def integer(value: int) -> bytes:
    """A non-negative DER INTEGER (a leading 0x00 keeps a high bit from reading as a sign)."""
    if value < 0:
        raise ValueError("negative integers are not used here")
    return tlv(_INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def sequence(*parts: bytes) -> bytes:
    """A DER SEQUENCE of already-encoded parts."""
    return tlv(_SEQUENCE, b"".join(parts))


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    """(tag, content, next position) of the element at `pos`, rejecting non-minimal lengths."""
    if pos + 2 > len(data):
        raise DERError("truncated DER element")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first & 0x80:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise DERError("bad DER length")
        size = int.from_bytes(data[pos : pos + count], "big")
        if size < 0x80 or data[pos] == 0:
            raise DERError("non-minimal DER length")
        pos += count
    else:
        size = first
    if pos + size > len(data):
        raise DERError("truncated DER content")
    return tag, data[pos : pos + size], pos + size


def _expect(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    got, content, pos = _read(data, pos)
    if got != tag:
        raise DERError(f"expected DER tag {tag:#04x}, found {got:#04x}")
    return content, pos


def _whole(data: bytes, tag: int) -> bytes:
    """The content of the single element that must make up all of `data`."""
    content, end = _expect(data, 0, tag)
    if end != len(data):
        raise DERError("trailing bytes after DER element")
    return content


def _uint(content: bytes) -> int:
    if not content:
        raise DERError("empty INTEGER")
    if content[0] & 0x80:
        raise DERError("negative INTEGER")
    if len(content) > 1 and content[0] == 0 and not content[1] & 0x80:
        raise DERError("non-minimal INTEGER")
    return int.from_bytes(content, "big")


def _read_uint(data: bytes, pos: int) -> tuple[int, int]:
    content, pos = _expect(data, pos, _INTEGER)
    return _uint(content), pos


def encode_signature(r: int, s: int) -> bytes:
    """SM2 signature as DER SEQUENCE{r INTEGER, s INTEGER}."""
    return sequence(integer(r), integer(s))


def decode_signature(der: bytes) -> tuple[int, int]:
    """(r, s) from a strict-DER SM2 signature."""
    body = _whole(der, _SEQUENCE)
    r, pos = _read_uint(body, 0)
    s, pos = _read_uint(body, pos)
    if pos != len(body):
        raise DERError("extra fields in signature")
    return r, s


def encode_ciphertext(x: int, y: int, c3: bytes, c2: bytes) -> bytes:
    """SM2 ciphertext as SEQUENCE{x INTEGER, y INTEGER, C3 OCTET STRING, C2 OCTET STRING} (GM/T 0009)."""
    return sequence(integer(x), integer(y), tlv(_OCTET_STRING, c3), tlv(_OCTET_STRING, c2))


def decode_ciphertext(der: bytes) -> tuple[int, int, bytes, bytes]:
    """(x, y, C3, C2) from a strict-DER SM2 ciphertext."""
    body = _whole(der, _SEQUENCE)
    x, pos = _read_uint(body, 0)
    y, pos = _read_uint(body, pos)
    c3, pos = _expect(body, pos, _OCTET_STRING)
    c2, pos = _expect(body, pos, _OCTET_STRING)
    if pos != len(body):
        raise DERError("extra fields in ciphertext")
    return x, y, c3, c2


def spki(point: bytes) -> bytes:
    """SubjectPublicKeyInfo DER for an uncompressed SM2 point (04‖X‖Y), as OpenSSL writes it."""
    return sequence(_ALGORITHM, tlv(_BIT_STRING, b"\x00" + point))


def _check_algorithm(content: bytes) -> None:
    oid, pos = _expect(content, 0, _OID)
    curve, pos = _expect(content, pos, _OID)
    if oid != OID_EC_PUBLIC_KEY or curve != OID_SM2_CURVE or pos != len(content):
        raise DERError("not an SM2 key (algorithm is not id-ecPublicKey with the SM2 curve)")


def parse_spki(der: bytes) -> bytes:
    """The uncompressed point from an SM2 SubjectPublicKeyInfo."""
    body = _whole(der, _SEQUENCE)
    algorithm, pos = _expect(body, 0, _SEQUENCE)
    _check_algorithm(algorithm)
    bits, pos = _expect(body, pos, _BIT_STRING)
    if pos != len(body) or not bits or bits[0] != 0:
        raise DERError("malformed public key BIT STRING")
    return bits[1:]


def pkcs8(scalar: int, point: bytes | None) -> bytes:
    """PKCS#8 PrivateKeyInfo DER wrapping an RFC 5915 ECPrivateKey, the layout OpenSSL 3 writes."""
    inner = [integer(1), tlv(_OCTET_STRING, scalar.to_bytes(32, "big"))]
    if point is not None:
        inner.append(tlv(_CTX1, tlv(_BIT_STRING, b"\x00" + point)))
    return sequence(integer(0), _ALGORITHM, tlv(_OCTET_STRING, sequence(*inner)))


def parse_pkcs8(der: bytes) -> tuple[int, bytes | None]:
    """(private scalar, uncompressed point or None) from an unencrypted SM2 PKCS#8 key."""
    body = _whole(der, _SEQUENCE)
    version, pos = _read_uint(body, 0)
    algorithm, pos = _expect(body, pos, _SEQUENCE)
    _check_algorithm(algorithm)
    wrapped, pos = _expect(body, pos, _OCTET_STRING)
    if version not in (0, 1):
        raise DERError("unsupported PKCS#8 version")
    # Trailing [0] attributes / [1] public key of PKCS#8 v2 carry nothing needed here.
    return parse_sec1(wrapped, curve_known=True)


def parse_sec1(der: bytes, *, curve_known: bool = False) -> tuple[int, bytes | None]:
    """(scalar, point or None) from an RFC 5915 ECPrivateKey ("EC PRIVATE KEY" PEM or inside PKCS#8)."""
    ec = _whole(der, _SEQUENCE)
    ec_version, at = _read_uint(ec, 0)
    secret, at = _expect(ec, at, _OCTET_STRING)
    if ec_version != 1 or not 1 <= len(secret) <= 32:
        raise DERError("malformed ECPrivateKey")
    point = None
    while at < len(ec):
        tag, content, at = _read(ec, at)
        if tag == _CTX0:
            if _whole(content, _OID) != OID_SM2_CURVE:
                raise DERError("ECPrivateKey parameters name another curve")
            curve_known = True
        elif tag == _CTX1:
            bits = _whole(content, _BIT_STRING)
            if not bits or bits[0] != 0:
                raise DERError("malformed ECPrivateKey public key")
            point = bits[1:]
        else:
            raise DERError("unexpected field in ECPrivateKey")
    if not curve_known:
        # A bare SEC1 key without parameters could be for any curve: refuse to guess.
        raise DERError("ECPrivateKey does not name its curve")
    return int.from_bytes(secret, "big"), point


def pem_encode(label: str, der: bytes) -> bytes:
    """PEM armour with 64-character lines, as OpenSSL writes it."""
    b64 = base64.b64encode(der).decode("ascii")
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    text = f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n"
    return text.encode("ascii")


def pem_decode(label: str, pem: bytes | str) -> bytes:
    """The DER inside the first PEM block with this label (text around it is ignored, like OpenSSL)."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    match = re.search(rf"-----BEGIN {label}-----(.*?)-----END {label}-----", text, re.S)
    if match is None:
        raise DERError(f"no PEM block labelled {label}")
    try:
        return base64.b64decode("".join(match.group(1).split()), validate=True)
    except ValueError as exc:
        raise DERError(f"bad base64 in PEM block: {exc}") from None
