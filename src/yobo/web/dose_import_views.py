"""接種記録の取込 (V02) on the staff UI: a clerk uploads the medical association's (医師会) or a
clinic's CSV file, or a VRS CSV, and gets the same verdict ``yobo doses import`` gives on the batch
terminal (both go through ``immunizations.dose_files``): the whole file applied, or refused with
every problem listed by row and column and nothing applied. With 「誤りのある行を除いて取り込む」 the
valid rows are saved and the refused rows are listed on the page (row number and reasons); no
rejected-rows file is written, since a file handed to a browser would be an export of personal data.

The upload is spooled by Django to a temporary file (mode 0600) that is removed when the request
ends; the readers need a path (encoding detection, then one pass, then the refused rows' cells).
HL7 messages come over the interface and stay on the batch terminal.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from yobo.access.context import context_for_request
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.problems import ERROR
from yobo.core.purposes import Purpose
from yobo.immunizations import dose_files, selectors
from yobo.immunizations.formats.vrs_csv import DEFAULT_VACCINE
from yobo.immunizations.inputs import Source

MAX_BYTES = 50 * 1024 * 1024  # a larger file goes to the batch terminal (progress, no request timeout)
SHOWN = 200  # problems / refused rows listed on the page; the counts say how many in all
RECENT = 20  # import batches listed under the form

SOURCE_LABELS: dict[str, str] = {
    Source.CLINIC_CSV: "医療機関CSV", Source.VRS: "VRS", Source.HL7: "HL7 VXU", Source.KEYED: "予診票入力",
    Source.API: "API", Source.EXCHANGE: "情報照会",
}

_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


def upload_name(raw: str) -> str:
    """The uploaded file's name as the batch and the problems give it: its last part, without
    control characters or separators, at most 100 characters."""
    name = _UNSAFE.sub("", Path(raw.replace("\\", "/")).name).strip()
    return name[:100] or "upload.csv"


@csrf_exempt  # only so that the upload handler can be set; csrf_protect below checks the token
@login_required
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """取込の画面: the upload form, the result of the last upload, and recent import batches."""
    if request.method == "POST":
        # Spool to a temporary file whatever the size: the readers open it by path.
        request.upload_handlers = [TemporaryFileUploadHandler(request)]
    return _index(request)


@csrf_protect
def _index(request: HttpRequest) -> HttpResponse:
    try:
        ctx = context_for_request(request, Purpose.DOSE_IMPORT)
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    form = {"format": "clinic", "encoding": "auto", "vaccine": DEFAULT_VACCINE, "skip_invalid": False}
    page: dict[str, Any] = {"form": form, "formats": dose_files.FORMAT_LABELS, "max_mb": MAX_BYTES // (1024 * 1024)}
    status = 200
    if request.method == "POST":
        p = request.POST
        form.update(format=p.get("format", "clinic"), encoding=p.get("encoding", "auto"),
                    vaccine=(p.get("vaccine") or DEFAULT_VACCINE).strip().upper()[:20],
                    skip_invalid=p.get("skip_invalid") == "1")
        status, outcome = _upload(request, ctx, form, page)
        if outcome is not None:
            page.update(_result(outcome))
    try:
        page["batches"] = [(b, SOURCE_LABELS.get(b.source, b.source))
                           for b in selectors.batches(ctx, kind="import", limit=RECENT)]
    except AccessDenied as exc:
        return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)
    return render(request, "web/doses/import.html", page, status=status)


def _upload(request: HttpRequest, ctx: Any, form: dict[str, Any], page: dict[str, Any]
            ) -> tuple[int, dose_files.DoseFileOutcome | None]:
    upload = request.FILES.get("file")
    if form["format"] not in dose_files.CSV_FORMATS:
        page["error"] = "形式を選んでください / choose a format"
        return 400, None
    if form["encoding"] not in ("auto", "utf-8", "cp932"):
        page["error"] = "文字コードは自動判定・UTF-8・CP932 のいずれかです / unknown encoding"
        return 400, None
    if upload is None or not upload.name:
        page["error"] = "ファイルを選んでください / choose a file"
        return 400, None
    if upload.size is not None and upload.size > MAX_BYTES:
        page["error"] = (f"{MAX_BYTES // (1024 * 1024)}MB を超えるファイルはバッチ端末の yobo doses import で取り込んで"
                         f"ください / files over {MAX_BYTES // (1024 * 1024)} MB go to the batch terminal")
        return 400, None
    path = Path(upload.temporary_file_path())  # type: ignore[attr-defined]  # TemporaryFileUploadHandler
    try:
        out = dose_files.import_csv(ctx, path, form["format"], encoding=form["encoding"], vaccine=form["vaccine"],
                                    skip_invalid=form["skip_invalid"], name=upload_name(upload.name))
    except dose_files.DoseFileRefused as exc:
        return 422, exc.outcome
    except AccessDenied as exc:
        page["error"] = str(exc)
        return 403, None
    except InputRejected as exc:  # e.g. a concurrent write of the same doses: nothing applied
        page["error"] = str(exc)
        return 409, None
    finally:
        upload.close()
    return 200, out


def _result(out: dose_files.DoseFileOutcome) -> dict[str, Any]:
    errors = [p for p in out.problems if p.severity == ERROR]
    warnings = [p for p in out.problems if p.severity != ERROR]
    return {
        "outcome": out, "applied": out.applied, "r": out.result,
        "errors": errors[:SHOWN], "errors_more": max(0, len(errors) - SHOWN), "error_count": len(errors),
        "warnings": warnings[:SHOWN], "warnings_more": max(0, len(warnings) - SHOWN),
        "warning_count": len(warnings),
        "rejected": out.rejected[:SHOWN], "rejected_more": max(0, len(out.rejected) - SHOWN),
    }
