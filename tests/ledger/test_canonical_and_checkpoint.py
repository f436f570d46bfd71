from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.signed_note import (
    generate_key_file,
    load_key_file,
    public_bytes,
    sign_checkpoint,
    verifier_key,
)
from audit_app.ledger.standalone import VerificationError, parse_verifier_key, verify_checkpoint
from audit_app.ledger.standalone import canonical_json as standalone_canonical_json

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_standalone_verifier_canonicalizes_exactly_like_the_library(value: object):
    assert standalone_canonical_json(value) == canonical_json(value) == bytes(rfc8785.dumps(value))


def test_canonical_form_orders_keys_and_numbers_the_rfc_way():
    assert canonical_json({"b": 1, "a": [0.7, 1.0, 1e21, 1e-7]}) == b'{"a":[0.7,1,1e+21,1e-7],"b":1}'


def test_key_file_is_owner_only_and_never_overwritten(tmp_path: Path):
    path = tmp_path / "ledger.key"
    key = generate_key_file(path)
    written = path.read_bytes()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    assert path.read_bytes() == written  # the refused second call left the first key in place
    # The loaded key is the generated one, not merely some Ed25519 key: same public half, same verifier key.
    assert public_bytes(load_key_file(path)) == public_bytes(key)
    assert verifier_key(load_key_file(path), "log") == verifier_key(key, "log")
    assert public_bytes(generate_key_file(tmp_path / "other.key")) != public_bytes(key)


def test_a_key_file_of_another_kind_is_refused_with_a_sentence(tmp_path: Path):
    path = tmp_path / "rsa.key"
    rsa = generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(rsa.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    with pytest.raises(ValueError, match="does not hold an Ed25519 private key"):
        load_key_file(path)


def test_signed_checkpoint_verifies_with_the_exported_key(tmp_path: Path):
    key = generate_key_file(tmp_path / "k")
    note = sign_checkpoint(key, "glassbox.example/ledger", "glassbox.example/ledger", 8, b"\x01" * 32)
    vkey = verifier_key(key, "glassbox.example/ledger")
    root_text = base64.b64encode(b"\x01" * 32).decode()
    assert note.startswith(f"glassbox.example/ledger\n8\n{root_text}\n\n\u2014 glassbox.example/ledger ")
    assert verify_checkpoint(note, vkey) == ("glassbox.example/ledger", 8, b"\x01" * 32)
    assert parse_verifier_key(vkey)[0] == "glassbox.example/ledger"


@pytest.mark.parametrize("position", [0, 30, -10])
def test_a_flipped_byte_breaks_the_checkpoint(tmp_path: Path, position: int):
    key = generate_key_file(tmp_path / "k")
    note = sign_checkpoint(key, "log", "log", 8, b"\x02" * 32)
    flipped = bytearray(note.encode())
    flipped[position] ^= 0x01
    with pytest.raises(VerificationError):
        verify_checkpoint(flipped.decode(errors="replace"), verifier_key(key, "log"))


def test_a_checkpoint_signed_by_another_key_is_refused(tmp_path: Path):
    signer, other = generate_key_file(tmp_path / "a"), generate_key_file(tmp_path / "b")
    note = sign_checkpoint(signer, "log", "log", 1, b"\x03" * 32)
    with pytest.raises(VerificationError, match="no signature by the trusted key"):
        verify_checkpoint(note, verifier_key(other, "log"))


def test_a_checkpoint_survives_the_json_of_a_bundle_and_still_verifies(tmp_path: Path):
    # Notes travel inside bundles, encoded by canonical_json: the signature line's em dash must stay UTF-8
    # (U+2014), and what a verifier reads back must be the signed note, not merely some JSON string.
    key = generate_key_file(tmp_path / "k")
    note = sign_checkpoint(key, "log", "log", 3, b"\x04" * 32)
    encoded = canonical_json({"checkpoint": {"note": note}})
    assert b"\\n\xe2\x80\x94 log " in encoded  # JSON's escaped newline, then the dash as UTF-8
    carried = json.loads(encoded)["checkpoint"]["note"]
    assert verify_checkpoint(carried, verifier_key(key, "log")) == ("log", 3, b"\x04" * 32)
