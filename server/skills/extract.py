"""Babel extractor for the skill cards, so translators get every card's words in messages.pot.

The cards are shown through gettext (see :func:`server.skills.logic.localised`); to extract them, add this line
to ``babel.cfg``::

    [server.skills.extract.extract_cards: server/skills/cards.toml]
"""

from __future__ import annotations

import tomllib
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any


def _line_of(lines: list[str], text: str, start: int) -> int:
    """1-based line where ``text`` next appears (TOML escapes aside), or ``start`` when not found."""
    needle = text[:40]
    for number in range(max(start, 1), len(lines) + 1):
        if needle in lines[number - 1]:
            return number
    return start


def extract_cards(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    source = fileobj.read().decode("utf-8")
    data = tomllib.loads(source)
    lines = source.splitlines()
    line = 1
    for module_id, module in data.get("modules", {}).items():
        for field in ("title", "summary"):
            line = _line_of(lines, module[field], line)
            yield line, None, module[field], [f"skill module {module_id}: {field}"]
    line = 1
    for card in data.get("cards", []):
        card_id = card.get("id", "?")
        texts = [("title", card.get("title")), ("use_when", card.get("use_when")), ("caution", card.get("caution"))]
        texts += [(f"step {i}", step) for i, step in enumerate(card.get("steps", []), start=1)]
        for field, text in texts:
            if isinstance(text, str) and text:
                line = _line_of(lines, text, line)
                yield line, None, text, [f"skill card {card_id}: {field}"]
