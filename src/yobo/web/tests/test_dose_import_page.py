"""接種記録の取込 on the staff UI (/doses/import/, V02): the same verdicts as ``yobo doses import``."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from yobo.core.purposes import Duty, Operation
from yobo.immunizations.formats import clinic_csv, vrs_csv
from yobo.immunizations.inputs import DoseInput, Source
from yobo.immunizations.models import Dose
from yobo.immunizations.tests.conftest import _today, append_bad_rows, city, good_doses, masters  # noqa: F401 - fixtures
from yobo.web.dose_import_views import upload_name

from .conftest import log_entries

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _spool(settings: Any, tmp_path: Path) -> Path:
    """Uploads spool here, so a test can see that nothing is left behind."""
    spool = tmp_path / "spool"
    spool.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    return spool


def clinic_file(tmp_path: Path, *, bad_rows: bool = False, **kw: Any) -> bytes:
    f = tmp_path / "in.csv"
    clinic_csv.write_clinic_csv(f, good_doses(), **kw)
    if bad_rows:
        append_bad_rows(f)
    return f.read_bytes()


def upload(c: Client, name: str, data: bytes, **fields: str) -> Any:
    return c.post("/doses/import/", {"file": SimpleUploadedFile(name, data, content_type="text/csv"),
                                      "format": "clinic", "encoding": "auto", **fields})


@pytest.mark.usefixtures("city", "masters")
def test_a_cp932_wareki_file_is_applied_once_and_logged(logged_in: Any, make_staff: Any, tmp_path: Path,
                                                        _spool: Path) -> None:
    c = logged_in(make_staff("clerk.up", duties=[Duty.CLERK]))
    data = clinic_file(tmp_path, encoding="cp932", date_style="wareki")
    r = upload(c, "医師会_2025年4月.csv", data)
    html = r.content.decode()
    assert r.status_code == 200, html[:2000]
    assert 'data-testid="import-applied"' in html and "医師会_2025年4月.csv" in html
    assert re.search(r'data-testid="count-inserted">3<', html)
    assert Dose.objects.filter(atena_no="1000000001", vaccine="HIB").count() == 2
    assert Dose.objects.count() == 3
    # The access log: one BATCH entry under V02 naming the upload, by the staff member.
    batches = log_entries(staff="clerk.up", operation=Operation.BATCH, resource="immunizations.batch")
    assert [(e.purpose, e.target) for e in batches] == [("V02", "医師会_2025年4月.csv")]
    assert "inserted=3" in batches[0].detail
    # The batch is listed under the form, with its file name.
    listed = html.split('data-testid="import-batches"')[1]
    assert "医師会_2025年4月.csv" in listed and "clerk.up" in listed and "医療機関CSV" in listed
    # The same file again: nothing new.
    again = upload(c, "医師会_2025年4月.csv", data).content.decode()
    assert re.search(r'data-testid="count-inserted">0<', again)
    assert re.search(r'data-testid="count-unchanged">3<', again)
    assert Dose.objects.count() == 3
    assert list(_spool.iterdir()) == []  # the spooled upload is gone


@pytest.mark.usefixtures("city", "masters")
def test_a_bad_file_is_refused_whole_with_every_problem(logged_in: Any, make_staff: Any, tmp_path: Path,
                                                        _spool: Path) -> None:
    c = logged_in(make_staff("clerk.bad", duties=[Duty.ENTRY]))
    r = upload(c, "bad.csv", clinic_file(tmp_path, bad_rows=True))
    html = r.content.decode()
    assert r.status_code == 422
    assert 'data-testid="import-refused"' in html and "何も登録していません" in html
    problems = html.split('data-testid="import-problems"')[1].split("</table>")[0]
    cells = re.findall(r'<tr><td class="nowrap">(\d*)</td><td class="nowrap">([^<]*)</td>', problems)
    assert ("5", "接種日") in cells and ("6", "接種コード") in cells
    assert Dose.objects.count() == 0
    assert "取込完了" not in html
    entries = log_entries(staff="clerk.bad", operation=Operation.BATCH, resource="immunizations.batch")
    assert entries and all(e.purpose == "V02" and "inserted=" not in e.detail for e in entries)
    assert list(_spool.iterdir()) == []


@pytest.mark.usefixtures("city", "masters")
def test_skip_invalid_applies_the_rest_and_lists_the_refused_rows(logged_in: Any, make_staff: Any, tmp_path: Path,
                                                                  _spool: Path) -> None:
    c = logged_in(make_staff("clerk.skip", duties=[Duty.CLERK]))
    r = upload(c, "mixed.csv", clinic_file(tmp_path, bad_rows=True), skip_invalid="1")
    html = r.content.decode()
    assert r.status_code == 200, html[:2000]
    assert re.search(r'data-testid="count-inserted">3<', html)
    assert re.search(r'data-testid="count-rejected">2<', html)
    rows = html.split('data-testid="rejected-rows"')[1].split("</table>")[0]
    listed = re.findall(r'<td class="nowrap">(\d+)</td><td>(.*?)</td></tr>', rows, re.S)
    assert [n for n, _ in listed] == ["5", "6"]
    assert "接種日" in listed[0][1] and "接種コード" in listed[1][1]
    assert Dose.objects.count() == 3
    # No rejected-rows file: on the web the refused rows are shown, never written out.
    assert list(_spool.iterdir()) == []
    assert not list(tmp_path.glob("**/*.rejected.csv"))


@pytest.mark.usefixtures("city", "masters")
def test_a_vrs_file_is_read_as_vrs(logged_in: Any, make_staff: Any, tmp_path: Path) -> None:
    elder = [DoseInput(atena_no="1000000005", vaccine="COVID-B", date=date(2025, 10, 15), dose_number=1,
                       voucher_no="1234567890", municipality_code="141003", venue="市民会館", doctor="港 花子",
                       manufacturer="ファイザー", lot_number="FA0001", source=Source.VRS)]
    f = tmp_path / "vrs.csv"
    vrs_csv.write_vrs_csv(f, vrs_csv.group_by_person(elder), doses=3, encoding="cp932")
    c = logged_in(make_staff("clerk.vrs", duties=[Duty.CLERK]))
    r = upload(c, "vrs.csv", f.read_bytes(), format="vrs", vaccine="covid-b")
    assert r.status_code == 200, r.content.decode()[:2000]
    d = Dose.objects.get(atena_no="1000000005")
    assert (d.vaccine, d.lot_number, d.source) == ("COVID-B", "FA0001", "vrs")


@pytest.mark.usefixtures("city", "masters")
def test_an_unreadable_file_names_the_upload_not_the_spool(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff("clerk.enc", duties=[Duty.CLERK]))
    r = upload(c, "医師会.csv", "接種コード\r\n".encode() + b"\xff\xfe\xfa\xfb\r\n")
    html = r.content.decode()
    assert r.status_code == 422
    assert "医師会.csv: 文字コードが UTF-8 でも CP932" in html
    assert ".upload" not in html  # Django's spool file name never shows


@pytest.mark.usefixtures("city", "masters")
def test_without_v02_nothing_is_read_or_saved(logged_in: Any, make_staff: Any, tmp_path: Path) -> None:
    c = logged_in(make_staff("pay.up", duties=[Duty.PAYMENT]))
    assert c.get("/doses/import/").status_code == 403
    assert upload(c, "x.csv", clinic_file(tmp_path)).status_code == 403
    assert Dose.objects.count() == 0


@pytest.mark.usefixtures("city", "masters")
def test_the_upload_still_needs_the_csrf_token(logged_in: Any, make_staff: Any, tmp_path: Path) -> None:
    """The view is csrf_exempt only to spool the upload; the token is checked inside."""
    logged = logged_in(make_staff("clerk.csrf", duties=[Duty.CLERK]))
    c = Client(enforce_csrf_checks=True)
    c.cookies = logged.cookies
    page = c.get("/doses/import/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    assert upload(c, "x.csv", clinic_file(tmp_path)).status_code == 403
    assert Dose.objects.count() == 0
    r = upload(c, "x.csv", clinic_file(tmp_path), csrfmiddlewaretoken=token.group(1))
    assert r.status_code == 200 and Dose.objects.count() == 3


def test_the_home_menu_leads_to_the_page(logged_in: Any, make_staff: Any) -> None:
    html = logged_in(make_staff("clerk.menu", duties=[Duty.CLERK])).get("/").content.decode()
    assert 'href="/doses/import/"' in html


@pytest.mark.parametrize(("raw", "want"), [
    ("C:\\Users\\clerk\\Desktop\\医師会10月.csv", "医師会10月.csv"),
    ("../../etc/passwd", "passwd"),
    ("a\x00b\r\n.csv", "ab.csv"),
    ("", "upload.csv"),
    ("x" * 300 + ".csv", "x" * 100),
])
def test_upload_name(raw: str, want: str) -> None:
    assert upload_name(raw) == want
