"""The Spanish gate: CI fails when any message lacks a Spanish translation or is marked fuzzy, when a translation
drops or renames a placeholder, and when the catalogue is stale against the code (a string added or changed in a
template or module without `make i18n`). See README "Spanish" for the workflow."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "server" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[sdif]|\{\w+\}")


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _ids(catalog: Catalog) -> set[object]:
    return {message.id for message in catalog if message.id}


@pytest.fixture(scope="module")
def spanish() -> Catalog:
    return _read(TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po", "es")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """What the code says today, extracted exactly as `make i18n` does."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-o", str(out), "server"],
        cwd=ROOT,
        check=True,
    )
    return _read(out)


def untranslated(catalog: Catalog) -> list[object]:
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id)
    return missing


def test_every_message_has_a_spanish_translation_that_is_not_fuzzy(spanish: Catalog) -> None:
    missing = untranslated(spanish)
    assert not missing, f"{len(missing)} messages need Spanish (make i18n, then delta_es.py): {missing[:10]}"


def test_spanish_keeps_every_placeholder(spanish: Catalog) -> None:
    broken = []
    for message in spanish:
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = sorted(set(PLACEHOLDER.findall(ids[-1])) | set(PLACEHOLDER.findall(ids[0])))
        for text in strings:
            found = sorted(set(PLACEHOLDER.findall(text)))
            if not set(found) <= set(wanted) or (len(strings) == 1 and found != wanted):
                broken.append((ids[0], text))
    assert not broken, broken[:5]


def test_the_catalogue_is_not_stale_against_the_code(spanish: Catalog, extracted: Catalog) -> None:
    template = _read(TRANSLATIONS / "messages.pot")
    in_code, in_template, in_spanish = _ids(extracted), _ids(template), _ids(spanish)
    assert in_code == in_template, (
        f"messages.pot is stale: run `make i18n`. New in the code: {sorted(map(str, in_code - in_template))[:5]}; "
        f"gone from the code: {sorted(map(str, in_template - in_code))[:5]}"
    )
    assert in_spanish == in_template, "es/messages.po is not updated from messages.pot: run `make i18n`"


def test_the_gate_can_fail() -> None:
    """The rule above rejects a missing, a fuzzy and a half-done plural translation."""
    catalog = Catalog(locale="es")
    catalog.add("Hello", "")
    catalog.add("Bye", "Adiós", flags=("fuzzy",))
    catalog.add(("%(num)s day", "%(num)s days"), ("%(num)s día", ""))
    catalog.add("Yes", "Sí")
    assert untranslated(catalog) == ["Hello", "Bye", ("%(num)s day", "%(num)s days")]


def test_every_questionnaire_text_has_its_spanish_in_the_instrument_file() -> None:
    """Validated instruments keep their published wording, so their texts live in server/questionnaires/instruments/
    (both languages, with the source of each) instead of the catalogue; the loader refuses a missing Spanish text,
    and here every text is checked to be present and, for sentences, actually Spanish (not the English copied)."""
    from server.questionnaires.instruments import all_instruments

    for instrument in all_instruments().values():
        texts = [instrument.name, instrument.stem, instrument.text_source]
        texts += [item.text for item in instrument.items]
        texts += [option.text for item in instrument.items for option in item.options]
        for text in texts:
            assert text.en.strip() and text.es.strip(), (instrument.code, text)
            if len(text.en.split()) > 3:
                assert text.es != text.en, (instrument.code, text.en)
