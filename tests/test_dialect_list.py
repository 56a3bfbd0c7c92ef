"""The PostgreSQL run keeps only tests listed as dialect-sensitive (tests/conftest.py): a renamed or mistyped
entry would silently drop that test's PostgreSQL run, so every entry must name a real test."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import DIALECT_SENSITIVE

HERE = Path(__file__).parent


def test_every_dialect_sensitive_entry_names_a_real_test() -> None:
    missing = []
    for module, names in DIALECT_SENSITIVE.items():
        path = HERE / module
        assert path.exists(), module
        defined = {
            node.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
        }
        missing += [f"{module}::{name}" for name in sorted(names or ()) if name not in defined]
    assert not missing, missing
