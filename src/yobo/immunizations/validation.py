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
_EPOCH = date(1970, 1, 1).toordinal()
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
    # Ordinals are much faster to build than an array of date objects.
    dates = (np.array([x.date.toordinal() for x in inputs], np.int64) - _EPOCH).view("datetime64[D]")
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

    # Items checked one by one (strings). Verdicts on repeated values (clinics, products, lots,
    # amounts: a few hundred distinct values in a million rows) are cached.
    amount: list[Decimal | None] = [None] * n
    sched_product: list[str | None] = [None] * n
    outcome = np.full(n, NEW, np.int8)
    clinic_v: dict[str, tuple[str | None, date | None, date | None]] = {}
    product_v: dict[tuple[str, str], tuple[str | None, str | None]] = {}
    lot_v: dict[tuple[str, str], tuple[str | None, date | None]] = {}
    amount_v: dict[str, Decimal | None] = {}
    series_products = _series_products()
    seen: dict[tuple[str, str, date], int] = {}
    on_file = ledger.keys
    for i, x in enumerate(inputs):
        d = x.date
        cc = x.clinic_code
        if cc:
            cv = clinic_v.get(cc)
            if cv is None:
                if len(cc) != 10 or not cc.isdigit():
                    cv = ("bad_clinic_code", None, None)
                elif cc not in masters.clinics:
                    cv = ("unknown_clinic", None, None)
                else:
                    cv = (None, *masters.clinics[cc])
                clinic_v[cc] = cv
            if cv[0] is not None:
                _add(problems, i, problem(cv[0], "clinic_code", clinic=cc))
                blocked[i] = True
            elif (cv[1] and d < cv[1]) or (cv[2] and d > cv[2]):
                _add(problems, i, problem("clinic_not_contracted", "clinic_code", clinic=cc, date=d.isoformat()))
        pc = x.product_code
        if pc:
            pkey = (pc, vaccine[i])
            pv = product_v.get(pkey)
            if pv is None:
                info = masters.products.get(pc)
                if info is None:
                    pv = ("unknown_product", None)
                elif vaccine[i] not in info.vaccines:
                    pv = ("product_vaccine_mismatch", None)
                else:
                    sp = info.schedule_product
                    pv = (None, sp if sp and sp in series_products.get(vaccine[i], ()) else None)
                product_v[pkey] = pv
            if pv[0] is not None:
                _add(problems, i, problem(pv[0], "product_code", product=pc, vaccine=vaccine[i]))
                blocked[i] = True
            else:
                sched_product[i] = pv[1]
        if x.lot_number:
            lkey = (x.lot_number.upper(), pc)
            lv = lot_v.get(lkey)
            if lv is None:
                lots = masters.lots.get(lkey[0])
                if lots is None:
                    lv = ("unknown_lot", None)
                else:
                    mine = [e for p, e in lots if not pc or p == pc]
                    if not mine:
                        lv = ("lot_product_mismatch", None)
                    else:  # expired only when every matching lot had expired
                        lv = (None, None if any(e is None for e in mine) else max(e for e in mine if e))
                lot_v[lkey] = lv
            if lv[0] is not None:
                _add(problems, i, problem(lv[0], "lot_number", lot=x.lot_number, product=pc))
            elif lv[1] is not None and d > lv[1]:
                _add(problems, i, problem("lot_expired", "lot_number", lot=x.lot_number, expiry=lv[1].isoformat()))
        if x.amount_ml:
            if x.amount_ml in amount_v:
                a = amount_v[x.amount_ml]
            else:
                try:
                    a = Decimal(x.amount_ml)
                    if not a.is_finite() or a <= 0 or a >= 1000:
                        raise InvalidOperation
                    a = a.quantize(Decimal("0.01"))
                except (InvalidOperation, ValueError):
                    a = None
                amount_v[x.amount_ml] = a
            if a is None:
                _add(problems, i, problem("bad_amount", "amount_ml", amount=x.amount_ml))
                blocked[i] = True
            amount[i] = a
        cm = x.claim_month
        if cm and not (len(cm) == 6 and cm.isdigit() and 1 <= int(cm[4:]) <= 12):
            _add(problems, i, problem("bad_claim_month", "claim_month", claim=cm))
            blocked[i] = True
        vn = x.voucher_no
        if vn and (len(vn) != 10 or not vn.isdigit()):
            _add(problems, i, problem("bad_voucher", "voucher_no", voucher=vn))
            blocked[i] = True
        if x.dose_number is not None and x.dose_number < 1:
            _add(problems, i, problem("bad_dose_number", "dose_number", dose=x.dose_number))
            blocked[i] = True
        # Duplicates: against the ledger (unchanged when the same record, refused when different) and
        # inside the input itself.
        key = (atena[i], vaccine[i], d)
        if on_file:
            recorded = on_file.get(key)
            if recorded is not None:
                if recorded == fingerprint(cc, pc, x.lot_number, x.screening_only):
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
        if p is None or p not in pos or v not in CODE_INDEX or np.datetime64(d, "D") < persons.birth[p]:
            continue  # (a dose before a since-corrected birth date is left to staff, not to the engine)
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
    vcode = np.array([CODE_INDEX.get(v, -1) for v in vaccine], np.int16)
    eng = engine_for(settings) if settings is None else Engine(settings)
    birth = persons.birth[who]
    sex = persons.sex[who]
    as_of = max(today, *h_date) if h_date else today
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
