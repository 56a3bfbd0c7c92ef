"""Start a real Steady server (uvicorn in its own process) on a free loopback port for benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    url: str
    database_url: str
    data_dir: Path
    pid: int = 0


def wait_until_up(url: str, timeout: float = 600.0, path: str = "/login") -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(url + path, timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def running_server(database_url: str | None = None, workers: int = 1, extra_env: dict[str, str] | None = None,
                   root: Path = ROOT, python: str = sys.executable) -> Iterator[RunningServer]:
    """Migrate a database (a fresh SQLite file unless given) and serve it with uvicorn, from the source tree
    `root` (another checkout, for an A/B in one run: `python` — this one unless given, e.g. that tree's own venv —
    imports that tree's `server` from its cwd)."""
    data_dir = Path(tempfile.mkdtemp(prefix="steady-bench-"))
    database_url = database_url or f"sqlite+aiosqlite:///{data_dir / 'steady.db'}"
    port = free_port()
    env = {
        **os.environ,
        "STEADY_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-" + "z" * 40,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "STEADY_DISPATCHER_IN_APP": "0",
        **(extra_env or {}),
    }
    subprocess.run([python, "-m", "server.cli", "migrate"], env=env, cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    process = subprocess.Popen(
        [python, "-m", "uvicorn", "server.asgi:app", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log", *serve_flags()],
        env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, timeout=60)
        yield RunningServer(url=url, database_url=database_url, data_dir=data_dir, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


# Every bench server (Steady and the bare yardsticks alike) serves as `steady run` does: asyncio's loop with
# httptools ("steady"). BENCH_SERVE picks another pair for all of them: "h11" (asyncio's loop, uvicorn's pure-Python
# parser) or "uvloop" (with httptools; needs `pip install uvloop`, no longer a dependency: docs/performance.md).
SERVE_FLAGS = {
    "steady": ["--loop", "asyncio", "--http", "httptools"],
    "h11": ["--loop", "asyncio", "--http", "h11"],
    "uvloop": ["--loop", "uvloop", "--http", "httptools"],
}


def serve_flags() -> list[str]:
    return SERVE_FLAGS[os.environ.get("BENCH_SERVE", "steady")]


def cpu_ticks() -> tuple[int, int]:
    """All CPUs' time so far, in clock ticks (/proc/stat): the total, and the part stolen by the hypervisor."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(fields), fields[7]


def stolen_since(before: tuple[int, int]) -> float:
    """The share of all CPU time since `before` (`cpu_ticks()`) that the hypervisor gave to other machines."""
    ticks, stolen = cpu_ticks()
    return (stolen - before[1]) / max(ticks - before[0], 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sign_in(url: str, email: str, password: str) -> httpx.Client:
    """A client with a signed-in session and the CSRF cookie, ready to post forms."""
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": password, "_csrf_token": client.cookies["csrftoken"]}
    )
    if response.status_code != 303:
        raise RuntimeError(f"sign-in failed: {response.status_code}")
    return client


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]
