"""`server/collector.py`: what survives the first full collections after start-up is frozen, then collection is as
usual. (Automatic collections are off meanwhile: the test process runs other threads.)"""

from __future__ import annotations

import gc

from server.collector import freeze_survivors_of_first


def _collected_as_usual(thing: object) -> bool:
    """Whether the collector still walks `thing` (frozen objects are in no generation)."""
    return any(candidate is thing for candidate in gc.get_objects())


def test_survivors_of_the_first_full_collections_are_frozen_then_collection_is_as_usual() -> None:
    callback = freeze_survivors_of_first(2)
    gc.disable()
    gc.callbacks.append(callback)
    try:
        kept = [[n] for n in range(100)]  # built after start-up, kept for good
        gc.collect(1)  # not a full collection: nothing frozen
        assert _collected_as_usual(kept)
        gc.collect()
        assert not _collected_as_usual(kept) and not _collected_as_usual(kept[0])
        gc.collect()
        assert callback not in gc.callbacks  # two full collections: done
        later = [[n] for n in range(100)]
        gc.collect()
        assert _collected_as_usual(later)  # built after: never frozen
    finally:
        if callback in gc.callbacks:
            gc.callbacks.remove(callback)
        gc.unfreeze()
        gc.enable()
