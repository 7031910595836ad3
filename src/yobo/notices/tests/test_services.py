"""Extraction, issuance, reissue, reminders and the mailing file on a small city."""

from __future__ import annotations

import csv
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.notices import extraction, selectors, services
from yobo.notices.vouchers import check_voucher_number, parse_ocr

AS_OF = date(2027, 4, 1)  # MR2 targets for next April: born 2021-04-02 .. 2022-04-01
TODAY = date(2026, 11, 23)


def add_person(atena: str, born: date, *, sex: int = 1, status: int = 1, postal: str = "2310001",
               address: str = "神奈川県横浜市中区本町1丁目2番3号") -> None:
    from django.conf import settings

    from yobo.people.models import Person

    now = timezone.now()
    Person.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=atena, name_kanji="𠮷田　花子",
        name_kana="ヨシダ　ハナコ", kanji_key="𠮷田花子", kana_key="ヨシダハナコ", birth_date=born, sex=sex,
        postal_code=postal, address=address, status=status, row_hash="x", created_at=now, updated_at=now,
    )


def _numbers(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def city(db: Any) -> None:
    add_person("2001", date(2021, 4, 2), postal="2450001", address="神奈川県横浜市泉区和泉町1番地")
    add_person("2002", date(2022, 4, 1), postal="2310001")
    add_person("2003", date(2021, 4, 1))  # 1 April: the earlier school year, not a target
    add_person("2004", date(2022, 4, 2))  # too young
    add_person("2005", date(2021, 9, 9), status=2)  # moved out
    add_person("2006", date(2021, 10, 10), status=3)  # deceased
    add_person("2007", date(2021, 12, 24), postal="2200012", address="神奈川県横浜市西区みなとみらい2丁目")


@pytest.fixture
def n01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.TARGET_EXTRACTION, duties=[Duty.CLERK])


@pytest.fixture
def n02(n01: Any) -> Any:
    return n01.for_purpose(Purpose.VOUCHER_ISSUANCE)


def test_extract_residents_only_with_counts_and_diff(city: None, n01: Any) -> None:
    s = extraction.extract_targets(n01, "mr2", AS_OF, today=TODAY)
    assert s.vaccine == "MR2" and s.count == 3
    assert s.counts["age"] == {"5": 3}
    assert s.counts["area"] == {"中区": 1, "泉区": 1, "西区": 1}
    assert s.previous_id is None
    # a new child moves in; one target moves out: the next run shows the diff
    add_person("2008", date(2021, 5, 5))
    from yobo.people.models import Person

    Person.objects.filter(atena_no="2001").update(status=2)
    s2 = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    assert (s2.count, s2.added, s2.removed, s2.previous_id) == (3, 1, 1, s.list_id)
    d = selectors.diff(n01, s2.list_id)
    assert d.added == ["2008"] and d.removed == ["2001"]


def test_extract_rejects_unknown_vaccine_and_out_of_range_dates(city: None, n01: Any) -> None:
    with pytest.raises(InputRejected):
        extraction.extract_targets(n01, "MR3", AS_OF, today=TODAY)
    with pytest.raises(InputRejected):
        extraction.extract_targets(n01, "MR2", date(2031, 4, 1), today=TODAY)
    with pytest.raises(InputRejected):
        extraction.extract_targets(n01, "MR2", date(2000, 4, 1), today=TODAY)
    assert selectors.lists(n01) == []


def test_extract_needs_the_purpose(city: None, make_ctx: Any) -> None:
    ctx = make_ctx(Purpose.DOSE_ENTRY, duties=[Duty.ENTRY])
    with pytest.raises(AccessDenied):
        extraction.extract_targets(ctx.for_purpose(Purpose.TARGET_EXTRACTION), "MR2", AS_OF, today=TODAY)


def test_issue_batch_pdf_numbers_and_qr(city: None, n01: Any, n02: Any, tmp_path: Path) -> None:
    s = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    r = services.issue_batch(n02, s.list_id, tmp_path)
    assert r.count == 3
    rows = _numbers(r.numbers)
    assert [row["宛名番号"] for row in rows] == ["2007", "2002", "2001"]  # postal-code order
    for row in rows:
        check_voucher_number(row["券番号"])
        line = parse_ocr(row["OCR"])
        assert (line.ticket_type, line.dose, line.number) == (1, 1, row["券番号"])
    assert len({row["券番号"] for row in rows}) == 3
    fonts = subprocess.run(["pdffonts", r.pdf], capture_output=True, text=True, check=True).stdout
    body = [ln for ln in fonts.splitlines()[2:] if ln.strip()]
    assert body and all(" yes " in ln.split("TrueType")[-1] or "CID" in ln for ln in body)
    assert all(ln.split()[-5] == "yes" for ln in body)  # emb column
    from pypdf import PdfReader

    reader = PdfReader(r.pdf)
    assert len(reader.pages) == 1 + 2 * 3  # cover + voucher and form each
    text = reader.pages[1].extract_text()
    assert "令和" in text and rows[0]["券番号"] in text
    # a second issue for the same list gives nobody a second voucher
    r2 = services.issue_batch(n02, s.list_id, tmp_path / "again")
    assert r2.count == 0 and r2.skipped["already_issued"] == 3
    # decode the QR on the first voucher page back to its OCR line
    zxing = pytest.importorskip("zxingcpp")
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "2", "-l", "2", r.pdf, str(tmp_path / "p")], check=True)
    img = next(tmp_path.glob("p*.png"))
    texts = {b.text for b in zxing.read_barcodes(Image.open(img))}
    assert texts == {rows[0]["OCR"]}


def test_numbers_never_reused_and_failed_batch_issues_nothing(city: None, n01: Any, n02: Any, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from yobo.notices import render
    from yobo.notices.models import Voucher

    s = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    calls = {"n": 0}
    real = render.Renderer.form

    def boom(self: Any, values: dict[str, str]) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("printer jam")
        real(self, values)

    monkeypatch.setattr(render.Renderer, "form", boom)
    with pytest.raises(RuntimeError):
        services.issue_batch(n02, s.list_id, tmp_path)
    assert Voucher.objects.count() == 0
    assert list(tmp_path.iterdir()) == []  # no half-written files
    monkeypatch.setattr(render.Renderer, "form", real)
    r = services.issue_batch(n02, s.list_id, tmp_path)
    numbers = sorted(Voucher.objects.values_list("number", flat=True))
    assert r.count == 3 and int(numbers[0][:9]) == 4  # serials 1-3 were reserved by the failed batch


def test_reissue_voids_old_and_returned_mail(city: None, n01: Any, n02: Any, tmp_path: Path) -> None:
    s = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    r = services.issue_batch(n02, s.list_id, tmp_path)
    old = _numbers(r.numbers)[0]["券番号"]
    services.record_returned(n02, old, "宛先不明")
    assert selectors.find_voucher(n02, old).returned_at is not None
    r2 = services.reissue(n02, old, "転居先判明", tmp_path / "re")
    v_old = selectors.find_voucher(n02, old)
    assert v_old.state == "void" and v_old.replaced_by and v_old.replaced_by != old
    with pytest.raises(InputRejected):
        services.reissue(n02, old, "again", tmp_path / "re2")
    assert Path(r2.pdf).is_file()
    with pytest.raises(InputRejected):
        services.reprint(n02, r.batch_id, "  ", tmp_path / "rp")
    rp = services.reprint(n02, r.batch_id, "封入ミス", tmp_path / "rp")
    assert rp.count == 2  # the voided voucher is not reprinted


def test_reminders_letters_and_follow_up(city: None, make_ctx: Any, tmp_path: Path) -> None:
    n03 = make_ctx(Purpose.RECOMMENDATION, duties=[Duty.CLERK])
    as_of = date(2028, 1, 15)  # MR2 FY2027 ends 2028-03-31: within 3 months
    s = extraction.extract_reminders(n03, "MR2", as_of, months=3, today=TODAY)
    assert s.count == 3
    none = extraction.extract_reminders(n03, "MR2", date(2027, 6, 1), months=3, today=TODAY)
    assert none.count == 0
    r = services.print_reminders(n03, s.list_id, tmp_path)
    assert r.count == 3
    fu = selectors.follow_up(n03, s.list_id)
    assert {f.atena_no for f in fu} == {"2001", "2002", "2007"}
    assert all(f.last_reminded is not None and f.last_result == "送付" for f in fu)
    services.record_reminder(n03, s.list_id, "2001", channel="phone", result="接種予定")
    fu = {f.atena_no: f for f in selectors.follow_up(n03, s.list_id)}
    assert fu["2001"].last_result == "接種予定"


def test_mailing_file_through_an_approved_export(city: None, n01: Any, n02: Any, make_ctx: Any,
                                                 tmp_path: Path) -> None:
    from yobo.exports import services as exports

    s = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    r = services.issue_batch(n02, s.list_id, tmp_path)
    header, rows = services.mailing_rows(n02, r.batch_id)
    assert "宛名番号" not in header and "個人番号" not in header
    assert len(rows) == 3 and rows[0][0] == "2200012"
    rid = exports.request_export(n02.for_purpose(Purpose.EXPORT), kind=services.MAILING_KIND, purpose="N02",
                                 items=list(services.MAILING_ITEMS), reason="MR2 接種券発送", destination="○○印刷",
                                 medium="lgwan", encoding="utf-8")
    with pytest.raises(AccessDenied):
        services.write_mailing(n02, r.batch_id, rid, tmp_path / "mail")
    boss = make_ctx(Purpose.EXPORT, duties=[Duty.SUPERVISOR])
    exports.approve(boss, rid)
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    if hasattr(exports, "permit_terminal"):
        exports.permit_terminal(admin.for_purpose(Purpose.EXPORT), n02.terminal)
    res = services.write_mailing(n02, r.batch_id, rid, tmp_path / "mail")
    assert res.rows == 3 and Path(res.path).is_file()
    # CP932 cannot hold 𠮷: refused naming the row and column, nothing left behind
    rid2 = exports.request_export(n02.for_purpose(Purpose.EXPORT), kind=services.MAILING_KIND, purpose="N02",
                                  items=list(services.MAILING_ITEMS), reason="再送", destination="○○印刷",
                                  medium="lgwan", encoding="cp932")
    exports.approve(boss, rid2)
    with pytest.raises(InputRejected, match="氏名"):
        services.write_mailing(n02, r.batch_id, rid2, tmp_path / "mail2")
    assert not any((tmp_path / "mail2").glob("*.zip"))


def test_large_batch_is_split_into_volumes(city: None, n01: Any, n02: Any, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pypdf import PdfReader

    monkeypatch.setenv("YOBO_VOUCHER_VOLUME", "2")
    s = extraction.extract_targets(n01, "MR2", AS_OF, today=TODAY)
    r = services.issue_batch(n02, s.list_id, tmp_path)
    assert r.count == 3 and len(r.pdfs) == 2 and r.pdf == r.pdfs[0]
    assert [len(PdfReader(p).pages) for p in r.pdfs] == [1 + 2 * 2, 1 + 2 * 1]  # each volume has its cover
    assert r.pages == 8
    assert len(selectors.get_batch(n02, r.batch_id).pdf_path) > 0
