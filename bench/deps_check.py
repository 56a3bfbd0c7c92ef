"""Dependencies declared exactly as imported: every third-party package server/ imports is in pyproject's
[project] dependencies, and every declared one is imported (or listed below with the reason it is not).

    .venv/bin/python bench/deps_check.py      # run by `make lint`; prints both lists, exits 1 on any mismatch
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Declared without an import statement in server/: loaded by name at run time.
RUNTIME_ONLY = {
    "aiosqlite": "the SQLite driver SQLAlchemy loads for sqlite+aiosqlite:// URLs",
    "asyncpg": "the PostgreSQL driver SQLAlchemy loads for postgresql+asyncpg:// URLs",
    "tzdata": "IANA time zones for zoneinfo where the system has none",
    "httptools": "the HTTP parser uvicorn serves with (`steady run`: http=\"httptools\")",
}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_distributions() -> dict[str, set[str]]:
    """distribution -> the server/ modules importing it."""
    found: dict[str, set[str]] = {}
    owners = packages_distributions()
    for path in sorted((ROOT / "server").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top == "server" or top in sys.stdlib_module_names:
                    continue
                for dist in owners.get(top, [f"<not installed: {top}>"]):
                    found.setdefault(_norm(dist), set()).add(str(path.relative_to(ROOT)))
    return found


def main() -> int:
    declared = {
        _norm(re.split(r"[\[<>=!~;\s]", spec, maxsplit=1)[0])
        for spec in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    used = imported_distributions()
    missing = sorted(set(used) - declared)
    unused = sorted(declared - set(used) - set(RUNTIME_ONLY))
    for dist in missing:
        print(f"imported but not declared: {dist} (in {', '.join(sorted(used[dist])[:3])})")
    for dist in unused:
        print(f"declared but never imported: {dist}")
    print(f"dependencies: {len(declared)} declared, {len(used)} imported, {len(RUNTIME_ONLY)} runtime-only;"
          f" {len(missing)} undeclared, {len(unused)} unused")  # fmt: skip
    return 1 if missing or unused else 0


if __name__ == "__main__":
    raise SystemExit(main())
