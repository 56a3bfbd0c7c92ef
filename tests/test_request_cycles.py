"""A request leaves no reference cycle behind (`server/web/responses.py`'s `SteadyRequest`): what it refers to (its
scope: the user, the database session, every send wrapper) is freed when the request ends, not at the next full
garbage collection, which under load walked tens of thousands of such objects with every request in flight
waiting (docs/performance.md, "Ninth pass")."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from jinja2.runtime import Context, Macro
from litestar.testing import TestClient
from litestar_htmx import HTMXRequest
from sqlalchemy.sql.elements import BindParameter

from server.demo import DEMO_PASSWORD
from server.settings import Settings
from server.web.responses import SteadyRequest, is_htmx
from tests.conftest import Database, login
from tests.support.demo_snapshot import load_demo_snapshot
from tests.test_statement_budget import PAGES


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


# Every file of macros the pages import: each reads nothing but its arguments and the globals (`csrf()`, `url_for`).
MACRO_FILES = ("_macros.html", "checkins/_macros.html", "skills/_macros.html")


def test_the_macros_need_no_context_and_are_imported_without_it() -> None:
    """Imported `with context`, a macro file becomes a new module on every render, a reference cycle that holds a
    copy of the page's variables until the collector comes (Check-in, Log and Skills left 135-246 objects per
    request). The macro files read nothing but their arguments and the globals (`csrf()` is a global; `url_for`
    links within the app that built the environment, without the request), so every page imports them without
    context: Jinja builds each once per language."""
    import re

    from jinja2 import meta

    from server.web.templating import TEMPLATES_DIR, template_config

    env = template_config().engine_instance.engine  # type: ignore[union-attr]
    assert "url_for" in env.globals
    pages = [(p, p.read_text()) for p in TEMPLATES_DIR.rglob("*.html")]
    for name in MACRO_FILES:
        source = env.loader.get_source(env, name)[0]
        # A `set` inside a branch is listed by Jinja's meta as well (it looks the name up when the branch is not
        # taken); these files only read such names in the branch that sets them.
        assigned = set(re.findall(r"\{%-?\s*set (\w+)", source))
        assert meta.find_undeclared_variables(env.parse(source)) - assigned <= set(env.globals), name
        importers = [(path, text) for path, text in pages if f'"{name}" import' in text]
        assert importers, name
        with_context = re.compile(r'\{%-? from "' + re.escape(name) + r'" import [^%]* with context')
        assert [str(path) for path, text in importers if with_context.search(text)] == [], name
    assert len([path for path, text in pages if '"_macros.html" import' in text]) > 30  # the forms' pages


@pytest.fixture
def sam(client: TestClient, db: Database, settings: Settings) -> Iterator[TestClient]:
    load_demo_snapshot(db, settings)
    login(client, "sam@demo.steady", DEMO_PASSWORD)
    yield client


# The pages, and two more that each built an `in_()` per request (its parameter was left in a cycle).
CHECKED_PAGES = {**PAGES, "questionnaires": "/questionnaires", "family circle": "/family-circle"}


def _left_in_cycles(client: TestClient, path: str) -> set[str]:
    """The kinds of object (of those a page view builds) that one view of `path` leaves in reference cycles."""
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)  # what the collector finds is kept in gc.garbage, to look at
    gc.disable()
    try:
        assert client.get(path).status_code == 200
        gc.collect()
        kinds = (Context, Macro, SteadyRequest, BindParameter)
        return {type(o).__name__ for o in gc.garbage if isinstance(o, kinds)}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


@pytest.mark.parametrize("page", list(CHECKED_PAGES))
def test_a_patient_page_leaves_its_request_and_template_context_to_refcounting(sam: TestClient, page: str) -> None:
    """Over real HTTP, the demo's Sam: nothing a page view builds (its request, a template's context, a macro, a
    statement's parameter) is left in a reference cycle for the collector. A macro a page template defines for
    itself, or a macro file imported `with context`, would leave the render's context with the page's data in it.
    What every view leaves is what counts, so three views are looked at one by one: something built once (a cache
    filled afresh) may leave a cycle one time. In a serial run of the whole suite, Today once left a statement's
    parameter on one view and nothing on the next; /questionnaires and /family-circle left theirs on every view."""
    path = CHECKED_PAGES[page]
    assert sam.get(path).status_code == 200  # warm-up: what is built once per process
    left = _left_in_cycles(sam, path) & _left_in_cycles(sam, path) & _left_in_cycles(sam, path)
    assert left == set(), path


@pytest.mark.dialect_sensitive
@pytest.mark.parametrize("page", ["dashboard", "patient"])
def test_a_therapist_page_leaves_nothing_to_the_collector_either(
    client: TestClient, db: Database, settings: Settings, page: str
) -> None:
    """The demo's Dr. Rivera: the dashboard and a sharing patient's page, on both databases. The week summary, the
    schedule's program reads and the questionnaires panel each built an IN (or PostgreSQL's array) per request,
    whose parameter was left in a cycle: about a hundred objects per view of a patient's page, before they were
    built once."""
    load_demo_snapshot(db, settings)
    login(client, "therapist@demo.steady", DEMO_PASSWORD)
    sam_id = db.scalar("SELECT id FROM user_account WHERE email = 'sam@demo.steady'")
    path = {"dashboard": "/therapist", "patient": f"/therapist/patients/{sam_id}"}[page]
    assert client.get(path).status_code == 200  # warm-up
    left = _left_in_cycles(client, path) & _left_in_cycles(client, path) & _left_in_cycles(client, path)
    assert left == set(), path
