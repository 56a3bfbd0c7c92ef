"""A/B of one page under load, in one run: this tree and another checkout serve the same database, and wrk rounds
alternate between them (A B B A A B …), so both see the machine as it is at that minute.

    git worktree add --detach /work/wt/base <commit>      # copy static/vendor and the .mo catalogue in
    .venv/bin/python -m bench.page_ab --baseline /work/wt/base /today
    .venv/bin/python -m bench.page_ab --baseline /work/wt/base /today --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.page_ab --baseline /work/wt/base /today --gc   # + the collector (bench/gc_probe.py)
    STEADY_MIGRATE_ON_START=0 .venv/bin/python -m bench.page_ab --baseline …   # a baseline older than a migration

The database is migrated by this tree; a baseline that does not know its newest migration would refuse to start
while migrating on start (SQLite's default), hence STEADY_MIGRATE_ON_START=0 for such an A/B.

The demo clinic is loaded once (SQLite in a temporary folder, or a scratch PostgreSQL database `steady_bench_pages`,
WIPED) and migrated by this tree; both servers run uvicorn with 1 worker and the same loop and parser, and wrk runs
with 2 threads and 16 connections, signed in as Sam. Prints each round and, per tree, the mean requests/s, p50,
p99 (the mean of the rounds' p99s, and the worst) and the server's CPU per request; with --gc, each tree's
collections (count, median and worst pause) and how many objects the collector still walks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench.pages_bench import SAM, WrkResult, fresh_postgres, load_demo, wrk
from bench.server_process import ROOT, free_port, serve_flags, sign_in, wait_until_up


@contextmanager
def _serving(tree: Path, env: dict[str, str], gc_report: Path | None) -> Iterator[tuple[str, int]]:
    module = "gc_probe:app" if gc_report else "server.asgi:app"
    # The probe module comes from this tree's bench/; `server` from the tree served (its cwd).
    path = f"{ROOT / 'bench'}:{tree}" if gc_report else str(tree)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", module, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--log-level", "warning", "--no-access-log", *serve_flags()],
        env={**env, "PYTHONPATH": path, "GC_PROBE_OUT": str(gc_report or "")}, cwd=tree,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("path", help="the page, e.g. /today")
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (A); this tree is B")
    parser.add_argument("--pg", help="a PostgreSQL server URL (postgresql+asyncpg://…)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--gc", action="store_true", help="serve bench/gc_probe.py and report the collector")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="steady-ab-"))
    url = asyncio.run(fresh_postgres(args.pg)) if args.pg else f"sqlite+aiosqlite:///{data_dir / 'steady.db'}"
    env = {**os.environ, "STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench-" + "p" * 40,
           "STEADY_DISPATCHER_IN_APP": "0"}
    load_demo(url, data_dir)
    from server.demo import DEMO_PASSWORD

    trees = {"A": args.baseline.resolve(), "B": ROOT}
    reports = {name: data_dir / f"gc-{name}.txt" if args.gc else None for name in trees}
    results: dict[str, list[WrkResult]] = {name: [] for name in trees}
    with ExitStack() as stack:
        served = {name: stack.enter_context(_serving(tree, env, reports[name])) for name, tree in trees.items()}
        cookies = {}
        for name, (server_url, _pid) in served.items():
            client = sign_in(server_url, SAM, DEMO_PASSWORD)
            assert client.get(args.path).status_code == 200, (name, args.path)
            session, csrf = client.cookies["steady_session"], client.cookies["csrftoken"]
            cookies[name] = f"steady_session={session}; csrftoken={csrf}"
            client.close()
            wrk(server_url + args.path, 2, cookies[name])  # warm-up
        print(f"{args.path} on {'PostgreSQL' if args.pg else 'SQLite'}: A = {trees['A']}, B = {trees['B']}")
        for round_ in range(args.rounds):
            for name in ("A", "B") if round_ % 2 == 0 else ("B", "A"):
                server_url, pid = served[name]
                result = wrk(server_url + args.path, args.seconds, cookies[name], pid=pid)
                results[name].append(result)
                print(f"{name} {result.row(args.path)}", flush=True)
    for name, rounds in results.items():
        n = len(rounds)
        print(f"{name}: {sum(r.rps for r in rounds) / n:.0f} req/s · p50 {sum(r.p50_ms for r in rounds) / n:.1f} ms · "
              f"p99 {sum(r.p99_ms for r in rounds) / n:.1f} ms (worst {max(r.p99_ms for r in rounds):.1f}) · "
              f"server CPU {sum(r.cpu_ms for r in rounds) / n:.2f} ms/req · errors {sum(r.errors for r in rounds)}")
        report = reports[name]
        if report is not None and report.exists():
            print("   " + "\n   ".join(report.read_text().splitlines()[:5]))


if __name__ == "__main__":
    main()
