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


def test_the_form_macros_need_no_context_and_are_imported_without_it() -> None:
    """Imported `with context`, a macro file becomes a new module on every render, a reference cycle that holds a
    copy of the page's variables until the collector comes. `_macros.html` reads nothing but its arguments and the
    globals (`csrf()` is a global), so every page imports it without context: Jinja builds it once per language."""
    import re

    from jinja2 import meta

    from server.web.templating import TEMPLATES_DIR, build_environment

    env = build_environment()
    source = env.loader.get_source(env, "_macros.html")[0]  # type: ignore[union-attr]
    assert meta.find_undeclared_variables(env.parse(source)) <= set(env.globals)
    with_context = re.compile(r'\{%-? from "_macros\.html" import [^%]* with context')
    importers = [p for p in TEMPLATES_DIR.rglob("*.html") if '"_macros.html" import' in p.read_text()]
    assert len(importers) > 30  # the forms' pages, checked below
    assert [str(p) for p in importers if with_context.search(p.read_text())] == []
