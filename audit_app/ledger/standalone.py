"""Standalone verification of RFC 6962 proofs, C2SP signed checkpoints and Glassbox evidence bundles.

Needs only the Python standard library and ``cryptography``; copy this one file to verify offline:

    python standalone.py bundle.json --key glassbox.vkey

Exit 0: every entry of the bundle is in the log under one checkpoint signed by the trusted key. Exit 1:
one is not, and one sentence says why. Reads bundle format 2 (all entries of a job or record) and format
1 (one entry), so bundles exported before format 2 still verify.

Signed audit reports: ``python standalone.py report.pdf --key glassbox.vkey`` checks the PDF's signature, the
bundle embedded in it, and that its pages show the record the bundle proves (see the PDF block below; that
mode also needs pyHanko, pikepdf and pypdf, and exits 2 with a sentence without them).

Monitors: prove that the log only grew since a checkpoint you saved, fetching nothing:

    python standalone.py --since old-checkpoint.txt --key glassbox.vkey NEW

OLD is the signed note as ``GET /api/v1/ledger/checkpoint/note/`` served it (or that endpoint's JSON form,
a consistency file, or a bundle: their checkpoint is used). NEW is the JSON that
``GET /api/v1/ledger/consistency/?from=OLD_SIZE`` serves (the new signed note and the RFC 6962 consistency
proof), or a bundle whose checkpoint has the old size (a bundle carries no consistency proof). Exit 0: both
checkpoints are signed by the key for its log, the new tree is at least as large, and the proof shows the
new tree's first entries are exactly the old tree; exit 1 with one sentence otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
ED25519_ALGORITHM = 0x01


class VerificationError(Exception):
    """Evidence that does not verify; the message says why in one sentence."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root that ``proof`` leads to from leaf ``index`` of a tree of ``size``."""
    # Python's negative indexing would otherwise make -1 walk the proof of the last leaf.
    if not 0 <= index < size:
        raise VerificationError(f"Leaf index {index} is outside a tree of size {size}.")
    fn, sn, result = index, size - 1, leaf
    for sibling in proof:
        if len(sibling) != 32:
            raise VerificationError("An inclusion proof element is not a 32-byte hash.")
        if sn == 0:
            raise VerificationError("The inclusion proof is longer than the tree is deep.")
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError("The inclusion proof is shorter than the tree is deep.")
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise VerificationError(f"The inclusion proof for leaf {index} does not lead to the root of size {size}.")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """RFC 9162 §2.1.4.2: the tree of ``size2`` extends the tree of ``size1`` without changing it."""
    if size1 > size2:
        raise VerificationError(f"A tree of size {size2} cannot extend one of size {size1}.")
    if size1 == size2:
        if proof or root1 != root2:
            raise VerificationError(f"Two trees of size {size1} have different roots.")
        return
    if size1 == 0:
        if proof:
            raise VerificationError("A consistency proof from the empty tree must be empty.")
        return
    if not proof or any(len(element) != 32 for element in proof):
        raise VerificationError("The consistency proof is empty or holds an element that is not a 32-byte hash.")
    path = list(proof)
    if size1 & (size1 - 1) == 0:  # a power of two: the old root is itself a node of the new tree
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first = second = path[0]
    for element in path[1:]:
        if sn == 0:
            raise VerificationError("The consistency proof is longer than needed.")
        if fn & 1 or fn == sn:
            first, second = node_hash(element, first), node_hash(element, second)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second = node_hash(second, element)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or first != root1 or second != root2:
        raise VerificationError(f"The consistency proof does not link the tree of size {size1} to size {size2}.")


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key id: first 4 bytes of SHA-256(name, newline, algorithm byte, key)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519_ALGORITHM]) + public_key).digest()[:4]


def parse_verifier_key(text: str) -> tuple[str, bytes]:
    """``name+hexid+base64(0x01 || key)`` → (name, 32-byte Ed25519 public key)."""
    try:
        name, hex_id, encoded = text.strip().split("+", 2)  # base64 may itself contain "+"
        raw = base64.b64decode(encoded, validate=True)
    except ValueError:
        raise VerificationError("The public key is not a signed-note verifier key (name+id+key).") from None
    if len(raw) != 33 or raw[0] != ED25519_ALGORITHM or key_id(name, raw[1:]).hex() != hex_id:
        raise VerificationError("The public key is not a valid Ed25519 signed-note verifier key.")
    return name, raw[1:]


def verify_checkpoint(note: str, verifier_key: str) -> tuple[str, int, bytes]:
    """Check the note's Ed25519 signature by the trusted key and that its origin is the key's name;
    returns (origin, tree size, root)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, public_key = parse_verifier_key(verifier_key)
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise VerificationError("The checkpoint has no signature block.")
    body += "\n"
    wanted = key_id(name, public_key)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or parts[1] != name:
            continue
        try:
            blob = base64.b64decode(parts[2], validate=True)
        except ValueError:
            continue
        if blob[:4] != wanted:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(blob[4:], body.encode())
        except InvalidSignature:
            raise VerificationError(f"The checkpoint's signature by {name} is not valid.") from None
        origin, size, root = parse_checkpoint_body(body)
        # The key is published as the log's name: a valid signature over another log's head is not this log's.
        if origin != name:
            raise VerificationError(f"The checkpoint is for the log {origin!r}, not {name!r}, the trusted key's log.")
        return origin, size, root
    raise VerificationError(f"The checkpoint carries no signature by the trusted key {name}.")


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes]:
    lines = body.split("\n")
    try:
        origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    except (IndexError, ValueError):
        raise VerificationError("The checkpoint body is not origin, tree size and root hash.") from None
    if not origin or size < 0 or len(root) != 32 or str(size) != lines[1]:
        raise VerificationError("The checkpoint body is not origin, tree size and root hash.")
    return origin, size, root


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of ``value``, as the ledger hashed them."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value).encode()
    if isinstance(value, int) and abs(value) > 2**53 - 1:
        raise VerificationError("A payload holds an integer beyond JSON's safe range (2^53 - 1).")
    if isinstance(value, float | int):
        return _ecmascript_number(value).encode()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).encode()
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        return b"{" + b",".join(canonical_json(k) + b":" + canonical_json(v) for k, v in items) + b"}"
    if isinstance(value, list):
        return b"[" + b",".join(canonical_json(item) for item in value) + b"]"
    raise VerificationError(f"A payload holds a value JSON cannot carry ({type(value).__name__}).")


def _ecmascript_number(number: float | int) -> str:
    """ECMAScript's Number.prototype.toString, which RFC 8785 prescribes for numbers."""
    from decimal import Decimal

    value = float(number)
    if value != value or value in (float("inf"), float("-inf")):
        raise VerificationError("A payload holds a number JSON cannot carry (NaN or infinity).")
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _ecmascript_number(-value)
    _, digit_tuple, exponent = Decimal(repr(value)).as_tuple()  # repr: the shortest round-trip digits
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent = int(exponent) + len("".join(map(str, digit_tuple))) - len(digits)
    k, n = len(digits), int(exponent) + len(digits)
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
    return f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"


BUNDLE_FORMAT_V1 = "glassbox-evidence-bundle/1"
BUNDLE_FORMAT = "glassbox-evidence-bundle/2"
BUNDLE_FIELDS = {"format", "entry", "inclusion_proof", "checkpoint", "verifier_key"}
BUNDLE_V2_FIELDS = {"format", "subject", "entries", "checkpoint", "verifier_key"}
ENTRY_V2_FIELDS = {"index", "leaf_hash", "payload", "inclusion_proof"}


def _checked_key_and_checkpoint(bundle: dict[str, Any], verifier_key: str) -> tuple[str, int, bytes]:
    """The checkpoint's (origin, size, root), once its fields, its key and its signature are right."""
    checkpoint = bundle["checkpoint"]
    if not isinstance(checkpoint, dict) or set(checkpoint) != {"size", "note"}:
        raise VerificationError("The bundle's checkpoint has missing or extra fields.")
    if not isinstance(bundle["verifier_key"], str) or bundle["verifier_key"].strip() != verifier_key.strip():
        raise VerificationError("The bundle names a different signing key than the one you trust.")
    if not isinstance(checkpoint["note"], str) or not isinstance(checkpoint["size"], int):
        raise VerificationError("The bundle's checkpoint is not a tree size and a signed note.")
    origin, signed_size, root = verify_checkpoint(checkpoint["note"], verifier_key)
    if signed_size != checkpoint["size"]:
        raise VerificationError(
            f"The bundle says tree size {checkpoint['size']} but its checkpoint signs {signed_size}."
        )
    return origin, signed_size, root


def _check_entry(entry: Any, size: int, root: bytes, proof_field: Any) -> tuple[int, dict[str, Any]]:
    """One entry: its payload hashes to its leaf hash, and its proof leads from it to the signed root."""
    try:
        payload = entry["payload"]
        index = entry["index"]
        proof = [bytes.fromhex(h) for h in proof_field]
        stated_leaf = bytes.fromhex(entry["leaf_hash"])
    except (KeyError, TypeError, ValueError):
        raise VerificationError("The bundle is not a Glassbox evidence bundle (missing or malformed fields).") from None
    if not isinstance(index, int) or isinstance(index, bool) or not isinstance(payload, dict):
        raise VerificationError("An entry's index is not a whole number or its payload is not a JSON object.")
    leaf = leaf_hash(canonical_json(payload))
    if leaf != stated_leaf:
        raise VerificationError(f"Entry {index}'s payload does not hash to its stated leaf hash.")
    verify_inclusion(index, size, leaf, proof, root)
    return index, payload


def verify_bundle(bundle: dict[str, Any], verifier_key: str) -> str:
    """Check a Glassbox evidence bundle (format 2, or format 1) end to end; returns a summary or raises."""
    if bundle.get("format") == BUNDLE_FORMAT_V1:
        return verify_bundle_v1(bundle, verifier_key)
    if set(bundle) != BUNDLE_V2_FIELDS or bundle["format"] != BUNDLE_FORMAT:
        raise VerificationError(
            f"The file is not a {BUNDLE_FORMAT} or {BUNDLE_FORMAT_V1} bundle (its fields or format tag differ)."
        )
    subject, entries = bundle["subject"], bundle["entries"]
    if not isinstance(subject, str) or not isinstance(entries, list) or not entries:
        raise VerificationError("The bundle names no subject or holds no entries.")
    origin, size, root = _checked_key_and_checkpoint(bundle, verifier_key)
    checked: list[tuple[int, dict[str, Any]]] = []
    for entry in entries:
        if not isinstance(entry, dict) or set(entry) != ENTRY_V2_FIELDS:
            raise VerificationError("An entry of the bundle has missing or extra fields.")
        checked.append(_check_entry(entry, size, root, entry["inclusion_proof"]))
    indexes = [index for index, _ in checked]
    # In log order, each once: a repeated entry would let a bundle look longer than the record it proves.
    if indexes != sorted(set(indexes)):
        raise VerificationError("The bundle's entries are not in log order, or one appears twice.")
    payloads = [payload for _, payload in checked]
    check_entries_belong(subject, payloads)
    kinds = ", ".join(f"{index} {payload.get('kind', 'record')}" for index, payload in checked)
    return f"{len(checked)} entries of {subject} ({kinds}) are in {origin} at tree size {size}, signed by the key."


def check_entries_belong(subject: str, payloads: list[dict[str, Any]]) -> None:
    """Every entry is about ``subject``: a valid entry of another job must not pass for one of this job's.

    For ``job:N``: its submission (``job`` N), its runs (``job_id`` N), accesses to it or to one of the
    bundle's own entries, kill-switch events while it lived and the report-signing certificates (context,
    they name no job), and any other kind that names job N (sign-offs, conclusions, signing failures, PDF
    reports). For any other subject: the entry itself and accesses to it.
    """
    own = {str(payload.get("subject")) for payload in payloads} | {subject}
    job = subject.partition(":")[2] if subject.startswith("job:") else None
    for payload in payloads:
        kind, record = payload.get("kind"), payload.get("record")
        record = record if isinstance(record, dict) else {}
        if kind == "access":
            belongs = record.get("subject") in own
        elif job is None:
            belongs = payload.get("subject") == subject
        elif kind in ("kill_switch", "report_certificate"):
            belongs = True
        else:
            belongs = str(payload.get("job", record.get("job_id"))) == job
        if not belongs:
            raise VerificationError(f"Entry {payload.get('subject')!r} of the bundle is not about {subject}.")
    if job is not None and sum(payload.get("kind") == "submission" for payload in payloads) != 1:
        raise VerificationError(f"The bundle of {subject} does not hold exactly one submission entry.")
    if job is not None:
        check_review_bindings(subject, payloads)


def check_review_bindings(subject: str, payloads: list[dict[str, Any]]) -> None:
    """21 CFR 11.70 offline: each sign-off and conclusion signs a run record of this bundle, and each
    conclusion was given with a sign-off of this bundle by its own author, so none was copied from elsewhere."""
    runs = {payload.get("record_sha256") for payload in payloads if payload.get("kind") == "run"}
    signers = {
        payload.get("record_sha256"): _record(payload).get("signer_id")
        for payload in payloads
        if payload.get("kind") == "signoff"
    }
    for payload in payloads:
        kind, record = payload.get("kind"), _record(payload)
        if kind in ("signoff", "conclusion") and record.get("run_record_sha256") not in runs:
            raise VerificationError(
                f"Entry {payload.get('subject')!r} signs run record {record.get('run_record_sha256')}, "
                f"which is not a run record of {subject} in the bundle."
            )
        bound = record.get("signoff_record_sha256")
        if kind == "conclusion" and (bound not in signers or signers[bound] != record.get("author_id")):
            raise VerificationError(
                f"Entry {payload.get('subject')!r} was given with sign-off {bound}, which is not its author's "
                f"sign-off of {subject} in the bundle."
            )


def _record(payload: dict[str, Any]) -> dict[str, Any]:
    record = payload.get("record")
    return record if isinstance(record, dict) else {}


def verify_bundle_v1(bundle: dict[str, Any], verifier_key: str) -> str:
    """Format 1: one entry, its inclusion proof and a checkpoint."""
    if set(bundle) != BUNDLE_FIELDS or bundle["format"] != BUNDLE_FORMAT_V1:
        raise VerificationError(f"The file is not a {BUNDLE_FORMAT_V1} bundle (its fields or format tag differ).")
    if not isinstance(bundle["entry"], dict) or set(bundle["entry"]) != {"index", "leaf_hash", "payload"}:
        raise VerificationError("The bundle's entry or checkpoint has missing or extra fields.")
    origin, size, root = _checked_key_and_checkpoint(bundle, verifier_key)
    index, payload = _check_entry(bundle["entry"], size, root, bundle["inclusion_proof"])
    return f"Entry {index} ({payload.get('kind', 'record')}) is in {origin} at tree size {size}, signed by the key."


CONSISTENCY_FORMAT = "glassbox-consistency-proof/1"
CONSISTENCY_FIELDS = {
    "format",
    "old_size",
    "old_root_hash",
    "new_size",
    "new_root_hash",
    "consistency_proof",
    "checkpoint",
}


def checkpoint_note(text: str) -> str:
    """The signed note a saved file holds: the note itself, or the note inside the checkpoint endpoint's JSON
    form, a consistency file (so each verified NEW can be the next OLD) or a bundle."""
    if not text.lstrip().startswith("{"):
        return text
    try:
        saved = json.loads(text)
    except ValueError:
        raise VerificationError("The saved checkpoint file is neither a signed note nor JSON.") from None
    found = saved.get("note", saved.get("checkpoint")) if isinstance(saved, dict) else None
    if isinstance(found, dict):  # a bundle: {"size": …, "note": …}
        found = found.get("note")
    if not isinstance(found, str):
        raise VerificationError("The saved checkpoint file's JSON holds no signed note ('note' or 'checkpoint').")
    return found


def verify_since(old_text: str, new: Any, verifier_key: str) -> str:
    """Check that the log in ``new`` (a consistency file or a bundle) extends the saved checkpoint; returns a
    summary or raises. Nothing unsigned is trusted: sizes and roots come from the two signed notes."""
    try:
        _, old_size, old_root = verify_checkpoint(checkpoint_note(old_text), verifier_key)
    except VerificationError as error:
        raise VerificationError(f"The saved checkpoint is refused: {_lower(error)}") from None
    if not isinstance(new, dict):
        raise VerificationError("The new file is not a JSON object (a consistency proof or a bundle).")
    is_bundle = new.get("format") in (BUNDLE_FORMAT, BUNDLE_FORMAT_V1) and isinstance(new.get("checkpoint"), dict)
    if is_bundle:
        origin, new_size, new_root = _checked_key_and_checkpoint(new, verifier_key)
        proof: list[bytes] = []
        stated: tuple[Any, Any] = (old_size, old_root.hex())
    elif new.get("format") == CONSISTENCY_FORMAT and set(new) == CONSISTENCY_FIELDS:
        try:
            origin, new_size, new_root = verify_checkpoint(new["checkpoint"], verifier_key)
        except (VerificationError, AttributeError, TypeError) as error:
            raise VerificationError(f"The new checkpoint is refused: {_lower(error)}") from None
        try:
            proof = [bytes.fromhex(element) for element in new["consistency_proof"]]
        except (TypeError, ValueError):
            raise VerificationError("The consistency proof is not a list of hex hashes.") from None
        if (new["new_size"], new["new_root_hash"]) != (new_size, new_root.hex()):
            raise VerificationError("The consistency file's new size or root differs from what its checkpoint signs.")
        stated = (new["old_size"], new["old_root_hash"])
    else:
        raise VerificationError(
            f"The new file is neither a {CONSISTENCY_FORMAT} file (GET /api/v1/ledger/consistency/) nor a bundle."
        )
    if new_size < old_size:
        raise VerificationError(
            f"The new checkpoint signs {new_size} entries, fewer than the {old_size} of the saved one: "
            "a log only grows, so it shrank or the two files are swapped."
        )
    if stated[0] != old_size:
        raise VerificationError(
            f"The consistency proof is from tree size {stated[0]}, not the saved checkpoint's {old_size}; "
            f"fetch it with ?from={old_size}."
        )
    if stated[1] != old_root.hex():
        raise VerificationError(
            f"The log's tree of {old_size} entries now has root {stated[1]}, not the saved checkpoint's "
            f"{old_root.hex()}: both are signed by the key, so the log was rewritten after you saved it (a fork)."
        )
    if is_bundle and new_size != old_size:
        raise VerificationError(
            f"The bundle signs tree size {new_size} and carries no consistency proof from {old_size}; fetch one "
            f"with GET /api/v1/ledger/consistency/?from={old_size}&to={new_size} and verify that file instead."
        )
    try:
        verify_consistency(old_size, new_size, proof, old_root, new_root)
    except VerificationError as error:
        raise VerificationError(
            f"The log at tree size {new_size} does not extend the saved checkpoint of size {old_size}: {_lower(error)}"
        ) from None
    return (
        f"The log {origin} at tree size {new_size} (root {new_root.hex()}) extends the saved checkpoint of size "
        f"{old_size} (root {old_root.hex()}): its first {old_size} entries are unchanged, both signed by the key."
    )


def _lower(error: Exception) -> str:
    text = str(error)
    return text[:1].lower() + text[1:]


# ---------------------------------------------------------------------------------------------------------
# Signed PDF reports (``python standalone.py report.pdf --key glassbox.vkey``).
#
# A report is a PDF/A-3 file with the job's bundle embedded and a PAdES signature by the organisation's
# report-signing certificate. Trust comes from the ledger key alone: the signer's certificate must be a
# ``report_certificate`` entry of the embedded bundle, which the bundle proves under the signed checkpoint.
# This path needs pyHanko, pikepdf and pypdf; they are imported here only, so bundles verify without them.
# ---------------------------------------------------------------------------------------------------------

REPORT_BUNDLE_NAME = "glassbox-evidence-bundle.json"
VISIBLE_RECORD_HASH = r"Record hash: ([0-9a-f]{64})"
GLASSBOX_XMP = "https://glassbox.invalid/ns/report/1.0/"


class MissingTools(Exception):
    """The PDF path's libraries are not installed; the message says which, in one sentence."""


def verify_report(pdf: bytes, verifier_key: str) -> str:
    """Check a signed report end to end: its signature, its embedded bundle, and that its pages and XMP show the
    record the bundle proves; returns a summary or raises ``VerificationError``."""
    tools = _pdf_tools()
    signature = _only_signature(tools, pdf)
    try:
        bundle, summary = _embedded_bundle(tools, pdf, verifier_key)
    except VerificationError as error:
        # Both are said when both fail: a byte changed inside the bundle breaks the signature too.
        _check_signature_intact(tools, signature, pdf, f"its embedded bundle does not verify either ({_clause(error)})")
        raise VerificationError(f"The embedded bundle does not verify: {_clause(error)}.") from None
    stamp = _check_signature_intact(tools, signature, pdf, "its embedded bundle, on its own, still verifies")
    signer = _ledgered_signer(signature, stamp, bundle)
    kind, record_hash = _presented_record(bundle)
    _check_shown_record(tools, pdf, kind, record_hash)
    return (
        f"The report is signed over its whole file by {signer}, its pages and XMP show the {kind} record "
        f"{record_hash} that its embedded bundle proves, and {summary[0].lower()}{summary[1:]}"
    )


def _pdf_tools() -> Any:
    import importlib
    import logging
    import types
    import warnings

    modules = {}
    for name in ("pikepdf", "pypdf", "pyhanko.pdf_utils.reader", "pyhanko.sign.validation", "pyhanko_certvalidator"):
        try:
            # The verdict is one sentence: a library's notice about its own imports (cryptography 51 warns, as a
            # UserWarning, when pyHanko imports its DSA types) is nothing the auditor can act on.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                modules[name] = importlib.import_module(name)
        except ImportError:
            raise MissingTools(
                f"Verifying a PDF report needs {name.split('.')[0]}: pip install pyhanko pikepdf pypdf."
            ) from None
    # pyHanko logs each trust-path attempt; the verdict here is one sentence, and its trust is the ledger's.
    for logger in ("pyhanko", "pyhanko_certvalidator", "pypdf"):
        logging.getLogger(logger).setLevel(logging.CRITICAL + 1)
    return types.SimpleNamespace(
        pikepdf=modules["pikepdf"],
        pypdf=modules["pypdf"],
        reader=modules["pyhanko.pdf_utils.reader"],
        validation=modules["pyhanko.sign.validation"],
        certvalidator=modules["pyhanko_certvalidator"],
    )


def _only_signature(tools: Any, pdf: bytes) -> Any:
    import io

    try:
        signatures = tools.reader.PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except Exception as error:  # a damaged file fails inside the parser in many ways; all mean the same here
        raise VerificationError(f"The file starts like a PDF but cannot be read as one ({error}).") from None
    if not signatures:
        raise VerificationError("The PDF carries no signature, so nothing shows it is the report Glassbox exported.")
    if len(signatures) > 1:
        raise VerificationError(
            f"The PDF carries {len(signatures)} signatures where a Glassbox report carries one: it was signed again "
            "after export."
        )
    return signatures[0]


def _check_signature_intact(tools: Any, signature: Any, pdf: bytes, bundle_state: str) -> Any:
    """The signature's digest matches the bytes it covers, its value is valid, and it covers every byte;
    returns its timestamp token's status, or None when it carries none (PAdES B-B)."""
    try:
        # Trusting the signature's own certificate only keeps pyHanko offline and away from the system's trust
        # list; whether that certificate is the organisation's is decided by the ledger (_ledgered_signer).
        context = tools.certvalidator.ValidationContext(trust_roots=[signature.signer_cert], allow_fetching=False)
        status = tools.validation.validate_pdf_signature(signature, signer_validation_context=context)
    except Exception as error:
        raise VerificationError(f"The PDF's signature cannot be checked ({error}), and {bundle_state}.") from None
    if not status.intact:
        raise VerificationError(
            f"The PDF was changed after it was signed: its signature no longer matches its bytes, and {bundle_state}."
        )
    if not status.valid:
        raise VerificationError(
            f"The PDF's signature is not a valid signature by its own certificate, and {bundle_state}."
        )
    if status.coverage.name != "ENTIRE_FILE":
        start, length = (int(value) for value in list(signature.byte_range)[2:4])
        raise VerificationError(
            f"Bytes were added to the PDF after it was signed (the signature ends at byte {start + length} of "
            f"{len(pdf)}), so the file is not the report as exported."
        )
    stamp = status.timestamp_validity
    if stamp is not None and not (stamp.intact and stamp.valid):
        raise VerificationError("The PDF's signature carries a timestamp token that does not match the signature.")
    return stamp


def _embedded_bundle(tools: Any, pdf: bytes, verifier_key: str) -> tuple[dict[str, Any], str]:
    import io

    try:
        with tools.pikepdf.open(io.BytesIO(pdf)) as document:
            spec = document.attachments.get(REPORT_BUNDLE_NAME)
            raw = None if spec is None else spec.get_file().read_bytes()
    except Exception as error:
        raise VerificationError(f"It cannot be read from the PDF ({error}).") from None
    if raw is None:
        raise VerificationError(f"The PDF holds no embedded {REPORT_BUNDLE_NAME}.")
    try:
        bundle = _canonical_bundle(raw)
    except ValueError:
        raise VerificationError("It is not JSON.") from None
    if bundle.get("format") != BUNDLE_FORMAT:
        raise VerificationError(f"It is not a {BUNDLE_FORMAT} bundle.")
    summary = verify_bundle(bundle, verifier_key)
    for entry in bundle["entries"]:
        payload = entry["payload"]
        record, stated = payload.get("record"), payload.get("record_sha256")
        recomputed = hashlib.sha256(canonical_json(record)).hexdigest() if isinstance(record, dict) else stated
        if isinstance(stated, str) and recomputed != stated:
            raise VerificationError(f"Entry {entry['index']}'s record does not hash to its record hash {stated}.")
    return bundle, summary


def _ledgered_signer(signature: Any, stamp: Any, bundle: dict[str, Any]) -> str:
    """Who signed, once the signer certificate is shown to be a ledgered report-signing certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = signature.signer_cert.dump()
    digest = hashlib.sha256(der).hexdigest()
    subject = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    for entry in bundle["entries"]:
        payload = entry["payload"]
        if payload.get("kind") != "report_certificate":
            continue
        record = _record(payload)
        try:
            ledgered = x509.load_pem_x509_certificate(str(record.get("pem", "")).encode())
        except ValueError:
            raise VerificationError(
                f"Entry {entry['index']}'s report-signing certificate is not a PEM certificate."
            ) from None
        if hashlib.sha256(ledgered.public_bytes(Encoding.DER)).hexdigest() != record.get("sha256"):
            raise VerificationError(f"Entry {entry['index']}'s certificate does not hash to the SHA-256 it states.")
        if record.get("sha256") == digest:
            when = "" if stamp is None else f", timestamped {stamp.timestamp.isoformat()}"
            return f"{subject} (the report-signing certificate of ledger entry {entry['index']}{when})"
    raise VerificationError(
        f"The PDF is signed by a certificate ({subject}, SHA-256 {digest}) that its bundle does not hold as a "
        "ledgered report-signing certificate, so it was signed by someone other than the organisation."
    )


def _presented_record(bundle: dict[str, Any]) -> tuple[str, str]:
    """(kind, record hash) of the record a report presents: the job's run, or its submission if it never ran."""
    payloads = [entry["payload"] for entry in bundle["entries"]]
    for kind in ("run", "submission"):
        hashes = [p.get("record_sha256") for p in payloads if p.get("kind") == kind]
        if len(hashes) == 1 and isinstance(hashes[0], str):
            return kind, hashes[0]
    raise VerificationError(f"The embedded bundle of {bundle['subject']} holds no single run or submission record.")


def _check_shown_record(tools: Any, pdf: bytes, kind: str, record_hash: str) -> None:
    """The record hash a person reads on the pages, and the one in the XMP, are the record the bundle proves."""
    import io
    import re

    try:
        reader = tools.pypdf.PdfReader(io.BytesIO(pdf))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as error:
        raise VerificationError(f"The report's text cannot be read ({error}).") from None
    shown = set(re.findall(VISIBLE_RECORD_HASH, text))
    if not shown:
        raise VerificationError(
            "The report's pages show no 'Record hash:' line, so a reader cannot tell which record they present."
        )
    if shown != {record_hash}:
        other = ", ".join(sorted(shown - {record_hash})) or record_hash
        raise VerificationError(
            f"The report's pages show record hash {other}, but its embedded bundle proves the {kind} record "
            f"{record_hash}: the pages and the evidence do not belong together."
        )
    try:
        with (
            tools.pikepdf.open(io.BytesIO(pdf)) as document,
            document.open_metadata(set_pikepdf_as_editor=False) as xmp,
        ):
            in_xmp = str(xmp.get(f"{{{GLASSBOX_XMP}}}RecordSHA256", ""))
    except Exception as error:
        raise VerificationError(f"The report's XMP metadata cannot be read ({error}).") from None
    if in_xmp != record_hash:
        raise VerificationError(
            f"The report's XMP metadata names record {in_xmp or 'none'}, not the {kind} record {record_hash} that its "
            "embedded bundle proves."
        )


def _clause(error: Exception) -> str:
    """A sentence as a clause inside another: lower-case start, no full stop."""
    return _lower(error).rstrip(".")


# --------------------------------------------- end of the PDF reports block ---------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Verify a Glassbox evidence bundle offline.")
    parser.add_argument(
        "bundle",
        help="the bundle's JSON file, or a signed report PDF (with --since: the consistency proof file, or a bundle)",
    )
    parser.add_argument("--key", required=True, help="file holding the trusted verifier key (name+id+key)")
    parser.add_argument(
        "--since", metavar="OLD_CHECKPOINT_FILE", help="prove the log only grew since this saved checkpoint"
    )
    args = parser.parse_args(argv)
    if args.since is not None:
        return _report(
            lambda: verify_since(_text(args.since), json.loads(_bytes(args.bundle)), _text(args.key)),
            "the checkpoint, proof or key file",
        )
    if _bytes(args.bundle)[:5] == b"%PDF-":  # a signed report: the bundle travels inside it
        try:
            return _report(lambda: verify_report(_bytes(args.bundle), _text(args.key)), "the report or key")
        except MissingTools as missing:
            print(f"CANNOT VERIFY: {missing}", file=sys.stderr)
            return 2
    return _report(lambda: verify_bundle(_canonical_bundle(_bytes(args.bundle)), _text(args.key)), "the bundle or key")


def _canonical_bundle(raw: bytes) -> dict[str, Any]:
    bundle = json.loads(raw.strip())
    # Bundles are written in canonical JSON: any other byte sequence means the file was edited.
    if not isinstance(bundle, dict) or canonical_json(bundle) != raw.strip():
        raise VerificationError("The bundle file is not in canonical form, so it was altered after export.")
    return bundle


def _report(check: Callable[[], str], files: str) -> int:
    """Run ``check``; print one VALID or INVALID sentence; the exit status."""
    try:
        print(f"VALID: {check()}")
        return 0
    except (OSError, ValueError) as error:
        print(f"INVALID: {files} cannot be read ({error}).", file=sys.stderr)
    except VerificationError as error:
        print(f"INVALID: {error}", file=sys.stderr)
    return 1


def _text(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


if __name__ == "__main__":
    sys.exit(main())
