"""Questionnaire figures.

    .venv/bin/python -m bench.questionnaire_bench                 # all three; PostgreSQL from TEST_DATABASE_URL
    .venv/bin/python -m bench.questionnaire_bench --pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python -m bench.questionnaire_bench --skip-phone --patients 30 --requests 30

Prints:
1. Answering a PHQ-9 on a phone: a patient opens it from Today and answers all 9 items (plus the optional
   difficulty question) in Chromium at 390×844 with touch, scripted: taps counted (each answer, each Next, the
   link from Today and "See my result") and seconds from the tap on Today to the result page (the script taps
   as fast as the page allows, so a person's reading time comes on top).
2. The therapist dashboard with questionnaires for N patients (default 100) × 1 year on PostgreSQL: the year of
   daily data bench/dashboard_bench.py seeds, plus every patient sharing questionnaires with a PHQ-9 and a GAD-7
   every 2 weeks and a BAM-IOP every week for the year (104 results each), 3 open item-9 follow-ups; p50 / p99 of
   GET /therapist over --requests requests (uvicorn, 1 worker).
3. SQL statements per page (in-process, a `before_cursor_execute` listener), for the therapist's and the
   patient's questionnaire pages, at N patients and at 10 patients.

For PostgreSQL a scratch database `steady_bench_q` is created next to the given one (and WIPED on every run).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench import dashboard_bench
from bench.server_process import percentile, running_server, sign_in

CHROMIUM = "/usr/bin/chromium"
PASSWORD = dashboard_bench.PASSWORD


# -- 1. the phone ---------------------------------------------------------------------------------------------


def phone_figures() -> None:
    from playwright.sync_api import sync_playwright

    from server.accounts.models import Role
    from tests.conftest import Database

    with running_server() as server:
        db = Database(server.database_url)
        patient = db.make_user(Role.PATIENT, "phone@bench.steady", name="Robin")

        async def assign(session: Any) -> None:
            from server.questionnaires import service

            await service.assign(session, patient.id, "phq9", "biweekly", date.today() - timedelta(days=1), None, None)

        db.run(assign)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            context = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
            )
            page = context.new_page()
            page.goto(f"{server.url}/login")
            page.get_by_label("Email").fill(patient.email)
            page.get_by_label("Password").fill("a calm blue lake")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/today")
            taps = 0
            started = time.perf_counter()
            page.get_by_role("link", name="Answer: Mood questionnaire (PHQ-9)").tap()
            taps += 1
            answers = ["Several days", "Not at all", "More than half the days", "Several days", "Not at all",
                       "Several days", "Not at all", "Not at all", "Not at all", "Somewhat difficult"]  # fmt: skip
            for number, answer in enumerate(answers, start=1):
                page.locator("fieldset.q-item:not([hidden])").get_by_text(answer, exact=True).tap(force=True)
                taps += 1
                button = "See my result" if number == len(answers) else "Next"
                page.get_by_role("button", name=button).tap()
                taps += 1
            page.wait_for_url("**/questionnaires/results/*")
            page.locator(".q-summary").wait_for()
            seconds = time.perf_counter() - started
            summary = page.locator(".q-summary").inner_text()
            browser.close()
    print("1. Answering a PHQ-9 on a phone (Chromium, 390×844, touch, scripted)")
    print(f"   {taps} taps (1 to open it from Today, 10 answers, 9 Next, 1 See my result), {seconds:.1f} s end to end")
    print(f"   result shown: {summary!r}")


# -- 2 and 3. the dashboard and statements per page ------------------------------------------------------------


async def seed_questionnaires(url: str, patients: int, days: int) -> int:
    from server.questionnaires.instruments import all_instruments
    from server.questionnaires.models import Assignment, Response
    from server.questionnaires.scoring import score

    rng = random.Random(13)
    now = datetime.now(UTC)
    engine = create_async_engine(url, poolclass=NullPool)
    rows: list[dict[str, Any]] = []
    assignments: list[dict[str, Any]] = []
    instruments = all_instruments()
    for i in range(patients):
        uid = 2 + i
        start = now.date() - timedelta(days=days)
        for code, step in (("phq9", 14), ("gad7", 14), ("bam_iop", 7)):
            assignments.append({"patient_id": uid, "instrument": code, "cadence": "weekly" if step == 7 else "biweekly",
                                "starts_on": start, "created_at": now, "updated_at": now})  # fmt: skip
            ins = instruments[code]
            level = rng.randint(0, 2)
            for k, back in enumerate(range(days, 0, -step)):
                day = now.date() - timedelta(days=back)
                answers: dict[str, int] = {}
                for item in ins.items:
                    if item.ask_if_above is not None and answers.get(item.ask_if_above[0], 0) <= item.ask_if_above[1]:
                        continue
                    values = sorted(item.values)
                    answers[item.id] = values[min(len(values) - 1, max(0, level + rng.randint(-1, 1)))]
                if code == "phq9":
                    answers["9"] = 0
                    if i < 3 and back == min(range(days, 0, -step)):
                        answers["9"] = 1  # three open same-day follow-ups
                result = score(ins, answers)
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=19)
                rows.append(
                    {
                        "user_id": uid, "instrument": code, "instrument_version": 1, "status": "complete",
                        "answers": answers, "idempotency_key": f"q{uid}-{code}-{k}", "payload_hash": "x",
                        "due_on": day, "local_date": day, "total": result.total, "score": result.as_json(),
                        "safety": result.safety, "started_at": at, "updated_at": at, "completed_at": at,
                        "followup_note": "",
                    }
                )  # fmt: skip
    await dashboard_bench._bulk(engine, Assignment, assignments)
    await dashboard_bench._bulk(engine, Response, rows)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    return len(rows)


PATIENT_EMAIL = "p0@bench.steady"


def statements_per_page(url: str, data_dir: Path) -> dict[str, int]:
    from litestar.testing import TestClient

    from server.app import create_app
    from server.settings import Settings

    settings = Settings.from_env(
        {"STEADY_DATA_DIR": str(data_dir), "DATABASE_URL": url, "SECRET_KEY": "bench-" + "q" * 40},
        migrate_on_start=False,
        run_dispatcher_in_app=False,
    )
    app = create_app(settings)
    dashboard_bench._quiet()
    engine = app.plugins.get("SQLAlchemyPlugin").config[0].get_engine().sync_engine  # type: ignore[union-attr]
    counts: dict[str, int] = {}

    def count(client: TestClient, label: str, path: str) -> None:
        assert client.get(path).status_code == 200, path  # warm-up
        seen: list[str] = []

        def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        response = client.get(path)
        event.remove(engine, "before_cursor_execute", listener)
        assert response.status_code == 200, (path, response.status_code)
        counts[label] = len(seen)

    def sign(client: TestClient, email: str) -> None:
        client.get("/login")
        token = client.cookies.get("csrftoken")
        client.post("/login", data={"email": email, "password": PASSWORD, "_csrf_token": token})

    with TestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        sign(client, dashboard_bench.THERAPIST[0])
        count(client, "therapist: GET /therapist (dashboard)", "/therapist")
        count(client, "therapist: a patient's questionnaires", "/therapist/patients/2/questionnaires")
        count(client, "therapist: a patient's week (with questionnaires)", "/therapist/patients/2")
        count(client, "therapist: a patient's questionnaires CSV", "/therapist/patients/2/questionnaires.csv")
    with TestClient(app=app, base_url="http://127.0.0.1:8000") as client:
        sign(client, PATIENT_EMAIL)
        count(client, "patient: GET /today", "/today")
        count(client, "patient: GET /questionnaires (results, trends)", "/questionnaires")
        count(client, "patient: GET /questionnaires/phq9 (a screen)", "/questionnaires/phq9")
        count(client, "patient: the Progress trend panel", "/questionnaires/panel")
        latest = asyncio.run(_latest_result(url))
        count(client, "patient: a result", f"/questionnaires/results/{latest}")
    return counts


async def _latest_result(url: str) -> int:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT max(id) FROM questionnaire_response WHERE user_id = 2 AND status = 'complete'")
        )
    await engine.dispose()
    return int(value)


def time_dashboard(url: str, requests: int) -> tuple[float, float, float]:
    dashboard_bench._quiet()
    with running_server(url) as server:
        client = sign_in(server.url, dashboard_bench.THERAPIST[0], PASSWORD)
        for _ in range(5):
            assert client.get("/therapist").status_code == 200
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get("/therapist")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and "Same-day follow-up" in response.text
        client.close()
    return percentile(timings, 50), percentile(timings, 99), statistics.fmean(timings)


def dashboard_figures(pg: str, patients: int, days: int, requests: int) -> None:
    from server.db import migrate

    dashboard_bench.BENCH_DB = "steady_bench_q"
    if "questionnaires" not in dashboard_bench.CATEGORIES:
        dashboard_bench.CATEGORIES.append("questionnaires")
    url = asyncio.run(dashboard_bench.fresh_postgres(pg))
    print(f"\n2. Therapist dashboard with questionnaires, PostgreSQL: {patients} patients × {days} days")
    migrate(url)
    started = time.monotonic()
    asyncio.run(dashboard_bench.seed(url, patients, days))
    results = asyncio.run(seed_questionnaires(url, patients, days))
    print(f"   seeded {results} questionnaire results in {time.monotonic() - started:.1f} s (with the daily data)")
    load = os.getloadavg()[0]
    p50, p99, mean = time_dashboard(url, requests)
    print(
        f"   GET /therapist over {requests} requests (uvicorn, 1 worker): p50 {p50:.1f} ms · p99 {p99:.1f} ms · "
        f"mean {mean:.1f} ms (load average {load:.1f} on {os.cpu_count()} CPUs)"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="steady-q-"))
    full = statements_per_page(url, data_dir)
    asyncio.run(dashboard_bench._keep_consents(url, 10))
    few = statements_per_page(url, data_dir)
    asyncio.run(dashboard_bench._restore_consents(url))
    print(f"\n3. SQL statements per page (in-process): with {patients} sharing patients / with 10")
    for label, n in full.items():
        print(f"   {label}: {n} / {few[label]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pg",
        default=os.environ.get("TEST_DATABASE_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server URL",
    )
    parser.add_argument("--patients", type=int, default=100)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--skip-phone", action="store_true")
    args = parser.parse_args()
    if not args.skip_phone:
        phone_figures()
    dashboard_figures(args.pg, args.patients, args.days, args.requests)


if __name__ == "__main__":
    main()
