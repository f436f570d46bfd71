"""PAdES signing of audit reports with the organisation's key and certificate (pyHanko).

The signature is PAdES B-B, or B-T when a timestamp authority is configured (an RFC 3161 token over the
signature, from ``GLASSBOX_REPORT_TSA_URL``). It is added as an incremental update: the PDF/A-3 file
WeasyPrint wrote stays byte for byte the first revision, and the signature covers all of it. The signature
certifies the document with no changes allowed (DocMDP P=1), so any reader marks a later edit.

The key and certificate are read at each export, not at start-up: a missing or unreadable file refuses
that report with one sentence (``ReportSigningUnavailable``) instead of stopping the service.
``produce_report`` loads them before it exports, so a refused report ledgers nothing.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from audit_app.services.report_keys import unmatchable

FIELD_NAME = "GlassboxReportSignature"
SIGNING_KEYS = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey, ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)
TSA_TIMEOUT_SECONDS = 10
PDFA3_VERSION = (1, 7)  # PDF/A-3 is ISO 32000-1


class ReportSigningUnavailable(ImproperlyConfigured):
    """No report can be signed with the configuration as it is; the message says what to fix in one sentence."""


class ReportSigningFailed(Exception):
    """This report could not be signed (the timestamp authority did not answer); the message says why."""


@dataclasses.dataclass(frozen=True)
class ReportSigner:
    """The organisation's signing key and certificate (with any issuing chain), loaded and checked."""

    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    tsa_url: str


def report_signer() -> ReportSigner:
    """The configured key and certificate; ``ReportSigningUnavailable`` when either is missing, unreadable or
    they do not belong together."""
    key_path = settings.GLASSBOX["REPORT_SIGNING_KEY_FILE"]
    cert_path = settings.GLASSBOX["REPORT_SIGNING_CERT_FILE"]
    if not key_path or not cert_path:
        raise ReportSigningUnavailable(
            "Reports cannot be signed: set GLASSBOX_REPORT_SIGNING_KEY_FILE and GLASSBOX_REPORT_SIGNING_CERT_FILE "
            "(see docs/operations.md, 'Report-signing certificate')."
        )
    password = settings.GLASSBOX["REPORT_SIGNING_KEY_PASSWORD"]
    try:
        key = serialization.load_pem_private_key(_read(key_path, "key"), password.encode() if password else None)
    except (ValueError, TypeError):
        raise ReportSigningUnavailable(
            f"Reports cannot be signed: {key_path} does not hold a PEM private key that opens with the configured "
            "password (GLASSBOX_REPORT_SIGNING_KEY_PASSWORD)."
        ) from None
    try:
        certificates = x509.load_pem_x509_certificates(_read(cert_path, "certificate"))
    except ValueError:
        raise ReportSigningUnavailable(
            f"Reports cannot be signed: {cert_path} does not hold a PEM certificate."
        ) from None
    if not isinstance(key, SIGNING_KEYS):
        raise ReportSigningUnavailable(f"Reports cannot be signed: {key_path} holds a key that cannot sign.")
    certificate = certificates[0]
    if certificate.public_key() != key.public_key():
        raise ReportSigningUnavailable(
            f"Reports cannot be signed: the certificate in {cert_path} is not the certificate of the key in {key_path}."
        )
    for name in (certificate.subject, certificate.issuer):
        if unmatchable(name):
            raise ReportSigningUnavailable(
                f"Reports cannot be signed: the certificate in {cert_path} names {name.rfc4514_string()!r}, which "
                f"signature validators cannot match ({unmatchable(name)})."
            )
    return ReportSigner(key, certificate, tuple(certificates[1:]), settings.GLASSBOX["REPORT_TSA_URL"])


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ReportSigningUnavailable(
            f"Reports cannot be signed: the signing {what} file {path} cannot be read ({error.strerror})."
        ) from None


def sign_pdf(pdf: bytes, signer: ReportSigner | None = None) -> bytes:
    """``pdf`` with a PAdES signature by ``signer`` (the configured one when None) appended as a new revision."""
    signer = signer or report_signer()
    cms_signer = signers.SimpleSigner(
        signing_cert=_asn1(signer.certificate),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            signer.key.private_bytes(
                serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in signer.chain]),
    )
    metadata = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
        reason="Glassbox audit report, exported with its ledgered evidence bundle embedded",
        certify=True,  # a certification signature: readers flag any later change, not only a broken digest
        docmdp_permissions=fields.MDPPerm.NO_CHANGES,
    )
    timestamper = RequestsHTTPTimeStamper(signer.tsa_url, timeout=TSA_TIMEOUT_SECONDS) if signer.tsa_url else None
    pdf_signer = signers.PdfSigner(
        metadata,
        signer=cms_signer,
        timestamper=timestamper,
        # No box: an invisible widget, with the print flag PDF/A requires of every annotation.
        new_field_spec=fields.SigFieldSpec(FIELD_NAME),
    )
    out = io.BytesIO()
    try:
        pdf_signer.sign_pdf(_MetadataKept(io.BytesIO(pdf)), output=out)
    except TimestampRequestError as error:
        raise ReportSigningFailed(
            f"The report was not signed: the timestamp authority at {signer.tsa_url} did not answer ({error})."
        ) from None
    return out.getvalue()


class _MetadataKept(IncrementalPdfFileWriter):  # type: ignore[misc]  # pyHanko is untyped here
    """pyHanko's writer, leaving the document a PDF/A-3 file as WeasyPrint and ``report_pdf`` wrote it.

    By default pyHanko re-serialises the XMP packet (the AI marking's URI becomes an ``rdf:resource``) and
    names itself as producer in XMP and /Info differently, which breaks PDF/A's rule that the two agree. And
    for an ECDSA or EdDSA key it declares the document PDF 2.0 (catalog /Version), while PDF/A-3 is PDF 1.7:
    the ISO 32002 extension it also registers is how a 1.7 file says it uses those algorithms.
    """

    def _update_meta(self) -> None:
        return

    def ensure_output_version(self, version: tuple[int, int]) -> None:
        super().ensure_output_version(min(version, PDFA3_VERSION))


def _asn1(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
