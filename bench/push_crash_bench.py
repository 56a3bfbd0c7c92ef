"""Reminders under a crash: three `steady dispatch` processes on PostgreSQL, a slow loopback push service,
`kill -9` of one worker a quarter of the way through. Prints sent/received/duplicates and how long the dead
worker's rows took to go out again. Baseline in the same run: the same load with no kill.

    python -m bench.push_crash_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from server.db import migrate
from tests.support.push_crash import run


def _fresh(url: str) -> None:
    async def reset() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()

    asyncio.run(reset())
    migrate(url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", required=True, help="a scratch PostgreSQL database (its schema is replaced)")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--per-person", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.1, help="seconds the push service takes per message")
    args = parser.parse_args()
    for label, kill_after in (("baseline (no kill)", 10**9), ("kill -9 one of three", None)):
        _fresh(args.pg)
        with tempfile.TemporaryDirectory() as data:
            r = run(args.pg, Path(data), people=args.people, per_person=args.per_person, delay=args.delay,
                    kill_after=kill_after, timeout=120)  # fmt: skip
        print(
            f"{label}: reminders {r.reminders}, received {r.received} ({r.distinct} distinct), "
            f"duplicates {r.duplicates} (limit: {r.in_flight_limit} in flight; with another Topic: "
            f"{r.duplicates_with_other_topic}), recorded as sent {r.recorded_sent}, "
            f"killed after {r.killed_after} arrived, all received {r.seconds_until_all_received:.1f} s later"
        )


if __name__ == "__main__":
    main()
