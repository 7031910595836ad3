"""VRS export (VRSへの登録用ファイル, issue 5 item 7): the ledger's doses the city must upload, in the
§5 layout (CONTRACTS.md), without My Numbers — written only as an **approved export**
(``yobo.exports``: request → second-person approval → encrypted ZIP → media log).

Two export kinds are registered (``register_kinds``, from the app's ``ready``):

- ``immunizations.vrs`` — the upload file: the doses of the vaccine (default ``COVID-B``) that did
  not come from VRS itself (keyed forms, clinic CSV, HL7, exchange), optionally only those entered
  since a date, one row per person, dose groups n = 1..k by dose number;
- ``immunizations.vrs_errors`` — the error list (エラーデータ一覧) of a match run, for the
  ``--out`` of ``yobo vrs match``.

The columns hold no 個人番号 (the exports registry refuses it as an item anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation, Purpose

from . import store
from .formats import vrs_csv
from .inputs import DoseInput
from .matching import ERROR_COLUMNS
from .models import Dose, DoseState

KIND = "immunizations.vrs"
ERRORS_KIND = "immunizations.vrs_errors"
MAX_DOSES = 10  # dose groups the kind may carry (the header of a file uses as many as needed)


def register_kinds() -> None:
    from yobo.exports import registry

    registry.register(registry.ExportKind(
        code=KIND, label="VRS登録用ファイル (予防接種台帳向け出力の形式)", items=tuple(vrs_csv.header(MAX_DOSES)),
        purposes=frozenset({Purpose.VRS_MATCHING.value}), producer=_produce, target_column=vrs_csv.ATENA,
    ))
    registry.register(registry.ExportKind(
        code=ERRORS_KIND, label="VRS照合のエラーデータ一覧", items=ERROR_COLUMNS,
        purposes=frozenset({Purpose.VRS_MATCHING.value}), target_column="個別宛名番号",
    ))


@dataclass(frozen=True, slots=True)
class Selection:
    vaccine: str = vrs_csv.DEFAULT_VACCINE
    since: date | None = None


def upload_doses(ctx: AccessContext, sel: Selection) -> list[DoseInput]:
    """The active doses to upload (not from VRS, not 予診のみ), ordered by person and date. One BATCH
    read entry (purpose V03) naming every person read."""
    with door(ctx, Operation.BATCH, resource="immunizations.dose", detail="vrs export read") as rec:
        qs = (Dose.objects.filter(municipality=store.municipality(), vaccine=sel.vaccine, state=DoseState.ACTIVE,
                                  screening_only=False).exclude(source="vrs"))
        if sel.since is not None:
            qs = qs.filter(entered_on__gte=sel.since)
        out = [
            DoseInput(atena_no=r[0], vaccine=sel.vaccine, date=r[1], dose_number=r[2], venue=r[3], doctor=r[4],
                      manufacturer=r[5], lot_number=r[6], voucher_no=r[7], municipality_code=r[8],
                      registered_at=timezone.localtime(r[9]) if r[9] else None)
            for r in qs.order_by("atena_no", "date", "id").values_list(
                "atena_no", "date", "dose_number", "venue", "doctor", "manufacturer", "lot_number", "voucher_no",
                "municipality", "registered_at")
        ]
        rec.targets = sorted({d.atena_no for d in out}) or [""]
        rec.detail = f"vrs export read {sel.vaccine} since={sel.since} doses={len(out)}"
    return out


def rows(doses: Sequence[DoseInput]) -> tuple[list[str], Iterator[list[str]]]:
    """(header, rows) of the §5 layout; dose groups as many as the largest dose number (≤ MAX_DOSES)."""
    people = list(_numbered(doses))
    k = max((max(p.doses) for p in people if p.doses), default=1)
    if k > MAX_DOSES:
        raise ValueError(f"dose number {k} exceeds {MAX_DOSES}")

    def it() -> Iterator[list[str]]:
        for p in people:
            cells = [p.atena_no]
            for n in range(1, k + 1):
                cells += vrs_csv.dose_group(p.doses.get(n))
            yield cells

    return vrs_csv.header(k), it()


def _numbered(doses: Iterable[DoseInput]) -> Iterator[vrs_csv.VrsPerson]:
    """Group by person; a dose without a number takes the next free one (in date order)."""
    cur: vrs_csv.VrsPerson | None = None
    for d in doses:
        if cur is None or cur.atena_no != d.atena_no:
            if cur is not None:
                yield cur
            cur = vrs_csv.VrsPerson(d.atena_no)
        n = d.dose_number if d.dose_number and d.dose_number not in cur.doses else max(cur.doses, default=0) + 1
        cur.doses[n] = d
    if cur is not None:
        yield cur


def _produce(ctx: AccessContext, request: Any) -> tuple[list[str], Iterator[list[str]]]:
    """Producer for ``yobo exports run``: every dose to upload (no ``since``)."""
    return rows(upload_doses(ctx, Selection()))


def write(ctx: AccessContext, request_id: int, out_dir: Path | str, sel: Selection) -> Any:
    """Write the upload file for an approved request (``exports.open_export``: refused unless approved).

    Returns the exports result (path, serial, password shown once, rows, persons).
    """
    from yobo.exports import services as exports

    doses = upload_doses(ctx, sel)
    header, body = rows(doses)
    with exports.open_export(ctx, request_id, out_dir=out_dir) as out:
        out.write_rows(header, body)
    return out.result


def write_errors(ctx: AccessContext, request_id: int, out_dir: Path | str, cells: Iterable[Sequence[str]]) -> Any:
    """Write a match run's error list for an approved ``immunizations.vrs_errors`` request."""
    from yobo.exports import services as exports

    with exports.open_export(ctx, request_id, out_dir=out_dir) as out:
        out.write_rows(ERROR_COLUMNS, cells)
    return out.result
