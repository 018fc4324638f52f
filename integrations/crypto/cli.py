"""`permitflow crypto …`: SM2 keys, signatures and encryption, SM3 and HMAC-SM3 on files.

Exit codes: 0 success (for `verify`: the signature is valid); 1 failure (for `verify`: the signature
is invalid; for `decrypt`: the ciphertext is bad); 2 usage errors and, for `verify`, inputs that could
not be read, so a script can tell "forged" from "could not check".
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

import click

from integrations.crypto.errors import CryptoError, SM2DecryptError
from integrations.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from integrations.crypto.sm3 import hmac_sm3, sm3_hex

_IN_FILE = click.File("rb")
_OUT_PATH = click.Path(dir_okay=False, path_type=Path)
_KEY_PATH = click.Path(exists=True, dir_okay=False, path_type=Path)


class _Failed(click.ClickException):
    """A failure reported as "Error: …" on stderr with exit code 1."""


class _CouldNotCheck(click.ClickException):
    """`verify` could not even check the signature."""

    exit_code = 2


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    if secret:
        # Created 0600 from the start: a chmod afterwards would leave a window where others can read it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)


def _private_key(path: Path) -> SM2PrivateKey:
    try:
        return SM2PrivateKey.from_pem(path.read_bytes())
    except CryptoError as exc:
        raise _Failed(f"cannot load {path}: {exc}") from None


def _public_key(path: Path, failure: type[click.ClickException] = _Failed) -> SM2PublicKey:
    try:
        return SM2PublicKey.from_pem(path.read_bytes())
    except CryptoError as exc:
        raise failure(f"cannot load {path}: {exc}") from None


@click.group(name="crypto")
def crypto() -> None:
    """National cryptography (SM2/SM3/SM4) tools, interoperable with OpenSSL 3 and BouncyCastle."""


@crypto.command()
@click.option("--out", "out", required=True, type=_OUT_PATH, help="Private key file (PKCS#8 PEM, mode 0600).")
@click.option("--pub", "pub", required=True, type=_OUT_PATH, help="Public key file (SPKI PEM).")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keygen(out: Path, pub: Path, force: bool) -> None:
    """Generate an SM2 key pair."""
    for path in (out, pub):
        if path.exists() and not force:
            raise _Failed(f"{path} exists; refusing to overwrite a key without --force")
    key = SM2PrivateKey.generate()
    _write(out, key.to_pem(), secret=True)
    _write(pub, key.public_key().to_pem())
    click.echo(f"SM2 key pair written: private {out}, public {pub}")


@crypto.command()
@click.option("--key", "key_path", required=True, type=_KEY_PATH, help="SM2 private key PEM.")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="File to sign ('-' for stdin).")
@click.option("--out", "out", required=True, type=_OUT_PATH, help="DER signature output.")
def sign(key_path: Path, infile: BinaryIO, out: Path) -> None:
    """Sign a file (SM2 with SM3, user ID 1234567812345678, DER signature)."""
    signature = _private_key(key_path).sign(infile.read())
    _write(out, signature)


@crypto.command()
@click.option("--pub", "pub_path", required=True, type=_KEY_PATH, help="SM2 public key PEM.")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="Signed file ('-' for stdin).")
@click.option("--sig", "sig_path", required=True, type=_KEY_PATH, help="DER signature.")
def verify(pub_path: Path, infile: BinaryIO, sig_path: Path) -> None:
    """Verify a signature: exit 0 if valid, 1 if invalid, 2 if the inputs cannot be read."""
    key = _public_key(pub_path, _CouldNotCheck)
    if key.verify(infile.read(), sig_path.read_bytes()):
        click.echo("Signature valid")
        return
    click.echo("Signature INVALID", err=True)
    click.get_current_context().exit(1)


@crypto.command()
@click.option("--pub", "pub_path", required=True, type=_KEY_PATH, help="Recipient's SM2 public key PEM.")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="File to encrypt ('-' for stdin).")
@click.option("--out", "out", required=True, type=_OUT_PATH, help="DER C1C3C2 ciphertext output.")
def encrypt(pub_path: Path, infile: BinaryIO, out: Path) -> None:
    """Encrypt a file to an SM2 public key (C1C3C2, DER)."""
    try:
        ciphertext = _public_key(pub_path).encrypt(infile.read())
    except CryptoError as exc:
        raise _Failed(str(exc)) from None
    _write(out, ciphertext)


@crypto.command()
@click.option("--key", "key_path", required=True, type=_KEY_PATH, help="SM2 private key PEM.")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="DER ciphertext ('-' for stdin).")
@click.option("--out", "out", required=True, type=_OUT_PATH, help="Decrypted output file.")
def decrypt(key_path: Path, infile: BinaryIO, out: Path) -> None:
    """Decrypt an SM2 ciphertext; fails (exit 1, no output file) if it is malformed or tampered with."""
    key = _private_key(key_path)
    try:
        plaintext = key.decrypt(infile.read())
    except SM2DecryptError as exc:
        raise _Failed(f"decryption failed: {exc}") from None
    _write(out, plaintext, secret=True)


@crypto.command(name="sm3")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="File to hash ('-' for stdin).")
def sm3_command(infile: BinaryIO) -> None:
    """Print the SM3 digest of a file as hex."""
    click.echo(sm3_hex(infile.read()))


@crypto.command(name="hmac")
@click.option("--key-hex", "key_hex", required=True, help="HMAC key as hex.")
@click.option("--in", "infile", required=True, type=_IN_FILE, help="File to authenticate ('-' for stdin).")
def hmac_command(key_hex: str, infile: BinaryIO) -> None:
    """Print the HMAC-SM3 of a file as hex."""
    try:
        key = bytes.fromhex(key_hex)
    except ValueError:
        raise click.BadParameter("not a hex string", param_hint="--key-hex") from None
    if not key:
        raise click.BadParameter("the key must not be empty", param_hint="--key-hex")
    click.echo(hmac_sm3(key, infile.read()))
