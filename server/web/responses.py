"""Small response helpers: pages vs htmx fragments, redirects that work with and without htmx,
and friendly error pages."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import MediaType, Request, Response
from litestar.connection.base import empty_receive, empty_send
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import Receive, Scope, Send
from litestar_htmx import ClientRedirect, HTMXDetails, HTMXRequest, HTMXTemplate, HXLocation
from litestar_htmx.types import ReSwapMethod

from server.i18n import current_locale, pick_locale
from server.i18n import lazy_gettext as _l
from server.web.logging import get_logger

log = get_logger("errors")


class SteadyRequest(HTMXRequest):
    """litestar-htmx's request (`request.htmx` reads the HX-* headers), without its reference cycle: HTMXRequest
    keeps its HTMXDetails, which keeps the request. The cycle held every request's scope (its user, its database
    session, every send wrapper) until a full garbage collection, which under load walked ~40,000 such objects and
    stopped every request in flight for 10-40 ms. Here the details are made when asked for (a few header reads)."""

    __slots__ = ()

    def __init__(self, scope: Scope, receive: Receive = empty_receive, send: Send = empty_send) -> None:
        Request.__init__(self, scope=scope, receive=receive, send=send)  # not HTMXRequest's: no `htmx` kept

    @property
    def htmx(self) -> HTMXDetails:  # type: ignore[override]  # a slot there, read-only here: nothing sets it
        return HTMXDetails(self)


def is_htmx(request: Request) -> bool:
    """An htmx swap (not a history restore, which wants the whole page). The app's requests are `SteadyRequest`s
    (app.py sets `request_class`), whose `htmx` details read the HX-* headers."""
    details = HTMXDetails(request)
    return bool(details) and not details.history_restore_request


def render(
    request: Request,
    page: str,
    context: dict[str, Any] | None = None,
    *,
    partial: str | None = None,
    status_code: int = 200,
    re_target: str | None = None,
    re_swap: ReSwapMethod | None = None,
) -> Template:
    """A full page, or for htmx requests its fragment (a partial next to the page template), optionally swapped
    into another element than the one that asked (`re_target`, `re_swap`: HX-Retarget/HX-Reswap)."""
    if partial and is_htmx(request):
        return HTMXTemplate(
            template_name=partial, context=context or {}, status_code=status_code, re_target=re_target, re_swap=re_swap,
            media_type=_media_type(partial),
        )  # fmt: skip
    return Template(template_name=page, context=context or {}, status_code=status_code, media_type=_media_type(page))


def _media_type(template_name: str) -> MediaType | None:
    """HTML for an .html template, said outright: left unset, Litestar guesses it from the name (`mimetypes`, a
    path split) at every response."""
    return MediaType.HTML if template_name.endswith(".html") else None


def form_page(
    request: Request,
    page: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    partial: str | None = None,
    **extra: Any,
) -> Template:
    """A page that holds forms, the one shape of GET and of a failed POST: `values` and `errors` empty and the
    `?notice=` left by the redirect after a success, unless `context` sets them; a 422 re-render passes the
    typed `values` and the `errors` in `extra` (which wins over both)."""
    full = {"values": {}, "errors": {}, "notice": request.query_params.get("notice", ""), **context, **extra}
    return render(request, page, full, partial=partial, status_code=status_code)


def download(content: bytes, media_type: str, filename: str) -> Response[bytes]:
    """A file to save (an export of someone's own or shared data): never cached, never sniffed as another type."""
    return Response(
        content=content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def url(request: Request, name: str, suffix: str = "", /, **path_params: Any) -> str:
    """The path of the route handler named `name` (every handler has `name="domain:handler"`), then `suffix` (a
    query string and/or fragment). Pages and redirects refer to routes by name, never by a literal path."""
    return request.app.route_reverse(name, **path_params) + suffix


def redirect_to(request: Request, name: str, suffix: str = "", /, **path_params: Any) -> Response[Any]:
    """`redirect` to the route named `name` (see `url`)."""
    return redirect(request, url(request, name, suffix, **path_params))


def redirect(request: Request, to: str) -> Response[Any]:
    """POST-redirect-GET for plain forms; htmx follows HX-Location without a full reload."""
    if is_htmx(request):
        return HXLocation(redirect_to=to, status_code=200)
    return Redirect(path=to, status_code=HTTP_303_SEE_OTHER)


def _error_page(request: Request, status: int, title: object, message: object) -> Response[Any]:
    """`title` and `message` are lazy strings, translated here once the language is known."""
    if "user" not in request.scope:
        # No route matched (404/405), so the app's middleware never ran: answer in the browser's language.
        current_locale.set(pick_locale(request.headers.get("accept-language")))
    return Template(
        template_name="errors/error.html",
        context={"status": status, "title": str(title), "message": str(message)},
        status_code=status,
    )


def not_authorized_handler(request: Request, _exc: NotAuthorizedException) -> Response[Any]:
    target = "/login?next=" + quote(request.url.path, safe="/")
    if is_htmx(request):
        response = ClientRedirect(redirect_to=target)
        response.status_code = 401  # htmx follows HX-Redirect whatever the status; other clients see "sign in"
        return response
    return Redirect(path=target, status_code=HTTP_303_SEE_OTHER)


def permission_denied_handler(request: Request, exc: PermissionDeniedException) -> Response[Any]:
    detail = str(exc.detail or "")
    if "csrf" in detail.lower():
        message = _l("This form expired. Please go back, reload the page and try again. Nothing was saved.")
    else:
        message = _l("This page isn't part of your account.")
    return _error_page(request, 403, _l("Not available"), message)


def not_found_handler(request: Request, _exc: NotFoundException) -> Response[Any]:
    return _error_page(request, 404, _l("Not found"), _l("We couldn't find that page."))


def http_exception_handler(request: Request, exc: HTTPException) -> Response[Any]:
    if exc.status_code >= 500:
        return internal_error_handler(request, exc)
    return _error_page(request, exc.status_code, _l("Something is off"), _l("We couldn't handle that request."))


def internal_error_handler(request: Request, exc: Exception) -> Response[Any]:
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return _error_page(
        request,
        HTTP_500_INTERNAL_SERVER_ERROR,
        _l("Something went wrong"),
        _l("Something went wrong on our side. What you entered on your phone is still there; please try again."),
    )


exception_handlers: dict[Any, Any] = {
    NotAuthorizedException: not_authorized_handler,
    PermissionDeniedException: permission_denied_handler,
    NotFoundException: not_found_handler,
    HTTPException: http_exception_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}
