"""The check-in POST (htmx) over real HTTP, this tree against another checkout, in alternating rounds (issue 12).

    .venv/bin/python -m bench.checkin_post_bench --baseline /work/wt/base
    .venv/bin/python -m bench.checkin_post_bench --baseline /work/wt/base --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.checkin_post_bench --baseline /work/wt/a --baseline /work/wt/b   # steps, in order
    .venv/bin/python -m bench.checkin_post_bench                    # this tree alone

Each tree serves its own copy of the demo clinic (SQLite: one loaded file, copied; PostgreSQL: two scratch databases
`steady_bench_post_0`, `_1`, …, each loaded, WIPED every run) under uvicorn (`server.asgi:app`, 1 worker, the tree's own
`.venv` when it has one). Then, in rounds alternating between the trees (baseline, this, baseline, this, …) so both
see the same machine load, one httpx client signed in as Sam sends htmx `POST /checkin` one after another over a
kept-alive connection, as a phone does: each with a new idempotency key, for a day without a check-in (60+ days
back: the demo fills 8 weeks), timed from sending to the whole answer read. Around each round the server's CPU time
(all its threads, from /proc) is read. Prints per tree: p50/p90/p99 of the POSTs, and server CPU ms per POST
(each round's, and over all rounds). `bench.pages_bench` reports the same POST p50 (without the A/B).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

import httpx

from bench.pages_bench import SAM, load_demo
from bench.scratch_db import fresh_postgres
from bench.server_process import ROOT, cpu_seconds, percentile, running_server, sign_in

WARM_UP = 5  # POSTs per tree before measuring (templates compiled, statements cached), on days 361-365 back
FIRST_DAY_BACK = 60


def _python(tree: Path) -> str:
    own = tree / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def _post(client: httpx.Client, token: str, back: int) -> float:
    from server import clock

    day = clock.now().date() - timedelta(days=back)
    data = {"date": day.isoformat(), "mood": "6", "craving": "3", "used": "no", "sleep_hours": "7",
            "triggers": "stress", "idempotency_key": secrets.token_urlsafe(16), "client_created_at": ""}  # fmt: skip
    started = time.perf_counter()
    response = client.post("/checkin", data=data, headers={"HX-Request": "true", "x-csrftoken": token})
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200 or "data-saved" not in response.text:
        raise RuntimeError(f"check-in POST answered {response.status_code}")
    return elapsed


def _databases(pg: str | None, trees: int) -> list[str]:
    if pg:
        urls = [asyncio.run(fresh_postgres(pg, f"steady_bench_post_{n}")) for n in range(trees)]
        for url in urls:
            load_demo(url, Path(tempfile.mkdtemp(prefix="steady-post-")))
        return urls
    loaded = Path(tempfile.mkdtemp(prefix="steady-post-")) / "steady.db"
    load_demo(f"sqlite+aiosqlite:///{loaded}", loaded.parent)
    urls = []
    for n in range(trees):
        copy = Path(tempfile.mkdtemp(prefix=f"steady-post-{n}-")) / "steady.db"
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{loaded}{suffix}").exists():
                shutil.copyfile(f"{loaded}{suffix}", f"{copy}{suffix}")
        urls.append(f"sqlite+aiosqlite:///{copy}")
    return urls


def run(label: str, pg: str | None, trees: dict[str, Path], rounds: int, posts: int) -> None:
    from server.demo import DEMO_PASSWORD

    if rounds * posts > 365 - WARM_UP - FIRST_DAY_BACK:
        raise SystemExit("rounds × posts must stay under 300 (one empty day each)")
    urls = _databases(pg, len(trees))
    print(f"\n{label}: {rounds} rounds × {posts} sequential htmx POST /checkin per tree, alternating")
    timings: dict[str, list[float]] = {name: [] for name in trees}
    cpu: dict[str, list[float]] = {name: [] for name in trees}
    loads: list[float] = []
    with ExitStack() as stack:
        clients: dict[str, tuple[httpx.Client, str, int]] = {}
        for (name, tree), url in zip(trees.items(), urls, strict=True):
            server = stack.enter_context(
                running_server(url, extra_env={"SECRET_KEY": "bench-" + "p" * 40}, root=tree, python=_python(tree))
            )
            client = sign_in(server.url, SAM, DEMO_PASSWORD)
            stack.callback(client.close)
            client.get("/checkin")  # signing in drops the CSRF cookie; the next page sets the new one
            token = client.cookies["csrftoken"]
            for n in range(WARM_UP):
                _post(client, token, 365 - n)
            clients[name] = (client, token, server.pid)
        for round_ in range(rounds):
            for name, (client, token, pid) in clients.items():
                loads.append(os.getloadavg()[0])
                before = cpu_seconds(pid)
                for n in range(posts):
                    timings[name].append(_post(client, token, FIRST_DAY_BACK + round_ * posts + n))
                cpu[name].append((cpu_seconds(pid) - before) * 1000 / posts)
    for name in trees:
        t = timings[name]
        rounds_cpu = " ".join(f"{c:.1f}" for c in cpu[name])
        print(f"  {name:<12} p50 {percentile(t, 50):5.1f} ms · p90 {percentile(t, 90):5.1f} · "
              f"p99 {percentile(t, 99):5.1f} · mean {statistics.fmean(t):5.1f} · server CPU "
              f"{statistics.fmean(cpu[name]):5.2f} ms/POST (rounds: {rounds_cpu})")  # fmt: skip
    print(f"  (load average {min(loads):.1f}–{max(loads):.1f} on {os.cpu_count()} CPUs; server CPU is counted "
          f"in clock ticks of {1000 / os.sysconf('SC_CLK_TCK'):.0f} ms, so use rounds of 40+ POSTs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, action="append", default=[],
                        help="another checkout of Steady to compare with (may be given more than once)")
    parser.add_argument("--pg", help="a PostgreSQL server URL (postgresql+asyncpg://…); PostgreSQL instead of SQLite")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--posts", type=int, default=40, help="POSTs per tree per round")
    args = parser.parse_args()
    trees = {tree.resolve().name: tree.resolve() for tree in args.baseline}
    trees["this tree"] = ROOT
    run("PostgreSQL" if args.pg else "SQLite", args.pg, trees, args.rounds, args.posts)


if __name__ == "__main__":
    main()
