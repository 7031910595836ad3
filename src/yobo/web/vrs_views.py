"""VRS matching screens (VRS照合のエラーデータ一覧): runs, the error list of a run, and one line's
resolution (accept VRS / keep the ledger / correct), keyboard first: the list opens on the first
open line, ``A``/``K``/``C`` choose the action (Alt+A/K/C), Enter saves and goes to the next open
line. Every read and resolution goes through ``yobo.immunizations.matching`` (purpose V03).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, parse_date
from yobo.immunizations import matching


def _ctx(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.VRS_MATCHING)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


@login_required
def runs(request: HttpRequest) -> HttpResponse:
    """照合の履歴."""
    try:
        rs = matching.runs(_ctx(request))
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/vrs/runs.html", {"runs": rs})


@login_required
def run(request: HttpRequest, run_id: int) -> HttpResponse:
    """エラーデータ一覧 of one run (open lines first)."""
    try:
        view, lines = matching.run_lines(_ctx(request), run_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, "web/vrs/runs.html", {"runs": [], "error": str(exc)}, status=404)
    lines = sorted(lines, key=lambda x: (not x.is_open, x.id))
    return render(request, "web/vrs/run.html", {"run": view, "lines": lines})


def _next_open(ctx: AccessContext, run_id: int) -> str:
    _, open_lines = matching.run_lines(ctx, run_id, only_open=True)
    return f"/doses/vrs/line/{open_lines[0].id}/" if open_lines else f"/doses/vrs/{run_id}/"


@login_required
@require_http_methods(["GET", "POST"])
def line(request: HttpRequest, line_id: int) -> HttpResponse:
    """One line: both sides, and the resolution form."""
    try:
        ctx = _ctx(request)
        x = matching.get_line(ctx, line_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, "web/vrs/runs.html", {"runs": [], "error": str(exc)}, status=404)
    error = ""
    form = {k: (request.POST.get(k) or "").strip() for k in ("action", "note", "date", "lot", "dose")}
    if request.method == "POST":
        try:
            day = parse_date(form["date"]) if form["date"] else None
            dose = int(form["dose"]) if form["dose"] else None
            if dose is not None and not 1 <= dose <= 20:
                raise InputRejected("接種回数は1〜20です / the dose number is 1 to 20")
            matching.resolve(ctx, line_id, form["action"], note=form["note"], date_value=day,
                             lot=form["lot"] or None, dose_number=dose)
        except (DateFormatError, ValueError) as exc:
            error = str(exc) if isinstance(exc, DateFormatError) else "接種回数は数字です / the dose number is a number"
        except AccessDenied as exc:
            return _denied(request, exc)
        except InputRejected as exc:
            error = str(exc)
        else:
            messages.success(request, f"{x.atena_no} の行を処理しました（{x.kind_label}） / line resolved")
            return HttpResponseRedirect(_next_open(ctx, x.run_id))
    return render(request, "web/vrs/line.html", {"line": x, "error": error, "form": form},
                  status=400 if error else 200)
