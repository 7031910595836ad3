"""統計 (purpose S01): the dose-count table for the ministry's report (small cells suppressed), its CSV,
and coverage by birth cohort drawn as a chart (接種率). Aggregates only: no person is shown or named.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, fiscal_year, parse_date
from yobo.immunizations import statistics as st
from yobo.immunizations import stats_selectors

TARGET = 0.95  # 目標接種率 (麻しん・風しん排除の目標 95%)


def _params(request: HttpRequest) -> dict[str, Any]:
    today = timezone.localdate()
    fy = fiscal_year(today)
    g = request.GET
    return {
        "from": (g.get("from") or f"{fy}-04-01").strip(),
        "to": (g.get("to") or today.isoformat()).strip(),
        "by": g.getlist("by") or list(st.DEFAULT_BY),
        "per": g.get("per") or "month",
        "vaccine": (g.get("vaccine") or "MR1").strip().upper(),
        "cohort_from": (g.get("cohort_from") or str(fy - 6)).strip(),
        "cohort_to": (g.get("cohort_to") or str(fy - 1)).strip(),
        "encoding": g.get("encoding") or "utf-8",
    }


def _period(p: dict[str, Any]) -> tuple[date, date]:
    try:
        return parse_date(p["from"]), parse_date(p["to"])
    except DateFormatError:
        raise st.StatsInputError("期間の日付が正しくありません。 / the period is not a date.") from None


def _cohorts(p: dict[str, Any]) -> list[int]:
    try:
        a, b = int(p["cohort_from"]), int(p["cohort_to"])
    except ValueError:
        raise st.StatsInputError("生まれ年度は数字で入力してください。 / cohorts must be years.") from None
    if not (1900 <= a <= b <= 2200 and b - a <= 20):
        raise st.StatsInputError("生まれ年度の範囲が正しくありません（20年度まで）。 / bad cohort range.")
    return list(range(a, b + 1))


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """接種記録統計: the table (when asked) and the coverage chart."""
    p = _params(request)
    out: dict[str, Any] = {"p": p, "dimensions": list(st.DIMENSIONS.items()),
                           "series": stats_selectors.coverage_series(), "errors": []}
    try:
        ctx = context_for_request(request, Purpose.STATISTICS)
        out["threshold"] = stats_selectors.threshold()
        if request.GET.get("run") == "table":
            try:
                d_from, d_to = _period(p)
                t = stats_selectors.dose_table(ctx, d_from, d_to, by=p["by"], per=p["per"])
                out["table"] = {"header": st.header(t), "rows": st.rows_out(t), "t": t,
                                "query": request.GET.urlencode()}
            except st.StatsInputError as exc:
                out["errors"].append(str(exc))
        try:
            rows = stats_selectors.coverage_table(ctx, p["vaccine"], _cohorts(p))
            name = next((s.name for s in out["series"] if s.code == p["vaccine"]), p["vaccine"])
            title = f"{name} 生まれ年度別の接種率"
            # The SVG is built from numbers and escaped labels only (statistics.coverage_svg).
            out["chart"] = mark_safe(st.coverage_svg(rows, title=title, target=TARGET))  # noqa: S308
            out["coverage"] = rows
            out["chart_title"] = title
        except st.StatsInputError as exc:
            out["errors"].append(str(exc))
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    out["target_pct"] = int(TARGET * 100)
    return render(request, "web/stats/index.html", out)


@login_required
@require_GET
def doses_csv(request: HttpRequest) -> HttpResponse:
    """The same table as CSV (UTF-8 with BOM or CP932): counts only (decision 124)."""
    p = _params(request)
    try:
        ctx = context_for_request(request, Purpose.STATISTICS)
        d_from, d_to = _period(p)
        t = stats_selectors.dose_table(ctx, d_from, d_to, by=p["by"], per=p["per"])
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    except st.StatsInputError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    enc = "cp932" if p["encoding"] == "cp932" else "utf-8"
    charset = "shift_jis" if enc == "cp932" else "utf-8"
    resp = HttpResponse(st.to_csv(t, enc), content_type=f"text/csv; charset={charset}")
    resp["Content-Disposition"] = f'attachment; filename="dose-stats-{d_from:%Y%m%d}-{d_to:%Y%m%d}.csv"'
    return resp
