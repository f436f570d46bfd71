"""Security headers on every response: a strict Content-Security-Policy and no DNS prefetching.

The policy is one fixed string because the pages need nothing else: scripts, styles and images come from
this server's static files only, and no template holds inline script, inline style or event attributes
(htmx's own indicator style is switched off in base.html). A fixed header needs no nonces and no library;
Django 6 brings a built-in equivalent (``SECURE_CSP``) that can replace this middleware on upgrade.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "font-src 'self'",
        "connect-src 'self'",
        "media-src 'none'",
        "object-src 'none'",
        "frame-src 'none'",
        "worker-src 'none'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


# The API's own HTML pages (Swagger UI, Redoc, DRF's browsable API) are third-party front ends that set
# styles from script and Redoc renders in a blob: worker. They get inline *styles*, data: images and blob:
# workers; scripts stay 'self' only, so injected markup still cannot run.
API_PAGES_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    .replace("img-src 'self'", "img-src 'self' data:")
    .replace("worker-src 'none'", "worker-src blob:")
)


class SecurityHeadersMiddleware:
    """Adds the policy to every response, static files and error pages included (list it before WhiteNoise)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        api_page = request.path.startswith("/api/") and response.get("Content-Type", "").startswith("text/html")
        response.headers["Content-Security-Policy"] = API_PAGES_POLICY if api_page else CONTENT_SECURITY_POLICY
        # Browsers resolve host names found in a page ahead of time, which alone can leak data to a DNS server.
        response.headers["X-DNS-Prefetch-Control"] = "off"
        return response
