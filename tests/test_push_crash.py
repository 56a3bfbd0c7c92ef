"""`kill -9` of one of three dispatcher processes mid-run on PostgreSQL, with a slow push service: every reminder
still arrives, repeats are limited to the sends that were in flight (each delivery is recorded as its send
completes) and carry the same Topic (so the phone replaces rather than stacks), and the dead worker's rows go out
again within the 25-second lease."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Database
from tests.support.push_crash import run


@pytest.mark.real_clock
def test_a_killed_worker_loses_nothing_and_repeats_at_most_its_in_flight_sends(
    postgres_only: Database, tmp_path: Path
) -> None:
    report = run(postgres_only.url, tmp_path, people=120, per_person=5, delay=0.15, kill_after=150)

    assert report.killed_after < report.reminders  # the worker really died mid-run
    assert report.distinct == report.reminders  # nothing lost
    assert report.recorded_sent == report.reminders  # and the log says each was sent once
    assert report.duplicates <= report.in_flight_limit, report
    assert report.duplicates_with_other_topic == 0  # a repeat replaces the first copy on the phone
    assert report.seconds_until_all_received < 35, report  # lease 25 s, renewed every third of it
