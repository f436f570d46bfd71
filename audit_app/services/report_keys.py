"""A self-signed report-signing key and certificate, for the demo, the tests and a first installation.

Plain ``cryptography`` (and asn1crypto, which pyHanko reads names with), no Django: the test services make one
before Django is configured. An organisation that has a certificate from its own authority installs that
instead (docs/operations.md); either way a verifier trusts the certificate because the ledger holds it, not
because of who issued it.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

KEY_NAME, CERT_NAME = "report-signing.key", "report-signing.crt"


def unmatchable(name: x509.Name) -> str:
    """Why ``name`` cannot be matched as X.509 names are matched, or "" when it can.

    Validators compare names after RFC 4518 string preparation, which knows Unicode 3.2 only (an emoji is an
    unassigned code point there) and refuses right-to-left text mixed with left-to-right text. pyHanko does so
    through asn1crypto, and cannot tie a signature to a certificate whose name fails: such a certificate is
    refused when it is configured, not found out in an auditor's verifier.
    """
    try:
        for rdn in asn1_x509.Name.load(name.public_bytes()).chosen:
            for attribute in rdn:
                attribute.prepped_value  # noqa: B018  # computing it is the check
    except ValueError as error:
        return str(error).rstrip(".")
    return ""


def generate_certificate(directory: Path, common_name: str, days: int = 3650) -> tuple[Path, Path]:
    """Write ``report-signing.key`` (PEM, mode 0600) and ``report-signing.crt`` (self-signed, ``days`` long)
    into ``directory``; ``FileExistsError`` rather than overwrite either."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    if unmatchable(name):
        raise ValueError(f"The name {common_name!r} cannot be matched by signature validators: {unmatchable(name)}.")
    key_path, cert_path = directory / KEY_NAME, directory / CERT_NAME
    for path in (key_path, cert_path):
        if path.exists():
            raise FileExistsError(path)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # a verifier's clock a little behind still accepts it
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # Non-repudiation (content commitment): what PDF signing tools expect of a document signer.
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem_key)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
