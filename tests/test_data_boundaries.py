"""The one rule, enforced on the source: an app reaches another app's data only through that app's
services and selectors (ARCHITECTURE.md), never through its models or its tables.

import-linter keeps views, the API and the vault's cipher apart; it cannot see an app importing a
sibling's models (a lower layer may be imported) nor raw SQL naming a sibling's table. These tests
do, for the product code of every app (tests and migrations left out).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "yobo"


def _product_modules() -> list[tuple[str, Path]]:
    out = []
    for f in sorted(SRC.rglob("*.py")):
        parts = f.relative_to(SRC).parts
        if len(parts) < 2 or "tests" in parts or "migrations" in parts:
            continue
        out.append((parts[0], f))
    return out


def _tables() -> dict[str, str]:
    """db table -> owning app (the package under yobo/)."""
    from django.apps import apps

    return {m._meta.db_table: m.__module__.split(".")[1] for m in apps.get_models()
            if m.__module__.startswith("yobo.")}


def _where(f: Path, line: int) -> str:
    return f"{f.relative_to(SRC.parent)}:{line}"


def _table_pattern(tables: dict[str, str]) -> re.Pattern[str]:
    names = "|".join(map(re.escape, sorted(tables, key=len, reverse=True)))
    return re.compile(rf"(?<![A-Za-z0-9_])({names})(?![A-Za-z0-9_])")


def _sibling_tables(app: str, text: str, tables: dict[str, str]) -> list[tuple[int, str]]:
    """(line, table) for every table of another app named in ``text``."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _table_pattern(tables).finditer(text)
            if tables[m.group(1)] != app]


_MODELS = re.compile(r"^yobo\.([a-z_]+)\.(models\w*)\b")


def _sibling_models(app: str, text: str) -> list[tuple[int, str]]:
    """(line, module) for every import of another app's models in ``text``."""
    out = []
    for node in ast.walk(ast.parse(text)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            m = _MODELS.match(n)
            if m and m.group(1) != app:
                out.append((node.lineno, n))
    return out


def test_no_app_names_another_apps_table() -> None:
    tables = _tables()
    assert {"people_person", "imm_dose", "mynumber_link"} <= set(tables)  # the scan sees real tables
    found = [f"{_where(f, line)} reads {t} of {tables[t]}" for app, f in _product_modules()
             for line, t in _sibling_tables(app, f.read_text(encoding="utf-8"), tables)]
    assert found == [], "use the owning app's selectors/services:\n" + "\n".join(found)


def test_no_app_imports_another_apps_models() -> None:
    found = [f"{_where(f, line)} imports {n}" for app, f in _product_modules()
             for line, n in _sibling_models(app, f.read_text(encoding="utf-8"))]
    assert found == [], "use the owning app's selectors/services:\n" + "\n".join(found)


@pytest.mark.parametrize("snippet, bad", [
    ("cur.execute('SELECT 1 FROM people_person p')", True),
    ("cur.execute('SELECT 1 FROM people_person_x')", False),  # another name, not the table
    ("cur.execute('SELECT 1 FROM fees_status')", False),  # the app's own table
    ("from yobo.people.models import Person", True),
    ("import yobo.people.models_switch", True),
    ("from yobo.fees.models import StatusRecord", False),
    ("from yobo.people import selectors", False),
])
def test_the_scan_tells_a_sibling_read_from_an_own_one(snippet: str, bad: bool) -> None:
    tables = {"people_person": "people", "fees_status": "fees"}
    assert bool(_sibling_tables("fees", snippet, tables) or _sibling_models("fees", snippet)) is bad
