"""The webhook SSRF guard: URLs refused for each address class and each unsafe shape, allow-listed ones accepted.

Only IP literals and ``localhost`` are used, so the tests need no DNS beyond the machine's hosts file.
"""

from __future__ import annotations

from typing import Any

import pytest

from audit_app.services.webhook_guard import UrlRefused, resolve

REFUSED_ADDRESSES = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://localhost:8080/hook", "localhost resolves to"),  # a name that resolves to loopback
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback address (IPv4 inside IPv6)"),
    ("http://[::ffff:10.0.0.5]/hook", "private address (IPv4 inside IPv6)"),
    ("http://[2002:7f00:1::1]/hook", "loopback address (IPv4 inside IPv6)"),  # 6to4 around 127.0.0.1
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # the cloud metadata service
    ("http://[fe80::1]/hook", "link-local"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://[fd12:3456::1]/hook", "unique-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://100.64.0.1/hook", "non-public"),  # carrier-grade NAT, shared address space
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 written as one number
]


@pytest.fixture
def allow(settings: Any) -> Any:
    def set_allow(*items: str) -> None:
        settings.GLASSBOX = settings.GLASSBOX | {"WEBHOOK_ALLOW": list(items)}

    set_allow()
    return set_allow


@pytest.mark.parametrize(("url", "why"), REFUSED_ADDRESSES)
def test_each_non_public_address_class_is_refused(allow: Any, url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        resolve(url)
    assert why in str(refused.value)
    assert "GLASSBOX_WEBHOOK_ALLOW" in str(refused.value)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://203.0.113.7/hook", "must start with https:// or http://"),
        ("file:///etc/passwd", "must start with https:// or http://"),
        ("javascript:alert(1)", "must start with https:// or http://"),
        ("https://user:pw@93.184.215.14/hook", "user name or password"),
        ("https://93.184.215.14@127.0.0.1/hook", "user name or password"),
        ("https://93.184.215.14/hook\r\nX-Injected: 1", "control characters"),
        ("https://93.184.215.14/hook\nHost: evil", "control characters"),
        ("https://93.184.215.14/ho ok", "whitespace"),
        ("https://93.184.215.14/hook\x00", "control characters"),
        ("https://93.184.215.14/hööк", "non-ASCII"),
        ("https:///hook", "no host"),
        ("https://93.184.215.14:99999/hook", "cannot be read"),
        ("", "Give the webhook URL"),
    ],
)
def test_unsafe_urls_are_refused_with_a_sentence(allow: Any, url: str, why: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        resolve(url)
    assert why in str(refused.value)


def test_a_public_address_is_accepted_and_kept_as_resolved(allow: Any) -> None:
    target = resolve("https://93.184.215.14:8443/hooks/glassbox?tenant=7")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "93.184.215.14",
        8443,
        "/hooks/glassbox?tenant=7",
    )
    assert target.addresses == ("93.184.215.14",)


def test_allow_listed_loopback_networks_and_hosts_are_accepted(allow: Any) -> None:
    allow("127.0.0.0/8")
    assert resolve("http://127.0.0.1:9000/hook").addresses == ("127.0.0.1",)
    assert resolve("http://[::ffff:127.0.0.1]:9000/hook").port == 9000  # the mapped form of an allowed network
    with pytest.raises(UrlRefused, match="private"):
        resolve("http://10.0.0.1/hook")  # the allow-list opens what it names, nothing else
    allow("localhost")
    assert "127.0.0.1" in resolve("http://localhost:9000/hook").addresses
    with pytest.raises(UrlRefused, match="loopback"):
        resolve("http://127.0.0.1:9000/hook")  # the host name was allowed, not the address
