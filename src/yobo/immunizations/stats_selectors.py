"""Reads for statistics (接種記録統計), purpose S01: aggregate counts only, never a row of a person.

Each function is one set-based SQL aggregate inside the door, logged as one BATCH entry with no
target (no individual is identified, so none is named; decision 124). What counts:

- a dose record that is active (not voided, not superseded by a correction), not 予診のみ, not a
  voluntary (任意) dose, and not flagged by the schedule as invalid when it was saved
  (``not_target``, ``too_young``, ``too_soon``, ``too_old``, ``extra_dose``): the 定期接種 given;
- for coverage (接種率), the residents (住民基本台帳, 住民区分 1) born in a fiscal year, and those of
  them holding at least the series' number of such doses (五種混合 counts for 四種混合, as the schedule
  says).

The register is read through ``people.selectors.resident_births`` (ids and birth dates of the
residents of the cohorts, one BATCH entry of its own), as ``store`` reads it for validation;
nothing of it leaves this module but counts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import reduce
from operator import or_

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, ExtractMonth, ExtractYear

from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.purposes import Operation
from yobo.schedule.engine import load_series

from . import statistics as st
from . import store
from .models import Category, Dose, DoseState
from .validation import SCHEDULE_INVALID_CODES

RESOURCE = "immunizations.statistics"


@dataclass(frozen=True)
class CoverageSeries:
    """A series whose completion is a fixed number of doses (接種率の対象)."""

    code: str
    name: str
    doses: int
    counted_by: tuple[str, ...]


def coverage_series() -> list[CoverageSeries]:
    """A類 series whose every plan has the same number of doses (MR1, MR2, 四種混合, BCG, 水痘, …).
    Series whose count depends on the age at the first dose (Hib, 小児肺炎球菌, HPV) are left out:
    "completed" would need the engine per person, not a count."""
    out = []
    for code, s in load_series().items():
        counts = {len(p.doses) for p in s.plans}
        if s.category == "A" and len(counts) == 1 and s.repeat == "none" and code != "DPT-IPV-HIB":
            out.append(CoverageSeries(code, s.name_ja, counts.pop(), tuple(dict.fromkeys((code, *s.counted_by)))))
    return out


def _valid_doses(m: str) -> QuerySet[Dose]:
    """Active 定期接種 doses the schedule counted (see the module docstring)."""
    invalid = reduce(or_, (Q(ptext__contains=f'"code": "{c}"') for c in SCHEDULE_INVALID_CODES))
    return (Dose.objects.filter(municipality=m, state=DoseState.ACTIVE, screening_only=False)
            .exclude(category=Category.VOLUNTARY)
            .annotate(ptext=Cast("problems", TextField()))
            .exclude(Q(has_warnings=True) & invalid))


def _age_case() -> Case:
    """年齢区分 in SQL, the same bands as ``statistics.AGE_GROUPS`` (on the annotation ``age_m``)."""
    return Case(*[When(Q(age_m__gte=lo, age_m__lt=hi), then=Value(label)) for label, lo, hi in st.AGE_GROUPS],
                default=Value(st.AGE_GROUPS[-1][0]), output_field=CharField())


def dose_counts(ctx: AccessContext, date_from: date, date_to: date, by: Sequence[str], per: str
                ) -> list[tuple[tuple[str, ...], str, int]]:
    """Counts of doses given from ``date_from`` to ``date_to`` (inclusive), grouped by the row
    dimensions ``by`` and the column dimension ``per`` (``month``, ``fy`` or ``none``), as
    ``(row key, column key, count)``. One GROUP BY query; one BATCH log entry without a target."""
    if per not in st.COLUMN_DIMENSIONS:
        raise st.StatsInputError("列は month / fy / none です。 / per must be month, fy or none.")
    dims = st.parse_by(by)
    if per in dims:
        raise st.StatsInputError("列の軸と行の軸が同じです。 / the column dimension is also a row dimension.")
    if date_to < date_from:
        raise st.StatsInputError("期間の終わりが始まりより前です。 / the period ends before it starts.")
    wanted = set(dims) | ({per} - {"none"})
    detail = f"stats doses {date_from}..{date_to} by={','.join(dims)} per={per}"
    with door(ctx, Operation.BATCH, resource=RESOURCE, detail=detail) as rec:
        qs = _valid_doses(store.municipality()).filter(date__gte=date_from, date__lte=date_to)
        cols: list[str] = []
        if "age" in wanted:
            qs = qs.annotate(age_m=F("age_years") * 12 + F("age_months")).annotate(age_group=_age_case())
            cols.append("age_group")
        if "month" in wanted:
            qs = qs.annotate(y=ExtractYear("date"), mo=ExtractMonth("date", output_field=IntegerField()))
            cols += ["y", "mo"]
        names = {"vaccine": "vaccine", "dose": "dose_number", "category": "category", "fy": "fiscal_year"}
        cols += [names[d] for d in ("vaccine", "dose", "category", "fy") if d in wanted]
        rows = list(qs.order_by().values(*cols).annotate(n=Count("id")).values_list(*cols, "n"))
        rec.detail = f"{detail} groups={len(rows)}"[:200]
    out = []
    for r in rows:
        v = dict(zip(cols, r[:-1], strict=True))
        key = {
            "vaccine": v.get("vaccine"), "dose": st.dose_label(v.get("dose_number")),
            "age": v.get("age_group"), "category": Category(v["category"]).label if "category" in v else None,
            "month": f"{v['y']:04d}-{v['mo']:02d}" if "y" in v else None,
            "fy": str(v["fiscal_year"]) if "fiscal_year" in v else None,
        }
        out.append((tuple(str(key[d]) for d in dims), "計" if per == "none" else str(key[per]), int(r[-1])))
    return out


def period_columns(date_from: date, date_to: date, per: str) -> list[str]:
    """The column keys of a period: every month (``YYYY-MM``) or fiscal year in it, or one column."""
    if per == "none":
        return ["計"]
    if per == "fy":
        from yobo.core.wareki import fiscal_year

        return [str(y) for y in range(fiscal_year(date_from), fiscal_year(date_to) + 1)]
    out = []
    y, m = date_from.year, date_from.month
    while (y, m) <= (date_to.year, date_to.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def coverage(ctx: AccessContext, series_code: str, cohorts: Sequence[int]) -> list[tuple[int, int, int]]:
    """For each birth cohort (fiscal year of birth) in ``cohorts``: (cohort, residents, completed).

    Residents are the register's current residents born in that fiscal year, read through
    ``people.selectors.resident_births`` (ids and birth dates only); completed are those of them
    holding at least the series' number of counted doses (one GROUP BY over this app's records)."""
    from yobo.people.selectors import resident_births

    series = {s.code: s for s in coverage_series()}.get(series_code)
    if series is None:
        raise st.StatsInputError("接種率を出せるワクチンではありません。 / no coverage for this vaccine.")
    years = sorted({int(c) for c in cohorts})
    if not years:
        return []
    m = store.municipality()
    start, end = date(years[0], 4, 1), date(years[-1] + 1, 3, 31)
    with door(ctx, Operation.BATCH, resource=RESOURCE,
              detail=f"stats coverage {series.code} cohorts {years[0]}-{years[-1]}") as rec:
        cohort_of = {pid: b.year if b.month >= 4 else b.year - 1 for pid, b in resident_births(ctx, start, end)}
        # Nobody born on or after ``start`` was vaccinated before it.
        held = (_valid_doses(m).filter(vaccine__in=series.counted_by, date__gte=start).order_by()
                .values("person_id").annotate(c=Count("id")).filter(c__gte=series.doses)
                .values_list("person_id", flat=True))
        residents = Counter(cohort_of.values())
        done = Counter(cohort_of[pid] for pid in held.iterator(chunk_size=20_000) if pid in cohort_of)
        rec.detail = f"stats coverage {series.code} cohorts {years[0]}-{years[-1]} groups={len(residents)}"
    return [(y, int(residents.get(y, 0)), int(done.get(y, 0))) for y in years]


def threshold() -> int:
    """The suppression threshold (秘匿の閾値): a count below it is never published
    (``YOBO_STATS_MIN_CELL``, default 10)."""
    from django.conf import settings

    raw = getattr(settings, "YOBO_STATS_MIN_CELL", None) or os.environ.get("YOBO_STATS_MIN_CELL") or ""
    try:
        n = int(raw) if str(raw).strip() else st.DEFAULT_THRESHOLD
    except ValueError:
        n = st.DEFAULT_THRESHOLD
    return max(1, n)


def dose_table(ctx: AccessContext, date_from: date, date_to: date, *, by: Sequence[str] | str | None = None,
               per: str = "month", min_cell: int | None = None) -> st.Table:
    """The published table: counts (``dose_counts``) with primary and complementary suppression.
    ``min_cell`` may raise the threshold for one run, never lower it below the setting."""
    dims = st.parse_by(by)
    counts = dose_counts(ctx, date_from, date_to, dims, per)
    table = st.build_table(counts, dims, per, period_columns(date_from, date_to, per))
    return st.suppress(table, max(threshold(), min_cell or 0))


def coverage_table(ctx: AccessContext, series_code: str, cohorts: Sequence[int]) -> list[st.CohortCoverage]:
    """Coverage per birth cohort with the small-count rule applied (``statistics.coverage_rows``)."""
    return st.coverage_rows(coverage(ctx, series_code, cohorts), threshold())
