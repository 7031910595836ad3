"""Clinic CSV and VRS CSV readers/writers (pure): round trips, width/era variants, garbage never crashes."""

from __future__ import annotations

import csv
import string
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from yobo.core.wareki import to_wareki
from yobo.immunizations.formats import clinic_csv, vrs_csv
from yobo.immunizations.formats._csvbase import ExtractError
from yobo.immunizations.inputs import Category, DoseInput, Source

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

digits = st.text(string.digits, min_size=1, max_size=15)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
names = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Lo"), max_codepoint=0x9FFF), max_size=12).map(
    str.strip)
lots = st.text(string.ascii_uppercase + string.digits, max_size=10)
codes = st.sampled_from(sorted(clinic_csv.VACCINE_CODES))


@st.composite
def clinic_doses(draw: st.DrawFn) -> DoseInput:
    screening = draw(st.booleans())
    return DoseInput(
        atena_no=draw(digits), vaccine=draw(codes), date=draw(days), dose_number=draw(st.none() | st.integers(1, 20)),
        clinic_code=draw(st.text(string.digits, min_size=10, max_size=10)), venue=draw(names), doctor=draw(names),
        product_code=draw(lots), manufacturer=draw(names), lot_number=draw(lots),
        amount_ml=draw(st.sampled_from(["", "0.5", "0.25", "1"])), voucher_no=draw(
            st.sampled_from(["", "1234567890"])), category=draw(st.sampled_from(list(Category))),
        screening_only=screening, reason_not_vaccinated=(draw(names) or "発熱") if screening else "",
        findings=draw(names), reactions=draw(names), claim_month=draw(st.sampled_from(["", "202510", "199001"])),
        source=Source.CLINIC_CSV,
    )


def _strip(d: DoseInput) -> DoseInput:
    return replace(d, ref="")


@FAST
@given(doses=st.lists(clinic_doses(), max_size=8), enc=st.sampled_from(["utf-8", "cp932"]),
       style=st.sampled_from(["iso", "compact", "wareki", "wareki_short"]))
def test_clinic_round_trip(tmp_path: Path, doses: list[DoseInput], enc: str, style: str) -> None:
    if enc == "cp932":  # only characters CP932 holds survive a CP932 file (the writer replaces others)
        doses = [d for d in doses if all(_cp932(v) for v in (d.venue, d.doctor, d.manufacturer, d.reason_not_vaccinated,
                                                             d.findings, d.reactions))]
    f = tmp_path / f"c-{enc}-{style}.csv"
    clinic_csv.write_clinic_csv(f, doses, encoding=enc, date_style=style)
    r = clinic_csv.read_clinic_csv(f)
    got = [_strip(x) for x in r]
    assert not r.errors, r.errors
    assert got == [_strip(d) for d in doses]


def _cp932(s: str) -> bool:
    try:
        s.encode("cp932")
    except UnicodeEncodeError:
        return False
    return True


def _full(s: str) -> str:
    return s.translate({ord(c): ord(c) + 0xFEE0 for c in string.digits + string.ascii_uppercase})


@FAST
@given(d=clinic_doses())
def test_full_width_and_wareki_read_the_same(tmp_path: Path, d: DoseInput) -> None:
    d.date = max(d.date, date(1989, 1, 8))  # 和暦 forms from 平成 on
    base = clinic_csv.dose_cells(d)
    variant = list(base)
    ix = clinic_csv.COLUMNS.index
    for col in (clinic_csv.ATENA, clinic_csv.CLINIC, clinic_csv.DOSE, clinic_csv.LOT, clinic_csv.VACCINE):
        variant[ix(col)] = _full(variant[ix(col)])
    variant[ix(clinic_csv.DAY)] = _full(to_wareki(d.date, short=True))
    out = []
    for cells in (base, variant):
        f = tmp_path / "v.csv"
        with f.open("w", encoding="utf-8", newline="") as h:
            w = csv.writer(h)
            w.writerow(clinic_csv.COLUMNS)
            w.writerow(cells)
        out.append([_strip(x) for x in clinic_csv.read_clinic_csv(f)])
    assert out[0] == out[1] and len(out[0]) == 1


@FAST
@given(rows=st.lists(st.lists(st.text(max_size=12), min_size=0, max_size=25), max_size=6),
       header=st.sampled_from([list(clinic_csv.COLUMNS), ["宛名番号", "接種日"], ["x"]]))
def test_clinic_garbage_never_crashes(tmp_path: Path, rows: list[list[str]], header: list[str]) -> None:
    f = tmp_path / "g.csv"
    with f.open("w", encoding="utf-8", newline="") as h:
        w = csv.writer(h)
        w.writerow(header)
        w.writerows(rows)
    r = clinic_csv.read_clinic_csv(f)
    got = list(r)
    assert len(got) + len(r.rejected) <= max(r.rows_read, 0) or r.errors
    for p in r.problems:
        assert p.file == "g.csv"
        assert p.row is None or p.row >= 1


@FAST
@given(raw=st.binary(max_size=300))
def test_clinic_binary_garbage_is_refused_or_reported(tmp_path: Path, raw: bytes) -> None:
    f = tmp_path / "b.csv"
    f.write_bytes(raw)
    try:
        r = clinic_csv.read_clinic_csv(f)
    except ExtractError:  # neither UTF-8 nor CP932: refused whole, naming the file
        return
    list(r)


def test_clinic_problems_name_row_and_column(tmp_path: Path) -> None:
    f = tmp_path / "p.csv"
    f.write_text("宛名番号,接種コード,接種日,実施医療機関コード,予診のみ\r\n"
                 "12a,MR1,2025-10-01,1411234567,\r\n"
                 "12,MR,令和7年2月30日,141,x\r\n"
                 "13,五種混合,R7.10.1,１４１１２３４５６７,1\r\n", encoding="utf-8")
    r = clinic_csv.read_clinic_csv(f)
    got = list(r)
    where = {(p.row, p.column) for p in r.errors}
    assert where == {(2, "宛名番号"), (3, "接種コード"), (3, "接種日"), (3, "実施医療機関コード"), (3, "予診のみ"),
                     (4, "未接種理由")}
    assert got == []


def test_clinic_header_aliases_and_unknown_columns(tmp_path: Path) -> None:
    f = tmp_path / "a.csv"
    f.write_text("宛名番号,ワクチン,接種・予診日,医療機関コード,Lot.No,備考\r\n1,HIB,2025-04-01,1411234567,ab1,x\r\n",
                 encoding="utf-8")
    r = clinic_csv.read_clinic_csv(f)
    [d] = list(r)
    assert (d.vaccine, d.lot_number) == ("HIB", "AB1")
    assert [p.column for p in r.problems] == ["備考"] and not r.errors


class _RowByRow(clinic_csv.ClinicCsvFile):
    """The reference reader: every row through ``parse_row`` (the fast path must match it exactly)."""

    def parse_chunk(self, chunk: list[tuple[int, list[str]]]) -> list[DoseInput]:
        return [d for row, cells in chunk for d in self.parse_one(row, cells)]


# Cells a clinic file really holds, and near misses of each: full-width, 和暦, empty, garbage.
_CELLS: dict[str, list[str]] = {
    clinic_csv.ATENA: ["1000083231", "１２３", " 12-34 ", "", "12a", "1234567890123456", "−"],
    clinic_csv.VOUCHER: ["", "0123456789", "０１２３４５６７８９", "123"],
    clinic_csv.VACCINE: ["MR1", "mr1", "五種混合", "ＨＩＢ", "FLU-B", "", "麻しん風しん", "XX"],
    clinic_csv.DOSE: ["", "1", "２", "0", "21", "a"],
    clinic_csv.DAY: ["2025-10-01", "R7.10.1", "令和7年2月30日", "20240229", "", "x", "２０２５／１０／０１"],
    clinic_csv.CLINIC: ["1411234567", "１４１１２３４５６７", "141", ""],
    clinic_csv.AMOUNT: ["", "0.5", "０．５", "0.5mL", "abc", " 1 "],
    clinic_csv.CATEGORY: ["", "1", "2", "定期", "キャッチアップ", "9"],
    clinic_csv.SCREENING_ONLY: ["", "0", "1", "有", "x", "なし"],
    clinic_csv.REASON: ["", "発熱", "a\tb"],
    clinic_csv.LOT: ["", "ab1", "ＡＢ１", "x" * 41],
    clinic_csv.PRODUCT: ["", "FLU-BIKEN", "Ｐ１", "p" * 41],
    clinic_csv.CLAIM: ["", "202510", "2025-10", "令和7年10月", "R7.10", "202513", "x"],
    clinic_csv.BIRTH: ["", "2020-04-01", "H1.1.8", "bad"],
    clinic_csv.NAME_KANA: ["", "ﾔﾏﾀﾞ", "ヤマダ\x01"],
    clinic_csv.VENUE: ["", "会場", "v" * 201],
    clinic_csv.DOCTOR: ["", "山本 剛", "\x7f"],
}


@FAST
@st.composite
def _clinic_row(draw: st.DrawFn) -> dict[str, str]:
    """A valid row (the first cell of each list) with up to four cells changed to another form."""
    changed = draw(st.sets(st.sampled_from(list(_CELLS)), max_size=4))
    return {c: draw(st.sampled_from(v)) if c in changed else v[0] for c, v in _CELLS.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_clinic_row(), max_size=12),
       drop=st.sets(st.sampled_from([c for c in _CELLS if c not in clinic_csv.REQUIRED])),
       chunk=st.integers(1, 5), blank=st.booleans())
def test_clinic_fast_path_matches_row_by_row(tmp_path: Path, rows: list[dict[str, str]], drop: set[str], chunk: int,
                                             blank: bool) -> None:
    """Column-wise parsing with cached values gives the same doses, problems (in the same order) and
    rejected rows as parsing row by row, across chunk boundaries, missing optional columns, blank
    lines and rows of the wrong width."""
    header = [c for c in _CELLS if c not in drop]
    f = tmp_path / "fast.csv"
    with f.open("w", encoding="utf-8", newline="") as h:
        w = csv.writer(h)
        w.writerow(header)
        for k, cells in enumerate(rows):
            w.writerow([cells[c] for c in header])
            if blank and k % 3 == 1:
                w.writerow([])
            if blank and k % 4 == 2:
                w.writerow(["1", "2"])
    out = []
    for cls in (clinic_csv.ClinicCsvFile, _RowByRow):
        r = cls(f, "utf-8")
        r.chunk_rows = chunk
        r.read_header()
        got = list(r)
        out.append((got, r.problems, [(x.row, x.cells, x.reasons) for x in r.rejected], r.rows_read, r.rows_ok,
                    r.doses_ok))
    assert out[0] == out[1]


# --- VRS CSV ---------------------------------------------------------------------------------------

@st.composite
def vrs_people(draw: st.DrawFn) -> list[DoseInput]:
    atenas = draw(st.lists(digits, min_size=1, max_size=5, unique=True))
    out = []
    for a in atenas:
        for n in sorted(draw(st.sets(st.integers(1, 4), min_size=1, max_size=4))):
            out.append(DoseInput(
                atena_no=a, vaccine="COVID-B", date=draw(days), dose_number=n,
                registered_at=draw(st.none() | st.datetimes(datetime(2021, 1, 1), datetime(2030, 1, 1)).map(
                    lambda x: x.replace(microsecond=0))),
                voucher_no=draw(st.sampled_from(["", "0123456789"])), municipality_code=draw(
                    st.sampled_from(["", "141003"])), venue=draw(names), doctor=draw(names),
                manufacturer=draw(names), lot_number=draw(lots), source=Source.VRS))
    return out


@FAST
@given(doses=vrs_people(), enc=st.sampled_from(["utf-8", "cp932"]))
def test_vrs_round_trip(tmp_path: Path, doses: list[DoseInput], enc: str) -> None:
    if enc == "cp932":
        doses = [d for d in doses if all(_cp932(v) for v in (d.venue, d.doctor, d.manufacturer))]
    f = tmp_path / "vrs.csv"
    vrs_csv.write_vrs_csv(f, vrs_csv.group_by_person(doses), doses=4, encoding=enc)
    r = vrs_csv.read_vrs_csv(f)
    got = [_strip(x) for x in r]
    assert not r.errors, r.errors
    assert got == [_strip(d) for d in doses]


@FAST
@given(rows=st.lists(st.lists(st.text(max_size=16), max_size=10), max_size=6), k=st.integers(0, 3))
def test_vrs_garbage_never_crashes(tmp_path: Path, rows: list[list[str]], k: int) -> None:
    f = tmp_path / "g.csv"
    with f.open("w", encoding="utf-8", newline="") as h:
        w = csv.writer(h)
        w.writerow(vrs_csv.header(k))
        w.writerows(rows)
    r = vrs_csv.read_vrs_csv(f)
    for d in r:
        assert d.atena_no.isdigit() and d.dose_number is not None
    assert all(p.file == "g.csv" for p in r.problems)


def test_vrs_refuses_foreign_columns_and_names_cells(tmp_path: Path) -> None:
    f = tmp_path / "v.csv"
    f.write_text("個別宛名番号,個人番号,1回目接種日\r\n1,,20251015\r\n", encoding="utf-8")
    r = vrs_csv.read_vrs_csv(f)
    assert [(p.row, p.column) for p in r.errors] == [(1, "個人番号")]
    assert list(r) == []
    f.write_text(
        "個別宛名番号,1回目接種日,1回目ロット番号,2回目接種日,2回目券番号\r\n"
        "1,20251015,A1,20251301,12\r\n1,20251015,,,\r\n2,,A2,,\r\n", encoding="utf-8")
    r = vrs_csv.read_vrs_csv(f)
    assert list(r) == []
    assert {(p.row, p.column) for p in r.errors} == {(2, "2回目接種日"), (2, "2回目券番号"), (3, "個別宛名番号"),
                                                     (4, "1回目接種日")}


@pytest.mark.parametrize("raw", ["", "個別宛名番号\r\n", "\ufeff個別宛名番号,1回目接種日\r\n１２,２０２５１０１５\r\n"])
def test_vrs_edge_files(tmp_path: Path, raw: str) -> None:
    f = tmp_path / "e.csv"
    f.write_text(raw, encoding="utf-8")
    r = vrs_csv.read_vrs_csv(f)
    got = list(r)
    if raw.startswith("\ufeff"):
        assert [(d.atena_no, d.date) for d in got] == [("12", date(2025, 10, 15))]
    elif not raw:
        assert r.errors
