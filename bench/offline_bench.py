"""Offline entries under every loss path: runs the Chromium scenarios of tests/browser/test_offline_replay_browser.py
(the project's real service worker against a real server) and prints, per scenario and in total, entries queued
offline, recorded by the server, duplicated, deleted by the person's choice, stuck on the phone and lost.

    python -m bench.offline_bench
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = "tests/browser/test_offline_replay_browser.py"


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        tally = Path(scratch) / "tally.jsonl"
        env = {**os.environ, "STEADY_OFFLINE_TALLY": str(tally)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "browser", SCENARIOS]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        rows = [json.loads(line) for line in tally.read_text().splitlines()] if tally.exists() else []
    fields = ("queued", "recorded", "duplicated", "deleted_by_choice", "stuck", "lost")
    print(f"{'scenario':40} " + " ".join(f"{f:>17}" for f in fields))
    for row in rows:
        print(f"{row['scenario']:40} " + " ".join(f"{row[f]:>17}" for f in fields))
    totals = {f: sum(r[f] for r in rows) for f in fields}
    print(f"{'total (' + str(len(rows)) + ' scenarios)':40} " + " ".join(f"{totals[f]:>17}" for f in fields))
    print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-500:])


if __name__ == "__main__":
    main()
