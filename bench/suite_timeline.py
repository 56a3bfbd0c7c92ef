"""Where the suite's wall time goes under pytest-xdist: per test, the worker that ran it, its xdist group and when it
started and ended (setup and teardown included), one JSON line per test, then a summary of each worker's busy and
idle time and the groups that ran longest.

    .venv/bin/pytest -n logical --dist loadgroup -p bench.suite_timeline   # writes .suite_timeline/<worker>.jsonl
    .venv/bin/python bench/suite_timeline.py [.suite_timeline]             # the summary

SUITE_TIMELINE names the folder (default .suite_timeline). A worker whose last test ends long before the other's shows
group imbalance; a group that is long and serial (the "timed" group) bounds the wall time from below.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FOLDER = Path(os.environ.get("SUITE_TIMELINE", ".suite_timeline"))


def _group(item: pytest.Item) -> str:
    from tests.conftest import xdist_group

    return xdist_group(item.nodeid) or ""


_TICKS = os.sysconf("SC_CLK_TCK")


def _tree_cpu() -> float:
    """CPU seconds of this process and its live descendants (Chromium, Playwright's driver, dispatcher processes),
    each with its reaped children's, plus this process's reaped children: what the test made the machine do, less
    the database server's share."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = sum(int(f) for f in fields[11:15]) / _TICKS
    me = os.getpid()
    total = 0.0
    for pid in cpu:
        ancestor = pid
        while ancestor > 1 and ancestor != me:
            ancestor = parents.get(ancestor, 1)
        if ancestor == me and pid != me:
            total += cpu[pid]
    own = os.times()
    return total + own.user + own.system + own.children_user + own.children_system


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    started = time.time()
    cpu = time.process_time()
    tree = _tree_cpu()
    yield
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    FOLDER.mkdir(exist_ok=True)
    record = {
        "worker": worker,
        "test": item.nodeid,
        "group": _group(item),
        "start": started,
        "end": time.time(),
        "cpu": time.process_time() - cpu,
        "tree_cpu": _tree_cpu() - tree,
    }
    with (FOLDER / f"{worker}.jsonl").open("a") as out:
        out.write(json.dumps(record) + "\n")


def summary(folder: Path) -> None:
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.jsonl")):
        records += [json.loads(line) for line in path.read_text().splitlines()]
    if not records:
        raise SystemExit(f"no records in {folder}")
    origin = min(r["start"] for r in records)
    finish = max(r["end"] for r in records)
    print(f"{len(records)} tests, {finish - origin:.1f} s from the first test's start to the last one's end")
    by_worker: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_worker[r["worker"]].append(r)
    for worker, rs in sorted(by_worker.items()):
        busy = sum(r["end"] - r["start"] for r in rs)
        cpu = sum(r["cpu"] for r in rs)
        tree = sum(r.get("tree_cpu", 0) for r in rs)
        first = min(r["start"] for r in rs) - origin
        last = max(r["end"] for r in rs) - origin
        print(f"{worker}: {len(rs)} tests, {first:.1f}-{last:.1f} s, in tests {busy:.1f} s", end=" ")
        print(f"(own CPU {cpu:.1f} s, with children {tree:.1f} s)")
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["group"] or "(ungrouped)"].append(r)
    print("\ngroups, longest first: wall in tests, own CPU, with children, worker, span")
    for name, rs in sorted(groups.items(), key=lambda kv: -sum(r["end"] - r["start"] for r in kv[1])):
        wall = sum(r["end"] - r["start"] for r in rs)
        cpu = sum(r["cpu"] for r in rs)
        tree = sum(r.get("tree_cpu", 0) for r in rs)
        workers = ",".join(sorted({r["worker"] for r in rs}))
        span = f"{min(r['start'] for r in rs) - origin:.0f}-{max(r['end'] for r in rs) - origin:.0f}"
        print(f"  {name:40} {wall:7.1f} {cpu:7.1f} {tree:7.1f}  {workers:9} {span}")
    print("\nslowest tests: wall, own CPU, with children, worker, start")
    for r in sorted(records, key=lambda r: r["start"] - r["end"])[:40]:
        wall, tree = r["end"] - r["start"], r.get("tree_cpu", 0)
        print(f"  {wall:6.1f} {r['cpu']:6.1f} {tree:6.1f} {r['worker']} {r['start'] - origin:6.0f}  {r['test']}")


if __name__ == "__main__":
    summary(Path(sys.argv[1]) if len(sys.argv) > 1 else FOLDER)
