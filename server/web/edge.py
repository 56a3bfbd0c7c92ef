"""Input at the edge, before any handler: ids that no database could hold and control characters are refused
here once, for every route, so no handler has to remember.

- A path segment that is all digits must fit a PostgreSQL `integer` (1 … 2,147,483,647, which SQLite holds too):
  larger ids name nothing, so the answer is 404 (never an OverflowError from the driver).
- A path with a control character (NUL, or any C0/C1 code) is 404.
- A query value with a control character, or an id-like query value (`…_id`, `saved`, `therapist`, `patient`,
  `program`) outside that range, is a 422 with a plain message.
Forms do the same for their fields in `server/web/forms.py`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

from litestar.exceptions import HTTPException, NotFoundException
from litestar.types import Scope

MAX_ID = 2**31 - 1
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"^[+-]?\d+$")
ID_QUERY_KEYS = frozenset({"saved", "therapist", "patient", "program", "id"})


def is_bounded_id(text: str) -> bool:
    """An id a database row could have: 1 … 2^31-1."""
    return bool(_DIGITS.match(text)) and len(text) <= 11 and 1 <= int(text) <= MAX_ID


def _id_like(key: str) -> bool:
    return key in ID_QUERY_KEYS or key.endswith("_id")


def check_edge(scope: Scope) -> None:
    """Refuse an address no handler should see (see the module's docstring); run by `RequestMiddleware` for every
    HTTP request before any route."""
    path: str = scope["path"]
    if CONTROL.search(path):
        raise NotFoundException()
    for segment in path.split("/"):
        if segment.isdigit() and not is_bounded_id(segment):
            raise NotFoundException()
    raw = scope.get("query_string", b"").decode("latin-1")
    if raw:
        for key, value in parse_qsl(raw, keep_blank_values=True):
            if CONTROL.search(key) or CONTROL.search(value):
                raise HTTPException(status_code=422, detail="control characters in the address")
            if _id_like(key) and value and _DIGITS.match(value.strip()) and not is_bounded_id(value.strip()):
                raise HTTPException(status_code=422, detail="an id out of range")
