"""Wall time of the whole test suite in two trees, one after the other on the same machine, and their ratio (issue 11:
`make test` with PostgreSQL in at most half the time it took at 4ef1402, with no test dropped).

    TEST_DATABASE_URL=postgresql+asyncpg://... .venv/bin/python bench/suite_time.py BEFORE_TREE AFTER_TREE
        [--command "make test"] [--repeat 1]

Each tree is a checkout (a worktree at 4ef1402, say) with its own .venv, set up as the README says. The command runs
in each tree in turn (never both at once: they would share the CPUs), with TEST_DATABASE_URL as given. Prints, per
tree, its commit, the load average before the run, the wall time and pytest's summary line (the test counts must
match, less any tests added since), then after/before. Exits 1 if a run failed (its time is still shown).
Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

SUMMARY = re.compile(r"^=*\s*(\d+ (?:failed|passed).*?) in [\d.]+s", re.MULTILINE)


def _commit(tree: Path) -> str:
    described = subprocess.run(["git", "-C", str(tree), "log", "-1", "--format=%h %s"], capture_output=True, text=True)
    return described.stdout.strip()[:72]


def timed_run(tree: Path, command: list[str]) -> tuple[float, str, bool]:
    """Wall seconds of `command` in `tree`, pytest's summary line, and whether it passed."""
    started = time.monotonic()
    run = subprocess.run(command, cwd=tree, capture_output=True, text=True, env=os.environ.copy())
    seconds = time.monotonic() - started
    found = SUMMARY.findall(run.stdout)
    if run.returncode != 0:  # still timed: a failure at the baseline is reported, not hidden
        sys.stdout.write(run.stdout[-3000:] + run.stderr[-2000:])
    return seconds, found[-1] if found else "(no pytest summary)", run.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the tree measured first (the baseline)")
    parser.add_argument("after", type=Path, help="the tree compared with it")
    parser.add_argument("--command", default="make test", help="run in each tree (default: make test)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per tree, alternating; the best of each is kept")
    args = parser.parse_args()
    if not os.environ.get("TEST_DATABASE_URL"):
        raise SystemExit("set TEST_DATABASE_URL: the target is about the suite with PostgreSQL")
    command = shlex.split(args.command)
    best: dict[str, float] = {}
    failed: list[str] = []
    for _ in range(args.repeat):
        for label, tree in (("before", args.before), ("after", args.after)):
            load = os.getloadavg()[0]
            seconds, summary, passed = timed_run(tree.resolve(), command)
            best[label] = min(seconds, best.get(label, seconds))
            failed += [] if passed else [label]
            print(f"{label:6} {_commit(tree)}\n       load {load:.2f} before the run; {seconds:6.1f} s wall; {summary}")
    ratio = best["after"] / best["before"]
    print(f"before {best['before']:.1f} s, after {best['after']:.1f} s: after/before = {ratio:.2f} (target <= 0.50)")
    if failed:
        raise SystemExit(f"the command failed in: {', '.join(failed)}")


if __name__ == "__main__":
    main()
