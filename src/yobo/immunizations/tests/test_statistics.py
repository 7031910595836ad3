"""接種記録統計: suppression (primary and complementary), totals against the records, the door, the CLI."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from hypothesis import given, settings
from hypothesis import strategies as hs

from yobo.core.errors import AccessDenied
from yobo.core.purposes import Duty, Purpose
from yobo.immunizations import statistics as st
from yobo.immunizations import stats_selectors

from .conftest import add_person

# --- pure: suppression ------------------------------------------------------------------------------


def determined(grid: list[list[int]], mask: list[list[bool]]) -> list[tuple[int, int]]:
    """Hidden cells an attacker recomputes exactly from the published cells and the line equations
    (an independent check: linear algebra, not the module's graph argument)."""
    n_r, n_c = len(grid), len(grid[0])
    hidden = [(i, j) for i in range(n_r) for j in range(n_c) if mask[i][j]]
    if not hidden:
        return []
    col = {c: k for k, c in enumerate(hidden)}
    eqs = []
    for i in range(n_r):  # row i: interior cells minus its total = 0
        e = np.zeros(len(hidden))
        for j in range(n_c):
            if (i, j) in col:
                e[col[(i, j)]] = -1 if j == n_c - 1 else 1
        eqs.append(e)
    for j in range(n_c):
        e = np.zeros(len(hidden))
        for i in range(n_r):
            if (i, j) in col:
                e[col[(i, j)]] = -1 if i == n_r - 1 else 1
        eqs.append(e)
    a = np.array(eqs)
    rank = np.linalg.matrix_rank(a)
    out = []
    for k, cell in enumerate(hidden):
        unit = np.zeros(len(hidden))
        unit[k] = 1
        if np.linalg.matrix_rank(np.vstack([a, unit])) == rank:
            out.append(cell)
    return out


tables = hs.integers(1, 7).flatmap(lambda r: hs.integers(1, 6).flatmap(lambda c: hs.lists(
    hs.lists(hs.sampled_from([0, 0, 1, 2, 3, 5, 8, 9, 10, 11, 25, 60]), min_size=c, max_size=c),
    min_size=r, max_size=r)))


@settings(max_examples=300, deadline=None)
@given(cells=tables, threshold=hs.integers(1, 15))
def test_suppression_hides_small_cells_and_cannot_be_undone(cells: list[list[int]], threshold: int) -> None:
    rows: list[tuple[str, ...]] = [(f"r{i}",) for i in range(len(cells))]
    t = st.suppress(st.Table(("vaccine",), "month", rows, [f"c{j}" for j in range(len(cells[0]))], cells),
                    threshold)
    grid = t.grid()
    shown = t.shown()
    for i, r in enumerate(grid):
        for j, v in enumerate(r):
            if 0 < v < threshold:
                assert shown[i][j] == st.SUPPRESSED  # primary
            if shown[i][j] != st.SUPPRESSED:
                assert shown[i][j] == v and not 0 < v < threshold  # nothing small published, the rest exact
            else:
                assert v >= 1  # a zero is never hidden, so non-negativity pins nothing
    assert determined(grid, t.mask) == []  # complementary suppression holds
    assert t.primary == sum(1 for r in grid for v in r if 0 < v < threshold)


def test_a_lone_small_cell_gets_complements() -> None:
    t = st.suppress(st.Table(("vaccine",), "month", [("MR1",), ("MR2",)], ["04", "05"], [[3, 40], [50, 25]]), 10)
    shown = t.shown()
    assert shown[0][0] == "*" and t.primary == 1 and t.complementary >= 3
    assert determined(t.grid(), t.mask) == []
    assert shown[-1][-1] == 118  # the grand total is large: published


def test_one_column_table() -> None:
    t = st.suppress(st.Table(("vaccine",), "none", [("A",), ("B",), ("C",)], ["計"], [[4], [30], [40]]), 10)
    assert determined(t.grid(), t.mask) == []
    out = st.rows_out(t)
    assert out[0] == ["A", "*"] and out[-1][0] == "計"
    assert "4" not in [c for r in out for c in r]


@given(years=hs.integers(0, 110), months=hs.integers(0, 11))
def test_age_group_is_the_band_of_the_age(years: int, months: int) -> None:
    label = st.age_group(years, months)
    lo, hi = next((lo, hi) for lab, lo, hi in st.AGE_GROUPS if lab == label)
    assert lo <= years * 12 + months < hi


def test_parse_by() -> None:
    assert st.parse_by("vaccine, age") == ("vaccine", "age")
    assert st.parse_by("") == st.DEFAULT_BY
    with pytest.raises(st.StatsInputError):
        st.parse_by("vaccine,atena")
    with pytest.raises(st.StatsInputError):
        st.parse_by("age,age")


def test_csv_encodings_and_marker() -> None:
    t = st.suppress(st.Table(("vaccine", "dose"), "month", [("MR1", "1回目"), ("MR2", "1回目")], ["2026-04"],
                             [[5], [20]]), 10)
    utf = st.to_csv(t, "utf-8")
    assert utf.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(utf.decode("utf-8-sig"))))
    assert rows[0] == ["ワクチン", "接種回数", "2026-04", "計"]
    assert rows[1][2] == "*" and rows[-1][0] == "計"
    assert st.to_csv(t, "cp932").decode("cp932") == utf.decode("utf-8-sig")


def test_coverage_rows_hide_small_counts_and_the_chart() -> None:
    rows = st.coverage_rows([(2020, 200, 190), (2021, 230, 227), (2022, 5, 5)], 10)
    assert [r.hidden for r in rows] == [False, True, True]  # 3 not vaccinated; a cohort of 5
    assert rows[1].shown_rate == 0.95  # floored to a 5% step, not 98.7%
    svg = st.coverage_svg(rows, title="MR1 <test>")
    assert svg.count('class="bar"') == 3 and 'class="target"' in svg
    assert "95.0" in svg and "98.7" not in svg and "227" not in svg
    assert "&lt;test&gt;" in svg and "<test>" not in svg


# --- with the database ------------------------------------------------------------------------------

def _dose(person: Any, vaccine: str, on: date, n: int | None, staff: Any, **kw: Any) -> Any:
    from django.conf import settings as dj

    from yobo.core.wareki import fiscal_year
    from yobo.immunizations.models import Dose

    months = (on.year - person.birth_date.year) * 12 + on.month - person.birth_date.month - (
        on.day < person.birth_date.day)
    return Dose(municipality=dj.MUNICIPALITY_CODE, atena_no=person.atena_no, person=person, vaccine=vaccine,
                dose_number=n, date=on, fiscal_year=fiscal_year(on), age_years=months // 12, age_months=months % 12,
                age_fy_end=0, source="keyed", entered_on=on, entered_by=staff, **kw)


@pytest.fixture
def records(db: Any, make_staff: Any) -> dict[str, Any]:
    """A small city: 40 one-year-olds with MR1 in April/May 2026, 12 children with MR2, and records
    that must not count (void, superseded, 予診のみ, voluntary, schedule-invalid)."""
    from yobo.immunizations.models import Dose

    staff = make_staff("stat-entry", duties=[Duty.ENTRY])
    babies = [add_person(f"20000000{k:02d}", date(2025, 3, 1 + k % 28)) for k in range(40)]
    kids = [add_person(f"21000000{k:02d}", date(2020, 6, 1 + k)) for k in range(12)]
    rows = []
    for k, p in enumerate(babies):
        rows.append(_dose(p, "MR1", date(2026, 4 if k < 33 else 5, 10), 1, staff))
        rows.append(_dose(p, "DPT-IPV-HIB" if k % 2 else "DPT-IPV", date(2025, 6, 1), 1, staff))
    for p in kids:
        rows.append(_dose(p, "MR2", date(2026, 5, 20), 1, staff))
    bad = babies[0]
    rows += [
        _dose(bad, "VAR", date(2026, 4, 2), 1, staff, state="void"),
        _dose(bad, "VAR", date(2026, 4, 3), 1, staff, state="superseded"),
        _dose(bad, "VAR", date(2026, 4, 4), None, staff, screening_only=True),
        _dose(bad, "VAR", date(2026, 4, 5), 1, staff, category="voluntary"),
        _dose(bad, "VAR", date(2026, 4, 6), 1, staff, has_warnings=True,
              problems=[{"code": "too_soon", "severity": "warning", "message": "x"}]),
        _dose(bad, "VAR", date(2026, 4, 7), 1, staff, has_warnings=True,  # a lot warning only: counts
              problems=[{"code": "unknown_lot", "severity": "warning", "message": "x"}]),
    ]
    Dose.objects.bulk_create(rows)
    return {"babies": babies, "kids": kids}


@pytest.fixture
def s01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.STATISTICS, duties=[Duty.CLERK])


@pytest.mark.django_db
def test_counts_match_the_records(records: dict[str, Any], s01: Any) -> None:
    from yobo.audit.models import AccessLogEntry

    before = AccessLogEntry.objects.count()
    counts = stats_selectors.dose_counts(s01, date(2026, 4, 1), date(2026, 5, 31), ("vaccine", "dose", "age"),
                                         "month")
    got = Counter({(k, c): n for k, c, n in counts})
    assert got == Counter({
        (("MR1", "1回目", "1歳"), "2026-04"): 33, (("MR1", "1回目", "1歳"), "2026-05"): 7,
        (("MR2", "1回目", "5-6歳"), "2026-05"): 12, (("VAR", "1回目", "1歳"), "2026-04"): 1,
    })
    entries = list(AccessLogEntry.objects.filter(seq__gt=before) if before else AccessLogEntry.objects.all())
    assert [(e.purpose, e.operation, e.target) for e in entries] == [("S01", "batch", "")]
    assert "groups=4" in entries[0].detail


@pytest.mark.django_db
def test_published_table_suppresses_and_keeps_totals(records: dict[str, Any], s01: Any) -> None:
    t = stats_selectors.dose_table(s01, date(2026, 4, 1), date(2026, 5, 31), by="vaccine", per="month")
    assert t.total == 53 and t.columns == ["2026-04", "2026-05"]
    assert t.cells == [[33, 7], [0, 12], [1, 0]]  # MR1, MR2, VAR
    shown = t.shown()
    assert shown[0][1] == "*" and shown[2][0] == "*"
    flat = [v for r in shown for v in r if isinstance(v, int)]
    assert all(v == 0 or v >= 10 for v in flat)
    assert determined(t.grid(), t.mask) == []
    by_fy = stats_selectors.dose_table(s01, date(2026, 4, 1), date(2026, 5, 31), by="vaccine,category", per="fy")
    assert by_fy.columns == ["2026"] and by_fy.rows[0] == ("MR1", "定期接種")


@pytest.mark.django_db
def test_a_duty_without_s01_is_refused(records: dict[str, Any], make_ctx: Any) -> None:
    ctx = make_ctx(Purpose.STATISTICS, duties=[Duty.ENTRY])
    with pytest.raises(AccessDenied):
        stats_selectors.dose_counts(ctx, date(2026, 4, 1), date(2026, 5, 31), ("vaccine",), "month")


@pytest.mark.django_db
def test_coverage_by_birth_cohort(records: dict[str, Any], s01: Any) -> None:
    from yobo.immunizations.models import Dose

    cov = dict((c, (r, d)) for c, r, d in stats_selectors.coverage(s01, "MR1", [2023, 2024]))
    assert cov == {2023: (0, 0), 2024: (40, 40)}  # born Mar 2025 = 年度 2024
    cov2 = stats_selectors.coverage(s01, "MR2", [2020])
    assert cov2 == [(2020, 12, 12)]
    # Four doses complete 四種混合; 五種混合 counts for it. Give three babies the other three doses.
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="stat-entry")
    Dose.objects.bulk_create([_dose(p, "DPT-IPV-HIB", date(2025, 6 + k, 1), k + 1, user)
                              for p in records["babies"][:3] for k in (1, 2, 3)])
    assert stats_selectors.coverage(s01, "DPT-IPV", [2024]) == [(2024, 40, 3)]
    rows = stats_selectors.coverage_table(s01, "DPT-IPV", [2024])
    assert rows[0].hidden  # 3 completed is a small count
    with pytest.raises(st.StatsInputError):
        stats_selectors.coverage(s01, "HIB", [2024])


@pytest.fixture
def cli_clerk(make_staff: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    from yobo.access.models import Terminal

    Terminal.objects.create(name="stats-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "stats-1")
    return make_staff("statclerk", duties=[Duty.CLERK])


@pytest.mark.django_db
def test_cli_writes_csv_and_json(records: dict[str, Any], cli_clerk: Any, tmp_path: Path) -> None:
    out = io.StringIO()
    target = tmp_path / "stats.csv"
    call_command("stats", "doses", "--from", "2026-04-01", "--to", "R8.5.31", "--by", "vaccine,dose",
                 "--out", str(target), "--encoding", "cp932", "--as", cli_clerk.username, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["total"] == 53 and data["threshold"] == 10 and data["out"] == str(target)
    text = target.read_bytes().decode("cp932")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["ワクチン", "接種回数", "2026-04", "2026-05", "計"]
    assert rows[-1] == ["計", "", "34", "19", "53"]
    for p in records["babies"] + records["kids"]:
        assert p.atena_no not in text
    out = io.StringIO()
    call_command("stats", "coverage", "--vaccine", "mr1", "--cohorts", "2024-2024", "--as", cli_clerk.username,
                 "--json", stdout=out)
    assert json.loads(out.getvalue())["cohorts"] == [{"cohort": 2024, "residents": 40, "completed": 40,
                                                      "rate": 100.0}]


@pytest.mark.django_db
def test_cli_refuses_bad_options(records: dict[str, Any], cli_clerk: Any) -> None:
    with pytest.raises(CommandError) as exc:
        call_command("stats", "doses", "--from", "2026-04-01", "--to", "2026-05-31", "--by", "atena",
                     "--as", cli_clerk.username, stdout=io.StringIO())
    assert exc.value.returncode == 2
    with pytest.raises(CommandError) as exc:
        call_command("stats", "doses", "--from", "2026-06-01", "--to", "2026-05-31",
                     "--as", cli_clerk.username, stdout=io.StringIO())
    assert exc.value.returncode == 2
