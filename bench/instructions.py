"""CPU instructions per request for one page, counted by valgrind (cachegrind), for this tree and optionally another:
an A/B that a busy machine cannot blur. On this shared 2-core machine the same code's CPU time per request moves by
±20% from one minute to the next (docs/performance.md); the number of instructions it runs does not (two counts of
the same tree agree within ~0.5%). Instructions are not time, so this says which tree does less work and by how
much, not how many requests per second either serves.

    .venv/bin/python -m bench.instructions                                     # /today, this tree
    .venv/bin/python -m bench.instructions --baseline /work/wt/base            # and another checkout
    .venv/bin/python -m bench.instructions --path /skills --requests 200

The real app, called in-process as an ASGI app (no sockets, as bench.profile_page), signed in as the demo's Sam, on
SQLite (PostgreSQL's answers arrive in different pieces from run to run, which changes the count). The demo clinic
is loaded once and each run gets a copy of it. Each tree runs the page W + N and W times after the same warm-up, in
two processes under valgrind; the difference over N is one request's instructions, start-up and warm-up cancelled
out. Needs valgrind (Debian's package); the counts run side by side, a few minutes in all.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.pages_bench import _settings
from bench.profile_page import _lifespan, _scope, call, load_demo, sign_in

ROOT = Path(__file__).resolve().parent.parent
WARM_UP = 100


async def _serve(database: Path, path: str, requests: int) -> None:
    from server.app import create_app

    app = create_app(_settings(f"sqlite+aiosqlite:///{database}", database.parent))
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    task, queue = await _lifespan(app)
    scope = _scope(path, await sign_in(app))
    for _ in range(50):
        await call(app, scope)
    gc.collect()
    gc.freeze()  # as server/asgi.py does once the app is warm
    for _ in range(requests):
        status, _, _ = await call(app, scope)
        assert status == 200, status
    await queue.put({"type": "lifespan.shutdown"})
    await task


def _count(tree: Path, demo: Path, path: str, requests: int) -> int:
    """Instructions of one process serving `path` `requests` times after the warm-up, from a copy of the demo."""
    work = Path(tempfile.mkdtemp(prefix="steady-instructions-"))
    shutil.copy(demo, work / "steady.db")
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--child", str(work / "steady.db"), "--path", path, "--requests", str(requests),
    ]  # fmt: skip
    # This file runs in the child, but `server` and `bench` come from the tree measured (an older checkout need not
    # have this file), as bench.page_ab's servers do.
    environment = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(command, cwd=tree, capture_output=True, text=True, env=environment)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"valgrind failed in {tree}:\n{done.stderr[-2000:]}")
    shutil.rmtree(work, ignore_errors=True)
    return int(found.group(1).replace(",", ""))


def per_request(trees: dict[str, Path], demo: Path, path: str, requests: int) -> dict[str, float]:
    """Each tree's instructions per request; the counts run side by side (a count does not depend on the load)."""
    runs = [(name, n) for name in trees for n in (WARM_UP + requests, WARM_UP)]
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        counts = dict(zip(runs, pool.map(lambda run: _count(trees[run[0]], demo, path, run[1]), runs), strict=True))
    return {name: (counts[name, WARM_UP + requests] - counts[name, WARM_UP]) / requests for name in trees}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", default="/today")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--baseline", type=Path, help="another checkout of Steady to count too")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_serve(args.child, args.path, args.requests))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    demo_dir = Path(tempfile.mkdtemp(prefix="steady-instructions-demo-"))
    load_demo(f"sqlite+aiosqlite:///{demo_dir / 'steady.db'}", demo_dir)
    trees = {"this tree": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    counts = per_request(trees, demo_dir / "steady.db", args.path, args.requests)
    for name, count in counts.items():
        print(f"  {name:<10} GET {args.path}: {count / 1e6:.3f} M instructions per request ({trees[name]})")
    if args.baseline:
        print(f"  this tree ÷ baseline: {counts['this tree'] / counts['baseline']:.3f}")


if __name__ == "__main__":
    main()
