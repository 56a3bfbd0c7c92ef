"""Pages and redirects refer to routes by name (url_for in templates, redirect_to()/url() in Python). A renamed or
removed handler would only fail when someone opens the page that names it, so check every name here."""

from __future__ import annotations

import re
from pathlib import Path

from litestar.testing import TestClient

ROOT = Path(__file__).resolve().parent.parent / "server"
IN_TEMPLATES = re.compile(r"url_for\(\s*'([\w:]+)'")
IN_TEMPLATES_CHOICE = re.compile(r"url_for\(\s*'([\w:]+)'\s+if\s+[^']+\s+else\s+'([\w:]+)'")
IN_NAV = re.compile(r"\(\"([a-z_]+:[a-z_]+)\", _\(")  # partials/bottom_nav.html: (route, label, icon)
IN_PYTHON = re.compile(r"\b(?:redirect_to|url)\(\s*request,\s*\"([\w:]+)\"")
ROLE_HOME = re.compile(r"Role\.\w+: \"([a-z_]+:[a-z_]+)\"")


def _named() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.html"):
        text = path.read_text()
        choices = [n for pair in IN_TEMPLATES_CHOICE.findall(text) for n in pair]
        for name in IN_TEMPLATES.findall(text) + choices + IN_NAV.findall(text):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    for path in ROOT.rglob("*.py"):
        text = path.read_text()
        for name in IN_PYTHON.findall(text) + ROLE_HOME.findall(text):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_route_name_used_in_templates_and_redirects_exists(client: TestClient) -> None:
    named = _named()
    assert len(named) > 50  # the scan sees the app's names, not nothing
    app = client.app
    missing = {name: sorted(where) for name, where in named.items() if app.get_handler_index_by_name(name) is None}
    assert not missing, missing


def test_route_names_follow_domain_colon_handler(client: TestClient) -> None:
    names = [
        handler.name
        for route in client.app.routes
        for handler in getattr(route, "route_handlers", [])
        if handler.fn.__module__.startswith("server.") and handler.name
    ]
    assert names and all(re.fullmatch(r"[a-z_]+:[a-z_]+", name) for name in names), names
