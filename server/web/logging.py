"""Structured JSON logs with a request id. Log what happened, never what a person wrote or their health data."""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TextIO

request_id_var: ContextVar[str] = ContextVar("request_id", default="-")


WITHHELD = "(message withheld: it may hold personal data)"


ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def scrubbed_traceback(exc_info: ExcInfo) -> str:
    """The traceback with every exception's message left out (types, files and lines stay): a driver's message
    can quote the row it refused — a note, a name, an email."""
    _kind, error, _tb = exc_info
    if error is None:
        return ""
    report = traceback.TracebackException.from_exception(error)
    seen: set[int] = set()
    pending = [report]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        current._str = WITHHELD
        if hasattr(current, "exceptions") and current.exceptions:
            pending.extend(current.exceptions)
        pending.extend(e for e in (current.__cause__, current.__context__) if e is not None)
    return "".join(report.format())


def _scrubbing_factory(previous: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrubbed_traceback(record.exc_info)
        return record

    return make


_installed: Callable[..., logging.LogRecord] | None = None  # the factory this module set, so it wraps only once


def install_log_scrubber() -> None:
    """Every log record in the process (ours, Litestar's, SQLAlchemy's, uvicorn's) carries a scrubbed
    traceback; formatters use `exc_text` when it is set."""
    global _installed
    current = logging.getLogRecordFactory()
    if current is not _installed:
        _installed = _scrubbing_factory(current)
        logging.setLogRecordFactory(_installed)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "msg": record.getMessage(),
        }
        for key in ("method", "path", "status", "ms", "role", "event", "count"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = record.exc_text or scrubbed_traceback(record.exc_info)
        return json.dumps(entry)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the moment of logging (servers and test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # under the handler's lock (Handler.handle holds it around emit)
        super().emit(record)


def configure_logging(level: int = logging.INFO) -> None:
    install_log_scrubber()
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger("steady")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"steady.{name}")
