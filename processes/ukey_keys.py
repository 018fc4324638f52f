"""UKey public keys as registered or forwarded: a PEM public key, or the public key inside an X.509 certificate."""

from __future__ import annotations

import base64
import binascii
import re

from integrations.crypto import SM2PublicKey

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----(.*?)-----END \1-----", re.S)


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of content, end of content) of the DER element at pos."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _certificate_spki(der: bytes) -> bytes:
    """The SubjectPublicKeyInfo DER of an X.509 certificate (RFC 5280 field order)."""
    _tag, start, _end = _tlv(der, 0)  # Certificate
    tag, pos, end = _tlv(der, start)  # TBSCertificate
    if tag != 0x30:
        raise ValueError("not a certificate")
    fields = []
    while pos < end:
        tag, _content, stop = _tlv(der, pos)
        fields.append((tag, pos, stop))
        pos = stop
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
    _tag, spki_start, spki_end = fields[5]
    return der[spki_start:spki_end]


def public_key_from(text: str) -> SM2PublicKey:
    """The SM2 public key of a "PUBLIC KEY" or "CERTIFICATE" PEM; ValueError/CryptoError when it is neither."""
    found = _PEM.search(text or "")
    if found is None:
        raise ValueError("no PEM block")
    label, body = found.group(1), found.group(2)
    if label == "PUBLIC KEY":
        return SM2PublicKey.from_pem(found.group(0))
    if label != "CERTIFICATE":
        raise ValueError(f"unsupported PEM block {label}")
    try:
        spki = _certificate_spki(base64.b64decode("".join(body.split())))
    except (IndexError, binascii.Error) as exc:
        raise ValueError("malformed certificate") from exc
    encoded = base64.b64encode(spki).decode("ascii")
    lines = "\n".join(encoded[i : i + 64] for i in range(0, len(encoded), 64))
    return SM2PublicKey.from_pem(f"-----BEGIN PUBLIC KEY-----\n{lines}\n-----END PUBLIC KEY-----\n")
