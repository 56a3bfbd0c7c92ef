"""Profile one page's request path in-process: the real app, called as an ASGI app, signed in as the demo's Sam.

    .venv/bin/python -m bench.profile_page                          # /today, CPU ms per request, 2000 requests
    .venv/bin/python -m bench.profile_page --path /crisis --profile # + a pyinstrument tree (pip install pyinstrument)
    .venv/bin/python -m bench.profile_page --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.profile_page --path /checkin --language es --dump /tmp/pages  # + each page's HTML
    .venv/bin/python -m bench.profile_page --posts 200 [--profile]  # check-in POSTs (htmx): ms each, statements

No sockets, no HTTP parser: what is left is what Steady itself does per request (middleware, session, guards,
the handler's SQL, rendering, the answer), measured as process CPU time (all threads) per request, sequentially
and with 16 requests in flight (as wrk's 16 connections keep the server busy); and how many objects a request
leaves in reference cycles, for the garbage collector.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pages_bench import SAM, _settings, fresh_postgres, load_demo


def _scope(path: str, cookie: bytes, method: str = "GET", extra: list[tuple[bytes, bytes]] | None = None,
           language: str = "en") -> dict[str, Any]:
    route, _, query = path.partition("?")
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": route, "raw_path": route.encode(), "query_string": query.encode(), "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"text/html"), (b"cookie", cookie),
                    (b"accept-language", language.encode()), *(extra or [])],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }


async def call(app: Any, scope: dict[str, Any], body: bytes = b"") -> tuple[int, bytes, dict[bytes, bytes]]:
    """One request through the app: status, body and the cookies it set (name → `name=value`)."""
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    set_cookies = [value for name, value in start["headers"] if name == b"set-cookie"]
    cookies = {value.split(b"=", 1)[0]: value.split(b";")[0] for value in set_cookies}
    return start["status"], content, cookies


async def _lifespan(app: Any) -> Any:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    await queue.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    task = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, send))
    await started.wait()
    return task, queue


async def sign_in(app: Any) -> bytes:
    from urllib.parse import urlencode

    from server.demo import DEMO_PASSWORD

    _, _, cookies = await call(app, _scope("/login", b""))
    csrf = cookies[b"csrftoken"]
    token = csrf.split(b"=", 1)[1].decode()
    body = urlencode({"email": SAM, "password": DEMO_PASSWORD, "_csrf_token": token}).encode()
    status, _, cookies = await call(
        app, _scope("/login", csrf, "POST", [(b"content-type", b"application/x-www-form-urlencoded")]), body)
    assert status == 303, status
    session = cookies[b"steady_session"]
    # A fresh CSRF cookie comes with the next page (sign-in drops the old one), as a browser would keep it.
    _, _, cookies = await call(app, _scope("/today", session))
    return session + b"; " + cookies[b"csrftoken"]


async def measure(app: Any, scope: dict[str, Any], requests: int, concurrency: int) -> float:
    """CPU ms per request (all threads) over `requests` requests, `concurrency` in flight."""
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            status, _, _ = await call(app, scope)
            assert status == 200, status

    cpu = time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return (time.process_time() - cpu) * 1000 / requests


async def left_for_the_collector(app: Any, scope: dict[str, Any], requests: int = 50) -> float:
    """Objects each request leaves in reference cycles (freed only by the cyclic collector, whose full collections
    pause every request in flight): counted by one collection after `requests` requests with it switched off."""
    gc.collect()
    gc.disable()
    try:
        for _ in range(requests):
            status, _, _ = await call(app, scope)
            assert status == 200, status
        return gc.collect() / requests
    finally:
        gc.enable()


async def run(url: str, data_dir: Path, paths: list[str], requests: int, profile: bool, cprofile: bool,
              language: str = "en", posts: int = 0) -> dict[str, bytes]:
    """Measures each page; returns each page's HTML (as first served) by path."""
    import logging

    from server.app import create_app

    app = create_app(_settings(url, data_dir))
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    task, queue = await _lifespan(app)
    cookie = await sign_in(app)
    pages: dict[str, bytes] = {}
    for path in paths:
        scope = _scope(path, cookie, language=language)
        status, body, _ = await call(app, scope)
        assert status == 200, (path, status)
        pages[path] = body
        await measure(app, scope, 200, 16)  # warm-up
        # The least of five rounds: other processes on a busy machine only ever add (cache misses, preemption).
        sequential = min([await measure(app, scope, requests // 5, 1) for _ in range(5)])
        parallel = min([await measure(app, scope, requests // 5, 16) for _ in range(5)])
        print(f"  {path:<22} CPU ms/request (least of 5 rounds): sequential {sequential:.2f} · "
              f"16 in flight {parallel:.2f} ({len(body)} bytes) · left for the collector "
              f"{await left_for_the_collector(app, scope):.0f} objects/request")
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
            await measure(app, scope, requests, 16)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
        if cprofile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
            await measure(app, scope, requests, 16)
            profiler.disable()
            stats = pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
            stats.print_stats(45)
            if os.environ.get("PROFILE_CALLEES"):
                stats.print_callees(os.environ["PROFILE_CALLEES"])
    if posts:
        await checkin_posts(app, cookie, posts, profile, cprofile)
    await queue.put({"type": "lifespan.shutdown"})
    await task
    return pages


async def checkin_posts(app: Any, cookie: bytes, posts: int, profile: bool, cprofile: bool = False) -> None:
    """htmx POST /checkin, one after another, each for a different empty day (60+ days back: the demo fills 8
    weeks): wall and CPU ms per POST, and the statements one POST runs (listed once)."""
    import secrets
    from datetime import timedelta
    from urllib.parse import urlencode

    from sqlalchemy import event

    from server import clock

    token = dict(part.split(b"=", 1) for part in cookie.split(b"; "))[b"csrftoken"].decode()
    headers = [(b"content-type", b"application/x-www-form-urlencoded"), (b"hx-request", b"true"),
               (b"x-csrftoken", token.encode())]  # fmt: skip
    today = clock.now().date()
    engine = app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine
    seen: list[str] = []

    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:110])

    async def one(n: int) -> None:
        day = today - timedelta(days=60 + n % 3000)
        form = {"date": day.isoformat(), "mood": "6", "craving": "3", "used": "no", "sleep_hours": "7",
                "triggers": "stress", "idempotency_key": secrets.token_urlsafe(16), "client_created_at": ""}
        status, _, _ = await call(app, _scope("/checkin", cookie, "POST", headers), urlencode(form).encode())
        assert status == 200, status

    event.listen(engine, "before_cursor_execute", listener)
    await one(0)
    event.remove(engine, "before_cursor_execute", listener)
    print(f"  check-in POST (htmx): {len(seen)} statements")
    for statement in seen:
        print(f"    {statement}")
    walls = []
    cpu = time.process_time()
    for n in range(1, posts + 1):
        started = time.perf_counter()
        await one(n)
        walls.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / posts
    walls.sort()
    print(f"  check-in POST over {posts}: wall p50 {walls[len(walls) // 2]:.2f} ms · p99 "
          f"{walls[min(len(walls) - 1, len(walls) * 99 // 100)]:.2f} ms · CPU {cpu_ms:.2f} ms each")  # fmt: skip
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        for n in range(posts + 1, 2 * posts + 1):
            await one(n)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
    if cprofile:  # on the days after the ones above (each POST a day's first check-in)
        import cProfile
        import pstats

        cprofiler = cProfile.Profile()
        cprofiler.enable()
        for n in range(2 * posts + 1, 3 * posts + 1):
            await one(n)
        cprofiler.disable()
        stats = pstats.Stats(cprofiler).sort_stats(os.environ.get("PROFILE_SORT", "tottime"))
        stats.print_stats(45)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--path", action="append", help="page(s) to measure (default: /today)")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true", help="print a pyinstrument call tree per page")
    parser.add_argument("--cprofile", action="store_true", help="print cProfile's top functions by own time")
    parser.add_argument("--pg", help="a PostgreSQL server URL; a scratch database is created next to it")
    parser.add_argument("--language", default="en", help="the browser's language (Accept-Language)")
    parser.add_argument("--dump", type=Path, help="write each page's HTML into this folder")
    parser.add_argument("--posts", type=int, default=0, help="also time this many check-in POSTs (htmx)")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="steady-profile-"))
    url = asyncio.run(fresh_postgres(args.pg)) if args.pg else f"sqlite+aiosqlite:///{data_dir / 'steady.db'}"
    load_demo(url, data_dir)
    pages = asyncio.run(
        run(url, data_dir, args.path or ([] if args.posts else ["/today"]), args.requests, args.profile, args.cprofile,
            args.language, args.posts)
    )
    if args.dump:  # to compare two trees' pages (the CSRF token and idempotency keys differ by run)
        args.dump.mkdir(parents=True, exist_ok=True)
        for path, body in pages.items():
            name = path.strip("/").replace("/", "_").replace("?", "_") or "root"
            (args.dump / f"{name}.{args.language}.html").write_bytes(body)


if __name__ == "__main__":
    main()
