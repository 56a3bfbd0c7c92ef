"""Static files with content-hashed URLs, so they can be cached for a year and still update on deploy."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from server.settings import PROJECT_ROOT

STATIC_DIR = PROJECT_ROOT / "static"
# What the service worker keeps for offline use: the app shell, never personal data.
SHELL_ASSETS = (
    "css/app.css",
    "js/app.js",
    "js/offline-queue.js",
    "js/skills.js",
    "js/look.js",
    "vendor/htmx.min.js",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
    "icons/favicon.svg",
)


@lru_cache(maxsize=256)
def file_digest(relative: str) -> str:
    path = STATIC_DIR / relative
    if not path.is_file():
        return "0"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10]


def static_url(relative: str) -> str:
    return f"/static/{relative}?v={file_digest(relative)}"


@lru_cache(maxsize=1)
def shell_version() -> str:
    """One version for the whole shell: any changed asset (or sw.js itself) makes a new cache."""
    digest = hashlib.sha256()
    for relative in (*SHELL_ASSETS, "sw.js", "offline.html"):
        digest.update(relative.encode())
        digest.update(file_digest(relative).encode())
    return digest.hexdigest()[:12]


def shell_urls() -> list[str]:
    return [static_url(relative) for relative in SHELL_ASSETS]


def read_static(relative: str) -> bytes:
    return (STATIC_DIR / relative).read_bytes()


def static_path(relative: str) -> Path:
    return STATIC_DIR / relative
