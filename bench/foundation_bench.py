"""Issue 2 figures: cold `make run` on a fresh clone, first-load size of the login page (gzip, all assets),
and requests/second + p99 latency of an authenticated page GET under wrk.

    .venv/bin/python bench/foundation_bench.py            # all three
    .venv/bin/python bench/foundation_bench.py --skip-cold-start
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.server_process import ROOT, free_port, running_server, sign_in, wait_until_up


def cold_make_run() -> float:
    """Clone the committed tree and time `make run` until the first 200 from the server."""
    workdir = Path(tempfile.mkdtemp(prefix="steady-cold-"))
    clone = workdir / "steady"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "DATABASE_URL", "STEADY_DATA_DIR")}
    env.update(PORT=str(port), HOST="127.0.0.1")
    started = time.monotonic()
    process = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until_up(f"http://127.0.0.1:{port}", timeout=900, path="/setup")
        return time.monotonic() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


ASSET = re.compile(r'(?:href|src)="(/[^"]+)"')


def login_page_weight(url: str) -> tuple[int, int, list[str]]:
    """Bytes on the wire (gzip) for /login and every asset it references (CSS, JS, icons, manifest)."""
    with httpx.Client(base_url=url, headers={"Accept-Encoding": "gzip"}) as client:
        page = client.get("/login")
        urls = sorted({u for u in ASSET.findall(page.text) if not u.startswith(("/join", "/login"))})
        wire = 0
        raw = 0
        for path in ["/login", *urls]:
            response = client.get(path)
            body = response.content
            raw += len(body)
            # httpx decodes gzip; measure what the server sent by recompressing only if it sent gzip.
            sent_gzip = response.headers.get("content-encoding") == "gzip"
            wire += len(gzip.compress(body, 6)) if sent_gzip else len(body)
        return wire, raw, urls


def wrk_authenticated(url: str, cookie: str, seconds: int = 10) -> tuple[float, str]:
    result = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", "-H", f"Cookie: steady_session={cookie}",
         f"{url}/today"],
        capture_output=True, text=True, check=True,
    )
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+\w+)", result.stdout).group(1)  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} failed responses under load")
    return rps, p99


async def make_patient(database_url: str) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from server.accounts.models import Clinic, Role, User
    from server.accounts.passwords import hash_password

    engine = create_async_engine(database_url)
    async with async_sessionmaker(engine)() as session:
        session.add(Clinic(id=1, name="Bench clinic"))
        await session.flush()
        session.add(User(clinic_id=1, email="bench@example.org", display_name="Bench", role=Role.PATIENT,
                         password_hash=hash_password("a calm blue lake")))
        await session.commit()
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-cold-start", action="store_true")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()

    if not args.skip_cold_start:
        print(f"cold `make run` on a fresh clone until the first 200: {cold_make_run():.1f} s")
    with running_server() as server:
        wire, raw, urls = login_page_weight(server.url)
        print(f"login page first load: {wire} bytes gzip on the wire ({raw} bytes uncompressed), "
              f"{len(urls) + 1} requests")
        asyncio.run(make_patient(server.database_url))
        client = sign_in(server.url, "bench@example.org", "a calm blue lake")
        rps, p99 = wrk_authenticated(server.url, client.cookies["steady_session"], args.seconds)
        print(f"authenticated GET /today (wrk, 2 threads, 16 connections, {args.seconds}s, 1 uvicorn worker, "
              f"SQLite): {rps:.0f} requests/s, p99 {p99}")


if __name__ == "__main__":
    main()
