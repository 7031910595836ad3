"""Writes to the resident register (宛名の登録・更新). Every function takes an ``AccessContext`` and
runs inside the audit door, so the change and its access-log entry commit together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from yobo.core.context import AccessContext

from .extract import Problem
from .importer import ImportRejected, ImportSummary, import_extract

__all__ = ["ImportRejected", "ImportSummary", "import_residents"]


def import_residents(
    ctx: AccessContext,
    path: str | Path,
    *,
    full: bool = False,
    skip_invalid: bool = False,
    encoding: str = "auto",
    as_of: date | None = None,
    progress: bool = False,
    on_problem: Callable[[Problem], None] | None = None,
) -> ImportSummary:
    """Import a resident-register extract (住民記録の取込, CONTRACTS.md §1); purpose P01, one batch.

    Upserts by 宛名番号, keeps every change as history, puts My Numbers only into the vault, and
    with ``full`` lists the persons missing from the snapshot (never deletes them). Raises
    ``ImportRejected`` (nothing applied) or ``AccessDenied``.
    """
    return import_extract(ctx, path, full=full, skip_invalid=skip_invalid, encoding=encoding, as_of=as_of,
                          progress=progress, on_problem=on_problem)


def ensure_demo_city(
    ctx: AccessContext, var_dir: Path, *, count: int = 20_000, seed: int = 2025
) -> ImportSummary | None:
    """Load the demo city (合成住民データ) once: synthesise ``count`` residents with a fixed seed into
    ``var_dir`` and import them, only while no person is on record. Returns None when already loaded."""
    from django.conf import settings

    from yobo.audit.door import door
    from yobo.core.purposes import Operation

    from . import synth
    from .models import Person

    with door(ctx, Operation.SEARCH, resource="people.person", detail="demo city check"):
        loaded = Person.objects.filter(municipality=settings.MUNICIPALITY_CODE).exists()
    if loaded:
        return None
    path = Path(var_dir) / f"demo-residents-{seed}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    as_of = date(2025, 4, 1)
    synth.write_csv(path, count, seed=seed, as_of=as_of, date_style="mixed", kana="mixed")
    return import_extract(ctx, path, as_of=as_of)
