"""Hostile input on every route: runs tests/test_fuzz_routes.py with many more hypothesis examples and prints, per
database, the requests sent and the 5xx answers seen (target 0).

    TEST_DATABASE_URL=postgresql+asyncpg://... python -m bench.fuzz_bench [examples]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    examples = sys.argv[1] if len(sys.argv) > 1 else "30"
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "fuzz.txt"
        env = {**os.environ, "FUZZ_EXAMPLES": examples, "FUZZ_REPORT": str(report)}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_fuzz_routes.py"]
        run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for line in report.read_text().splitlines() if report.exists() else []:
            backend, sent, failed = line.split()
            totals[backend][0] += int(sent)
            totals[backend][1] += int(failed)
    for backend, (sent, failed) in sorted(totals.items()):
        print(f"{backend}: {sent} hostile requests over the route table, {failed} answered 5xx")
    print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr[-400:])


if __name__ == "__main__":
    main()
