from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audit_app.ledger.canonical import canonical_json
from audit_app.ledger.signed_note import generate_key_file, load_key_file, sign_checkpoint, verifier_key
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
    generate_key_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with pytest.raises(FileExistsError):
        generate_key_file(path)
    assert load_key_file(path)


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
    assert json.dumps(note)  # notes travel inside JSON bundles
