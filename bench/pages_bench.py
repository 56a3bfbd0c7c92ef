"""Every patient page side by side with two yardsticks, in one run (issue 12).

    .venv/bin/python -m bench.pages_bench                       # SQLite
    .venv/bin/python -m bench.pages_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.pages_bench --seconds 5 --pages today,crisis --no-post
    .venv/bin/python -m bench.pages_bench --pg URL --dashboard   # also the therapist dashboard, 100 × 365 days

Starts, each under uvicorn with 1 worker on a loopback port: (a) a bare Litestar "hello", (b) a bare Litestar +
Jinja page with one SELECT of 20 rows (aiosqlite, or asyncpg with --pg; bench/bare_apps.py), twice: opening a
connection per request (the yardstick behind issue 12's 861 requests/s) and on one kept connection, and (c)
Steady with the demo clinic (`steady run --demo`'s data: Sam with 8 weeks of history). Then wrk (2 threads, 16
connections) on each, signed in as Sam for Steady's patient pages, printing requests/s, p50/p99, errors, the
server's CPU time per request and SQL statements per page (counted in-process: the real app behind Litestar's
test client with a `before_cursor_execute` listener).
The bare one-query pages are measured right before and right after /today; each ratio uses their mean.
Also: a check-in POST (htmx) p50 over sequential requests, each for a different empty day.

With --both, last, PostgreSQL against SQLite page by page in the same minute: both Steady servers up at once and,
for each page, wrk rounds alternating between them (SQLite, PostgreSQL, PostgreSQL, SQLite), then each one's mean
requests/s and p99 and the ratio. The sections above run minutes apart, and on a shared machine the speed of a
minute can differ by half; the alternating rounds are the figure to quote for "PostgreSQL within 1.5× of SQLite".

For PostgreSQL a scratch database `steady_bench_pages` is created next to the given one (WIPED every run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from bench import scratch_db
from bench.server_process import (
    ROOT,
    SERVE_FLAGS,
    cpu_seconds,
    cpu_ticks,
    free_port,
    percentile,
    running_server,
    serve_flags,
    sign_in,
    stolen_since,
    wait_until_up,
)
from tests.test_statement_budget import PAGES  # the patient pages the statement budget holds, measured here too

BENCH_DB = "steady_bench_pages"
SAM = "sam@demo.steady"


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # the server process's CPU time (all its threads) per request: steadier than req/s on a busy box
    steal: float  # share of the machine's CPU time the hypervisor gave to others meanwhile (a slow spell shows here)

    def row(self, label: str, statements: str = "") -> str:
        return (f"  {label:<28} {self.rps:>7.0f} req/s  p50 {self.p50_ms:>6.1f} ms  p99 {self.p99_ms:>6.1f} ms  "
                f"errors {self.errors:<2} server CPU {self.cpu_ms:>5.2f} ms/req  steal {self.steal:>4.0%}  "
                f"{statements}")


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url: str, seconds: int, cookie: str = "", pid: int = 0) -> WrkResult:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    cpu_before = cpu_seconds(pid) if pid else 0.0
    ticks_before = cpu_ticks()
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - cpu_before if pid else 0.0
    steal = stolen_since(ticks_before)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in found.groups())
    return WrkResult(rps, p50, p99, errors, cpu * 1000 / max(total, 1), steal)


@dataclass
class Bare:
    url: str
    pid: int


@contextmanager
def bare_server(app: str, env: dict[str, str]) -> Iterator[Bare]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", f"bench.bare_apps:{app}", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--log-level", "warning", "--no-access-log", *serve_flags()],
        env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=60, path="/")
        yield Bare(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


async def fresh_postgres(server_url: str) -> str:
    return await scratch_db.fresh_postgres(server_url, BENCH_DB)


def _settings(url: str, data_dir: Path) -> Any:
    from server.settings import Settings

    return Settings.from_env(
        {"STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench-" + "p" * 40},
        migrate_on_start=False,
        run_dispatcher_in_app=False,
    )


def load_demo(url: str, data_dir: Path) -> None:
    from server.cli import _with_session
    from server.db import migrate
    from server.demo import DEMO_PASSWORD, load_demo

    migrate(url)
    settings = _settings(url, data_dir)
    asyncio.run(_with_session(settings, lambda db: load_demo(db, settings)))
    asyncio.run(scratch_db.settle(url))  # as a running database is planned (statistics), not as a fresh load
    assert DEMO_PASSWORD


def count_statements(url: str, data_dir: Path, paths: dict[str, str]) -> dict[str, int]:
    """Statements per page for Sam, in-process (after one warm-up request per page)."""
    import logging

    from litestar.testing import TestClient

    from server.app import create_app
    from server.demo import DEMO_PASSWORD

    app = create_app(_settings(url, data_dir))
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    engine = app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine  # type: ignore[union-attr]
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    counts: dict[str, int] = {}
    with TestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        client.get("/login")
        client.post("/login", data={"email": SAM, "password": DEMO_PASSWORD,
                                    "_csrf_token": client.cookies["csrftoken"]})
        for name, path in paths.items():
            assert client.get(path).status_code == 200, path
            seen.clear()
            event.listen(engine, "before_cursor_execute", listener)
            response = client.get(path)
            event.remove(engine, "before_cursor_execute", listener)
            assert response.status_code == 200, path
            counts[name] = len(seen)
    return counts


def checkin_post_p50(server_url: str, posts: int, pid: int = 0) -> tuple[float, float, float]:
    """htmx POST /checkin, one after another over one kept-alive connection, each for an empty day between 60 and 360
    days back (the demo fills 8 weeks): p50 and p99 in ms, from sending to the whole answer read, and the server's CPU
    ms per POST (all its threads, from /proc; 0 without `pid`)."""
    from server import clock
    from server.demo import DEMO_PASSWORD

    client = sign_in(server_url, SAM, DEMO_PASSWORD)
    client.get("/checkin")  # signing in drops the CSRF cookie; the next page sets the new one
    token = client.cookies["csrftoken"]
    today = clock.now().date()
    timings = []
    cpu_before = cpu_seconds(pid) if pid else 0.0
    for n in range(posts):
        day = today - timedelta(days=60 + n % 300)
        data = {"date": day.isoformat(), "mood": "6", "craving": "3", "used": "no", "sleep_hours": "7",
                "triggers": "stress", "idempotency_key": secrets.token_urlsafe(16), "client_created_at": ""}
        started = time.perf_counter()
        response = client.post("/checkin", data=data, headers={"HX-Request": "true", "x-csrftoken": token})
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"check-in POST answered {response.status_code}")
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / max(posts, 1) if pid else 0.0
    client.close()
    return percentile(timings, 50), percentile(timings, 99), cpu_ms


def run(label: str, url: str, bare_env: dict[str, str], seconds: int, pages: dict[str, str], posts: int) -> None:

    print(f"\n{label} (wrk -t2 -c16 -d{seconds}s, 1 uvicorn worker each; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    data_dir = Path(tempfile.mkdtemp(prefix="steady-pages-"))
    load_demo(url, data_dir)
    counts = count_statements(url, data_dir, pages)
    per_request = {**bare_env, "BARE_CONNECT_PER_REQUEST": "1"}
    with (
        bare_server("hello", {}) as hello,
        bare_server("one_query", per_request) as connecting,
        bare_server("one_query", bare_env) as kept,
        running_server(url, extra_env={"SECRET_KEY": "bench-" + "p" * 40}) as steady,
    ):
        cookie = _signed_in_and_warm(steady.url, pages)
        # Every server warmed alike, one second of the same load: pools filled to what 16 connections need.
        for warm in (hello, connecting, kept):
            wrk(warm.url, 1)
        print(wrk(hello.url, seconds, pid=hello.pid).row("bare hello"))
        yardsticks = {"connecting": [wrk(connecting.url, seconds, pid=connecting.pid)],
                      "kept": [wrk(kept.url, seconds, pid=kept.pid)]}
        print(yardsticks["connecting"][0].row("bare one-query, connecting"))
        print(yardsticks["kept"][0].row("bare one-query, kept conn"))
        results = {}
        for name, path in pages.items():
            results[name] = wrk(steady.url + path, seconds, cookie, pid=steady.pid)
            print(results[name].row(path, f"{counts[name]} statements"))
            if name == "today":
                yardsticks["connecting"].append(wrk(connecting.url, seconds, pid=connecting.pid))
                print(yardsticks["connecting"][1].row("bare one-query, connecting"))
                yardsticks["kept"].append(wrk(kept.url, seconds, pid=kept.pid))
                print(yardsticks["kept"][1].row("bare one-query, kept conn"))
        if posts:
            before = cpu_ticks()
            p50, p99, cpu_ms = checkin_post_p50(steady.url, posts, steady.pid)
            print(f"  check-in POST (htmx) over {posts} sequential requests: p50 {p50:.1f} ms · p99 {p99:.1f} ms · "
                  f"server CPU {cpu_ms:.2f} ms/POST · steal {stolen_since(before):.0%}")
    if "today" in pages:
        for kind, label in (("connecting", "a connection per request, issue 12's yardstick"),
                            ("kept", "one kept connection")):
            bare = sum(r.rps for r in yardsticks[kind]) / len(yardsticks[kind])
            bare_cpu = sum(r.cpu_ms for r in yardsticks[kind]) / len(yardsticks[kind])
            today = results["today"]
            print(f"  /today ÷ bare one-query ({label}): {today.rps / bare:.0%} "
                  f"({today.rps:.0f} ÷ {bare:.0f} req/s); by server CPU per request {bare_cpu / today.cpu_ms:.0%}")
    print(f"  most statements on a patient page: {max(counts.values())} (goal ≤ 4)")


def _signed_in_and_warm(url: str, pages: dict[str, str]) -> str:
    """Sign in as Sam; every page once (templates compiled, caches filled), then a second of wrk on each (pools filled
    to what 16 connections need). The cookies a phone sends: the session and the CSRF token (without it every
    answer would mint one)."""
    from server.demo import DEMO_PASSWORD

    client = sign_in(url, SAM, DEMO_PASSWORD)
    for path in pages.values():
        assert client.get(path).status_code == 200, path
    cookie = f"steady_session={client.cookies['steady_session']}; csrftoken={client.cookies['csrftoken']}"
    client.close()
    for path in pages.values():
        wrk(url + path, 1, cookie)
    return cookie


def side_by_side(urls: dict[str, str], seconds: int, pages: dict[str, str]) -> None:
    """Each page on every database in alternating wrk rounds (A B B A), with both servers up: the same minute."""
    names = list(urls)
    print(f"\nSide by side ({', '.join(names)}; per page wrk rounds {' '.join(names + names[::-1])}, "
          f"{seconds} s each; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(running_server(url, extra_env={"SECRET_KEY": "bench-" + "p" * 40}))
                   for name, url in urls.items()}  # fmt: skip
        cookies = {name: _signed_in_and_warm(server.url, pages) for name, server in servers.items()}
        widest = 0.0
        for path in pages.values():
            rounds: dict[str, list[WrkResult]] = {name: [] for name in names}
            for name in names + names[::-1]:
                rounds[name].append(wrk(servers[name].url + path, seconds, cookies[name], pid=servers[name].pid))
            rps = {name: statistics.mean(r.rps for r in found) for name, found in rounds.items()}
            cells = "  ".join(
                f"{name} {rps[name]:>5.0f} req/s p99 {statistics.mean(r.p99_ms for r in rounds[name]):>5.1f} ms "
                f"errors {sum(r.errors for r in rounds[name])}" for name in names
            )  # fmt: skip
            slower = rps[names[0]] / rps[names[1]]
            widest = max(widest, slower)
            print(f"  {path:<20} {cells}  {names[0]} ÷ {names[1]} {slower:.2f}×")
        print(f"  widest: {widest:.2f}× (goal: {names[1]} within 1.5× of {names[0]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg", help="a PostgreSQL server URL (postgresql+asyncpg://…); runs PostgreSQL only")
    parser.add_argument("--both", action="store_true", help="with --pg: SQLite first, then PostgreSQL")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--pages", default=",".join(PAGES), help="comma-separated: " + ",".join(PAGES))
    parser.add_argument("--posts", type=int, default=100, help="check-in POSTs to time (0: none)")
    parser.add_argument("--serve", choices=sorted(SERVE_FLAGS), default="steady",
                        help="every server's loop and parser: as `steady run` (asyncio + httptools), h11 or uvloop")
    parser.add_argument("--dashboard", action="store_true",
                        help="with --pg: the therapist dashboard, 100 sharing patients × 365 days")
    args = parser.parse_args()
    os.environ["BENCH_SERVE"] = args.serve  # read by every server this run starts (bench/server_process.py)
    pages = {name: PAGES[name] for name in args.pages.split(",")}
    served: dict[str, str] = {}
    if not args.pg or args.both:
        sqlite_dir = Path(tempfile.mkdtemp(prefix="steady-pages-sqlite-"))
        served["SQLite"] = f"sqlite+aiosqlite:///{sqlite_dir / 'steady.db'}"
        run("SQLite", served["SQLite"], {"BARE_SQLITE_PATH": str(sqlite_dir / "bare.db")}, args.seconds, pages,
            args.posts)  # fmt: skip
    if args.pg:
        served["PostgreSQL"] = url = asyncio.run(fresh_postgres(args.pg))
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        run("PostgreSQL", url, {"BARE_PG_DSN": dsn}, args.seconds, pages, args.posts)
    if len(served) == 2:
        side_by_side(served, max(2, args.seconds * 3 // 5), pages)
    if args.pg and args.dashboard:
        from bench import dashboard_bench

        dashboard_bench.run("PostgreSQL therapist dashboard", asyncio.run(dashboard_bench.fresh_postgres(args.pg)),
                            100, 365, 100)


if __name__ == "__main__":
    main()
