"""Per-request context (request id, language), security headers and an access log line."""

from __future__ import annotations

import itertools
import re
import secrets
import time

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, BeforeMessageSendHookHandler, Message, Receive, Scope, Send

from server.i18n import current_locale, pick_locale
from server.settings import Settings
from server.web.logging import get_logger, request_id_var

log = get_logger("http")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Paths that carry a secret (calendar feed addresses) are logged without it.
_SECRET_PATHS = re.compile(r"^/calendar/[^/]+")
# Request ids only tell log lines apart: a random prefix per process and a counter, no system call per request.
_ID_PREFIX = secrets.token_hex(4)
_ID_COUNTER = itertools.count(1)


def loggable_path(path: str) -> str:
    return _SECRET_PATHS.sub("/calendar/[secret]", path)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "form-action 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


def security_headers_hook(settings: Settings) -> BeforeMessageSendHookHandler:
    """The same headers on answers that no route handled (404, 405): Litestar runs middleware only for routes."""
    headers = security_headers(settings)

    async def add_missing(message: Message, scope: Scope) -> None:
        if message["type"] == "http.response.start":
            present = MutableScopeHeaders.from_message(message)
            for name, value in headers.items():
                if present.get(name) is None:
                    present[name] = value

    return add_missing


def security_headers(settings: Settings) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if settings.https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return headers


class RequestContextMiddleware(ASGIMiddleware):
    scopes = (ScopeType.HTTP,)

    def __init__(self, settings: Settings) -> None:
        self.headers = security_headers(settings)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        incoming = dict(scope["headers"])
        offered = incoming.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _REQUEST_ID.match(offered) else f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"
        request_id_var.set(request_id)
        current_locale.set(pick_locale(incoming.get(b"accept-language", b"").decode("latin-1")))
        path: str = scope["path"]
        is_static = path.startswith("/static/")
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                for name, value in self.headers.items():
                    headers[name] = value
                headers["X-Request-ID"] = request_id
                if not is_static:
                    # Pages may hold health data: keep them out of every cache, and tell caches
                    # that a URL may answer with a full page or an htmx fragment.
                    if "cache-control" not in headers:
                        headers["Cache-Control"] = "no-store"
                    headers.add("Vary", "HX-Request")
            await send(message)

        try:
            await next_app(scope, receive, send_with_headers)
        except Exception as exc:
            # Refused before any answer was sent (a CSRF mismatch, a guard): the app's exception handler answers
            # outside this middleware, so log the status it will send rather than 0.
            status_holder["status"] = getattr(exc, "status_code", 500)
            raise
        finally:
            if not is_static:
                user = scope.get("user")
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": loggable_path(path),  # no query string: it may carry personal words
                        "status": status_holder["status"],
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "role": getattr(user, "role", None),
                    },
                )
