"""Profile GET /therapist in-process on a database `bench.dashboard_bench` seeded (100 patients × 365 days):
the real app called as an ASGI app (no sockets), signed in as the bench therapist, `gc.freeze()` after the
warm-up as `server.asgi` does in production.

    .venv/bin/python -m bench.dashboard_profile --url postgresql+asyncpg://postgres@127.0.0.1:5432/steady_bench_dash
    .venv/bin/python -m bench.dashboard_profile --url URL --profile        # + a pyinstrument call tree
    .venv/bin/python -m bench.dashboard_profile --url URL --dump /tmp/a    # + each view's HTML (to compare trees)
    .venv/bin/python -m bench.dashboard_profile --url URL --cold           # every row built (nothing remembered)

Seed first (`bench.dashboard_bench` leaves its scratch database seeded), or with
`--seed`, which wipes and seeds `--url`'s database itself. Prints CPU ms per request (least of five rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.dashboard_bench import PASSWORD, THERAPIST
from bench.pages_bench import _settings
from bench.profile_page import _lifespan, _scope, call

# The dashboard's views and filters, each rendered by --dump.
DUMPED = ("/therapist", "/therapist?view=last14", "/therapist?flag=gap", "/therapist?view=last7&flag=mood")
# What differs between two runs of the same tree: CSRF tokens and the data's own "now" are not the code's doing.
_VOLATILE = re.compile(rb'(name="_csrf_token" value=")[^"]*|("x-csrftoken": ")[^"]*', re.IGNORECASE)


async def _sign_in(app: Any) -> bytes:
    _, _, cookies = await call(app, _scope("/login", b""))
    csrf = cookies[b"csrftoken"]
    token = csrf.split(b"=", 1)[1].decode()
    body = urlencode({"email": THERAPIST[0], "password": PASSWORD, "_csrf_token": token}).encode()
    status, _, cookies = await call(
        app, _scope("/login", csrf, "POST", [(b"content-type", b"application/x-www-form-urlencoded")]), body
    )
    assert status == 303, status
    session = cookies[b"steady_session"]
    _, _, cookies = await call(app, _scope("/therapist", session))
    return session + b"; " + cookies[b"csrftoken"]


def forget() -> None:
    """Drop what the dashboard remembers between requests (its rows' summaries and sparklines), where this tree has
    such caches: every request then builds every row (a cold process, or every patient's data changed)."""
    try:
        from server.sharing import charts, dashboard
    except ImportError:
        return
    remembered = getattr(dashboard, "_remembered", None)
    if remembered is not None:
        remembered.clear()
    sparkline = getattr(charts, "_sparkline", None)
    if sparkline is not None:
        sparkline.cache_clear()


async def _cpu_ms(app: Any, scope: dict[str, Any], requests: int, cold: bool = False) -> float:
    started = time.process_time()
    for _ in range(requests):
        if cold:
            forget()
        status, _, _ = await call(app, scope)
        assert status == 200, status
    return (time.process_time() - started) * 1000 / requests


async def run(url: str, requests: int, profile: bool, dump: bool, cold: bool = False) -> dict[str, bytes]:
    """Measures (and profiles); returns each view's HTML by file name when `dump`."""
    import logging

    from server.app import create_app

    app = create_app(_settings(url, Path(tempfile.mkdtemp(prefix="steady-dash-profile-"))))
    for name in ("httpx", "steady", "steady.http"):
        logging.getLogger(name).setLevel(logging.WARNING)
    task, queue = await _lifespan(app)
    cookie = await _sign_in(app)
    pages: dict[str, bytes] = {}
    for path in DUMPED if dump else ():
        for language in ("en", "es"):
            status, body, _ = await call(app, _scope(path, cookie, language=language))
            assert status == 200, (path, status)
            name = path.strip("/").replace("/", "_").replace("?", "_").replace("&", "_")
            pages[f"{name}.{language}.html"] = _VOLATILE.sub(rb"\1\2", body)
    scope = _scope("/therapist", cookie)
    await _cpu_ms(app, scope, 10)
    gc.collect()
    gc.freeze()
    rounds = [await _cpu_ms(app, scope, max(1, requests // 5), cold) for _ in range(5)]
    print(f"  GET /therapist in-process CPU ms/request{' (cold)' if cold else ''}: least {min(rounds):.1f} · rounds "
          + " ".join(f"{r:.1f}" for r in rounds))  # fmt: skip
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0002, async_mode="disabled")
        profiler.start()
        await _cpu_ms(app, scope, requests, cold)
        profiler.stop()
        print(profiler.output_text(unicode=True, color=False, show_all=bool(os.environ.get("PROFILE_ALL"))))
    await queue.put({"type": "lifespan.shutdown"})
    await task
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="the seeded database")
    parser.add_argument("--seed", action="store_true", help="wipe and seed --url's database first")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cold", action="store_true", help="forget the remembered rows before every request")
    parser.add_argument("--dump", type=Path, help="write each dashboard view's HTML (en, es) into this folder")
    args = parser.parse_args()
    if args.seed:
        from bench import scratch_db
        from bench.dashboard_bench import seed
        from server.db import migrate

        server, _, name = args.url.rpartition("/")
        url = asyncio.run(scratch_db.fresh_postgres(server + "/postgres", name)) if "postgresql" in server else args.url
        migrate(url)
        asyncio.run(seed(url, 100, 365))
        asyncio.run(scratch_db.settle(url))
    pages = asyncio.run(run(args.url, args.requests, args.profile, args.dump is not None, args.cold))
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for name, body in pages.items():
            (args.dump / name).write_bytes(body)


if __name__ == "__main__":
    main()
