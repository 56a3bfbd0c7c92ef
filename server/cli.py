"""The `steady` command: run the server, migrate, and clinic admin tasks."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click

from server.settings import Settings

T = TypeVar("T")


def _run(make: Callable[[Settings], Coroutine[Any, Any, T]]) -> T:
    settings = Settings.from_env()
    return asyncio.run(make(settings))


async def _with_session(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    from server.db import alchemy_config

    config = alchemy_config(settings)
    maker = config.create_session_maker()
    try:
        async with maker() as db:
            result = await work(db)
            await db.commit()
            return result
    finally:
        await config.get_engine().dispose()


@click.group()
def main() -> None:
    """Steady: a companion app for people in Intensive Outpatient Programs."""


@main.command()
def migrate() -> None:
    """Bring the database schema up to date (run this on deploy for PostgreSQL)."""
    from server.db import migrate as do_migrate

    settings = Settings.from_env()
    do_migrate(settings.database_url)
    click.echo("Database is up to date.")


@main.command("vapid")
def vapid() -> None:
    """Create the Web Push (VAPID) keys in ./data if they don't exist, and print the public key."""
    from server.push.vapid import load_or_create_vapid_keys

    settings = Settings.from_env()
    keys = load_or_create_vapid_keys(settings.data_dir, settings.env)
    click.echo(f"VAPID public key: {keys.public_key}")


@main.command()
@click.option("--workers", default=1, show_default=True, help="Worker processes on this host.")
@click.option("--once", is_flag=True, help="Plan, send everything due now, then exit.")
@click.option("--batch-size", default=200, show_default=True, help="Reminders claimed per batch.")
@click.option("--concurrency", type=int, default=None, help="Sends in flight per worker (default 64).")
def dispatch(workers: int, once: bool, batch_size: int, concurrency: int | None) -> None:
    """Send due push reminders. Safe to run on many hosts at once with PostgreSQL (set
    STEADY_DISPATCHER_IN_APP=0 on the web processes then)."""
    from server.milestones.hooks import dispatcher_hooks
    from server.push.worker import WorkerOptions, run_workers

    settings = Settings.from_env()
    options = WorkerOptions(batch_size=batch_size, concurrency=concurrency, once=once)
    report = run_workers(settings, options, workers=workers, hooks_factory=dispatcher_hooks)
    if report is not None:
        click.echo(
            f"Claimed {report.claimed}: {report.sent} sent, {report.retried} to retry, {report.held} held for quiet "
            f"hours, {report.dropped} dropped, {report.failed} failed."
        )


@main.command()
def milestones() -> None:
    """Find new milestones for every patient and tell their family now (the dispatcher also does this hourly)."""
    from server.milestones import evaluate_all

    report = _run(lambda s: _with_session(s, evaluate_all))
    click.echo(
        f"Looked at {report.patients} patients: {report.recorded} new milestones, "
        f"{report.notified} family notifications."
    )


@main.command("create-admin")
@click.option("--clinic", default="My clinic", show_default=True)
@click.option("--timezone", default="America/New_York", show_default=True)
@click.option("--name", prompt=True)
@click.option("--email", prompt=True)
@click.password_option()
def create_admin(clinic: str, timezone: str, name: str, email: str, password: str) -> None:
    """Create the clinic and its first admin (the same as the one-time setup page)."""
    from server.accounts.passwords import password_problem
    from server.accounts.service import create_first_admin

    problem = password_problem(password)
    if problem:
        raise click.BadParameter(problem, param_hint="password")

    async def work(db):
        return await create_first_admin(
            db, clinic_name=clinic, timezone=timezone, name=name, email=email, password=password
        )

    user = _run(lambda s: _with_session(s, work))
    if user is None:
        click.echo("This install already has accounts; invite more people from the app.", err=True)
        sys.exit(1)
    click.echo(f"Admin {email} created.")


@main.command()
@click.option("--role", type=click.Choice(["admin", "therapist", "patient"]), required=True)
@click.option("--by", "inviter_email", required=True, help="Email of the admin or therapist inviting.")
@click.option("--note", default="")
def invite(role: str, inviter_email: str, note: str) -> None:
    """Create a one-time invite code and print the sign-up link."""
    from sqlalchemy import select

    from server.accounts.invites import create_invite
    from server.accounts.models import Role, User

    settings = Settings.from_env()

    async def work(db):
        inviter = await db.scalar(select(User).where(User.email == inviter_email.strip().lower()))
        if inviter is None:
            raise click.BadParameter("no such account", param_hint="--by")
        _invite, code = await create_invite(db, inviter, Role(role), valid_hours=settings.invite_valid_hours, note=note)
        return code

    code = _run(lambda s: _with_session(s, work))
    click.echo(f"Invite code: {code}\nLink: {settings.base_url}/join?code={code}")


@main.command()
@click.option("--demo", is_flag=True, help="Load a demo clinic (therapist, patients, family) first.")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def run(demo: bool, reload: bool) -> None:
    """Migrate, create VAPID keys if missing, and serve the app."""
    import uvicorn

    from server.db import migrate as do_migrate
    from server.push.vapid import load_or_create_vapid_keys

    settings = Settings.from_env()
    do_migrate(settings.database_url)
    load_or_create_vapid_keys(settings.data_dir, settings.env)
    if demo:
        from server.demo import load_demo

        lines = _run(lambda s: _with_session(s, lambda db: load_demo(db, s)))
        click.echo("\n".join(lines))
    else:
        click.echo(
            f"\nSteady is starting on {settings.base_url}\n"
            f"First visit? Open {settings.base_url}/setup to create the clinic's admin account.\n"
            "Otherwise sign in with your email and password. (Run `make run DEMO=1` for a demo clinic.)\n"
        )
    uvicorn.run(
        "server.asgi:app",
        host=settings.host,
        port=settings.port,
        reload=reload,
        proxy_headers=True,
        log_level="warning",
        # asyncio's own loop with a C HTTP parser. Not uvloop: a page's reads run on the loop's thread
        # (server/reads.py), and under 16 connections uvloop let a few requests wait behind many others (Skills p99
        # 191 ms against 69 on asyncio, Today 56 against 25, the same requests/s; docs/performance.md, "Seventh pass").
        loop="asyncio",
        http="httptools",
    )


if __name__ == "__main__":
    main()
