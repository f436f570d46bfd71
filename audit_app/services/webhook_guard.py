"""Where a webhook may go (SSRF guard): checked when a URL is set and again, after resolving it, at each send.

A URL is refused when it is not http or https, carries a user name or password, holds whitespace or control
characters (no header or request-line injection), or names a host that resolves to any loopback, link-local,
private, unique-local, shared, multicast, reserved or unspecified address, IPv4 or IPv6, an IPv4 address
wrapped in IPv6 (``::ffff:127.0.0.1``, 6to4) included. The operator may allow-list hosts or networks
(``GLASSBOX_WEBHOOK_ALLOW``). The sender connects to the very addresses checked here, so a name that
resolves differently a moment later (DNS rebinding) cannot slip through.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2000
UNSAFE = re.compile(r"[\x00-\x20\x7f-\x9f]")  # controls, whitespace (CR and LF too) and C1 controls


class UrlRefused(Exception):
    """The URL may not be used; the message says why in one sentence."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, without IPv6 brackets
    port: int
    path: str  # path and query, as sent in the request line
    addresses: tuple[str, ...]  # resolved and allowed, in the resolver's order


def check_syntax(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of an http(s) URL fit for a request line, or UrlRefused."""
    if not url:
        raise UrlRefused("Give the webhook URL, starting with https:// (or http://).")
    if len(url) > MAX_URL_LENGTH:
        raise UrlRefused(f"The webhook URL holds more than {MAX_URL_LENGTH} characters; shorten it.")
    if UNSAFE.search(url):
        raise UrlRefused("The webhook URL holds whitespace or control characters (such as a line break); remove them.")
    if not url.isascii():
        raise UrlRefused("The webhook URL holds non-ASCII characters; percent-encode them (and use the IDNA host).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UrlRefused(f"The webhook URL cannot be read ({error}).") from None
    if parts.scheme not in ("http", "https"):
        raise UrlRefused(f"A webhook URL must start with https:// or http://, not {parts.scheme or 'nothing'}:.")
    if "@" in parts.netloc:
        raise UrlRefused("The webhook URL carries a user name or password; put no credentials in it.")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlRefused("The webhook URL names no host.")
    if parts.fragment:
        raise UrlRefused("The webhook URL has a #fragment, which is never sent; remove it.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str) -> Target:
    """The URL's target with every address its host resolves to now, or UrlRefused if any is not allowed."""
    scheme, host, port, path = check_syntax(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise UrlRefused(f"The webhook host {host} cannot be resolved ({error}).") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UrlRefused(f"The webhook host {host} resolves to no address.")
    allowed_host = host in allowed_hosts()
    for address in addresses:
        why = refusal(ipaddress.ip_address(address.split("%", 1)[0]))
        if why and not allowed_host and not in_allowed_network(address):
            shown = host if host == address else f"{host} resolves to {address}, which"
            raise UrlRefused(
                f"The webhook URL is refused: {shown} is {why}. Webhooks go only to public addresses "
                "unless an operator allow-lists the host or network (GLASSBOX_WEBHOOK_ALLOW)."
            )
    return Target(scheme, host, port, path, tuple(addresses))


def refusal(address: IPAddress) -> str:
    """Why ``address`` is no public destination ("a loopback address", …), or "" if it is one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _teredo_client(address)
        if embedded is not None:
            inner = refusal(embedded)
            return f"{inner} (IPv4 inside IPv6)" if inner else ""
    checks = (
        ("is_unspecified", "an unspecified"),
        ("is_loopback", "a loopback"),
        ("is_link_local", "a link-local"),
        ("is_multicast", "a multicast"),
        ("is_reserved", "a reserved"),
        ("is_site_local", "a site-local"),
        ("is_private", "a private"),
    )
    for attribute, name in checks:
        if getattr(address, attribute, False):
            if name == "a private" and isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
                return "a unique-local address"
            return f"{name} address"
    if not address.is_global:
        return "a non-public (shared or special-purpose) address"
    return ""


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


def _teredo_client(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    teredo = address.teredo
    return teredo[1] if teredo else None


def allowed_hosts() -> set[str]:
    return {item.lower().strip("[]") for item in settings.GLASSBOX["WEBHOOK_ALLOW"] if not _is_network(item)}


def in_allowed_network(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        candidates.append(ip.ipv4_mapped)
    networks = [
        ipaddress.ip_network(item, strict=False) for item in settings.GLASSBOX["WEBHOOK_ALLOW"] if _is_network(item)
    ]
    return any(
        candidate in network for candidate in candidates for network in networks if candidate.version == network.version
    )


def _is_network(item: str) -> bool:
    try:
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        return False
    return True
