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
from typing import Any

import numpy as np

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
    return DoseProblem(code, severity, f"{ja.format(**values)} / {en}", field_name)


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
        return cls(
            index={r[0]: i for i, r in enumerate(rows)},
            person_id=np.array([r[1] for r in rows], np.int64),
            birth=np.array([r[2] for r in rows], "datetime64[D]"),
            sex=np.array([r[3] for r in rows], np.int8),
            status=np.array([r[4] for r in rows], np.int8),
            status_date=np.array([r[5] or date.max for r in rows], "datetime64[D]"),
        )


@dataclass
class Ledger:
    """Active doses already on record for the persons of a batch.

    ``keys`` maps (宛名番号, vaccine, date) to the record's fingerprint (see :func:`fingerprint`);
    ``rows`` are (宛名番号, vaccine, date, schedule product or None) for the schedule engine."""

    keys: dict[tuple[str, str, date], str] = field(default_factory=dict)
    rows: list[tuple[str, str, date, str | None]] = field(default_factory=list)


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
    vaccine = [x.vaccine.strip().upper() for x in inputs]
    pidx = np.array([persons.index.get(a, -1) for a in atena], np.int64)
    dates = np.array([x.date for x in inputs], "datetime64[D]") if n else np.zeros(0, "datetime64[D]")
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

    # Items checked one by one (strings), cheap and rare to fail.
    amount: list[Decimal | None] = [None] * n
    sched_product: list[str | None] = [None] * n
    fps: list[str] = [""] * n
    for i, x in enumerate(inputs):
        if x.clinic_code:
            if len(x.clinic_code) != 10 or not x.clinic_code.isdigit():
                _add(problems, i, problem("bad_clinic_code", "clinic_code", clinic=x.clinic_code))
                blocked[i] = True
            else:
                contract = masters.clinics.get(x.clinic_code)
                if contract is None:
                    _add(problems, i, problem("unknown_clinic", "clinic_code", clinic=x.clinic_code))
                    blocked[i] = True
                elif (contract[0] and x.date < contract[0]) or (contract[1] and x.date > contract[1]):
                    _add(problems, i, problem("clinic_not_contracted", "clinic_code", clinic=x.clinic_code,
                                              date=x.date.isoformat()))
        if x.product_code:
            info = masters.products.get(x.product_code)
            if info is None:
                _add(problems, i, problem("unknown_product", "product_code", product=x.product_code))
                blocked[i] = True
            elif vaccine[i] not in info.vaccines:
                _add(problems, i, problem("product_vaccine_mismatch", "product_code", product=x.product_code,
                                          vaccine=vaccine[i]))
                blocked[i] = True
            elif info.schedule_product and info.schedule_product in _series_products().get(vaccine[i], ()):
                sched_product[i] = info.schedule_product
        if x.lot_number:
            lots = masters.lots.get(x.lot_number.upper())
            if lots is None:
                _add(problems, i, problem("unknown_lot", "lot_number", lot=x.lot_number))
            else:
                mine = [e for p, e in lots if not x.product_code or p == x.product_code]
                if not mine:
                    _add(problems, i, problem("lot_product_mismatch", "lot_number", lot=x.lot_number,
                                              product=x.product_code))
                elif all(e is not None and x.date > e for e in mine):
                    _add(problems, i, problem("lot_expired", "lot_number", lot=x.lot_number,
                                              expiry=max(e for e in mine if e).isoformat()))
        if x.amount_ml:
            try:
                a = Decimal(x.amount_ml)
                if not a.is_finite() or a <= 0 or a >= 1000:
                    raise InvalidOperation
                amount[i] = a.quantize(Decimal("0.01"))
            except (InvalidOperation, ValueError):
                _add(problems, i, problem("bad_amount", "amount_ml", amount=x.amount_ml))
                blocked[i] = True
        if x.claim_month and not (len(x.claim_month) == 6 and x.claim_month.isdigit()
                                  and 1 <= int(x.claim_month[4:]) <= 12):
            _add(problems, i, problem("bad_claim_month", "claim_month", claim=x.claim_month))
            blocked[i] = True
        if x.voucher_no and (len(x.voucher_no) != 10 or not x.voucher_no.isdigit()):
            _add(problems, i, problem("bad_voucher", "voucher_no", voucher=x.voucher_no))
            blocked[i] = True
        if x.dose_number is not None and x.dose_number < 1:
            _add(problems, i, problem("bad_dose_number", "dose_number", dose=x.dose_number))
            blocked[i] = True
        fps[i] = fingerprint(x.clinic_code, x.product_code, x.lot_number, x.screening_only)

    # Duplicates: against the ledger (unchanged when the same record, refused when different) and
    # inside the input itself.
    outcome = np.full(n, NEW, np.int8)
    seen: dict[tuple[str, str, date], int] = {}
    for i, x in enumerate(inputs):
        key = (atena[i], vaccine[i], x.date)
        on_record = ledger.keys.get(key)
        if on_record is not None:
            if on_record == fps[i]:
                outcome[i] = UNCHANGED
            else:
                _add(problems, i, problem("duplicate", "date"))
                blocked[i] = True
            continue
        first = seen.setdefault(key, i)
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
    pos = {int(p): k for k, p in enumerate(who)}
    # Ledger rows of these persons first, then the new rows (history order does not matter: the
    # engine sorts by person and date).
    h_person: list[int] = []
    h_code: list[int] = []
    h_date: list[date] = []
    h_prod: list[int] = []
    products = _series_products()
    for a, v, d, prod in ledger.rows:
        p = persons.index.get(a)
        if p is None or p not in pos or v not in CODE_INDEX:
            continue
        h_person.append(pos[p])
        h_code.append(CODE_INDEX[v])
        h_date.append(d)
        h_prod.append(PRODUCT_INDEX[prod] if prod and prod in products.get(v, ()) else -1)
    base = len(h_person)
    for k, i0 in enumerate(rows):
        i = int(i0)
        h_person.append(int(local[k]))
        h_code.append(CODE_INDEX[vaccine[i]])
        h_date.append(inputs[i].date)
        sp = sched_product[i]
        h_prod.append(PRODUCT_INDEX[sp] if sp and sp in products.get(vaccine[i], ()) else -1)
    hist = History(
        person=np.array(h_person, np.int64),
        code=np.array(h_code, np.int16),
        date=np.array(h_date, "datetime64[D]"),
        product=np.array(h_prod, np.int16),
    )
    codes = sorted({vaccine[i] for i in rows})
    eng = engine_for(settings) if settings is None else Engine(settings)
    birth = persons.birth[who]
    sex = persons.sex[who]
    as_of = max(today, *h_date) if h_date else today
    res = eng.evaluate_population(birth, sex, hist, as_of)
    for code in codes:
        sr = res.series.get(code)
        if sr is None:
            continue
        hrow = sr.rows
        new = hrow >= base
        for r, dn, reason in zip(hrow[new], sr.row_dose[new], sr.row_reason[new], strict=True):
            i = int(rows[int(r) - base])
            if vaccine[i] != code:
                continue  # counted in this series through another code (e.g. 五種混合 for HIB)
            why = int(reason)
            if why == VALID:
                reported = int(dose_number[i])
                if reported and reported != int(dn):
                    _add(problems, i, problem("dose_number_mismatch", "dose_number", dose=reported,
                                              expected=int(dn)))
                elif not reported:
                    dose_number[i] = int(dn)
            elif why in _ENGINE_REASON:
                _add(problems, i, problem(_ENGINE_REASON[why], "date"))
            else:
                _add(problems, i, problem("extra_dose", "dose_number"))
        _windows(eng, code, rows, vaccine, dates, who, local, persons, problems)


def _windows(
    eng: Engine, code: str, rows: np.ndarray, vaccine: list[str], dates: np.ndarray, who: np.ndarray,
    local: np.ndarray, persons: Persons, problems: dict[int, list[DoseProblem]],
) -> None:  # fmt: skip
    """``not_target``: the date lies in none of the series' legal windows for that person (sex, birth
    cohort and effective dates included). Windows that depend on a product or on an earlier dose are
    given the benefit of the doubt (the engine's dose checks judge those)."""
    from yobo.schedule import engine as eng_mod  # the window bounds are the engine's own code

    comp = eng.compiled.get(code)
    if comp is None:
        return
    sel = np.array([vaccine[i] == code for i in rows], bool)
    if not sel.any():
        return
    r = rows[sel]
    lp = local[sel]
    birth = persons.birth[who][lp]
    sex = persons.sex[who][lp]
    d = dates[r]
    memo = eng_mod._Memo(birth)
    inside = np.zeros(len(r), bool)
    for cw in comp.windows:
        if cw.source.product or cw.source.requires_dose_between:
            f, u = eng_mod._window_bounds(cw, memo)
            inside |= (f <= u) & (d >= f)  # lenient: anywhere from its start on
        else:
            f, u = eng_mod._window_bounds(cw, memo)
            inside |= (d >= f) & (d <= u)
    series = comp.series
    if series.sex != "any":
        inside &= sex == (2 if series.sex == "F" else 1)
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
