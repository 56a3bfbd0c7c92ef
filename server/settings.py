"""Settings come from the environment once, at start-up, into one immutable object."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestar.di import NamedDependency

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _read_or_create_secret(data_dir: Path) -> str:
    """A stable secret survives restarts so sessions and CSRF tokens stay valid."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    data_dir: Path
    base_url: str = "http://127.0.0.1:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Staff work at shared desks; patients use their own phone, so their sessions idle longer.
    staff_idle_minutes: int = 30
    patient_idle_minutes: int = 60 * 24 * 14
    staff_absolute_hours: int = 12
    patient_absolute_hours: int = 24 * 90
    login_max_failures_per_account: int = 5
    login_max_failures_per_ip: int = 20
    login_window_minutes: int = 15
    invite_valid_hours: int = 72
    # PostgreSQL connections each process keeps for page reads (server/reads.py), beside its engine's pool of 10
    # (+10 overflow). As many as requests a process serves at once: fewer make reads queue for one.
    read_connections: int = 16
    migrate_on_start: bool = True
    run_dispatcher_in_app: bool = True
    debug: bool = False
    env: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def push_loopback_for_tests(self) -> bool:
        """Test suites run a push service on 127.0.0.1; only this explicit switch lets a device point there.
        Whatever BASE_URL says, everyone else gets https endpoints on the known push services only."""
        return _bool(self.env.get("STEADY_PUSH_ALLOW_LOOPBACK_FOR_TESTS"), False)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = dict(os.environ if env is None else env)
        data_dir = Path(env.get("STEADY_DATA_DIR") or PROJECT_ROOT / "data")
        data_dir.mkdir(parents=True, exist_ok=True)
        host = env.get("HOST", "127.0.0.1")
        port = int(env.get("PORT", "8000"))
        database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'steady.db'}"
        if database_url.startswith("postgresql://") or database_url.startswith("postgres://"):
            database_url = "postgresql+asyncpg://" + database_url.split("://", 1)[1]
        values: dict[str, Any] = {
            "database_url": database_url,
            "secret_key": env.get("SECRET_KEY") or _read_or_create_secret(data_dir),
            "data_dir": data_dir,
            "base_url": (env.get("BASE_URL") or f"http://{host}:{port}").rstrip("/"),
            "host": host,
            "port": port,
            "migrate_on_start": _bool(env.get("STEADY_MIGRATE_ON_START"), database_url.startswith("sqlite")),
            "run_dispatcher_in_app": _bool(env.get("STEADY_DISPATCHER_IN_APP"), True),
            "debug": _bool(env.get("STEADY_DEBUG"), False),
            "env": env,
        }
        for name in ("staff_idle_minutes", "patient_idle_minutes", "invite_valid_hours", "read_connections"):
            if env.get(name.upper()):
                values[name] = int(env[name.upper()])
        values.update(overrides)
        return cls(**values)


# Route handlers declare `settings: AppSettings` to receive the app's settings.
AppSettings = NamedDependency[Settings]
