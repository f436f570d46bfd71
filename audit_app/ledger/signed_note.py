"""C2SP tlog-checkpoint signed notes with Ed25519: make keys, sign tree heads, export the verifier key."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from audit_app.ledger.standalone import ED25519_ALGORITHM, key_id


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    """The note text: origin line, tree size, base64 root hash, each ending in a newline."""
    if not origin or "\n" in origin:
        raise ValueError("The log origin must be one non-empty line.")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign_checkpoint(private_key: Ed25519PrivateKey, name: str, origin: str, size: int, root: bytes) -> str:
    """A complete signed note: body, blank line, one ``— name base64(keyid || signature)`` line."""
    body = checkpoint_body(origin, size, root)
    public = public_bytes(private_key)
    signature = private_key.sign(body.encode())
    line = f"\u2014 {name} {base64.b64encode(key_id(name, public) + signature).decode()}\n"
    return body + "\n" + line


def public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def verifier_key(private_key: Ed25519PrivateKey, name: str) -> str:
    """The public half as a signed-note verifier key: ``name+hexid+base64(0x01 || key)``."""
    public = public_bytes(private_key)
    encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + public).decode()
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def generate_key_file(path: Path) -> Ed25519PrivateKey:
    """Write a new Ed25519 private key (PKCS#8 PEM) readable by its owner only; refuse to overwrite."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key


def load_key_file(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key.")
    return key
