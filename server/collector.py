"""Keeping what lives as long as the process out of the cyclic garbage collector's way (`server/asgi.py`).

A full collection walks every tracked object that is not frozen, and every request in flight waits for it. What is
built at start-up and by the first requests (each page's composed statement and its SQL, the ORM's mapper set-up,
remembered fragments) lives as long as the process, so walking it again and again buys nothing: under 16
connections, ~30,000 such objects made each full collection cost 13-19 ms (docs/performance.md, "Ninth pass").
Frozen objects are still freed by reference counting; only objects in reference cycles need the collector, and a
request leaves none (`server/web/responses.py`'s SteadyRequest)."""

from __future__ import annotations

import gc
from collections.abc import Callable

# Under traffic the first few full collections come within seconds of start-up; after them, what a long-running
# process builds is collected as usual.
WARM_UP_COLLECTIONS = 3


def freeze_what_is_built() -> None:
    """At start-up, once the app is built: everything so far lives as long as the process."""
    gc.collect()
    gc.freeze()
    gc.callbacks.append(freeze_survivors_of_first(WARM_UP_COLLECTIONS))


def freeze_survivors_of_first(collections: int) -> Callable[[str, dict[str, int]], None]:
    """A collector callback: freeze what survives each of the next `collections` full collections (not garbage,
    by definition), then remove itself."""
    remaining = collections

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        nonlocal remaining
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()
            remaining -= 1
            if remaining == 0:
                gc.callbacks.remove(freeze_survivors)

    return freeze_survivors
