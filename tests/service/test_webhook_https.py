"""Webhooks over HTTPS, as case systems receive them: the sender connects to the address the guard checked, and
still verifies the receiver's certificate against the URL's host name and the trust store (an operator adds an
internal CA with SSL_CERT_FILE, docs/configuration.md). A certificate for another name, or from an authority
nobody trusts, is a failed attempt with the reason, and nothing is sent."""

from __future__ import annotations

import datetime
import re
import ssl
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from audit_app.models import ApiKey, WebhookDelivery
from audit_app.services.webhooks import set_webhook
from tests.factories import FinishedJobFactory
from tests.service.test_webhooks import eager, key  # noqa: F401  (fixtures)
from tests.service.webhook_receiver import receiver, standard_webhooks_valid

pytestmark = [pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored"), pytest.mark.django_db]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str, issuer: str, public_key: ec.EllipticCurvePublicKey, signer: ec.EllipticCurvePrivateKey, ca: bool
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def tls_receiver_context(folder: Path, server_name: str) -> tuple[ssl.SSLContext, Path]:
    """A server context whose certificate names ``server_name``, issued by a fresh CA; and that CA's PEM file."""
    ca_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("Glassbox test CA", "Glassbox test CA", ca_key.public_key(), ca_key, ca=True)
    leaf = _certificate(server_name, "Glassbox test CA", leaf_key.public_key(), ca_key, ca=False)
    (folder / "ca.pem").write_bytes(_pem(ca))
    (folder / "server.pem").write_bytes(_pem(leaf) + _pem(ca))
    (folder / "server.key").write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return context, folder / "ca.pem"


@pytest.fixture
def localhost_allowed(eager: None, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setitem(settings.GLASSBOX, "WEBHOOK_ALLOW", ["localhost"])


def _deliver_one(key: ApiKey, url: str, capture: Any) -> tuple[str, WebhookDelivery]:  # noqa: F811  (not the fixture)
    secret = set_webhook(key, url, "test setup").secret
    with capture(execute=True):
        job = FinishedJobFactory(submitter=key.user)
    return secret, WebhookDelivery.objects.get(job=job)


def test_an_https_receiver_whose_certificate_names_the_host_gets_the_signed_event(
    localhost_allowed: None,
    key: ApiKey,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    context, ca = tls_receiver_context(tmp_path, "localhost")
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # the operator's way to trust an internal CA
    with receiver(200, tls=context) as hook:
        secret, delivery = _deliver_one(key, hook.url, django_capture_on_commit_callbacks)
    assert hook.url.startswith("https://localhost:")
    [request] = hook.requests
    assert standard_webhooks_valid(secret, request.headers, request.body)
    assert delivery.status == WebhookDelivery.DELIVERED
    assert [(a.status_code, a.error) for a in delivery.attempts.all()] == [(200, "")]


@pytest.mark.parametrize(
    ("name_on_certificate", "ca_trusted", "reason"),
    [
        ("case-system.example", True, "Hostname mismatch"),
        # The receiver sends its chain up to its CA, so an untrusted CA shows as a self-signed certificate in it.
        ("localhost", False, "self.signed certificate in certificate chain"),
    ],
)
def test_a_certificate_for_another_name_or_from_an_untrusted_authority_is_a_failed_attempt_with_the_reason(
    name_on_certificate: str,
    ca_trusted: bool,
    reason: str,
    localhost_allowed: None,
    key: ApiKey,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    context, ca = tls_receiver_context(tmp_path, name_on_certificate)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca if ca_trusted else tmp_path / "no-such-bundle.pem"))
    with receiver(200, tls=context) as hook:
        _, delivery = _deliver_one(key, hook.url, django_capture_on_commit_callbacks)
    assert hook.requests == []
    assert delivery.status == WebhookDelivery.FAILED
    [attempt] = delivery.attempts.all()
    assert attempt.status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in attempt.error
    assert re.search(reason, attempt.error), attempt.error
