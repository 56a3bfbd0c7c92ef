"""Per-request context (request id, language), security headers and an access log line."""

from __future__ import annotations

import itertools
import re
import secrets
import time
from typing import cast

from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, BeforeMessageSendHookHandler, HTTPResponseStartEvent, Message, Receive, Scope, Send

from server.i18n import current_locale, pick_locale
from server.settings import Settings
from server.web.edge import check_edge
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


# Set in a routed request's scope by `RequestMiddleware`, which adds the headers itself (after this hook ran).
_HEADERS_BY_MIDDLEWARE = "steady.headers_by_middleware"


def security_headers_hook(settings: Settings) -> BeforeMessageSendHookHandler:
    """The same headers on answers that no route handled (404, 405): Litestar runs middleware only for routes."""
    headers = security_headers(settings)

    async def add_missing(message: Message, scope: Scope) -> None:
        # On a routed request they would be found already present by `RequestMiddleware._add_headers`, sending it
        # down its slow path (replace each one) on every page.
        if message["type"] == "http.response.start" and _HEADERS_BY_MIDDLEWARE not in scope:
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


class RequestMiddleware:
    """Every HTTP request, before any route: the edge checks (`server/web/edge.py`), the request id and language,
    the security and cache headers on the answer, and one access log line.

    A plain ASGI middleware (one call per request, no Litestar `ASGIMiddleware` wrapper): this runs on every
    request, so the headers are appended as raw pairs when the answer does not set them itself (it rarely does)
    rather than through `MutableScopeHeaders`, which scans every header for each one it sets."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = security_headers(settings)
        self.raw_headers = [(name.lower().encode("latin-1"), value.encode()) for name, value in self.headers.items()]
        self.names = frozenset(name for name, _ in self.raw_headers) | {b"x-request-id"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        cast("dict[str, object]", scope)[_HEADERS_BY_MIDDLEWARE] = True
        offered = accept_language = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                offered = value
            elif name == b"accept-language":
                accept_language = value
        offered_id = offered.decode("latin-1")
        request_id = offered_id if _REQUEST_ID.match(offered_id) else f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"
        request_id_var.set(request_id)
        current_locale.set(pick_locale(accept_language.decode("latin-1")))
        path: str = scope["path"]
        is_static = path.startswith("/static/")
        started = time.perf_counter()
        status = 0

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self._add_headers(cast("HTTPResponseStartEvent", message), request_id, is_static)
            await send(message)

        try:
            check_edge(scope)
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            # Refused before any answer was sent (an edge check, a CSRF mismatch, a guard): the app's exception
            # handler answers outside this middleware, so log the status it will send rather than 0.
            status = getattr(exc, "status_code", 500)
            raise
        finally:
            if not is_static:
                user = scope.get("user")
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": loggable_path(path),  # no query string: it may carry personal words
                        "status": status,
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                        "role": getattr(user, "role", None),
                    },
                )

    def _add_headers(self, message: HTTPResponseStartEvent, request_id: str, is_static: bool) -> None:
        headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
        present = {name.lower() for name, _ in headers}
        if present.isdisjoint(self.names):
            headers.extend(self.raw_headers)
            headers.append((b"x-request-id", request_id.encode("latin-1")))
        else:  # the answer set one of them itself: ours replace it, as always
            message["headers"] = headers
            mutable = MutableScopeHeaders.from_message(cast("Message", message))
            for name, value in self.headers.items():
                mutable[name] = value
            mutable["X-Request-ID"] = request_id
            headers = mutable.headers
        if not is_static:
            # Pages may hold health data: keep them out of every cache, and tell caches that a URL may answer
            # with a full page or an htmx fragment.
            if b"cache-control" not in present:
                headers.append((b"cache-control", b"no-store"))
            headers.append((b"vary", b"HX-Request"))
        message["headers"] = headers
