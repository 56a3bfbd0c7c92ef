"""A request leaves no reference cycle behind (`server/web/responses.py`'s `SteadyRequest`): what it refers to (its
scope: the user, the database session, every send wrapper) is freed when the request ends, not at the next full
garbage collection, which under load walked tens of thousands of such objects with every request in flight
waiting (docs/performance.md, "Ninth pass")."""

from __future__ import annotations

import gc
import weakref

from litestar_htmx import HTMXRequest

from server.web.responses import SteadyRequest, is_htmx


class _InTheScope:
    """Something a request's scope holds (as it holds the user), to see when the scope is freed."""


def _scope_freed_with_the_request(request_class: type[HTMXRequest]) -> bool:
    held = _InTheScope()
    scope = {"type": "http", "method": "GET", "path": "/today", "headers": [(b"hx-request", b"true")], "state": {},
             "user": held}  # fmt: skip
    freed = weakref.ref(held)
    gc.disable()  # only reference counting frees anything meanwhile
    try:
        request = request_class(scope)  # type: ignore[arg-type]
        assert request.htmx and is_htmx(request)
        del request, scope, held
        return freed() is None
    finally:
        gc.enable()


def test_a_request_is_freed_as_it_ends() -> None:
    assert _scope_freed_with_the_request(SteadyRequest)


def test_litestar_htmxs_own_request_would_wait_for_the_collector() -> None:
    """What the subclass is for (and that the measure above can fail)."""
    assert not _scope_freed_with_the_request(HTMXRequest)
