"""The Jinja environment: i18n extension, autoescaping and a few globals every page uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from jinja2 import (
    BaseLoader,
    Environment,
    FileSystemLoader,
    TemplateNotFound,
    meta,
    pass_context,
    pass_eval_context,
    select_autoescape,
)
from jinja2 import (
    Template as JinjaTemplate,
)
from jinja2.bccache import Bucket, BytecodeCache
from jinja2.ext import Extension
from jinja2.lexer import Token
from jinja2.nodes import EvalContext
from litestar.exceptions import TemplateNotFoundException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.routes import HTTPRoute
from litestar.template.base import csrf_token
from litestar.template.config import TemplateConfig
from markupsafe import Markup, escape

from server.i18n import SUPPORTED_LOCALES, current_locale, gettext, lazy_gettext, ngettext, using_locale
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


# Templates only ever call `_()` with literal messages: a few hundred per language, a bound for safety.
MAX_REMEMBERED_MESSAGES = 5000


def template_gettext() -> Callable[..., str]:
    """`_()` (and `gettext()`, `{% trans %}`) in templates: Jinja's newstyle gettext (autoescaped, always
    %-formatted), with each message's translation remembered per language. The catalogues never change while the
    server runs, and a page says `_()` some fifty times, each a chain of three calls through Jinja's context."""
    remembered: dict[tuple[str, str, bool], str] = {}

    @pass_eval_context
    def translate(eval_ctx: EvalContext, message: str, /, **variables: Any) -> str:
        key = (current_locale.get(), message, eval_ctx.autoescape)
        text = remembered.get(key)
        if text is None:
            text = Markup(gettext(message)) if eval_ctx.autoescape else gettext(message)
            if len(remembered) < MAX_REMEMBERED_MESSAGES:
                remembered[key] = text
        # Always a format string, as newstyle gettext has it ("%%" reads as "%"); without a "%" it is itself.
        return formatted(text, variables) if variables or "%" in text else text

    return translate


def template_ngettext() -> Callable[..., str]:
    """`ngettext()` (and `{% trans count=… %}`) in templates: Jinja's newstyle ngettext (the count is `num`,
    autoescaped, %-formatted) through `formatted`."""

    @pass_eval_context
    def plural(eval_ctx: EvalContext, singular: str, plural: str, num: int, /, **variables: Any) -> str:
        variables.setdefault("num", num)
        text = ngettext(singular, plural, num)
        return formatted(Markup(text) if eval_ctx.autoescape else text, variables)

    return plural


def formatted(text: str, variables: dict[str, Any]) -> str:
    """`text % variables`, each value escaped when `text` is markup: what `Markup.__mod__` does, minus its
    per-value wrapper objects, which cost about 10 µs for a message with two numbers (a page formats a dozen).
    Numbers go in as they are (`%(num)d` needs one; their text never needs escaping)."""
    if not isinstance(text, Markup):
        return text % variables
    safe = {name: value if isinstance(value, int | float) else escape(value) for name, value in variables.items()}
    return Markup(str.__mod__(text, safe))


def literal_call(tokens: list[Token], index: int, names: tuple[str, ...]) -> str | None:
    """The argument if `tokens[index:index + 4]` is a call of one of `names` with one literal string
    (`name ( "text" )`, not `x.name(…)`), else None."""
    window = tokens[index : index + 4]
    if len(window) < 4:
        return None
    name, opening, argument, closing = window
    if not (
        name.type == "name" and name.value in names and opening.type == "lparen"
        and argument.type == "string" and closing.type == "rparen"
        and (index == 0 or tokens[index - 1].type != "dot")
    ):  # fmt: skip
        return None
    return str(argument.value)


class StaticUrlsWhenCompiled(Extension):
    """`static_url("css/app.css")` in a template, written as its URL when the template is compiled: the URL only
    changes with the file's content, which is read once per process anyway (`file_digest`), and every page links
    half a dozen files. Jinja then folds the URL into the template's static text."""

    def filter_stream(self, stream: Any) -> Any:
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            relative = literal_call(tokens, index, ("static_url",))
            if relative is None:
                yield tokens[index]
                index += 1
                continue
            yield Token(tokens[index].lineno, "string", static_url(relative))
            index += 4


class RouteUrlsWhenCompiled(Extension):
    """`url_for("route:name")` (a route without parameters) in a template, written as its path when the template
    is compiled, once the app that owns the environment has published its paths (`publish_route_paths`): routes
    don't change once the app is built, and every page links a dozen of them (the bars at the top and bottom).
    Calls with parameters, and any call compiled before the paths were published, stay calls to `url_for`."""

    def filter_stream(self, stream: Any) -> Any:
        paths: dict[str, str] = getattr(self.environment, "route_paths", {})
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            name = literal_call(tokens, index, ("url_for",))
            if name is None or name not in paths:
                yield tokens[index]
                index += 1
                continue
            yield Token(tokens[index].lineno, "string", paths[name])
            index += 4


def publish_route_paths(app: Any) -> None:
    """The paths of `app`'s routes without parameters, by name, for `RouteUrlsWhenCompiled` (the language overlays
    share the dict), and `app` as the one `url_for` links within. Called by `create_app` once the app is built,
    before any template is compiled."""
    environment = app.template_engine.engine
    environment.route_owner[:] = [app]
    paths: dict[str, str] = environment.route_paths
    for route in app.routes:
        if isinstance(route, HTTPRoute) and not route.path_parameters:
            for handler in route.route_handlers:
                if handler.name:
                    paths[handler.name] = str(app.route_reverse(handler.name))


class TranslatedWhenCompiled(Extension):
    """`_("a literal message")` in a template, translated once when the template is compiled, for environments
    that serve one language (`LocalizedTemplateEngine`).

    A page says `_()` a few dozen times with literal messages (checked by `pybabel extract`), each a call through
    Jinja's context at every render. Turned into the translated text (marked safe, as the runtime `_()` returns
    it, and %-formatted once as newstyle gettext does), the message is a constant that Jinja folds into the
    template's static text. Calls with variables (`_("Hi %(name)s", name=…)`) or non-literal messages are left to
    the runtime `_()`; so is every call in an environment without a language of its own."""

    def filter_stream(self, stream: Any) -> Any:
        locale = getattr(self.environment, "translation_locale", None)
        if locale is None:
            yield from stream
            return
        tokens = list(stream)
        index = 0
        while index < len(tokens):
            translated = self._translated(tokens, index, locale)
            if translated is None:
                yield tokens[index]
                index += 1
                continue
            line = tokens[index].lineno
            # `(text|safe)`: the parentheses keep what follows (`.format`, `~`, a filter) applying to the text.
            yield from (Token(line, "lparen", "("), Token(line, "string", translated), Token(line, "pipe", "|"),
                        Token(line, "name", "safe"), Token(line, "rparen", ")"))  # fmt: skip
            index += 4

    @staticmethod
    def _translated(tokens: list[Token], index: int, locale: str) -> str | None:
        """The translation if `tokens[index:index + 4]` is `_ ( "message" )` (not `x._(…)`), else None."""
        message = literal_call(tokens, index, ("_", "gettext"))
        if message is None:
            return None
        with using_locale(locale):
            text = gettext(message)
        try:
            return text % {} if "%" in text else text
        except (KeyError, TypeError, ValueError):
            return None  # a message that needs variables: the runtime `_()` raises as it always did


class LocalizedTemplateEngine(JinjaTemplateEngine):
    """Litestar's Jinja engine with one environment per language (overlays of one environment: the same loader,
    globals and filters, each with its own compiled templates), chosen by the request's language, so that
    `TranslatedWhenCompiled` can translate literal messages once per language instead of at every render."""

    def __init__(self, directory: Any = None, engine_instance: Environment | None = None) -> None:
        super().__init__(directory=directory, engine_instance=engine_instance)
        self.by_locale: dict[str, Environment] = {}
        for locale in SUPPORTED_LOCALES:
            localized = cast(SteadyEnvironment, self.engine.overlay())  # an overlay is of its environment's class
            localized.translation_locale = locale  # read by TranslatedWhenCompiled
            self.by_locale[locale] = localized

    def get_template(self, template_name: str) -> JinjaTemplate:
        environment = self.by_locale.get(current_locale.get())
        if environment is None:
            return super().get_template(template_name)
        try:
            return environment.get_template(name=template_name)
        except TemplateNotFound as exc:
            raise TemplateNotFoundException(template_name=template_name) from exc


# Paths with parameters are remembered too (a patient's page), up to this many: one entry per route and id.
MAX_REMEMBERED_URLS = 20_000


def route_urls(engine: JinjaTemplateEngine) -> None:
    """`url_for` in templates as Litestar's, with each path remembered: routes don't change once the app is built,
    each page links a dozen of them (the navigation bars), and the therapist dashboard links each of its hundred
    patients twice (`route_reverse` ~7 µs each)."""
    remembered: dict[tuple[Any, ...], str] = {}

    def url_for(context: Any, /, route_name: str, **path_parameters: Any) -> str:
        # The app that published its routes to this environment (`publish_route_paths`): a macro imported without
        # the page's context (no request in it) links as well as the page does.
        owner = getattr(context.environment, "route_owner", None)
        if not owner:  # an environment no app has claimed (not built by `create_app`): the request's app, as is
            return str(context["request"].app.route_reverse(route_name, **path_parameters))
        app = owner[0]
        key = (route_name, *path_parameters.items())
        path = remembered.get(key)
        if path is None:
            path = str(app.route_reverse(route_name, **path_parameters))
            if len(remembered) < MAX_REMEMBERED_URLS:
                remembered[key] = path
        return path

    engine.engine.globals["url_for"] = pass_context(url_for)


# What a partial shown with `rendered_once` may use: words, icons from an imported macro, static file URLs.
RENDERED_ONCE_GLOBALS = frozenset({"_", "gettext", "ngettext", "static_url", "current_locale"})


def rendered_once() -> Callable[[Any, str], Markup]:
    """`{{ rendered_once("partials/install_hint.html") }}`: a partial that shows the same to everyone (literal words,
    icons, no data and no per-request value) rendered once per language, then reused at every render instead of an
    include (a new context, its imports and macro calls at each page). A partial that reads anything else (a
    variable, `url_for`, `csrf_token`) is refused when first rendered."""
    rendered: dict[tuple[str, str], Markup] = {}

    def render(context: Any, /, name: str) -> Markup:
        key = (current_locale.get(), name)
        html = rendered.get(key)
        if html is None:
            environment: Environment = context.environment
            source, _filename, _uptodate = environment.loader.get_source(environment, name)  # type: ignore[union-attr]
            needs = meta.find_undeclared_variables(environment.parse(source)) - RENDERED_ONCE_GLOBALS
            if needs:
                raise ValueError(f"{name} can't be rendered once for everyone: it reads {sorted(needs)}")
            html = rendered[key] = Markup(environment.get_template(name).render())
        return html

    return pass_context(render)


# How many distinct `remembered` fragments a process keeps (a check-in field in each state is one: a few KB).
REMEMBERED_FRAGMENTS = 4096


def remembered() -> Callable[..., Markup]:
    """`{{ remembered("checkins/_macros.html", "measure_field", m, values, errors, dw,
    key=(m.name, values.get(m.name), errors.get(m.name), dw)) }}`: a macro's HTML rendered once per language and
    `key`, then reused. For a macro that renders many elements from few inputs (a check-in scale is eleven radio
    buttons), called with the same inputs by everyone. `key` names EVERYTHING its output depends on besides the
    language; the macro is called without the page's context (as imported without `with context`), so it can only
    read its arguments. A key that can't be hashed (a list where a word was expected) renders without remembering.
    """
    fragments: dict[tuple[Any, ...], Markup] = {}

    def render(context: Any, /, template: str, macro: str, *args: Any, key: tuple[Any, ...]) -> Markup:
        # Each part with its type: True == 1 == 1.0 as keys, but they render as "True", "1" and "1.0".
        full_key = (current_locale.get(), template, macro, *((type(part), part) for part in key))
        try:
            html = fragments.get(full_key)
        except TypeError:  # unhashable
            return call(context, template, macro, args)
        if html is None:
            if len(fragments) >= REMEMBERED_FRAGMENTS:
                fragments.clear()
            html = fragments[full_key] = call(context, template, macro, args)
        return html

    def call(context: Any, template: str, macro: str, args: tuple[Any, ...]) -> Markup:
        return Markup(getattr(context.environment.get_template(template).module, macro)(*args))

    return pass_context(render)


@pass_context
def csrf_field(context: Any) -> Markup:
    """`{{ csrf() }}`: a form's hidden CSRF field. A global, not a macro, so that the form macros (`_macros.html`)
    need no context: imported `with context`, Jinja builds their module again on every render, a reference cycle
    holding a copy of the page's variables until the garbage collector comes (docs/performance.md, "Ninth pass")."""
    return Markup('<input type="hidden" name="_csrf_token" value="%s">') % csrf_token(context)


class SteadyEnvironment(Environment):
    """Jinja's environment with what the compile-time extensions read: the language an overlay serves
    (`TranslatedWhenCompiled`) and the app's route paths (`RouteUrlsWhenCompiled`; one dict, shared by the overlays,
    which copy the environment's attributes)."""

    translation_locale: str | None = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.route_paths: dict[str, str] = {}
        self.route_owner: list[Any] = []  # the app, once it has published its paths: what `url_for` links within


class CompiledOncePerProcess(BytecodeCache):
    """Compiled templates shared by every environment `build_environment` makes in this process, keyed by what the
    compile-time extensions write in: the language (`TranslatedWhenCompiled`) and the route paths published so far
    (`RouteUrlsWhenCompiled`; the static URLs of `StaticUrlsWhenCompiled` are read once per process), and by the
    template's source (Jinja's checksum: a changed file compiles again). A server builds one app, so this changes
    nothing there; the test suite and the benchmarks build a few dozen apps per process, each of which compiled
    every page it rendered again, about 5 ms a template and language."""

    def __init__(self) -> None:
        self.code: dict[str, tuple[str, Any]] = {}

    def get_bucket(self, environment: Environment, name: str, filename: str | None, source: str) -> Bucket:
        paths = hash(frozenset(getattr(environment, "route_paths", {}).items()))  # this process's hash: enough here
        key = f"{getattr(environment, 'translation_locale', None)}:{paths}:{self.get_cache_key(name, filename)}"
        bucket = Bucket(environment, key, self.get_source_checksum(source))
        self.load_bytecode(bucket)
        return bucket

    def load_bytecode(self, bucket: Bucket) -> None:
        checksum, code = self.code.get(bucket.key, ("", None))
        if checksum == bucket.checksum:
            bucket.code = code

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = (bucket.checksum, bucket.code)


COMPILED_TEMPLATES = CompiledOncePerProcess()


def build_environment(extra_globals: dict[str, Any] | None = None) -> SteadyEnvironment:
    env = SteadyEnvironment(
        loader=KnownTemplatesLoader(TEMPLATES_DIR),
        bytecode_cache=COMPILED_TEMPLATES,
        autoescape=select_autoescape(["html", "svg", "xml"]),
        extensions=["jinja2.ext.i18n", TranslatedWhenCompiled, StaticUrlsWhenCompiled, RouteUrlsWhenCompiled],
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    env.globals["_"] = env.globals["gettext"] = template_gettext()
    env.globals["ngettext"] = template_ngettext()
    env.filters.update(role_label=role_label, role_options=role_options, zip_tz=timezone_options, zone_words=zone_words)
    env.globals["static_url"] = static_url
    env.globals["csrf"] = csrf_field
    env.globals["rendered_once"] = rendered_once()
    env.globals["remembered"] = remembered()
    env.globals["current_locale"] = current_locale.get
    env.globals.update(extra_globals or {})
    return env


def template_config(extra_globals: dict[str, Any] | None = None) -> TemplateConfig[JinjaTemplateEngine]:
    engine = LocalizedTemplateEngine.from_environment(build_environment(extra_globals))
    route_urls(engine)
    return TemplateConfig(instance=engine)
