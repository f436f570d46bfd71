"""Helpers for the signed-report tests: genuine reports through the product's pipeline, the verifier as an auditor
runs it (a copied file, no Django), and the edits an attacker would make with pikepdf."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pikepdf
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from audit_app.ledger import standalone
from audit_app.services.report_keys import generate_certificate
from audit_app.services.report_pdf import BUNDLE_NAME
from audit_app.services.report_signing import ReportSigner

# Run the copied file as a script with Django made unimportable, as test_bundle_v2 does.
STANDALONE = "import runpy, sys; sys.modules['django'] = None; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"  # noqa: E501


def run_verifier(
    pdf: bytes, key: str, folder: Path, prelude: str = "", name: str = "report.pdf"
) -> subprocess.CompletedProcess[str]:
    """``python standalone.py report.pdf --key glassbox.vkey`` on a copy of the file, in ``folder``."""
    script = Path(shutil.copy(standalone.__file__, folder / "standalone.py"))
    (folder / name).write_bytes(pdf)
    (folder / "glassbox.vkey").write_text(key)
    return subprocess.run(
        [sys.executable, "-I", "-c", prelude + STANDALONE, str(script), name, "--key", "glassbox.vkey"],
        capture_output=True,
        text=True,
        cwd=folder,
    )


def self_signed(folder: Path, name: str) -> ReportSigner:
    """Someone's own key and self-signed certificate, as ``report_certificate generate`` would make them."""
    key_path, cert_path = generate_certificate(folder, name)
    key = serialization.load_pem_private_key(key_path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return ReportSigner(key, x509.load_pem_x509_certificate(cert_path.read_bytes()), (), "")


def embedded_bundle(pdf: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        return bytes(document.attachments[BUNDLE_NAME].get_file().read_bytes())


def with_bundle(pdf: bytes, bundle: bytes, *, drop_signature: bool = False) -> bytes:
    """``pdf`` rewritten by pikepdf with ``bundle`` as its embedded file (the rest as it was)."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        spec = document.attachments[BUNDLE_NAME].obj
        spec.EF.F.write(bundle)
        spec.EF.F.Params.Size = len(bundle)
        if "/CheckSum" in spec.EF.F.Params:
            del spec.EF.F.Params["/CheckSum"]
        if drop_signature:
            unsigned(document)
        out = io.BytesIO()
        document.save(out)
    return out.getvalue()


def unsigned(document: pikepdf.Pdf) -> None:
    """Take the signature out: the field, its widget on the page and the certification permission."""
    if "/AcroForm" in document.Root:
        del document.Root["/AcroForm"]
    if "/Perms" in document.Root:
        del document.Root["/Perms"]
    for page in document.pages:
        if "/Annots" in page.obj:
            kept = [a for a in page.obj.Annots if a.get("/FT") != "/Sig"]
            page.obj.Annots = pikepdf.Array(kept)


def sign_again(pdf: bytes, signer: ReportSigner) -> bytes:
    """A second signature in a new field, as a later signer's tool would add one (an incremental update)."""
    cms = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(signer.certificate.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signer.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore(),
    )
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Countersignature"), signer=cms).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out
    )
    return out.getvalue()
