"""`server/collector.py`: what survives the first full collections after start-up is frozen, then collection is as
usual."""

from __future__ import annotations

import gc

from server.collector import freeze_survivors_of_first


def test_survivors_of_the_first_full_collections_are_frozen_then_collection_is_as_usual() -> None:
    callback = freeze_survivors_of_first(2)
    gc.callbacks.append(callback)
    try:
        kept = [[n] for n in range(1000)]  # built after start-up, kept for good
        frozen_before = gc.get_freeze_count()
        gc.collect(1)  # not a full collection: nothing frozen
        assert gc.get_freeze_count() == frozen_before
        gc.collect()
        assert gc.get_freeze_count() >= frozen_before + len(kept)
        gc.collect()
        assert callback not in gc.callbacks  # two full collections: done
        later = [[n] for n in range(1000)]
        frozen = gc.get_freeze_count()
        gc.collect()
        assert gc.get_freeze_count() == frozen  # built after: collected as usual, never frozen
        assert later and kept
    finally:
        if callback in gc.callbacks:
            gc.callbacks.remove(callback)
        gc.unfreeze()
