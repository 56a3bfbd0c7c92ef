"""Translation: every user-facing string goes through these functions (Babel catalogues in translations/)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path

from babel.support import LazyProxy, NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).with_name("translations")
SUPPORTED_LOCALES = ("en", "es")
DEFAULT_LOCALE = "en"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=8)
def translations_for(locale: str) -> NullTranslations:
    if locale == DEFAULT_LOCALE:
        return NullTranslations()
    return Translations.load(str(TRANSLATIONS_DIR), [locale], domain="messages")


def _active() -> NullTranslations:
    return translations_for(current_locale.get())


def gettext(message: str) -> str:
    return _active().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return _active().ngettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """For strings defined at import time (choices, labels) and translated when shown."""
    return LazyProxy(gettext, message, enable_cache=False)


def pick_locale(accept_language: str | None, preferred: str | None = None) -> str:
    if preferred is not None and preferred in SUPPORTED_LOCALES:
        return preferred
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in SUPPORTED_LOCALES:
            return tag
    return DEFAULT_LOCALE


@contextmanager
def using_locale(locale: str | None) -> Iterator[str]:
    """Translate into someone else's language for a moment (a push, a family message, a reminder in the
    recipient's language, whoever's request or worker is running). An unknown language falls back to the default."""
    chosen = locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE
    token = current_locale.set(chosen)
    try:
        yield chosen
    finally:
        current_locale.reset(token)


_ = gettext
