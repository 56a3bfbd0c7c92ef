"""The Jinja environment: i18n extension, autoescaping and a few globals every page uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, TemplateNotFound, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from server.i18n import current_locale, gettext, lazy_gettext, ngettext
from server.web.static import static_url

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"

ROLE_LABELS = {
    "admin": lazy_gettext("Clinic admin"),
    "therapist": lazy_gettext("Therapist"),
    "patient": lazy_gettext("Patient"),
    "family": lazy_gettext("Family member"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def role_options(roles: list[str]) -> list[tuple[str, str]]:
    return [(role, role_label(role)) for role in roles]


def timezone_options(zones: list[str]) -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in zones]


class KnownTemplatesLoader(BaseLoader):
    """Templates from the templates folder, remembering which names are missing.

    Pages include other domains' panels with `{% include ... ignore missing %}`; Jinja caches templates it found
    but asks the file system again for a missing one on every render. Templates don't change while the server runs
    (`auto_reload=False`), so neither does their absence."""

    def __init__(self, directory: Path) -> None:
        self.files = FileSystemLoader(directory)
        self.missing: set[str] = set()

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template in self.missing:
            raise TemplateNotFound(template)
        try:
            return self.files.get_source(environment, template)
        except TemplateNotFound:
            self.missing.add(template)
            raise

    def list_templates(self) -> list[str]:
        return self.files.list_templates()


def zone_place(zone: str) -> str:
    """A zone's place in words: 'America/Argentina/Buenos_Aires' → 'Buenos Aires' (static/js/timezone.js does
    the same in the browser)."""
    return zone.rsplit("/", 1)[-1].replace("_", " ")


def zone_words(zone: str) -> str:
    """The chosen zone confirmed in words under the picker."""
    if not zone:
        return ""
    if zone == "UTC":
        return gettext("Times will show in UTC.")
    return gettext("Times will show in %(place)s time.") % {"place": zone_place(zone)}


def build_environment(extra_globals: dict[str, Any] | None = None) -> Environment:
    env = Environment(
        loader=KnownTemplatesLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "svg", "xml"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    env.filters.update(role_label=role_label, role_options=role_options, zip_tz=timezone_options, zone_words=zone_words)
    env.globals["static_url"] = static_url
    env.globals["current_locale"] = current_locale.get
    env.globals.update(extra_globals or {})
    return env


def template_config(extra_globals: dict[str, Any] | None = None) -> TemplateConfig[JinjaTemplateEngine]:
    env = build_environment(extra_globals)
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))
