"""The offline queue's replay protocol, server side.

A phone that saved an entry offline sends it later with the header `X-Steady-Replay: 1`. The queue deletes the
entry only when the answer is `200` with `X-Steady-Recorded: <the entry's idempotency key>` (and the same key in a
small JSON body) — recorded now or recorded before. Every other answer keeps it: a redirect to sign-in, 401/403,
409, 5xx, a network error. A 422 is a definite "no" to the content, and the phone shows the person what they wrote.
People (not replays) keep getting the usual POST-redirect-GET.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType

from server.web.responses import redirect

REPLAY_HEADER = "x-steady-replay"
RECORDED_HEADER = "X-Steady-Recorded"


def is_replay(request: Request) -> bool:
    return request.headers.get(REPLAY_HEADER) == "1"


def recorded(request: Request, key: str, to: str) -> Response[Any]:
    """The answer to a saved entry: the acknowledgement for a replay, else a redirect to `to`."""
    if is_replay(request):
        return Response(
            content={"recorded": key},
            status_code=200,
            media_type=MediaType.JSON,
            headers={RECORDED_HEADER: key, "Cache-Control": "no-store"},
        )
    return redirect(request, to)


@functools.lru_cache(maxsize=4096)  # every page a signed-in person opens names them: one HMAC per person
def offline_owner(secret: str, user_id: int | None) -> str:
    """An opaque name for the account that owns entries queued on a phone: the queue sends an entry only while
    the same account is signed in, and never shows it to anyone else (no id or email on the phone)."""
    if user_id is None:
        return ""
    return hmac.new(secret.encode(), f"offline-owner:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]
