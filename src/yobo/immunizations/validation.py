"""Validation of reported doses (接種記録の点検), the same on every path (screen, files, API).

Pure: no Django. The caller loads, in bulk, what the rules need — the persons' birth date, sex and
residence status (:class:`Persons`), their doses already on record (:class:`Ledger`) and the masters
(:class:`Masters`) — and :func:`validate` checks a whole batch column-wise with numpy and the schedule
engine's population API (one evaluation for the batch, never one query or one engine call per row).

Every problem has a stable code (:data:`RULES`), a severity and a message in Japanese and English.
A blocking problem (``error``) means the input is not saved; a ``warning`` is saved and kept with the
record. The codes are part of the API other paths and screens rely on (see README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from itertools import repeat
from typing import Any

import numpy as np

from yobo.core.problems import mask_numbers
from yobo.schedule.ages import MAX_DATE, MIN_DATE, np_attain_months, np_civil, np_fiscal_year, np_fy_end
from yobo.schedule.engine import (
    CODE_INDEX,
    PRODUCT_INDEX,
    TOO_OLD,
    TOO_SOON,
    TOO_YOUNG,
    VALID,
    Engine,
    History,
    engine_for,
)
from yobo.schedule.rules import Settings, load_series

from .inputs import DoseInput

ERROR, WARNING = "error", "warning"

# code -> (severity, Japanese, English). Messages never name a My Number; they may name a 宛名番号.
RULES: dict[str, tuple[str, str, str]] = {
    "unknown_person": (ERROR, "宛名番号 {atena} の住民は登録されていません", "no person with this 宛名番号"),
    "unknown_vaccine": (ERROR, "ワクチンコード「{vaccine}」は定期接種のコードではありません",
                        "unknown vaccine code"),
    "future_date": (ERROR, "接種日 {date} が未来の日付です", "vaccination date is in the future"),
    "before_birth": (ERROR, "接種日 {date} が生年月日より前です", "vaccination date is before the birth date"),
    "deceased": (ERROR, "接種日 {date} は死亡日 {status_date} より後です", "the person died before this date"),
    "moved_out": (WARNING, "接種日 {date} は転出日 {status_date} より後です（転出後の接種）",
                  "the person had moved out before this date"),
    "duplicate": (ERROR, "同じ人・ワクチン・接種日の記録が既にあり、内容が異なります（訂正は記録の訂正から）",
                  "a different record of this person, vaccine and date exists; correct that record instead"),
    "duplicate_in_input": (ERROR, "同じ人・ワクチン・接種日が入力内で重複しています（{first}件目と同じ）",
                           "the same person, vaccine and date appears twice in this input"),
    "unknown_clinic": (ERROR, "医療機関コード「{clinic}」は登録されていません", "unknown clinic code"),
    "bad_clinic_code": (ERROR, "医療機関コード「{clinic}」は10桁の数字ではありません",
                        "clinic code must be 10 digits"),
    "clinic_not_contracted": (WARNING, "医療機関「{clinic}」は接種日 {date} に委託契約がありません",
                              "the clinic was not contracted on this date"),
    "unknown_product": (ERROR, "ワクチン製品「{product}」は登録されていません", "unknown vaccine product"),
    "product_vaccine_mismatch": (ERROR, "製品「{product}」は {vaccine} のワクチンではありません",
                                 "the product does not serve this vaccine"),
    "unknown_lot": (WARNING, "ロット番号「{lot}」は登録されていません", "unknown lot number"),
    "lot_product_mismatch": (WARNING, "ロット番号「{lot}」は製品「{product}」のロットではありません",
                             "the lot is not a lot of this product"),
    "lot_expired": (WARNING, "ロット「{lot}」の有効期限 {expiry} を過ぎた接種です",
                    "the lot had expired on the vaccination date"),
    "bad_amount": (ERROR, "接種量「{amount}」は数値（mL）ではありません", "amount must be a number of mL"),
    "bad_claim_month": (ERROR, "請求月「{claim}」は YYYYMM ではありません", "claim month must be YYYYMM"),
    "bad_voucher": (ERROR, "券番号「{voucher}」は10桁の数字ではありません", "voucher number must be 10 digits"),
    "bad_dose_number": (ERROR, "接種回数 {dose} が正しくありません", "dose number must be 1 or more"),
    "not_target": (WARNING, "接種日 {date} は {vaccine} の定期接種の対象期間外です",
                   "not a target of this routine vaccination on that date"),
    "too_young": (WARNING, "接種可能な年齢（月齢）に達する前の接種です（有効な回数に数えません）",
                  "given before the minimum age; not counted"),
    "too_soon": (WARNING, "前回接種からの間隔が不足しています（有効な回数に数えません）",
                 "interval since the previous dose too short; not counted"),
    "too_old": (WARNING, "この回の接種の上限年齢（月齢）を超えています（有効な回数に数えません）",
                "given after the maximum age for this dose; not counted"),
    "extra_dose": (WARNING, "必要な回数を超えた接種です", "more doses than the schedule needs"),
    "dose_number_mismatch": (WARNING, "接種回数 {dose} は履歴から数えた {expected} 回目と一致しません",
                             "dose number differs from the count in the history"),
}
# Warnings a record keeps when the schedule does not count it as a routine dose (定期接種として有効で
# ない): statistics leave such records out, and clinic payments do not pay them.
SCHEDULE_INVALID_CODES = ("not_target", "too_young", "too_soon", "too_old", "extra_dose")
_EPOCH = date(1970, 1, 1).toordinal()
_MAX_ORD = date.max.toordinal()
_ENGINE_REASON = {TOO_YOUNG: "too_young", TOO_SOON: "too_soon", TOO_OLD: "too_old"}

# Resident status codes (住民区分, CONTRACTS.md §1), as the people app stores them.
MOVED_OUT, DECEASED, REMOVED = 2, 3, 4


@dataclass(frozen=True, slots=True)
class DoseProblem:
    """One problem of one input: stable ``code``, ``severity`` and a bilingual ``message``.

    ``field`` names the ``DoseInput`` field concerned (the file column is the format's business)."""

    code: str
    severity: str
    message: str
    field: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message}


def problem(code: str, field_name: str | None = None, **values: object) -> DoseProblem:
    severity, ja, en = RULES[code]
    # A My Number keyed into the wrong field must not come back in a message (core.problems).
    return DoseProblem(code, severity, mask_numbers(f"{ja.format(**values)} / {en}"), field_name)


# --- what the rules need, loaded in bulk by the caller ---------------------------------------------


@dataclass
class Persons:
    """The persons a batch names, as parallel arrays; ``index`` maps 宛名番号 to a row."""

    index: dict[str, int]
    person_id: np.ndarray  # int64
    birth: np.ndarray  # datetime64[D]
    sex: np.ndarray  # int8
    status: np.ndarray  # int8, 住民区分
    status_date: np.ndarray  # datetime64[D]; MAX_DATE when none

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[str, int, date, int, int, date | None]]) -> Persons:
        """Rows of (宛名番号, person id, birth date, sex, status, status date)."""
        n = len(rows)
        # Day numbers, not date objects: numpy builds arrays of ints far faster.
        birth = np.fromiter((r[2].toordinal() for r in rows), np.int64, n) - _EPOCH
        status_date = np.fromiter(((r[5] or date.max).toordinal() for r in rows), np.int64, n) - _EPOCH
        return cls(
            index={r[0]: i for i, r in enumerate(rows)},
            person_id=np.fromiter((r[1] for r in rows), np.int64, n),
            birth=birth.view("datetime64[D]"),
            sex=np.fromiter((r[3] for r in rows), np.int8, n),
            status=np.fromiter((r[4] for r in rows), np.int8, n),
            status_date=status_date.view("datetime64[D]"),
        )


@dataclass
class Ledger:
    """Active doses already on record for the persons of a batch.

    ``keys`` maps (宛名番号, vaccine, date) to the record's fingerprint (see :func:`fingerprint`).
    The doses given (not 予診のみ) are parallel arrays for the schedule engine: ``atena``,
    ``code`` (:data:`CODE_INDEX`, -1 unknown), ``day`` (datetime64[D]) and ``product``
    (:data:`PRODUCT_INDEX` of the record's schedule product when it belongs to the series, else -1)."""

    keys: dict[tuple[str, str, date], str] = field(default_factory=dict)
    atena: list[str] = field(default_factory=list)
    code: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))
    day: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    product: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int16))

    def given(self, atena: list[str], vaccine: list[str], days: Sequence[int], product: list[str | None]) -> None:
        """Set the doses given from columns (days as ordinals; product: schedule product or None)."""
        series = _series_products()
        codes = {v: CODE_INDEX.get(v, -1) for v in set(vaccine)}
        prods = {(sp, v): (PRODUCT_INDEX[sp] if sp and sp in series.get(v, ()) else -1)
                 for sp, v in set(zip(product, vaccine, strict=True))}
        n = len(atena)
        self.atena = atena
        self.code = np.fromiter(map(codes.__getitem__, vaccine), np.int16, n)
        self.day = (np.fromiter(days, np.int64, n) - _EPOCH).view("datetime64[D]")
        self.product = np.fromiter(map(prods.__getitem__, zip(product, vaccine, strict=True)), np.int16, n)

    @classmethod
    def from_rows(cls, keys: dict[tuple[str, str, date], str],
                  rows: Sequence[tuple[str, str, date, str | None]]) -> Ledger:
        """From (宛名番号, vaccine, date, schedule product or None) rows (tests, small callers)."""
        out = cls(keys=keys)
        out.given([r[0] for r in rows], [r[1] for r in rows], [r[2].toordinal() for r in rows], [r[3] for r in rows])
        return out


@dataclass(frozen=True, slots=True)
class ProductInfo:
    vaccines: frozenset[str]
    manufacturer: str
    schedule_product: str


@dataclass
class Masters:
    """Clinics (code -> contract from/until), products, lots (lot number -> [(product, expiry)])."""

    clinics: dict[str, tuple[date | None, date | None]] = field(default_factory=dict)
    products: dict[str, ProductInfo] = field(default_factory=dict)
    lots: dict[str, list[tuple[str, date | None]]] = field(default_factory=dict)


def fingerprint(clinic_code: str, product_code: str, lot_number: str, screening_only: bool) -> str:
    """What makes a second report of the same person, vaccine and day the same record (unchanged on a
    re-run) rather than a conflicting one (``duplicate``)."""
    return f"{clinic_code}|{product_code}|{lot_number.upper()}|{int(screening_only)}"


# --- results ---------------------------------------------------------------------------------------


NEW, UNCHANGED, REJECTED = 0, 1, 2


@dataclass
class Checked:
    """The verdict on a batch, row-aligned with the inputs.

    ``outcome``: NEW (save), UNCHANGED (already on record, nothing to do) or REJECTED (a blocking
    problem). ``problems`` holds only the rows that have any. Derived items (fiscal year, ages,
    inferred dose number, person id) are filled for every row whose person and date are known."""

    outcome: np.ndarray  # int8
    problems: dict[int, list[DoseProblem]]
    person_id: np.ndarray  # int64, -1 unknown
    dose_number: np.ndarray  # int16, 0 unknown
    fiscal_year: np.ndarray
    age_years: np.ndarray
    age_months: np.ndarray
    age_fy_end: np.ndarray
    amount: list[Decimal | None]

    def rows_of(self, outcome: int) -> np.ndarray:
        return np.nonzero(self.outcome == outcome)[0]

    def count(self, outcome: int) -> int:
        return int((self.outcome == outcome).sum())

    def codes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for ps in self.problems.values():
            for p in ps:
                out[p.code] = out.get(p.code, 0) + 1
        return dict(sorted(out.items()))


# --- the rules ---------------------------------------------------------------------------------------


def _add(problems: dict[int, list[DoseProblem]], i: int, p: DoseProblem) -> None:
    problems.setdefault(i, []).append(p)


def _iso(x: Any) -> str:
    return str(x.astype("datetime64[D]"))


def ages(birth: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(fiscal year, age in years, months beyond the years, age at the fiscal year's end) per dose,
    by the Act on Calculation of Age (an age is attained on the eve of the 応当日)."""
    by, bm, _ = np_civil(birth)
    oy, om, _ = np_civil(on)
    months = (oy - by) * 12 + (om - bm)
    months = np.where(np_attain_months(birth, months) > on, months - 1, months)
    months = np.maximum(months, 0)
    fy = np_fiscal_year(on)
    fy_end_day = np_fy_end(fy)  # 31 March
    ey, em, _ = np_civil(fy_end_day)
    m_end = (ey - by) * 12 + (em - bm)
    m_end = np.where(np_attain_months(birth, m_end) > fy_end_day, m_end - 1, m_end)
    return fy, months // 12, months % 12, np.maximum(m_end, 0) // 12


_SERIES = None


def _series_products() -> dict[str, frozenset[str]]:
    global _SERIES  # noqa: PLW0603 - loaded once, immutable
    if _SERIES is None:
        _SERIES = {c: frozenset(s.products) for c, s in load_series().items()}
    return _SERIES


def validate(
    inputs: Sequence[DoseInput],
    persons: Persons,
    ledger: Ledger,
    masters: Masters,
    today: date,
    settings: Settings | None = None,
) -> Checked:
    """Check every input against the persons, the ledger, the masters and the schedule."""
    n = len(inputs)
    problems: dict[int, list[DoseProblem]] = {}
    atena = [x.atena_no for x in inputs]
    raw_vaccine = [x.vaccine for x in inputs]
    norm = {v: v.strip().upper() for v in set(raw_vaccine)}
    vaccine = list(map(norm.__getitem__, raw_vaccine))
    pidx = np.fromiter(map(persons.index.get, atena, repeat(-1)), np.int64, n)
    day_list = [x.date for x in inputs]
    # Ordinals are much faster to build than an array of date objects.
    dates = (np.fromiter(map(date.toordinal, day_list), np.int64, n) - _EPOCH).view("datetime64[D]")
    known = pidx >= 0
    safe = np.maximum(pidx, 0)
    birth = persons.birth[safe] if len(persons.birth) else np.full(n, MIN_DATE)
    blocked = np.zeros(n, bool)

    def flag(mask: np.ndarray, code: str, field_name: str | None, **fmt: object) -> None:
        for k in np.nonzero(mask)[0]:
            i = int(k)
            vals = {k: (v(i) if callable(v) else v) for k, v in fmt.items()}
            p = problem(code, field_name, **vals)
            _add(problems, i, p)
            if p.blocking:
                blocked[i] = True

    def d_of(i: int) -> str:
        return _iso(dates[i])

    flag(~known, "unknown_person", "atena_no", atena=lambda i: atena[i])
    vknown = np.array([v in CODE_INDEX for v in vaccine], bool)
    flag(~vknown, "unknown_vaccine", "vaccine", vaccine=lambda i: vaccine[i])
    today64 = np.datetime64(today, "D")
    flag(dates > today64, "future_date", "date", date=d_of)
    flag(known & (dates < birth), "before_birth", "date", date=d_of)
    st = persons.status[safe] if len(persons.status) else np.zeros(n, np.int8)
    sd = persons.status_date[safe] if len(persons.status_date) else np.full(n, MAX_DATE)
    sd_of = lambda i: _iso(sd[i])  # noqa: E731
    flag(known & (st == DECEASED) & (dates > sd), "deceased", "date", date=d_of, status_date=sd_of)
    flag(known & np.isin(st, (MOVED_OUT, REMOVED)) & (dates > sd), "moved_out", "date", date=d_of,
         status_date=sd_of)

    # Items checked per distinct value (clinics, products, lots, amounts: a few hundred distinct
    # values in a million rows); only the rows with a finding are visited one by one. Checks run in
    # the same order for every row, so each row's problems keep that order.
    outcome = np.full(n, NEW, np.int8)
    series_products = _series_products()

    def rows_with(values: list[Any], hits: set[Any] | dict[Any, Any]) -> list[int]:
        return [i for i, v in enumerate(values) if v in hits] if hits else []

    def bounds(values: list[Any], lo: dict[Any, date | None], hi: dict[Any, date | None]) -> list[int]:
        """Rows whose date is before ``lo`` or after ``hi`` of their value (absent: unbounded)."""
        lo_ord = {k: v.toordinal() for k, v in lo.items() if v}
        hi_ord = {k: v.toordinal() for k, v in hi.items() if v}
        if not lo_ord and not hi_ord:
            return []
        distinct = list(set(values))
        pos = {v: k for k, v in enumerate(distinct)}
        ix = np.fromiter(map(pos.__getitem__, values), np.int64, n)
        low = np.array([lo_ord.get(v, 0) for v in distinct], np.int64)[ix] - _EPOCH
        high = np.array([hi_ord.get(v, _MAX_ORD) for v in distinct], np.int64)[ix] - _EPOCH
        d = dates.view(np.int64)
        return np.nonzero((d < low) | (d > high))[0].tolist()

    # 実施医療機関
    cc = [x.clinic_code for x in inputs]
    clinic_v: dict[str, str] = {}
    c_from: dict[str, date | None] = {}
    c_until: dict[str, date | None] = {}
    for c in set(cc):
        if not c:
            continue
        if len(c) != 10 or not c.isdigit():
            clinic_v[c] = "bad_clinic_code"
        elif c not in masters.clinics:
            clinic_v[c] = "unknown_clinic"
        else:
            c_from[c], c_until[c] = masters.clinics[c]
    clinic_rows = rows_with(cc, clinic_v)
    for i in clinic_rows:
        _add(problems, i, problem(clinic_v[cc[i]], "clinic_code", clinic=cc[i]))
        blocked[i] = True
    late = bounds(cc, c_from, c_until)
    for i in late:
        _add(problems, i, problem("clinic_not_contracted", "clinic_code", clinic=cc[i], date=day_list[i].isoformat()))

    # ワクチン製品 (per product and vaccine)
    pc = [x.product_code for x in inputs]
    pkeys = list(zip(pc, vaccine, strict=True))
    product_v: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    for key in set(pkeys):
        code, v = key
        if not code:
            product_v[key] = (None, None)
            continue
        info = masters.products.get(code)
        if info is None:
            product_v[key] = ("unknown_product", None)
        elif v not in info.vaccines:
            product_v[key] = ("product_vaccine_mismatch", None)
        else:
            sp = info.schedule_product
            product_v[key] = (None, sp if sp and sp in series_products.get(v, ()) else None)
    bad_p = {k for k, val in product_v.items() if val[0] is not None}
    for i in rows_with(pkeys, bad_p):
        _add(problems, i, problem(product_v[pkeys[i]][0] or "", "product_code", product=pc[i], vaccine=vaccine[i]))
        blocked[i] = True
    sched_product: list[str | None] = [product_v[k][1] for k in pkeys]

    # ロット (per lot and product); expired only when every matching lot had expired
    lot = [x.lot_number for x in inputs]
    upper = {x: x.upper() for x in set(lot)}
    lkeys = [(upper[x], p) if x else None for x, p in zip(lot, pc, strict=True)]
    lot_v: dict[tuple[str, str] | None, str] = {}
    lot_exp: dict[tuple[str, str] | None, date | None] = {}
    for lkey in set(lkeys):
        if lkey is None:
            continue
        lots = masters.lots.get(lkey[0])
        if lots is None:
            lot_v[lkey] = "unknown_lot"
            continue
        mine = [e for p, e in lots if not lkey[1] or p == lkey[1]]
        if not mine:
            lot_v[lkey] = "lot_product_mismatch"
        elif all(e is not None for e in mine):
            lot_exp[lkey] = max(e for e in mine if e)
    lot_rows = set(rows_with(lkeys, lot_v))
    expired = set(bounds(lkeys, {}, lot_exp))
    for i in sorted(lot_rows | expired):
        if i in lot_rows:
            _add(problems, i, problem(lot_v[lkeys[i]], "lot_number", lot=lot[i], product=pc[i]))
        else:
            _add(problems, i, problem("lot_expired", "lot_number", lot=lot[i],
                                      expiry=(lot_exp[lkeys[i]] or date.max).isoformat()))

    # 接種量
    amt = [x.amount_ml for x in inputs]
    amount_v: dict[str, Decimal | None] = {"": None}
    for a in set(amt):
        if not a:
            continue
        try:
            dec = Decimal(a)
            if not dec.is_finite() or dec <= 0 or dec >= 1000:
                raise InvalidOperation
            amount_v[a] = dec.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            amount_v[a] = None
    for i in rows_with(amt, {a for a, dv in amount_v.items() if a and dv is None}):
        _add(problems, i, problem("bad_amount", "amount_ml", amount=amt[i]))
        blocked[i] = True
    amount: list[Decimal | None] = list(map(amount_v.__getitem__, amt))

    # 請求月, 券番号, 接種回数
    cms = [x.claim_month for x in inputs]
    bad_cm = {cm for cm in set(cms) if cm and not (len(cm) == 6 and cm.isdigit() and 1 <= int(cm[4:]) <= 12)}
    vns = [x.voucher_no for x in inputs]
    bad_vn = {vn for vn in set(vns) if vn and (len(vn) != 10 or not vn.isdigit())}
    dns = [x.dose_number for x in inputs]
    bad_dn = {d for d in set(dns) if d is not None and d < 1}
    for i in sorted(set(rows_with(cms, bad_cm)) | set(rows_with(vns, bad_vn)) | set(rows_with(dns, bad_dn))):
        if cms[i] in bad_cm:
            _add(problems, i, problem("bad_claim_month", "claim_month", claim=cms[i]))
        if vns[i] in bad_vn:
            _add(problems, i, problem("bad_voucher", "voucher_no", voucher=vns[i]))
        if dns[i] in bad_dn:
            _add(problems, i, problem("bad_dose_number", "dose_number", dose=dns[i]))
        blocked[i] = True

    # Duplicates: against the ledger (unchanged when the same record, refused when different) and
    # inside the input itself (rows already on record are not compared with each other).
    keys = list(zip(atena, vaccine, day_list, strict=True))
    fresh: list[int] | None = None
    on_file = ledger.keys
    if on_file:
        fresh = []
        for i, dkey in enumerate(keys):
            recorded = on_file.get(dkey)
            if recorded is None:
                fresh.append(i)
            elif recorded == fingerprint(cc[i], pc[i], lot[i], inputs[i].screening_only):
                outcome[i] = UNCHANGED
            else:
                _add(problems, i, problem("duplicate", "date"))
                blocked[i] = True
    candidates = keys if fresh is None else [keys[i] for i in fresh]
    if len(set(candidates)) != len(candidates):
        seen: dict[tuple[str, str, date], int] = {}
        for i in range(n) if fresh is None else fresh:
            first = seen.setdefault(keys[i], i)
            if first != i:
                _add(problems, i, problem("duplicate_in_input", "date", first=first + 1))
                blocked[i] = True

    # Ages and fiscal year (for every row whose person and date are known).
    fy, age_y, age_m, age_fy = ages(birth, dates) if n else (np.zeros(0, np.int64),) * 4

    # Schedule: one population evaluation over the batch's persons with their whole history.
    dose_number = np.array([x.dose_number or 0 for x in inputs], np.int16)
    schedulable = known & vknown & ~blocked & (dates <= today64) & (dates >= birth) & (outcome == NEW)
    schedulable &= np.array([not x.screening_only for x in inputs], bool) if n else schedulable
    if schedulable.any():
        _schedule(inputs, vaccine, pidx, dates, sched_product, schedulable, persons, ledger, today, settings,
                  dose_number, problems)
    outcome[blocked] = REJECTED
    person_id = np.where(known, persons.person_id[safe] if len(persons.person_id) else -1, -1)
    return Checked(outcome, problems, person_id, dose_number, fy, age_y, age_m, age_fy, amount)


def _schedule(
    inputs: Sequence[DoseInput], vaccine: list[str], pidx: np.ndarray, dates: np.ndarray,
    sched_product: list[str | None], mask: np.ndarray, persons: Persons, ledger: Ledger, today: date,
    settings: Settings | None, dose_number: np.ndarray, problems: dict[int, list[DoseProblem]],
) -> None:  # fmt: skip
    """Run the engine once over the persons of the rows in ``mask``: per new row, how it counts in its
    own series (dose number, or why not), and whether the date lies in an eligibility window."""
    rows = np.nonzero(mask)[0]
    who, local = np.unique(pidx[rows], return_inverse=True)
    known_codes = {v: CODE_INDEX.get(v, -1) for v in set(vaccine)}
    vcode = np.fromiter(map(known_codes.__getitem__, vaccine), np.int16, len(vaccine))
    # Ledger rows of these persons first, then the new rows (history order does not matter: the
    # engine sorts by person and date), all as arrays.
    slot = np.full(len(persons.birth), -1, np.int64)
    slot[who] = np.arange(len(who))
    lp = np.fromiter((persons.index.get(a, -1) for a in ledger.atena), np.int64, len(ledger.atena))
    lpos = np.where(lp >= 0, slot[np.maximum(lp, 0)], -1) if len(lp) else lp
    # (a dose before a since-corrected birth date is left to staff, not to the engine)
    keep = (lpos >= 0) & (ledger.code >= 0)
    keep[keep] &= ledger.day[keep] >= persons.birth[lp[keep]]
    products = _series_products()
    prods = {(sp, v): (PRODUCT_INDEX[sp] if sp and sp in products.get(v, ()) else -1)
             for sp, v in {(sched_product[i], vaccine[i]) for i in rows.tolist()}}
    hist = History(
        person=np.concatenate([lpos[keep], local.astype(np.int64)]),
        code=np.concatenate([ledger.code[keep], vcode[rows]]).astype(np.int16),
        date=np.concatenate([ledger.day[keep], dates[rows]]),
        product=np.concatenate([ledger.product[keep], np.fromiter((prods[(sched_product[i], vaccine[i])]
                                                                   for i in rows.tolist()), np.int16, len(rows))]
                               ).astype(np.int16),
    )
    base = int(keep.sum())
    codes = sorted({vaccine[i] for i in rows})
    eng = engine_for(settings) if settings is None else Engine(settings)
    birth = persons.birth[who]
    sex = persons.sex[who]
    as_of = max(today, hist.date.max().item()) if len(hist) else today
    res = eng.evaluate_population(birth, sex, hist, as_of)
    for code in codes:
        sr = res.series.get(code)
        if sr is None:
            continue
        new = sr.rows >= base
        idx = rows[sr.rows[new] - base]  # input positions of the new rows counted in this series
        dn = sr.row_dose[new]
        why = sr.row_reason[new]
        own = vcode[idx] == CODE_INDEX[code]  # not those counted here through another code (五種混合 for HIB)
        idx, dn, why = idx[own], dn[own], why[own]
        valid = why == VALID
        reported = dose_number[idx]
        infer = valid & (reported == 0)
        dose_number[idx[infer]] = dn[infer]
        for j in np.nonzero(valid & (reported > 0) & (reported != dn))[0]:
            k = int(j)
            _add(problems, int(idx[k]), problem("dose_number_mismatch", "dose_number", dose=int(reported[k]),
                                                expected=int(dn[k])))
        for j in np.nonzero(~valid)[0]:
            k = int(j)
            w = int(why[k])
            code_name = _ENGINE_REASON.get(w, "extra_dose")
            _add(problems, int(idx[k]), problem(code_name, "dose_number" if code_name == "extra_dose" else "date"))
        _windows(eng, code, rows[vcode[rows] == CODE_INDEX[code]], dates, who, local[vcode[rows] == CODE_INDEX[code]],
                 persons, problems)


def _windows(
    eng: Engine, code: str, r: np.ndarray, dates: np.ndarray, who: np.ndarray, lp: np.ndarray, persons: Persons,
    problems: dict[int, list[DoseProblem]],
) -> None:  # fmt: skip
    """``not_target``: the date lies in none of the series' legal windows for that person (the
    engine's :meth:`~yobo.schedule.engine.Engine.in_window`). ``r``: input positions of this
    series' new rows; ``lp``: their persons' positions in ``who``."""
    if code not in eng.compiled or not len(r):
        return
    inside = eng.in_window(code, persons.birth[who][lp], persons.sex[who][lp], dates[r])
    for k in np.nonzero(~inside)[0]:
        i = int(r[k])
        _add(problems, i, problem("not_target", "date", date=_iso(dates[i]), vaccine=code))


def validate_one(
    inp: DoseInput, persons: Persons, ledger: Ledger, masters: Masters, today: date,
    settings: Settings | None = None,
) -> tuple[int, list[DoseProblem], Checked]:  # fmt: skip
    """The verdict on one input (the keyed screen): (outcome, problems, the full result)."""
    c = validate([inp], persons, ledger, masters, today, settings)
    return int(c.outcome[0]), c.problems.get(0, []), c
