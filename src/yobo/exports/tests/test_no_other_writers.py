"""Nothing but ``yobo.exports`` writes files out, unless reviewed and listed here with its reason.

The walk is over the product source (tests, migrations and benchmarks excluded), by AST: a call to
``open(..., "w"|"a"|"x"|"+")``, ``X.open(mode with w/a/x)``, ``X.write_text``/``X.write_bytes``,
``csv.writer``/``csv.DictWriter``, ``zipfile.ZipFile``/``pyzipper`` or ``shutil.copy*``/``move``.
A new writer fails here until it goes through ``exports.services.open_export`` or is added to
``ALLOWED`` in review, with the reason it does not carry personal data out of the registry (or
why it must and how it is protected).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]  # src/yobo

# module path (relative to src/yobo) -> (number of writing calls, why they are acceptable). The count
# makes a new writer in an allowed module fail too, until reviewed.
ALLOWED: dict[str, tuple[int, str]] = {
    "web/management/commands/init.py": (1, "the recorded municipality code under var/ (no personal data)"),
    "mynumber/keys.py": (1, "vault keys under YOBO_KEY_DIR (no personal data)"),
    "audit/signing.py": (1, "the checkpoint signing key under YOBO_KEY_DIR (no personal data)"),
    "audit/archive.py": (2, "archived access-log segments and manifest (no My Number; kept by procedure)"),
    "people/synth.py": (2, "synthetic residents for tests and the demo (no real person)"),
    "people/extract.py": (2, "<input>.rejected.csv next to the operator's own input file (CONTRACTS.md §1)"),
    "governance/requests.py": (1, "the disclosure set (JSON; the PDF through printing) for the resident themself "
                                  "(本人開示, G01 export logged per person)"),
    "certificates/management/commands/certificates.py": (1, "the resident's own certificate card text (.shc) next "
                                                            "to its PDF, handed to the resident (CONTRACTS.md §4)"),
    "exchange/keys.py": (1, "public keys of the hub (no personal data)"),
    "exchange/demo.py": (3, "the two-city demo's and e2e test's working files under their own directory: synthetic "
                            "extracts, public keys, the permission list, server logs (decision 084)"),
    "exchange/services.py": (2, "the 副本 reconciliation work list for staff on the operator's host (宛名番号 and "
                                "dates); to be handed out it goes through exports"),
    "fees/payments.py": (4, "the bank transfer file and payment list of clinics (医療機関の口座; no resident data)"),
    "notices/services.py": (2, "numbers.csv of a print batch next to its PDF (CONTRACTS.md §4, printed in-house); "
                               "a mailing file for a print contractor goes through exports"),
    "immunizations/statistics.py": (1, "aggregated dose counts with small cells suppressed (decision 124: not "
                                        "personal data, no identifier)"),
    "immunizations/management/commands/stats.py": (1, "the same suppressed statistics table to --out (decision 124)"),
    "immunizations/formats/clinic_csv.py": (2, "synthetic clinic CSV for tests and benchmarks (its docstring)"),
    "immunizations/formats/vrs_csv.py": (2, "the §5 layout for synthetic VRS files; a real upload goes through "
                                            "exports (kind immunizations.vrs)"),
}

_WRITE_MODES = set("wax+")
_CALL_ATTRS = {"write_text", "write_bytes"}
_MODULE_CALLS = {("csv", "writer"), ("csv", "DictWriter"), ("zipfile", "ZipFile"), ("pyzipper", "AESZipFile"),
                 ("shutil", "copy"), ("shutil", "copy2"), ("shutil", "copyfile"), ("shutil", "move"),
                 ("shutil", "copytree")}


def _mode(call: ast.Call, pos: int) -> str | None:
    if len(call.args) > pos and isinstance(call.args[pos], ast.Constant) and isinstance(call.args[pos].value, str):
        return str(call.args[pos].value)
    for kw in call.keywords:
        if kw.arg == "mode" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
            return str(kw.value.value)
    return None


def writers_in(tree: ast.AST) -> list[int]:
    """Line numbers of file-writing calls in ``tree``."""
    out: list[int] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Name) and f.id == "open":
            m = _mode(node, 1)
            if m and _WRITE_MODES & set(m):
                out.append(node.lineno)
        elif isinstance(f, ast.Attribute):
            if f.attr in _CALL_ATTRS:
                out.append(node.lineno)
            elif f.attr == "open":
                m = _mode(node, 0)
                if m and _WRITE_MODES & set(m):
                    out.append(node.lineno)
            elif isinstance(f.value, ast.Name) and (f.value.id, f.attr) in _MODULE_CALLS:
                out.append(node.lineno)
    return out


def _product_files() -> list[Path]:
    out = []
    for p in sorted(SRC.rglob("*.py")):
        rel = p.relative_to(SRC).as_posix()
        parts = rel.split("/")
        if "tests" in parts or "migrations" in parts or parts[0] == "exports":
            continue
        out.append(p)
    return out


def test_the_walk_finds_writers() -> None:
    code = ("import csv, shutil\nopen('x', 'w')\nopen('y')\nP.write_text('a')\nP.open('wb')\nP.open()\n"
            "csv.writer(f)\nshutil.copy(a, b)\nopen(p, mode='a')\n")
    assert writers_in(ast.parse(code)) == [2, 4, 5, 7, 8, 9]


def test_no_file_writer_outside_exports_unless_reviewed() -> None:
    found: list[str] = []
    for p in _product_files():
        rel = p.relative_to(SRC).as_posix()
        lines = writers_in(ast.parse(p.read_text(encoding="utf-8")))
        if rel in ALLOWED and len(lines) <= ALLOWED[rel][0]:
            continue
        found += [f"src/yobo/{rel}:{n}" for n in lines]
    assert not found, (
        "File writes outside yobo.exports (personal data leaves only through exports.services.open_export; "
        "if this write carries none, add the module to ALLOWED with the reason):\n" + "\n".join(found)
    )


def test_allowed_entries_still_exist() -> None:
    missing = [rel for rel in ALLOWED if not (SRC / rel).exists()]
    assert not missing, f"stale ALLOWED entries: {missing}"
