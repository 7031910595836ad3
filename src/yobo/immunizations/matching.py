"""VRS matching (VRSデータとの照合, seed 000): compare a VRS CSV with the ledger, set-based, and
keep the error list (エラーデータ一覧) as a match run whose lines staff resolve one by one.

The run (purpose V03, one BATCH entry in the access log):

1. the VRS file is read by :mod:`.formats.vrs_csv` (a malformed file is refused whole, exit 2);
2. its doses are bulk-loaded into a temporary staging table, the ledger's active doses of the
   vaccine for the persons of the file (or of the whole city with ``full``) into another;
3. SQL pairs them: first on (宛名番号, 接種日), then the rest on (宛名番号, 接種回数); a VRS dose
   whose 宛名番号 is not in the register is ``unknown_person``, an unpaired VRS dose
   ``missing_in_ledger``, an unpaired ledger dose ``missing_in_vrs``, a pair that differs in
   date, lot or dose number ``conflict`` (``detail`` says which);
4. the lines are inserted with one ``INSERT … SELECT`` and the run keeps the counts of CONTRACTS.md §5.

Resolving a line (``resolve``) goes through the core's services inside the same door:
``accept_vrs`` records the VRS dose (missing in ledger), corrects the ledger dose to the VRS values
(conflict) or voids the ledger dose (missing in VRS); ``keep_ledger`` changes nothing;
``correct`` records/corrects with the values staff typed. Every resolution is an UPDATE entry of
the access log with the line and the person, plus the core service's own entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.problems import ERROR, Problem
from yobo.core.purposes import Operation

from . import services, store
from .formats import vrs_csv
from .formats._csvbase import ExtractError
from .inputs import DoseInput, Source
from .models import Dose
from .models_vrs import LineKind, Resolution, VrsMatchLine, VrsMatchRun

RESOURCE = "immunizations.vrs_match"
STAGE = "imm_vrs_stage"
LEDGER = "imm_vrs_ledger"
_CHUNK = 5000

ERROR_COLUMNS: tuple[str, ...] = (
    "行番号", "個別宛名番号", "エラー種別", "不一致項目", "接種回数", "VRS接種日", "VRSロット番号", "VRS券番号",
    "VRS接種自治体コード", "VRS接種会場名", "VRS接種医師名", "VRSワクチンメーカー", "VRS接種履歴登録日時",
    "台帳記録ID", "台帳接種日", "台帳ロット番号", "台帳接種回数", "VRS行番号", "処理", "処理者", "処理日時", "メモ",
)


class MatchRejected(InputRejected):
    """The VRS file cannot be matched (malformed): ``problems`` lists every problem; nothing saved."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class RunView:
    id: int
    file_name: str
    vaccine: str
    full: bool
    run_at: Any
    run_by: str
    vrs_doses: int
    counts: dict[str, int]
    open_lines: int


@dataclass(frozen=True, slots=True)
class LineView:
    """One line of the error list as staff see it."""

    id: int
    run_id: int
    atena_no: str
    kind: str
    kind_label: str
    detail: str
    src_row: int | None
    dose_number: int | None
    vrs_date: date | None
    vrs_lot: str
    vrs_voucher: str
    vrs_municipality: str
    vrs_venue: str
    vrs_doctor: str
    vrs_maker: str
    vrs_registered: str
    ledger_dose_id: int | None
    ledger_date: date | None
    ledger_lot: str
    ledger_dose_number: int | None
    resolution: str
    resolution_label: str
    resolved_by: str
    resolved_at: Any
    note: str
    result_dose_id: int | None

    @property
    def is_open(self) -> bool:
        return not self.resolution

    def cells(self, n: int) -> list[str]:
        def s(v: Any) -> str:
            return "" if v is None else (v.strftime("%Y%m%d") if isinstance(v, date) else str(v))

        return [
            str(n), self.atena_no, self.kind_label, self.detail, s(self.dose_number), s(self.vrs_date), self.vrs_lot,
            self.vrs_voucher, self.vrs_municipality, self.vrs_venue, self.vrs_doctor, self.vrs_maker,
            self.vrs_registered, s(self.ledger_dose_id), s(self.ledger_date), self.ledger_lot,
            s(self.ledger_dose_number), s(self.src_row), self.resolution_label if self.resolution else "",
            self.resolved_by, self.resolved_at.isoformat() if self.resolved_at else "", self.note,
        ]


# --- the match ---------------------------------------------------------------------------------


def _person_table() -> str:
    return str(apps.get_model("people", "Person")._meta.db_table)


def _create_stage(cur: Any) -> None:
    tail = " ON COMMIT DROP" if store.pg() else ""
    for t in (STAGE, LEDGER):
        cur.execute(f"DROP TABLE IF EXISTS {t}")
    cur.execute(
        f"CREATE TEMPORARY TABLE {STAGE} (sid integer PRIMARY KEY, atena_no varchar(15), dose_number integer, "
        "vdate date, lot varchar(40), voucher varchar(10), muni varchar(6), venue varchar(200), doctor varchar(100), "
        "maker varchar(100), registered varchar(14), src_row integer, known integer DEFAULT 0, dose_id bigint)"
        + tail
    )
    cur.execute(
        f"CREATE TEMPORARY TABLE {LEDGER} (id bigint PRIMARY KEY, atena_no varchar(15), dose_number integer, "
        "ldate date, lot varchar(40), used integer DEFAULT 0)" + tail
    )


def _drop_stage(cur: Any) -> None:
    if not store.pg():
        for t in (STAGE, LEDGER):
            cur.execute(f"DROP TABLE IF EXISTS {t}")


def _stage_rows(doses: list[DoseInput]) -> Iterator[tuple[Any, ...]]:
    for i, d in enumerate(doses):
        _, row = services.parse_ref(d.ref)
        yield (i + 1, d.atena_no, d.dose_number, d.date, d.lot_number.upper(), d.voucher_no, d.municipality_code,
               d.venue[:200], d.doctor[:100], d.manufacturer[:100],
               d.registered_at.strftime("%Y%m%d%H%M%S") if d.registered_at else "", row)


def _load(cur: Any, doses: list[DoseInput]) -> None:
    cols = "sid, atena_no, dose_number, vdate, lot, voucher, muni, venue, doctor, maker, registered, src_row"
    if store.pg():
        raw: Any = cur.cursor
        with raw.copy(f"COPY {STAGE} ({cols}) FROM STDIN") as cp:
            for r in _stage_rows(doses):
                cp.write_row(r)
        return
    sql = f"INSERT INTO {STAGE} ({cols}) VALUES ({', '.join(['%s'] * 12)})"
    buf: list[tuple[Any, ...]] = []
    for r in _stage_rows(doses):
        buf.append(r)
        if len(buf) >= _CHUNK:
            cur.executemany(sql, buf)
            buf = []
    if buf:
        cur.executemany(sql, buf)


def _pair(cur: Any, m: str, vaccine: str, full: bool) -> None:
    """The set-based pairing of staged VRS doses with ledger doses (see the module docstring)."""
    dose_t, person_t = Dose._meta.db_table, _person_table()
    cur.execute(f"CREATE INDEX {STAGE}_a ON {STAGE} (atena_no)")
    cur.execute(
        f"UPDATE {STAGE} SET known = 1 WHERE EXISTS (SELECT 1 FROM {person_t} p "
        f"WHERE p.municipality = %s AND p.atena_no = {STAGE}.atena_no)", [m])
    who = "" if full else f" AND d.atena_no IN (SELECT atena_no FROM {STAGE})"
    cur.execute(
        f"INSERT INTO {LEDGER} (id, atena_no, dose_number, ldate, lot) "
        f"SELECT d.id, d.atena_no, d.dose_number, d.date, UPPER(d.lot_number) FROM {dose_t} d "
        f"WHERE d.municipality = %s AND d.vaccine = %s AND d.state = 'active' AND d.screening_only = %s{who}",
        [m, vaccine, False])
    cur.execute(f"CREATE INDEX {LEDGER}_a ON {LEDGER} (atena_no, ldate)")
    for on in ("l.ldate = s.vdate", "l.dose_number = s.dose_number"):
        cur.execute(
            f"UPDATE {STAGE} SET dose_id = (SELECT MIN(l.id) FROM {LEDGER} l, {STAGE} s WHERE s.sid = {STAGE}.sid "
            f"AND l.atena_no = s.atena_no AND l.used = 0 AND {on}) WHERE known = 1 AND dose_id IS NULL")
        cur.execute(f"UPDATE {LEDGER} SET used = 1 WHERE id IN (SELECT dose_id FROM {STAGE} WHERE dose_id IS NOT NULL)")


def _insert_lines(cur: Any, run_id: int, m: str) -> None:
    line_t = VrsMatchLine._meta.db_table
    diff = (
        "(CASE WHEN l.ldate <> s.vdate THEN 'date,' ELSE '' END) || "
        "(CASE WHEN s.lot <> '' AND l.lot <> '' AND l.lot <> s.lot THEN 'lot,' ELSE '' END) || "
        "(CASE WHEN s.dose_number IS NOT NULL AND l.dose_number IS NOT NULL AND l.dose_number <> s.dose_number "
        "THEN 'dose,' ELSE '' END)"
    )
    cols = ("run_id, municipality, atena_no, kind, detail, src_row, dose_number, vrs_date, vrs_lot, vrs_voucher, "
            "vrs_municipality, vrs_venue, vrs_doctor, vrs_maker, vrs_registered, ledger_dose_id, ledger_date, "
            "ledger_lot, ledger_dose_number, resolution, note")
    vrs_side = ("s.src_row, s.dose_number, s.vdate, s.lot, s.voucher, s.muni, s.venue, s.doctor, s.maker, "
                "s.registered")
    # VRS-side lines: unknown person, missing in ledger, conflicts (pairs with a difference).
    cur.execute(
        f"INSERT INTO {line_t} ({cols}) SELECT %s, %s, s.atena_no, "
        f"CASE WHEN s.known = 0 THEN 'unknown_person' WHEN s.dose_id IS NULL THEN 'missing_in_ledger' "
        f"ELSE 'conflict' END, "
        f"CASE WHEN s.dose_id IS NULL THEN '' ELSE {diff} END, {vrs_side}, "
        f"l.id, l.ldate, COALESCE(l.lot, ''), l.dose_number, '', '' "
        f"FROM {STAGE} s LEFT JOIN {LEDGER} l ON l.id = s.dose_id "
        f"WHERE s.known = 0 OR s.dose_id IS NULL OR {diff} <> '' ORDER BY s.sid", [run_id, m])
    # Ledger-side lines: ledger doses nobody in the VRS file paired with.
    cur.execute(
        f"INSERT INTO {line_t} ({cols}) SELECT %s, %s, l.atena_no, 'missing_in_vrs', '', NULL, l.dose_number, NULL, "
        f"'', '', '', '', '', '', '', l.id, l.ldate, l.lot, l.dose_number, '', '' FROM {LEDGER} l WHERE l.used = 0 "
        f"ORDER BY l.atena_no, l.ldate", [run_id, m])
    # The detail was built with a trailing comma.
    cur.execute(f"UPDATE {line_t} SET detail = SUBSTR(detail, 1, LENGTH(detail) - 1) "
                f"WHERE run_id = %s AND detail LIKE %s", [run_id, "%,"])


def match_file(
    ctx: AccessContext, path: str | Path, *, vaccine: str = vrs_csv.DEFAULT_VACCINE, full: bool = False,
    encoding: str = "auto",
) -> RunView:
    """Match a VRS CSV against the ledger and save the run with its error list. Purpose V03.

    Raises :class:`MatchRejected` (nothing saved) when the file is malformed, ``AccessDenied`` when
    the context may not run the match.
    """
    p = Path(path)
    vaccine = vaccine.strip().upper()
    with door(ctx, Operation.BATCH, resource=RESOURCE, target=p.name) as rec:
        try:
            reader = vrs_csv.read_vrs_csv(p, encoding, vaccine)
        except ExtractError as exc:
            raise MatchRejected(str(exc), [Problem(p.name, None, None, str(exc))]) from None
        doses = list(reader)
        if not reader.ok:
            raise MatchRejected(
                f"VRSファイルに誤りがあるため照合していません（{len(reader.errors)}件）。"
                f" / the VRS file has {len(reader.errors)} problems; not matched.",
                [q for q in reader.problems if q.severity == ERROR],
            )
        m = store.municipality()
        run = VrsMatchRun.objects.create(
            municipality=m, file_name=p.name[:255], file_sha256=services.file_sha256(p), vaccine=vaccine, full=full,
            run_by_id=ctx.staff_id, terminal=ctx.terminal, request_id=ctx.request_id, run_at=timezone.now(),
            vrs_doses=len(doses),
        )
        with connection.cursor() as cur:
            _create_stage(cur)
            try:
                _load(cur, doses)
                _pair(cur, m, vaccine, full)
                _insert_lines(cur, run.pk, m)
                cur.execute(f"SELECT COUNT(*) FROM {STAGE} WHERE known = 1 AND dose_id IS NOT NULL")
                paired = int(cur.fetchone()[0])
            finally:
                _drop_stage(cur)
        counts = dict.fromkeys(LineKind.values, 0)
        for row in VrsMatchLine.objects.filter(run=run).values("kind").annotate(n=Count("id")):
            counts[row["kind"]] = row["n"]
        run.missing_in_ledger = counts[LineKind.MISSING_IN_LEDGER]
        run.missing_in_vrs = counts[LineKind.MISSING_IN_VRS]
        run.conflicts = counts[LineKind.CONFLICT]
        run.unknown_person = counts[LineKind.UNKNOWN_PERSON]
        run.matched = paired - run.conflicts
        run.save()
        rec.detail = (f"run {run.pk} {vaccine} vrs={len(doses)} matched={run.matched} "
                      f"missing_in_ledger={run.missing_in_ledger} missing_in_vrs={run.missing_in_vrs} "
                      f"conflicts={run.conflicts} unknown={run.unknown_person}")
        rec.targets = sorted(set(VrsMatchLine.objects.filter(run=run).values_list("atena_no", flat=True))) or [""]
    return _run_view(run)


# --- reading the runs and lines ------------------------------------------------------------------


def _run_view(run: VrsMatchRun) -> RunView:
    open_lines = VrsMatchLine.objects.filter(run=run, resolution=Resolution.OPEN).count()
    by = apps.get_model("access", "Staff").objects.filter(pk=run.run_by_id).values_list("username", flat=True).first()
    return RunView(run.pk, run.file_name, run.vaccine, run.full, run.run_at, by or "", run.vrs_doses, run.counts(),
                   open_lines)


def _line_view(x: VrsMatchLine, names: dict[int, str]) -> LineView:
    return LineView(
        x.pk, x.run_id, x.atena_no, x.kind, LineKind(x.kind).label, x.detail, x.src_row, x.dose_number, x.vrs_date,
        x.vrs_lot, x.vrs_voucher, x.vrs_municipality, x.vrs_venue, x.vrs_doctor, x.vrs_maker, x.vrs_registered,
        x.ledger_dose_id, x.ledger_date, x.ledger_lot, x.ledger_dose_number, x.resolution,
        Resolution(x.resolution).label, names.get(x.resolved_by_id or 0, ""), x.resolved_at, x.note,
        x.result_dose_id,
    )


def _names(ids: set[int]) -> dict[int, str]:
    staff = apps.get_model("access", "Staff")
    return dict(staff.objects.filter(pk__in=ids).values_list("pk", "username")) if ids else {}


def runs(ctx: AccessContext, *, limit: int = 30) -> list[RunView]:
    """Recent match runs (no personal data beyond counts; logged as a SEARCH)."""
    with door(ctx, Operation.SEARCH, resource=RESOURCE) as rec:
        out = [_run_view(r) for r in VrsMatchRun.objects.filter(municipality=store.municipality())
               .order_by("-run_at", "-id")[:limit]]
        rec.detail = f"runs {len(out)}"
    return out


def run_lines(ctx: AccessContext, run_id: int, *, only_open: bool = False) -> tuple[RunView, list[LineView]]:
    """A run and its error list, in file order (ledger-side lines last). One READ per person listed."""
    with door(ctx, Operation.READ, resource=RESOURCE, target=f"run {run_id}") as rec:
        run = VrsMatchRun.objects.filter(pk=run_id, municipality=store.municipality()).first()
        if run is None:
            raise InputRejected(f"照合結果 {run_id} はありません / no such match run")
        qs = VrsMatchLine.objects.filter(run=run).order_by("id")
        if only_open:
            qs = qs.filter(resolution=Resolution.OPEN)
        rows = list(qs)
        names = _names({x.resolved_by_id for x in rows if x.resolved_by_id})
        lines = [_line_view(x, names) for x in rows]
        rec.targets = sorted({x.atena_no for x in rows}) or [""]
        rec.detail = f"run {run_id} lines={len(lines)}"
        view = _run_view(run)
    return view, lines


def get_line(ctx: AccessContext, line_id: int) -> LineView:
    with door(ctx, Operation.READ, resource=RESOURCE) as rec:
        x = VrsMatchLine.objects.filter(pk=line_id, municipality=store.municipality()).first()
        if x is None:
            raise InputRejected(f"照合結果の行 {line_id} はありません / no such line")
        rec.targets = [x.atena_no]
        return _line_view(x, _names({x.resolved_by_id} if x.resolved_by_id else set()))


def error_rows(lines: list[LineView]) -> Iterator[list[str]]:
    """The error list (エラーデータ一覧) as CSV cells, ``ERROR_COLUMNS`` order."""
    for n, x in enumerate(lines, 1):
        yield x.cells(n)


# --- resolving a line --------------------------------------------------------------------------------


ACTIONS = {Resolution.ACCEPT_VRS, Resolution.KEEP_LEDGER, Resolution.CORRECT}


def _vrs_input(x: VrsMatchLine, vaccine: str, **over: Any) -> DoseInput:
    from datetime import datetime

    reg = None
    if x.vrs_registered:
        reg = datetime.strptime(x.vrs_registered, "%Y%m%d%H%M%S")
    base = DoseInput(
        atena_no=x.atena_no, vaccine=vaccine, date=x.vrs_date or date.min, dose_number=x.dose_number,
        venue=x.vrs_venue, doctor=x.vrs_doctor, manufacturer=x.vrs_maker, lot_number=x.vrs_lot,
        voucher_no=x.vrs_voucher, municipality_code=x.vrs_municipality, registered_at=reg, source=Source.VRS,
        ref=f"VRS照合 {x.run_id}:{x.src_row or 0}",
    )
    for k, v in over.items():
        setattr(base, k, v)
    return base


def resolve(
    ctx: AccessContext, line_id: int, action: str, *, note: str = "", date_value: date | None = None,
    lot: str | None = None, dose_number: int | None = None,
) -> LineView:
    """Resolve one line (解消): ``accept_vrs``, ``keep_ledger`` or ``correct`` (with the values typed).

    The dose is recorded / corrected / voided through the core's services (validated like any
    input; a blocking problem refuses the resolution and leaves the line open). Purpose V03.
    """
    try:
        act = Resolution(action)
    except ValueError:
        raise InputRejected("処理は accept_vrs / keep_ledger / correct のいずれかです / unknown action") from None
    if act not in ACTIONS:
        raise InputRejected("処理を選んでください / choose an action")
    with door(ctx, Operation.UPDATE, resource="immunizations.vrs_line", target=str(line_id)) as rec:
        x = VrsMatchLine.objects.select_for_update().filter(pk=line_id, municipality=store.municipality()).first()
        if x is None:
            raise InputRejected(f"照合結果の行 {line_id} はありません / no such line")
        rec.targets = [x.atena_no]
        if x.resolution:
            raise InputRejected("この行は処理済みです / this line is already resolved")
        vaccine = VrsMatchRun.objects.filter(pk=x.run_id).values_list("vaccine", flat=True).get()
        reason = f"VRS照合 {x.run_id}-{x.pk}: {note}".strip()[:200]
        result_id: int | None = None
        kind = LineKind(x.kind)
        if act == Resolution.CORRECT and date_value is None and lot is None and dose_number is None:
            raise InputRejected("訂正する値を入力してください / give the corrected values")
        over: dict[str, Any] = {}
        if act == Resolution.CORRECT:
            if date_value is not None:
                over["date"] = date_value
            if lot is not None:
                over["lot_number"] = lot.strip().upper()
            if dose_number is not None:
                over["dose_number"] = dose_number
        if act == Resolution.KEEP_LEDGER:
            pass
        elif kind == LineKind.UNKNOWN_PERSON:
            raise InputRejected("宛名番号が台帳にないため登録できません。住民記録を確認してください。"
                                " / the person is not in the register; nothing can be recorded")
        elif kind == LineKind.MISSING_IN_LEDGER:
            result_id = services.record_dose(ctx, _vrs_input(x, vaccine, **over)).dose_id
        elif kind == LineKind.CONFLICT:
            assert x.ledger_dose_id is not None  # noqa: S101 — a conflict always has its ledger side
            changes = over or {"date": x.vrs_date, "lot_number": x.vrs_lot or x.ledger_lot,
                               "dose_number": x.dose_number or x.ledger_dose_number}
            result_id = services.correct_dose(ctx, x.ledger_dose_id, reason, **changes).dose_id
        elif kind == LineKind.MISSING_IN_VRS:
            assert x.ledger_dose_id is not None  # noqa: S101
            if act == Resolution.ACCEPT_VRS:
                if not note.strip():
                    raise InputRejected("台帳の記録を取り消す理由をメモに入力してください / give the reason to void")
                services.void_dose(ctx, x.ledger_dose_id, reason)
            else:
                result_id = services.correct_dose(ctx, x.ledger_dose_id, reason, **over).dose_id
        x.resolution = act.value
        x.resolved_by_id = ctx.staff_id
        x.resolved_at = timezone.now()
        x.note = note.strip()[:200]
        x.result_dose_id = result_id
        x.save(update_fields=["resolution", "resolved_by", "resolved_at", "note", "result_dose_id"])
        rec.detail = f"line {x.pk} run {x.run_id} {x.kind} -> {act.value}" + (f" dose {result_id}" if result_id else "")
        return _line_view(x, {ctx.staff_id: ctx.username})
