"""Hand the Spanish translator only what is new, and take their work back into the catalogue.

    python server/translations/delta_es.py export /tmp/delta.json   # untranslated or fuzzy messages
    (fill every "es" - a string, or a list of two strings for a plural)
    python server/translations/delta_es.py apply /tmp/delta.json    # writes messages.po, clears fuzzy

`make i18n` extracts the code's strings first; `pybabel compile` builds the .mo afterwards.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

CATALOGUE = Path(__file__).with_name("es") / "LC_MESSAGES" / "messages.po"


def _load():
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="es")


def _save(catalogue) -> None:
    with CATALOGUE.open("wb") as handle:
        write_po(handle, catalogue, width=120)


def _needs_work(message) -> bool:
    if not message.id:
        return False
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return message.fuzzy or not all(strings)


def export(path: Path) -> int:
    rows = []
    for message in _load():
        if _needs_work(message):
            plural = isinstance(message.id, tuple | list)
            rows.append({
                "id": list(message.id) if plural else message.id,
                "context": message.context,
                "where": sorted({file for file, _line in message.locations})[:3],
                "es": ["", ""] if plural else "",
            })
    path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return len(rows)


def apply(path: Path) -> int:
    catalogue = _load()
    applied = 0
    for row in json.loads(path.read_text(encoding="utf-8")):
        key = tuple(row["id"]) if isinstance(row["id"], list) else row["id"]
        lookup = key[0] if isinstance(key, tuple) else key
        message = catalogue.get(lookup, context=row.get("context"))
        spanish = row.get("es")
        if message is None or not spanish:
            continue
        message.string = tuple(spanish) if isinstance(spanish, list) else spanish
        message.flags.discard("fuzzy")
        applied += 1
    _save(catalogue)
    return applied


if __name__ == "__main__":
    command, target = sys.argv[1], Path(sys.argv[2])
    count = {"export": export, "apply": apply}[command](target)
    print(f"{command}: {count} messages")
