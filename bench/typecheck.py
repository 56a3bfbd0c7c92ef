"""mypy on server/ as a ratchet: no module may have more type errors than bench/typecheck_baseline.json allows.

    .venv/bin/python bench/typecheck.py            # run by `make lint`; fails if any module grew (or a new one errs)
    .venv/bin/python bench/typecheck.py --update   # after fixing errors: lower the baseline (it never rises)

The baseline only goes down: --update refuses to raise a module's count. Configuration: [tool.mypy] in pyproject.
It also counts `# type: ignore` comments in server/ and fails above IGNORE_LIMIT: an ignore hides an error from the
ratchet, so fix the type instead (sqlmodel.col(), db.pk(), db.id_col(), db.rowcount(), db.table_of()).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "bench" / "typecheck_baseline.json"
LINE = re.compile(r"^(server/[^:]+\.py):\d+: error:")
IGNORE_LIMIT = 40  # issue 11: at most 40 `type: ignore` in server/ (267 before)


def count_ignores() -> int:
    return sum(path.read_text().count("type: ignore") for path in (ROOT / "server").rglob("*.py"))


def run_mypy() -> tuple[Counter[str], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "server"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    counts: Counter[str] = Counter()
    for line in proc.stdout.splitlines():
        m = LINE.match(line)
        if m:
            counts[m.group(1)] += 1
    return counts, proc.stdout


def main(argv: list[str]) -> int:
    ignores = count_ignores()
    if ignores > IGNORE_LIMIT:
        print(f"{ignores} `type: ignore` comments in server/, more than {IGNORE_LIMIT}: fix the types instead")
        return 1
    counts, output = run_mypy()
    baseline: dict[str, int] = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    if "--update" in argv:
        raised = {m: n for m, n in counts.items() if n > baseline.get(m, 0)} if baseline else {}
        if raised:
            print("refusing to raise the baseline for:", raised)
            return 1
        BASELINE.write_text(json.dumps(dict(sorted(counts.items())), indent=1) + "\n")
        print(f"baseline: {sum(counts.values())} errors in {len(counts)} modules")
        return 0
    grown = {m: (n, baseline.get(m, 0)) for m, n in counts.items() if n > baseline.get(m, 0)}
    total, allowed = sum(counts.values()), sum(baseline.values())
    if grown:
        for line in output.splitlines():
            if ": error:" in line and any(line.startswith(m + ":") for m in grown):
                print(line)
        for m, (n, b) in sorted(grown.items()):
            print(f"{m}: {n} type errors, the baseline allows {b}")
        print("mypy ratchet: FAILED (fix the new errors; the baseline never rises)")
        return 1
    print(f"mypy ratchet: {total} errors (baseline {allowed}) in {len(counts)} modules: none grew;"
          f" {ignores} `type: ignore` in server/ (limit {IGNORE_LIMIT})")  # fmt: skip
    if total < allowed:
        print("  fewer than the baseline: run `.venv/bin/python bench/typecheck.py --update` to lock it in")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
