"""Templates translated when compiled (`server/web/templating.py`): one environment per language, literal
`_()` messages folded into the template's text, everything else still translated at render time."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from litestar.exceptions import NoRouteMatchFoundException, TemplateNotFoundException
from markupsafe import Markup

from server.i18n import current_locale, gettext, using_locale
from server.web.static import static_url
from server.web.templating import LocalizedTemplateEngine, build_environment, formatted

SOURCE = (
    '<p title="{{ _("Today") }}">{{ _("Log") }}</p>'
    '<b>{{ _("Hi, %(name)s", name=who) }}</b>'
    "<i>{{ (_(\"Skills\") ~ '!') }}</i>"
    "<s>{{ _(word) }}</s>"
)


def _engine() -> LocalizedTemplateEngine:
    engine = LocalizedTemplateEngine.from_environment(build_environment())
    assert isinstance(engine, LocalizedTemplateEngine)
    return engine


@pytest.mark.parametrize("locale", ["en", "es"])
def test_each_language_renders_what_runtime_translation_renders(locale: str) -> None:
    engine = _engine()
    runtime = engine.engine.from_string(SOURCE)  # the base environment translates at render time
    compiled = engine.by_locale[locale].from_string(SOURCE)
    with using_locale(locale):
        expected = runtime.render(who="Sam <3", word="More")
        assert compiled.render(who="Sam <3", word="More") == expected
        assert f'title="{gettext("Today")}"' in expected and gettext("Skills") + "!" in expected
    assert "Sam &lt;3" in expected
    if locale == "es":
        assert '<p title="Hoy">Registro</p>' in expected  # really translated


def test_literal_messages_become_template_text_and_others_stay_calls() -> None:
    engine = _engine()
    es = engine.by_locale["es"]
    code = es.compile(SOURCE, raw=True)
    with using_locale("es"):
        today, log = gettext("Today"), gettext("Log")
    assert today != "Today" and log != "Log"
    # Folded: the Spanish words are constants in the compiled code, and no `_` call is left for them.
    assert today in code and log in code
    assert code.count("context.call(") == 2  # the call with a variable and the one with a non-literal message
    # The base environment has no language of its own: every `_()` stays a call.
    assert engine.engine.compile(SOURCE, raw=True).count("context.call(") == 5


def test_attribute_calls_and_messages_needing_variables_are_left_alone() -> None:
    es = _engine().by_locale["es"]
    source = '{{ helper._("Today") }}|{{ _("%(n)s left") }}|{{ _("100%% sure") }}'

    class Helper:
        @staticmethod
        def _(text: str) -> str:
            return text.upper()

    code = es.compile(source, raw=True)
    # `helper._(…)` and the message that needs a variable stay calls; "100%% sure" is folded, formatted once.
    assert code.count("context.call(") == 2 and "100% sure" in code
    with using_locale("es"):
        with pytest.raises(KeyError):  # as the runtime `_()` always did: the message needs `n`
            es.from_string(source).render(helper=Helper)
        assert es.from_string('{{ helper._("Today") }}|{{ _("100%% sure") }}').render(helper=Helper) == (
            "TODAY|100% sure"
        )


def test_the_request_language_picks_the_environment() -> None:
    engine = _engine()
    token = current_locale.set("es")
    try:
        spanish = engine.get_template("partials/bottom_nav.html")
    finally:
        current_locale.reset(token)
    english = engine.get_template("partials/bottom_nav.html")
    assert spanish.environment is engine.by_locale["es"] and english.environment is engine.by_locale["en"]
    assert spanish is not english
    with pytest.raises(TemplateNotFoundException):
        engine.get_template("no/such/page.html")


def test_static_urls_are_written_when_compiled() -> None:
    engine = _engine()
    source = "<link href=\"{{ static_url('css/app.css') }}\">{{ static_url(name) }}|{{ x.static_url('js/app.js') }}"

    class Other:
        @staticmethod
        def static_url(relative: str) -> str:
            return "other:" + relative

    for environment in (engine.engine, engine.by_locale["es"]):
        code = environment.compile(source, raw=True)
        assert static_url("css/app.css") in code and code.count("context.call(") == 2  # the variable, the attribute
        rendered = environment.from_string(source).render(name="js/look.js", x=Other())
        assert rendered == f'<link href="{static_url("css/app.css")}">{static_url("js/look.js")}|other:js/app.js'


def test_rendered_once_partials_are_the_include_and_refuse_data() -> None:
    engine = _engine()
    for locale in ("en", "es"):
        with using_locale(locale):
            environment = engine.by_locale[locale]
            included = environment.from_string('{% include "partials/install_hint.html" %}').render()
            once = environment.from_string('{{ rendered_once("partials/install_hint.html") }}')
            assert once.render() == included and once.render() == included
            assert gettext("Put Steady on your Home Screen") in included
    # A partial that shows data or per-request values can't be rendered once for everyone.
    with pytest.raises(ValueError, match=r"bottom_nav\.html can.t be rendered once"):
        engine.engine.from_string('{{ rendered_once("partials/bottom_nav.html") }}').render(request=None)


class _Html:
    def __html__(self) -> str:
        return "<em>kept</em>"


@pytest.mark.parametrize(
    ("message", "variables"),
    [
        ("Mood %(m)s, craving %(c)s.", {"m": 6, "c": 3}),
        ("%(num)d days, %(share).1f%%", {"num": 12, "share": 2.25}),
        ("Hi, %(name)s", {"name": "<script>alert('x')</script> & \"Sam\""}),
        ("%(a)s %(b)s %(c)s %(d)s", {"a": Markup("<b>ok</b>"), "b": None, "c": _Html(), "d": True}),
    ],
)
def test_formatting_a_message_escapes_exactly_as_markup_does(message: str, variables: dict[str, object]) -> None:
    """`formatted` (the templates' `_()` and `ngettext()` with variables) gives what `Markup.__mod__` gives: the same
    text, the same escaping of each value, markup and `__html__` kept, numbers formatted as numbers."""
    expected = Markup(message) % variables
    found = formatted(Markup(message), dict(variables))
    assert isinstance(found, Markup)
    assert found == expected
    assert formatted(message, dict(variables)) == message % variables  # plain text (autoescape off): plain %


def test_plural_messages_in_templates_format_the_count_and_escape_values() -> None:
    env = build_environment()
    page = env.from_string(
        '{{ ngettext("%(num)d day", "%(num)d days", n) }} · {{ ngettext("one for %(who)s", "%(num)s for %(who)s", n,'
        ' who=who) }} · {% trans count=n %}{{ count }} item{% pluralize %}{{ count }} items{% endtrans %}'
    )
    assert page.render(n=1, who="<i>") == "1 day · one for &lt;i&gt; · 1 item"
    assert page.render(n=3, who="<i>") == "3 days · 3 for &lt;i&gt; · 3 items"
    with using_locale("es"):
        spanish = env.from_string('{{ ngettext("day sober", "days sober", 5) }}').render()
    assert spanish == "días sin consumir"


def test_route_urls_without_parameters_are_written_when_compiled(client: Any) -> None:
    """Once the app has published its route paths, `url_for("name")` is the path itself in each language's compiled
    template; a route with parameters, or an unknown name, stays a call (and an unknown name still fails loudly)."""
    app = client.app
    engine = app.template_engine
    source = ('<a href="{{ url_for("today:today") }}">{{ url_for("checkins:checkin_detail", checkin_id=7) }}'
              '{{ url_for("no:such") }}')  # fmt: skip
    for environment in (engine.engine, engine.by_locale["en"], engine.by_locale["es"]):
        assert environment.route_paths["today:today"] == app.route_reverse("today:today") == "/today"
        code = environment.compile(source, raw=True)
        assert '"/today"' in code or "'/today'" in code
        assert code.count("context.call(") == 2  # the route with a parameter, the unknown name
    request = SimpleNamespace(app=app)  # all `url_for` reads of the request
    page = engine.engine.from_string(source.replace('{{ url_for("no:such") }}', ""))
    detail = app.route_reverse("checkins:checkin_detail", checkin_id=7)
    assert page.render(request=request) == f'<a href="/today">{detail}'
    with pytest.raises(NoRouteMatchFoundException):
        engine.engine.from_string('{{ url_for("no:such") }}').render(request=request)


def test_remembered_fragments_are_the_macro_call_for_their_key_and_language() -> None:
    """`remembered` gives exactly what calling the macro gives, per language and key (a value's type included:
    True and 1 are equal keys in Python but not the same answer), and renders without remembering when a key part
    can't be hashed. What the key leaves out is taken from the first render: the key is the contract."""
    from server.checkins.measures import MEASURES

    engine = _engine()
    direct_source = (
        '{% from "checkins/_macros.html" import measure_field %}{{ measure_field(m, values, errors, late) }}'
    )
    remembered_source = (
        '{{ remembered("checkins/_macros.html", "measure_field", m, values, errors, late,'
        " key=(m.name, values.get(m.name), errors.get(m.name), late)) }}"
    )
    checked = 0
    for locale in ("en", "es"):
        with using_locale(locale):
            environment = engine.by_locale[locale]
            direct, remembered = environment.from_string(direct_source), environment.from_string(remembered_source)
            for m in MEASURES:
                for value in (None, "", "1", 1, True, "yes", 7.5, ["2", "3"]):
                    for errors in ({}, {m.name: "Please pick a number from 0 to 10."}):
                        for late in (False, True):
                            context = {"m": m, "values": {m.name: value}, "errors": errors, "late": late}
                            expected = direct.render(**context)
                            assert remembered.render(**context) == expected  # first render
                            assert remembered.render(**context) == expected  # remembered
                            checked += 1
    assert checked == 2 * len(MEASURES) * 8 * 2 * 2
    # The cache is real, and keyed by what the caller says: a key without the value serves the first render.
    environment = engine.by_locale["en"]
    keyed_by_name_only = environment.from_string(
        '{{ remembered("checkins/_macros.html", "measure_field", m, values, {}, false, key=("only", m.name)) }}'
    )
    mood = next(m for m in MEASURES if m.name == "mood")
    with using_locale("en"):
        first = keyed_by_name_only.render(m=mood, values={"mood": "4"})
        assert 'value="4" checked' in first
        assert keyed_by_name_only.render(m=mood, values={"mood": "9"}) == first
