"""Steady's ASGI app (`server.asgi:app`, of whichever tree is on the path) with the cyclic garbage collector
watched: each collection's duration by generation, and every few seconds the number of objects it still walks
(not frozen) and the commonest kinds among them, written to `$GC_PROBE_OUT` (default /tmp/steady-gc-probe.txt).
`bench.page_ab --gc` serves it from both trees: the report of the run's last seconds stays in that file."""

from __future__ import annotations

import collections
import gc
import os
import threading
import time
from typing import Any

from server.asgi import app  # noqa: F401 (what uvicorn serves)

_OUT = os.environ.get("GC_PROBE_OUT", "/tmp/steady-gc-probe.txt")
_started: list[float] = [0.0]
_durations: dict[int, list[float]] = {0: [], 1: [], 2: []}


def _timed(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        _durations[info["generation"]].append((time.perf_counter() - _started[0]) * 1000)


def _report() -> None:
    while True:
        time.sleep(3)
        walked = gc.get_objects()
        kinds = collections.Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in walked)
        lines = []
        for generation, durations in _durations.items():
            ordered = sorted(durations)
            if ordered:
                lines.append(f"gen{generation}: n={len(ordered)} total={sum(ordered):.1f}ms "
                             f"p50={ordered[len(ordered) // 2]:.2f} max={ordered[-1]:.2f}")
        lines.append(f"walked {len(walked)} objects, frozen {gc.get_freeze_count()}")
        lines += [f"  {count:7d} {kind}" for kind, count in kinds.most_common(20)]
        with open(_OUT, "w") as report:
            report.write("\n".join(lines) + "\n")


gc.callbacks.append(_timed)
threading.Thread(target=_report, daemon=True, name="gc-probe").start()
