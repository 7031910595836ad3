"""The clinic / medical-association CSV (医療機関・医師会 予診票データ), reader and writer.

One row per returned pre-screening form (予診票): who, which vaccine and dose, when, where, by whom,
which product and lot, and the 予診 items. The items are those of seed 001 別添2 that a clinic
knows (接種コード, 接種回数, 接種・予診日, 実施医療機関, 接種会場, 接種医, Lot.No, 接種量, 所見,
未接種理由, 予診フラグ, 実施区分, ワクチンメーカー, 請求日(月)). The layout, every column and
its rules, with an example, is documented in ``docs/formats/clinic-csv.md``.

Pure (no Django). ``read_clinic_csv(path)`` returns a one-pass stream of :class:`DoseInput`
(``source = clinic_csv``, ``ref = "<file>:<row>"``) with the problems found; ``write_clinic_csv``
writes the same layout (the synthetic generator and the tests use it).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from yobo.core.wareki import to_wareki
from yobo.immunizations.inputs import Category, DoseInput, Source

from ._csvbase import (
    M_REQUIRED_EMPTY,
    Cell,
    CsvDoseFile,
    detect_encoding,
    digits_only,
    nfkc,
    parse_day,
    text,
)

# Columns, in the documented order (files may order them freely; header names are NFKC-normalised,
# spaces removed, so ｢接種日｣ and full-width variants match).
ATENA = "宛名番号"
VOUCHER = "券番号"
NAME_KANA = "カナ氏名"
BIRTH = "生年月日"
VACCINE = "接種コード"
DOSE = "接種回数"
DAY = "接種日"
CLINIC = "実施医療機関コード"
VENUE = "接種会場"
DOCTOR = "接種医"
PRODUCT = "製品コード"
MAKER = "ワクチンメーカー"
LOT = "ロット番号"
AMOUNT = "接種量"
CATEGORY = "実施区分"
SCREENING_ONLY = "予診のみ"
REASON = "未接種理由"
FINDINGS = "所見"
REACTIONS = "副反応"
CLAIM = "請求月"

COLUMNS: tuple[str, ...] = (
    ATENA, VOUCHER, NAME_KANA, BIRTH, VACCINE, DOSE, DAY, CLINIC, VENUE, DOCTOR, PRODUCT, MAKER, LOT, AMOUNT,
    CATEGORY, SCREENING_ONLY, REASON, FINDINGS, REACTIONS, CLAIM,
)
REQUIRED: tuple[str, ...] = (ATENA, VACCINE, DAY, CLINIC)

# Other names medical associations' systems use for the same columns (seed 001 別添2 wording, etc.).
ALIASES: dict[str, str] = {
    "個別宛名番号": ATENA, "宛名コード": ATENA, "接種券番号": VOUCHER, "券番": VOUCHER, "氏名カナ": NAME_KANA,
    "フリガナ": NAME_KANA, "ワクチンコード": VACCINE, "ワクチン": VACCINE, "回数": DOSE, "期・回": DOSE,
    "接種・予診日": DAY, "予診日": DAY, "接種年月日": DAY, "実施医療機関": CLINIC, "医療機関コード": CLINIC,
    "接種医師名": DOCTOR, "問診医": DOCTOR, "医師名": DOCTOR, "ワクチン製品コード": PRODUCT,
    "メーカー": MAKER, "LOT.NO": LOT, "LOTNO": LOT, "LOT": LOT, "ロット": LOT,
    "ロットNo": LOT, "接種量(mL)": AMOUNT, "予診フラグ": SCREENING_ONLY, "請求日(月)": CLAIM, "請求年月": CLAIM,
}

# 接種コード: the schedule codes (CONTRACTS.md §2) and the plain Japanese names clinics write.
# A name that does not say the 期 (麻しん風しん, 日本脳炎) is refused rather than guessed.
VACCINE_CODES: frozenset[str] = frozenset({
    "HIB", "PCV", "HEPB", "ROTA", "DPT-IPV-HIB", "DPT-IPV", "BCG", "MR1", "MR2", "VAR", "JE1", "JE2", "DT",
    "HPV", "FLU-B", "PPSV-B", "COVID-B", "HZ-B",
})
VACCINE_NAMES: dict[str, str] = {
    "ヒブ": "HIB", "小児肺炎球菌": "PCV", "小児の肺炎球菌": "PCV", "B型肝炎": "HEPB", "ロタ": "ROTA",
    "ロタウイルス": "ROTA", "五種混合": "DPT-IPV-HIB", "5種混合": "DPT-IPV-HIB", "四種混合": "DPT-IPV",
    "4種混合": "DPT-IPV", "MR1期": "MR1", "MR2期": "MR2", "麻しん風しん1期": "MR1", "麻しん風しん2期": "MR2",
    "水痘": "VAR", "水ぼうそう": "VAR", "日本脳炎1期": "JE1", "日本脳炎2期": "JE2", "二種混合": "DT", "2種混合": "DT",
    "DT2期": "DT", "子宮頸がん予防": "HPV", "ヒトパピローマウイルス": "HPV", "高齢者インフルエンザ": "FLU-B",
    "インフルエンザ": "FLU-B", "高齢者肺炎球菌": "PPSV-B", "新型コロナ": "COVID-B", "新型コロナウイルス": "COVID-B",
    "帯状疱疹": "HZ-B",
}

# 実施区分: code or word -> Category; the writer writes the code.
CATEGORY_CODES: dict[Category, str] = {
    Category.ROUTINE: "1", Category.VOLUNTARY: "2", Category.CATCH_UP: "3", Category.SPECIAL: "4",
}
_CATEGORY_IN: dict[str, Category] = {v: k for k, v in CATEGORY_CODES.items()} | {
    "定期": Category.ROUTINE, "定期接種": Category.ROUTINE, "任意": Category.VOLUNTARY, "任意接種": Category.VOLUNTARY,
    "キャッチアップ": Category.CATCH_UP, "特例": Category.SPECIAL, "長期療養特例": Category.SPECIAL,
}
_YES = frozenset({"1", "有", "あり", "○", "〇", "はい", "Y", "YES", "TRUE"})
_NO = frozenset({"", "0", "無", "なし", "いいえ", "N", "NO", "FALSE", "-"})
_AMOUNT = re.compile(r"^(\d{1,2}(?:\.\d{1,3})?)(?:ML)?$")
_CLAIM_WEST = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})月?$")

M_ATENA = "宛名番号は15桁以内の数字です。 / 宛名番号 is up to 15 digits."
M_VOUCHER = "券番号は10桁の数字です。 / a voucher number (券番号) has 10 digits."
M_VACCINE = ("接種コードが不明です（HIB, PCV, MR1 などの定期接種コード、または「五種混合」などの名称）。"
             " / unknown vaccine code (use a schedule code such as HIB, PCV, MR1, or a name such as 五種混合).")
M_DOSE = "接種回数は1〜20の数字です。 / the dose number is a number from 1 to 20."
M_CLINIC = "実施医療機関コードは10桁の数字です。 / the clinic code has 10 digits."
M_AMOUNT = "接種量はmL単位の数値です（例: 0.5）。 / the amount is a number of mL (e.g. 0.5)."
M_CATEGORY = ("実施区分は 1(定期) 2(任意) 3(キャッチアップ) 4(特例) のいずれかです。"
              " / use 1 routine, 2 voluntary, 3 catch-up, 4 special.")
M_FLAG = "予診のみは 1(予診のみ) または 0/空欄(接種済み) です。 / 予診のみ is 1 (screening only) or 0/empty."
M_CLAIM = ("請求月は年と月です（例: 202510, 2025-10, 令和7年10月）。"
           " / the claim month is a year and month (e.g. 202510).")
M_NO_LOT = "ロット番号がありません。 / no lot number."
M_REASON_NEEDED = "予診のみの場合は未接種理由を書いてください。 / give the reason when only the screening was done."
M_BIRTH = "生年月日が日付ではありません。 / the birth date is not a date."


def vaccine_code(s: str) -> str | None:
    """The schedule code for a 接種コード cell (code in any width/case, or a Japanese name), or None."""
    t = nfkc(s).replace(" ", "").upper()
    if t in VACCINE_CODES:
        return t
    t = t.replace("Ｂ", "B")
    return VACCINE_NAMES.get(t) or VACCINE_NAMES.get(nfkc(s).replace(" ", ""))


def claim_month(s: str) -> str | None:
    """``YYYYMM`` for 202510, 2025-10, 2025年10月, 令和7年10月, R7.10; None when not a month."""
    t = nfkc(s).replace(" ", "").upper()
    if m := _CLAIM_WEST.match(t):
        y, mo = int(m.group(1)), int(m.group(2))
        return f"{y:04d}{mo:02d}" if 1 <= mo <= 12 and 1900 <= y <= 2200 else None
    # 和暦: the month with a first day appended goes through the date parser (eras checked there).
    if t.endswith("月"):
        got = parse_day(t + "1日")
    elif re.fullmatch(r"[RHS]\d{1,2}[./\-]\d{1,2}", t):
        got = parse_day(t + ".1")
    else:
        return None
    return None if isinstance(got, str) else f"{got.year:04d}{got.month:02d}"


class ClinicCsvFile(CsvDoseFile):
    columns = COLUMNS
    required = REQUIRED
    aliases = ALIASES

    def parse_row(self, row: int, cells: list[str], errs: list[Cell]) -> list[DoseInput]:
        ix = self.index

        def cell(col: str) -> str:
            i = ix.get(col)
            return cells[i] if i is not None else ""

        atena = voucher = ""
        if not (s := cell(ATENA).strip()):
            errs.append((ATENA, M_REQUIRED_EMPTY))
        elif (atena := digits_only(s, most=15) or "") == "":
            errs.append((ATENA, M_ATENA))
        if (s := cell(VOUCHER).strip()) and (voucher := digits_only(s, exact=10) or "") == "":
            errs.append((VOUCHER, M_VOUCHER))

        vaccine = ""
        if not (s := cell(VACCINE).strip()):
            errs.append((VACCINE, M_REQUIRED_EMPTY))
        elif (code := vaccine_code(s)) is None:
            errs.append((VACCINE, M_VACCINE))
        else:
            vaccine = code

        dose: int | None = None
        if s := cell(DOSE).strip():
            d = digits_only(s, most=2)
            if d is None or not 1 <= int(d) <= 20:
                errs.append((DOSE, M_DOSE))
            else:
                dose = int(d)

        day: date | None = None
        if not (s := cell(DAY).strip()):
            errs.append((DAY, M_REQUIRED_EMPTY))
        elif isinstance(got := parse_day(s), str):
            errs.append((DAY, got))
        else:
            day = got

        clinic = ""
        if not (s := cell(CLINIC).strip()):
            errs.append((CLINIC, M_REQUIRED_EMPTY))
        elif (clinic := digits_only(s, exact=10) or "") == "":
            errs.append((CLINIC, M_CLINIC))

        amount = ""
        if s := cell(AMOUNT).strip():
            m = _AMOUNT.match(nfkc(s).replace(" ", "").upper())
            if m is None:
                errs.append((AMOUNT, M_AMOUNT))
            else:
                amount = m.group(1)

        category = Category.ROUTINE
        if s := nfkc(cell(CATEGORY)).replace(" ", ""):
            if (cat := _CATEGORY_IN.get(s)) is None:
                errs.append((CATEGORY, M_CATEGORY))
            else:
                category = cat

        flag = nfkc(cell(SCREENING_ONLY)).replace(" ", "").upper()
        screening_only = flag in _YES
        if not screening_only and flag not in _NO:
            errs.append((SCREENING_ONLY, M_FLAG))

        claim = ""
        if (s := cell(CLAIM).strip()) and (claim := claim_month(s) or "") == "":
            errs.append((CLAIM, M_CLAIM))

        extra: dict[str, str] = {}
        if s := cell(BIRTH).strip():
            got_birth = parse_day(s)
            if isinstance(got_birth, str):
                errs.append((BIRTH, M_BIRTH + " " + got_birth))
            else:
                extra["birth_date"] = got_birth.isoformat()
        if kana := text(cell(NAME_KANA), NAME_KANA, errs, limit=100):
            extra["name_kana"] = nfkc(kana)

        venue = text(cell(VENUE), VENUE, errs)
        doctor = text(cell(DOCTOR), DOCTOR, errs, limit=100)
        product = nfkc(text(cell(PRODUCT), PRODUCT, errs, limit=40))
        maker = text(cell(MAKER), MAKER, errs, limit=100)
        lot = nfkc(text(cell(LOT), LOT, errs, limit=40)).upper()
        reason = text(cell(REASON), REASON, errs)
        findings = text(cell(FINDINGS), FINDINGS, errs, limit=1000)
        reactions = text(cell(REACTIONS), REACTIONS, errs, limit=1000)

        if errs or day is None:
            return []
        if screening_only and not reason:
            errs.append((REASON, M_REASON_NEEDED))
            return []
        if not screening_only and not lot:
            self.warn(row, LOT, M_NO_LOT)
        return [DoseInput(
            atena_no=atena, vaccine=vaccine, date=day, dose_number=dose, clinic_code=clinic, venue=venue,
            doctor=doctor, product_code=product, manufacturer=maker, lot_number=lot, amount_ml=amount,
            voucher_no=voucher, category=category, screening_only=screening_only, reason_not_vaccinated=reason,
            findings=findings, reactions=reactions, claim_month=claim, source=Source.CLINIC_CSV,
            ref=f"{self.file}:{row}", extra=extra,
        )]


    # -- the fast path: column by column, each distinct value parsed once ------------------------------

    def parse_chunk(self, chunk: list[tuple[int, list[str]]]) -> list[DoseInput]:
        """The same doses and problems as :meth:`parse_row` row by row, faster.

        A clinic file repeats its values: a few vaccine codes, clinics, doctors, products, lots,
        dates. Each column is parsed per distinct value (cached across chunks), then the rows are
        assembled. A row with any value the fast parsers do not accept as it is, or whose columns
        depend on each other (予診のみ without a reason), goes through :meth:`parse_row`, which
        alone writes problems, so messages, their order and rejected rows are exactly the same."""
        if not chunk:
            return []
        n = len(chunk)
        ix = self.index
        cols = list(zip(*(cells for _, cells in chunk), strict=True))
        bad: set[int] = set()
        caches = self._caches

        def column(name: str) -> list[Any]:
            i = ix.get(name)
            parse = _FAST[name]
            if i is None:  # an optional column the file does not have: every cell is empty
                v = parse("")
                if v is _BAD:
                    bad.update(range(n))
                return [v] * n
            col = cols[i]
            cache = caches.setdefault(name, {})
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            for s in set(col).difference(cache):
                cache[s] = parse(s)
            vals = list(map(cache.__getitem__, col))
            if _BAD in vals:  # identity match first, so this is a C-level scan
                bad.update(k for k, v in enumerate(vals) if v is _BAD)
            return vals

        atena = column(ATENA)
        voucher = column(VOUCHER)
        vaccine = column(VACCINE)
        dose = column(DOSE)
        day = column(DAY)
        clinic = column(CLINIC)
        amount = column(AMOUNT)
        category = column(CATEGORY)
        screening = column(SCREENING_ONLY)
        claim = column(CLAIM)
        birth = column(BIRTH)
        kana = column(NAME_KANA)
        venue = column(VENUE)
        doctor = column(DOCTOR)
        product = column(PRODUCT)
        maker = column(MAKER)
        lot = column(LOT)
        reason = column(REASON)
        findings = column(FINDINGS)
        reactions = column(REACTIONS)
        file = self.file
        source = Source.CLINIC_CSV
        ok = 0
        k = -1
        out: list[DoseInput] = []
        add = out.append
        for (row, cells), a, vc, dy, dn, cl, ve, dr, pr, mk, lt, am, vo, ca, so, rs, fi, re_, cm, b, kn in zip(
            chunk, atena, vaccine, day, dose, clinic, venue, doctor, product, maker, lot, amount, voucher, category,
            screening, reason, findings, reactions, claim, birth, kana, strict=True,
        ):
            k += 1
            if (so and not rs) or k in bad:
                out.extend(self.parse_one(row, cells))
                continue
            if not so and not lt:
                self.warn(row, LOT, M_NO_LOT)
            extra: dict[str, str] = {}
            if b:
                extra["birth_date"] = b
            if kn:
                extra["name_kana"] = kn
            ok += 1
            add(DoseInput(a, vc, dy, dn, cl, ve, dr, pr, mk, lt, am, vo, "", ca, so, rs, fi, re_, cm, None, source,
                            f"{file}:{row}", extra))
        self.rows_ok += ok
        self.doses_ok += ok
        return out

    @property
    def _caches(self) -> dict[str, dict[str, Any]]:
        c = self.__dict__.get("_column_caches")
        if c is None:
            c = self.__dict__["_column_caches"] = {}
        return c


# The fast path's parsers: cell -> value, or _BAD when the row must go through ``parse_row``. Each
# must return exactly what ``parse_row`` would put into the ``DoseInput`` for that cell.
_BAD: Any = object()
_CACHE_LIMIT = 200_000  # distinct values kept per column (宛名番号 barely repeat; the rest do)


def _required(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda c: parse(s) if (s := c.strip()) else _BAD


def _optional(parse: Callable[[str], Any], empty: Any = "") -> Callable[[str], Any]:
    return lambda c: parse(s) if (s := c.strip()) else empty


def _or_bad(v: Any) -> Any:
    return _BAD if v is None or v == "" else v


def _dose(s: str) -> Any:
    d = digits_only(s, most=2)
    return _BAD if d is None or not 1 <= int(d) <= 20 else int(d)


def _day(s: str) -> Any:
    got = parse_day(s)
    return _BAD if isinstance(got, str) else got


def _birth(s: str) -> Any:
    got = parse_day(s)
    return _BAD if isinstance(got, str) else got.isoformat()


def _amount(s: str) -> Any:
    m = _AMOUNT.match(nfkc(s).replace(" ", "").upper())
    return _BAD if m is None else m.group(1)


def _category(c: str) -> Any:
    s = nfkc(c).replace(" ", "")
    return _CATEGORY_IN.get(s, _BAD) if s else Category.ROUTINE


def _flag(c: str) -> Any:
    f = nfkc(c).replace(" ", "").upper()
    return True if f in _YES else False if f in _NO else _BAD


def _text(limit: int, post: Callable[[str], str] = lambda s: s) -> Callable[[str], Any]:
    def parse(c: str) -> Any:
        errs: list[Cell] = []
        v = text(c, "", errs, limit=limit)
        return _BAD if errs else post(v)

    return parse


def _upper_nfkc(s: str) -> str:
    return nfkc(s).upper()


_FAST: dict[str, Callable[[str], Any]] = {
    ATENA: _required(lambda s: _or_bad(digits_only(s, most=15))),
    VOUCHER: _optional(lambda s: _or_bad(digits_only(s, exact=10))),
    VACCINE: _required(lambda s: _or_bad(vaccine_code(s))),
    DOSE: _optional(_dose, None),
    DAY: _required(_day),
    CLINIC: _required(lambda s: _or_bad(digits_only(s, exact=10))),
    AMOUNT: _optional(_amount),
    CATEGORY: _category,
    SCREENING_ONLY: _flag,
    CLAIM: _optional(lambda s: _or_bad(claim_month(s))),
    BIRTH: _optional(_birth),
    NAME_KANA: _text(100, nfkc),
    VENUE: _text(200),
    DOCTOR: _text(100),
    PRODUCT: _text(40, nfkc),
    MAKER: _text(100),
    LOT: _text(40, _upper_nfkc),
    REASON: _text(200),
    FINDINGS: _text(1000),
    REACTIONS: _text(1000),
}


def read_clinic_csv(path: str | Path, encoding: str = "auto", name: str | None = None) -> ClinicCsvFile:
    """Open a clinic CSV: check the encoding (UTF-8 with/without BOM, or CP932) and the header.

    Raises ``ExtractError`` (an ``InputRejected``) when the file is missing or in neither encoding;
    every other problem is in ``result.problems`` (header problems at once, row problems as the
    rows are iterated). Iterate the result once to get the valid doses. ``name``: the file name
    problems give, when not the path's (an uploaded file's own name).
    """
    p = Path(path)
    f = ClinicCsvFile(p, detect_encoding(p, encoding, name), name)
    f.read_header()
    return f


# --- writing ----------------------------------------------------------------------------------


def format_day(d: date, style: str = "iso") -> str:
    """``iso`` 2025-10-01, ``compact`` 20251001, ``wareki`` 令和7年10月1日, ``wareki_short`` R7.10.1."""
    if style == "compact":
        return f"{d.year:04d}{d.month:02d}{d.day:02d}"
    if style in ("wareki", "wareki_short"):
        return to_wareki(d, short=style == "wareki_short")
    return d.isoformat()


def dose_cells(d: DoseInput, date_style: str = "iso") -> list[str]:
    """One row in ``COLUMNS`` order (the inverse of reading)."""
    return [
        d.atena_no, d.voucher_no, d.extra.get("name_kana", ""),
        format_day(date.fromisoformat(d.extra["birth_date"]), date_style) if d.extra.get("birth_date") else "",
        d.vaccine, "" if d.dose_number is None else str(d.dose_number), format_day(d.date, date_style),
        d.clinic_code, d.venue, d.doctor, d.product_code, d.manufacturer, d.lot_number, d.amount_ml,
        CATEGORY_CODES[Category(d.category)], "1" if d.screening_only else "", d.reason_not_vaccinated,
        d.findings, d.reactions, d.claim_month,
    ]


class ClinicCsvWriter:
    """Write doses row by row (flat memory for large synthetic files). Use as a context manager."""

    def __init__(self, path: str | Path, encoding: str = "utf-8", date_style: str = "iso") -> None:
        self.path = Path(path)
        self.date_style = date_style
        # CP932 cannot hold every character; a writer for tests and synthesis replaces rather than fails.
        self._f = self.path.open("w", encoding=encoding, errors="replace", newline="")
        self._w = csv.writer(self._f, lineterminator="\r\n")
        self._w.writerow(COLUMNS)
        self.count = 0

    def write(self, d: DoseInput) -> None:
        self._w.writerow(dose_cells(d, self.date_style))
        self.count += 1

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> ClinicCsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_clinic_csv(
    path: str | Path, doses: Iterable[DoseInput], encoding: str = "utf-8", date_style: str = "iso"
) -> int:
    """Write ``doses`` as a clinic CSV (header + one row each); returns the number of rows."""
    with ClinicCsvWriter(path, encoding, date_style) as w:
        for d in doses:
            w.write(d)
        return w.count
