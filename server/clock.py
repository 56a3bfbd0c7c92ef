"""The one place Steady asks what time it is.

Every "now" in the server comes from `now()`. Tests freeze it (tests/conftest.py travels to a fixed moment with
time-machine), and `use()` lets a tool or a test swap the source outright, so no behaviour depends on the hour a
suite happens to run. Monotonic timers (durations, timeouts) stay on `time.monotonic()`: they measure, not tell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

ClockSource = Callable[[], datetime]


def _system() -> datetime:
    return datetime.now(UTC)


_source: ClockSource = _system


def now() -> datetime:
    """The current moment, timezone-aware UTC."""
    return _source()


def timestamp() -> float:
    """The current moment as POSIX seconds (for JWT claims and HTTP dates)."""
    return now().timestamp()


@contextmanager
def use(source: ClockSource) -> Iterator[None]:
    """Read the time from `source` inside the block (a fixed moment, a stepping fake)."""
    global _source
    previous, _source = _source, source
    try:
        yield
    finally:
        _source = previous
