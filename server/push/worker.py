"""Dispatcher processes for `steady dispatch`: one or more workers, each with its own event loop, engine and
HTTP connection pool. Run the command on as many hosts as you like against PostgreSQL; the claim query makes sure
each reminder goes to each device once."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import signal
from collections.abc import Callable
from dataclasses import dataclass

from server.push.dispatcher import BatchReport, Dispatcher, DispatcherHooks, sender_options
from server.push.sender import PushSender
from server.push.vapid import load_or_create_vapid_keys
from server.settings import Settings
from server.web.logging import configure_logging, get_logger

log = get_logger("push.worker")
HooksFactory = Callable[[], DispatcherHooks]


@dataclass(frozen=True)
class WorkerOptions:
    batch_size: int = 200
    concurrency: int | None = None  # sends in flight per worker; default STEADY_PUSH_CONCURRENCY or 64
    lanes: int = 2  # batches in flight per worker: one claims while another waits on the network
    poll_interval: float = 1.0
    plan_interval: float = 300.0
    once: bool = False


async def run_worker(
    settings: Settings,
    options: WorkerOptions,
    hooks_factory: HooksFactory | None = None,
    stop: asyncio.Event | None = None,
) -> BatchReport | None:
    """Run one dispatcher until `stop` is set or SIGTERM/SIGINT arrives (or, with once, until nothing is due)."""
    from server.db import alchemy_config

    config = alchemy_config(settings)
    session_maker = config.create_session_maker()
    keys = load_or_create_vapid_keys(settings.data_dir, settings.env)
    sender_kwargs = sender_options(settings.env)
    if options.concurrency:
        sender_kwargs["max_concurrency"] = options.concurrency
    sender = PushSender(keys, **sender_kwargs)
    dispatcher = Dispatcher(
        session_maker,
        sender,
        hooks=hooks_factory() if hooks_factory else None,
        batch_size=options.batch_size,
        poll_interval=options.poll_interval,
        plan_interval=options.plan_interval,
        lanes=options.lanes,
        base_url=settings.base_url,
    )
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        if options.once:
            await dispatcher.plan()
            return await dispatcher.drain()
        await dispatcher.run(stop)
        return None
    finally:
        await sender.aclose()
        await config.get_engine().dispose()


def _worker_main(settings: Settings, options: WorkerOptions, hooks_factory: HooksFactory | None) -> None:
    configure_logging()
    asyncio.run(run_worker(settings, options, hooks_factory))


def run_workers(
    settings: Settings, options: WorkerOptions, *, workers: int = 1, hooks_factory: HooksFactory | None = None
) -> BatchReport | None:
    """Run `workers` dispatcher processes and wait for them; Ctrl-C or SIGTERM stops them all cleanly."""
    if workers <= 1 or options.once:
        configure_logging()
        return asyncio.run(run_worker(settings, options, hooks_factory))
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker_main, args=(settings, options, hooks_factory), name=f"steady-dispatch-{n}")
        for n in range(workers)
    ]
    for process in processes:
        process.start()

    def forward(signum: int, _frame: object) -> None:
        for process in processes:
            if process.is_alive() and process.pid:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()

    previous = {s: signal.signal(s, forward) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        for process in processes:
            process.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return None
