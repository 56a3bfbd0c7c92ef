"""Figures for issue 11 (architecture): type-ignore counts, the mypy result, duplicate pairs, reminder kinds,
functions over 80 lines, the files one check-in measure touched, and the import contracts.

    .venv/bin/python bench/architecture_figures.py

Prints facts measured from the tree as it is now; nothing here is timed. `make test` wall time is measured by
hand (the machine has two CPUs shared by several sessions), not here.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def type_ignores(folder: str) -> int:
    return sum(
        len(re.findall(r"#\s*type:\s*ignore", p.read_text(encoding="utf-8")))
        for p in (ROOT / folder).rglob("*.py")
    )


def duplicate_pairs() -> str:
    if not shutil.which("duplicates"):
        return "duplicates tool not installed"
    out = subprocess.run(
        ["duplicates", "--repo", "server"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    first = out.splitlines()[0] if out else ""
    m = re.match(r"(\d+) pairs", first)
    return m.group(1) if m else first


LONG_FUNCTION = 80
# The commit that added "hours of exercise" through the measure spec (server/checkins/measures.py).
MEASURE_COMMIT = "404d8b0"


def long_functions(folder: str = "server", limit: int = LONG_FUNCTION) -> list[tuple[str, int]]:
    """(module:function, lines) for every function or method longer than `limit` lines (decorators excluded)."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > limit:
                    found.append((f"{path.relative_to(ROOT)}:{node.name}", lines))
    return sorted(found, key=lambda item: -item[1])


def files_touched(commit: str) -> list[str]:
    out = subprocess.run(
        ["git", "show", "--name-only", "--format=", commit], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def import_contracts() -> str:
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
        check=False,
    ).stdout  # fmt: skip
    lines = [line.strip() for line in out.splitlines()]
    # A long contract name wraps onto a second line that ends with KEPT or BROKEN.
    kept = [
        (lines[i - 1] + " " if i and lines[i - 1].endswith("->") else "") + line
        for i, line in enumerate(lines)
        if line.endswith(("KEPT", "BROKEN"))
    ]
    summary = next((line for line in out.splitlines() if line.startswith("Contracts:")), "lint-imports gave no summary")
    return "\n".join(["    " + line for line in kept] + ["    " + summary])


def main() -> None:
    from bench.typecheck import BASELINE, run_mypy

    counts, _ = run_mypy()
    import json

    baseline = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    print("issue 11 architecture figures (baseline measured at 4ef1402 in parentheses)")
    print(f"  type: ignore in server/: {type_ignores('server')}  (259)")
    print(f"  type: ignore in tests/:  {type_ignores('tests')}  (244)")
    print(
        f"  mypy on server/: {sum(counts.values())} errors in {len(counts)} modules; ratchet baseline "
        f"{sum(baseline.values())}  (329 errors in 39 files, not checked by make lint)"
    )
    print(f"  duplicates --repo server: {duplicate_pairs()} pairs  (116)")
    import server.app  # noqa: F401  (every domain registers its reminder kinds on import)
    from server.push.kinds import all_kinds

    print(f"  reminder kinds registered by their domains: {', '.join(k.name for k in all_kinds())}")
    touched = files_touched(MEASURE_COMMIT)
    print(f"  files touched to add one check-in measure (git show {MEASURE_COMMIT}): {len(touched)}  (~15 + tests)")
    for name in touched:
        print(f"    {name}")
    long = long_functions()
    before = "7 when filed; 11 at 736c06d^"
    print(f"  functions over {LONG_FUNCTION} lines in server/: {len(long)}  ({before})")
    for name, lines in long:
        print(f"    {lines:4d}  {name}")
    print("  import contracts (lint-imports):")
    print(import_contracts())


if __name__ == "__main__":
    main()
