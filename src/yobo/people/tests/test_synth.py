"""The synthetic city: deterministic, realistic in shape, valid against §1, and readable back."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import date
from itertools import pairwise

import pytest

from yobo.core.wareki import parse_date
from yobo.mynumber.checkdigit import is_valid
from yobo.people import synth
from yobo.people.extract import COLUMNS, read_extract

AS_OF = date(2025, 6, 1)


def _rows(count: int, seed: int = 5, **kw) -> list[dict[str, str]]:
    return list(synth.generate(count, seed, AS_OF, **kw))


@pytest.fixture(scope="module")
def city() -> list[dict[str, str]]:
    return _rows(30_000)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    synth.write_csv(a, 3000, 11, "utf-8", AS_OF, date_style="mixed", kana="mixed")
    synth.write_csv(b, 3000, 11, "utf-8", AS_OF, date_style="mixed", kana="mixed")
    synth.write_csv(c, 3000, 12, "utf-8", AS_OF, date_style="mixed", kana="mixed")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_styles_change_the_writing_not_the_people(tmp_path):
    plain, styled = tmp_path / "plain.csv", tmp_path / "styled.csv"
    synth.write_csv(plain, 2000, 4, "cp932", AS_OF)
    synth.write_csv(styled, 2000, 4, "cp932", AS_OF, date_style="wareki", kana="half")
    assert styled.read_bytes() != plain.read_bytes()
    assert read_extract(plain, as_of=AS_OF).read_all() == read_extract(styled, as_of=AS_OF).read_all()


def test_count_header_and_columns(tmp_path):
    out = tmp_path / "r.csv"
    assert synth.write_csv(out, 123, 1, "utf-8-sig", AS_OF) == 123
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) == 124


def test_my_numbers_valid_distinct_and_a_few_missing(city):
    numbers = [r["個人番号"] for r in city if r["個人番号"]]
    assert len(numbers) == len(set(numbers))
    assert all(is_valid(n) for n in numbers)
    missing = len(city) - len(numbers)
    assert 0 < missing < len(city) * 0.02


def test_keys_unique_and_digits(city):
    atena = [r["宛名番号"] for r in city]
    assert len(set(atena)) == len(atena)
    assert all(a.isdigit() and len(a) <= 15 for a in atena)
    assert all(r["世帯番号"].isdigit() and len(r["世帯番号"]) <= 15 for r in city)


def test_households_share_address_and_have_one_head(city):
    by_household: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in city:
        by_household[r["世帯番号"]].append(r)
    sizes = Counter(len(m) for m in by_household.values())
    assert set(sizes) <= set(range(1, 7))
    assert sizes[1] > sizes[4] > sizes[6] > 0  # singles are the most common, six the rarest
    for members in list(by_household.values())[:-1]:  # the last household may be cut by --count
        assert [m["続柄"] for m in members].count("世帯主") == 1
        assert len({(m["住所"], m["方書"], m["郵便番号"]) for m in members}) == 1


def test_children_are_17_to_53_years_younger_than_the_head(city):
    head_year: dict[str, int] = {}
    checked = 0
    for r in city:
        y = int(r["生年月日"][:4])
        if r["続柄"] == "世帯主":
            head_year[r["世帯番号"]] = y
        elif r["続柄"] == "子":
            gap = y - head_year[r["世帯番号"]]
            assert 17 <= gap <= 53, r
            checked += 1
    assert checked > 1000


def test_age_pyramid_is_japan_like(city):
    ages = Counter(min((AS_OF.year - int(r["生年月日"][:4])) // 5 * 5, 100) for r in city)
    n = len(city)
    children = sum(ages[a] for a in (0, 5, 10)) / n
    elderly = sum(v for a, v in ages.items() if a >= 65) / n
    assert 0.09 < children < 0.18  # Japan 2024: ~11%
    assert 0.22 < elderly < 0.35  # Japan 2024: ~29%
    assert ages[100] > 0
    assert all(parse_date(r["生年月日"]) <= AS_OF for r in city)
    # the second baby boom (born 1971-74) outnumbers those born 1990-93
    years = Counter(int(r["生年月日"][:4]) for r in city)
    assert sum(years[y] for y in range(1971, 1975)) > 1.2 * sum(years[y] for y in range(1990, 1994))


def test_statuses_and_change_dates(city):
    status = Counter(r["住民区分"] for r in city)
    assert status["1"] > 0.9 * len(city)
    assert status["2"] > 0 and status["3"] > 0 and status["4"] > 0
    for r in city:
        if r["住民区分"] in {"2", "3", "4"}:
            assert r["異動日"] and r["異動事由"]
        if r["異動日"]:
            assert parse_date(r["生年月日"]) <= parse_date(r["異動日"]) <= AS_OF


def test_names_have_kanji_and_katakana_and_rare_kanji_appear():
    rows = _rows(60_000, seed=2)
    assert any(any(ch in r["漢字氏名"] for ch in "髙﨑𠮷𡈽") for r in rows)
    assert any("𠮷" in r["漢字氏名"] or "𡈽" in r["漢字氏名"] for r in rows)
    assert Counter(r["性別"] for r in rows).keys() == {"1", "2"}


def test_cp932_mode_only_uses_encodable_names(tmp_path):
    rows = _rows(60_000, seed=2, cp932_only=True)
    for r in rows:
        "".join(r.values()).encode("cp932")  # raises if not encodable
    assert any("髙" in r["漢字氏名"] or "﨑" in r["漢字氏名"] for r in rows)  # in CP932 (IBM extensions)


def test_half_and_wareki_styles():
    rows = _rows(300, date_style="wareki", kana="half")
    assert all(r["生年月日"][0] in "明大昭平令MTSHR" for r in rows)
    assert all(not any("\u30a0" <= c <= "\u30ff" for c in r["カナ氏名"]) for r in rows)


def test_cli_writes_file_and_summary(tmp_path, capsys):
    from yobo import cli

    out = tmp_path / "city.csv"
    rc = cli.main(["synth", "residents", "--count", "50", "--seed", "9", "--out", str(out), "--as-of", "R7.6.1",
                   "--encoding", "cp932"])
    assert rc == 0
    assert "50" in capsys.readouterr().out
    result = read_extract(out, as_of=AS_OF)
    assert len(result.read_all()) == 50 and result.encoding == "cp932" and not result.problems


def test_cli_leave_out_writes_a_later_snapshot(tmp_path, capsys):
    whole, snap = tmp_path / "whole.csv", tmp_path / "snap.csv"
    assert synth.main(["residents", "--count", "80", "--out", str(whole), "--as-of", "2025-06-01"]) == 0
    assert synth.main(["residents", "--count", "80", "--out", str(snap), "--as-of", "2025-06-01",
                       "--leave-out", "3"]) == 0
    assert "wrote 77 " in capsys.readouterr().out
    kept = read_extract(snap, as_of=AS_OF).read_all()
    assert len(kept) == 77 and all(r in read_extract(whole, as_of=AS_OF).read_all() for r in kept)
    assert synth.main(["residents", "--count", "8", "--out", str(snap), "--leave-out", "-1"]) == 2


def test_cli_rejects_bad_as_of(tmp_path, capsys):
    rc = synth.main(["residents", "--count", "5", "--out", str(tmp_path / "x.csv"), "--as-of", "yesterday"])
    assert rc == 2
    assert "as-of" in capsys.readouterr().err


def test_pure_modules_import_no_django():
    import subprocess
    import sys

    code = ("import sys, yobo.people.synth, yobo.people.extract; "
            "sys.exit(1 if any(m == 'django' or m.startswith('django.') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize("n", [1, 6, 40])
def test_leave_out_writes_the_same_file_without_n_residents_spread_through_it(tmp_path, n):
    def rows(path):
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.reader(f))

    whole, snap = tmp_path / "whole.csv", tmp_path / "snap.csv"
    synth.write_csv(whole, 600, seed=3, as_of=date(2025, 4, 1), date_style="mixed", kana="mixed")
    assert synth.write_csv(snap, 600, seed=3, as_of=date(2025, 4, 1), date_style="mixed", kana="mixed",
                           leave_out=n) == 600 - n
    a, b = rows(whole), rows(snap)
    kept = {tuple(r) for r in b}
    gone = [k for k, r in enumerate(a) if tuple(r) not in kept]
    assert len(b) == len(a) - n and all(tuple(r) in {tuple(x) for x in a} for r in b)
    status = a[0].index("住民区分")
    assert len(gone) == n and {a[k][status] for k in gone} == {"1"}
    # spread through the file: at least half a step apart
    assert all(j - i >= 600 // n // 2 for i, j in pairwise(gone))
