"""Governance: deletion runs remove exactly what is due and record it; disclosure sets carry every
access-log entry about the person; suspension is honoured; the PIA report's counts match the database."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.governance import pia, registry, requests, retention
from yobo.governance.models import DeletionItem, PiaChange
from yobo.people import selectors as people_selectors
from yobo.people.models import Person

pytestmark = pytest.mark.django_db
M = "141003"


@pytest.fixture(autouse=True)
def _city(settings: Any) -> None:
    settings.MUNICIPALITY_CODE = M


def _person(atena: str, status: int = 1, status_date: date | None = None) -> None:
    now = timezone.now()
    Person.objects.create(municipality=M, atena_no=atena, household_no="1", name_kanji="横浜 花子",
                          name_kana="ヨコハマ ハナコ", kanji_key="横浜花子", kana_key="ヨコハマハナコ",
                          birth_date=date(1990, 5, 1), sex=2, address="中区本町1-1", row_hash="x", created_at=now,
                          updated_at=now, status=status, status_date=status_date)


# --- retention ------------------------------------------------------------------------------------

DATES: list[date] = []


@pytest.fixture
def fake_type() -> Iterator[list[date]]:
    """A record type over an in-memory list of record dates (what another app would register)."""
    store = [date(2015, 1, 1), date(2019, 6, 30), date(2020, 1, 1), date(2024, 1, 1)]

    def count(ctx: Any, cutoff: date) -> int:
        return sum(1 for d in store if d < cutoff)

    def purge(ctx: Any, cutoff: date) -> int:
        due = [d for d in store if d < cutoff]
        for d in due:
            store.remove(d)
        return len(due)

    registry.register_record_type(registry.RecordType("test.records", "テスト記録", 5, "テスト", "delete", count,
                                                      purge, min_years=5))
    yield store
    registry.unregister_record_type("test.records")


def test_deletion_run_removes_exactly_the_due_records(make_ctx: Callable[..., Any], fake_type: list[date]) -> None:
    clerk = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    boss = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    _person("700001", status=3, status_date=date(2010, 1, 1))
    as_of = date(2025, 1, 1)  # cutoff 2020-01-01: two records due
    due = {d.record_type: d.count for d in retention.due(clerk, as_of)}
    assert due["test.records"] == 2 and due["people.left"] == 1
    run_id = retention.plan(clerk, as_of)
    with pytest.raises(InputRejected):
        retention.execute(clerk, run_id)  # not approved yet
    with pytest.raises(InputRejected):
        retention.approve(clerk, run_id)  # the planner cannot approve
    retention.approve(boss, run_id)
    items = {i.record_type: i for i in retention.execute(clerk, run_id)}
    assert fake_type == [date(2020, 1, 1), date(2024, 1, 1)]
    assert (items["test.records"].planned_count, items["test.records"].done_count) == (2, 2)
    assert items["people.left"].done_count == 0  # review only: the person is still there
    assert Person.objects.filter(atena_no="700001").exists()
    runs = retention.runs(clerk)
    assert runs[0].state == "done" and {i["record_type"] for i in runs[0].items} >= {"test.records", "people.left"}
    assert AccessLogEntry.objects.filter(operation="delete", purpose="G02", detail__contains="n=2").exists()


def test_interrupted_run_resumes(make_ctx: Callable[..., Any], fake_type: list[date]) -> None:
    clerk = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    boss = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    calls = {"n": 0}

    def failing(ctx: Any, cutoff: date) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return 7

    registry.register_record_type(registry.RecordType("test.zz", "後半", 1, "", "delete",
                                                      lambda c, d: 7, failing))
    try:
        run_id = retention.plan(clerk, date(2025, 1, 1))
        retention.approve(boss, run_id)
        with pytest.raises(RuntimeError):
            retention.execute(clerk, run_id)
        done = dict(DeletionItem.objects.filter(run_id=run_id).values_list("record_type", "done_count"))
        assert done["test.records"] == 2 and done["test.zz"] is None  # the first item stayed done
        items = {i.record_type: i.done_count for i in retention.execute(clerk, run_id)}
        assert items == {**items, "test.records": 2, "test.zz": 7}
        assert fake_type == [date(2020, 1, 1), date(2024, 1, 1)]  # not deleted twice
    finally:
        registry.unregister_record_type("test.zz")


def test_retention_minimum_and_change_log(make_ctx: Callable[..., Any], fake_type: list[date]) -> None:
    boss = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    with pytest.raises(InputRejected):
        retention.set_rule(boss, "test.records", 4)
    retention.set_rule(boss, "test.records", 10, "規程第3条")
    c = PiaChange.objects.get()
    assert (c.before, c.after, c.source) == ("5年", "10年", "auto")
    assert retention.due(boss, date(2025, 1, 1))[-1].years in (5, 10)


# --- residents' requests ------------------------------------------------------------------------


def test_disclosure_set_has_every_access_log_entry(make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    _person("800001")
    _person("800002")
    look = make_ctx(Purpose.PERSON_INQUIRY)
    for _ in range(3):
        people_selectors.get_person(look, "800001")
    people_selectors.get_person(look, "800002")
    desk = make_ctx(Purpose.DISCLOSURE_REQUEST, duties=[Duty.CLERK])
    rid = requests.register(desk, kind="disclosure", atena_no="800001", identity_check="運転免許証")
    jpath, ppath, data = requests.write_disclosure(desk, rid, tmp_path)
    got = [r["seq"] for r in data["access_log"]]
    about = dict(AccessLogEntry.objects.filter(target="800001").values_list("seq", "request_id"))
    assert got == sorted(got) and set(got) <= set(about)
    # every entry is there but the ones this very disclosure wrote after reading the log
    assert {s for s in about if s not in got} and all(about[s] == desk.request_id for s in about if s not in got)
    assert sum(1 for s in got if about[s] == look.request_id) == 3
    assert json.loads(jpath.read_text(encoding="utf-8"))["atena_no"] == "800001"
    parts = {p["code"]: p for p in data["parts"]}
    assert parts["people.person"]["rows"][0]["name_kanji"] == "横浜 花子"
    assert "800002" not in json.dumps(data)
    fonts = subprocess.run(["pdffonts", str(ppath)], capture_output=True, text=True, check=True).stdout
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # every font embedded
    assert AccessLogEntry.objects.filter(target="800001", operation="export", purpose="G01").exists()


def test_unknown_person_is_refused_without_revealing(make_ctx: Callable[..., Any]) -> None:
    desk = make_ctx(Purpose.DISCLOSURE_REQUEST, duties=[Duty.CLERK])
    with pytest.raises(InputRejected) as exc:
        requests.register(desk, kind="disclosure", atena_no="999999", identity_check="旅券")
    assert str(exc.value) == requests.NOT_ACCEPTED and "999999" not in str(exc.value)


def test_correction_and_suspension(make_ctx: Callable[..., Any]) -> None:
    _person("810001")
    desk = make_ctx(Purpose.DISCLOSURE_REQUEST, duties=[Duty.CLERK])
    rid = requests.register(desk, kind="correction", atena_no="810001", identity_check="マイナンバーカード")
    requests.record_correction(desk, rid, item="電話番号", before="045-000-0000", after="045-111-1111",
                               decision="accepted", reason="本人申出・確認済み")
    v = requests.get(desk, rid)
    assert v.corrections[0]["before"] == "045-000-0000" and v.corrections[0]["decision"] == "accepted"
    sid = requests.register(desk, kind="suspension", atena_no="810001", identity_check="運転免許証")
    requests.decide_suspension(desk, sid, grant=True, reason="勧奨通知の送付停止")
    assert people_selectors.suspended_among(["810001"]) == {"810001"}
    assert requests.get(desk, sid).state == "decided"


# --- PIA ------------------------------------------------------------------------------------------


def test_pia_report_counts_match_the_database(make_ctx: Callable[..., Any], make_staff: Callable[..., Any],
                                              tmp_path: Path) -> None:
    for i in range(12):
        _person(f"90{i:04d}")
    make_staff(duties=[Duty.CLERK], mynumber_right=True)
    make_staff(duties=[Duty.CONTRACTOR_ENTRY], contractor=True, contractor_company="入力センター(株)",
               expires_on=date.today() + timedelta(days=30))
    auditor = make_ctx(Purpose.AUDIT_REVIEW, duties=[Duty.AUDITOR])
    rep = pia.build_report(auditor, date.today() - timedelta(days=365), date.today())
    c = rep["counts"]
    assert c["persons"] == Person.objects.filter(municipality=M).count() == 12
    assert c["persons_range"] == "1万人未満"
    assert c["staff_with_mynumber_right"] == 1 and c["contractor_accounts"] == 1
    assert c["staff_with_access"] == 3 and c["staff_with_access_range"] == "10人未満"
    assert c["contractor_companies"] == ["入力センター(株)"]
    tables = {t["table"] for f in rep["files"] for t in f["tables"]}
    assert {"people_person", "audit_access_log", "exports_media_log"} <= tables
    assert rep["retention"]["audit.access_log"]["years"] == 7
    assert {i["code"] for i in rep["self_inspection"]} >= {"log-verify", "exports-deleted", "dose-5y"}
    pdf = tmp_path / "pia.pdf"
    pia.write_pdf(rep, pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    sid = pia.record_inspection(auditor, 2026, date(2026, 4, 1), date.today(),
                                {i["code"]: (i["suggested"], "") for i in rep["self_inspection"]})
    assert pia.inspections(auditor)[0]["id"] == sid


def test_change_log_detects_setting_changes_and_warns(make_ctx: Callable[..., Any],
                                                      make_staff: Callable[..., Any]) -> None:
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    assert pia.detect_changes(admin) == []  # first snapshot
    make_staff(duties=[Duty.CONTRACTOR_ENTRY], contractor=True, contractor_company="新委託先(株)",
               expires_on=date.today() + timedelta(days=30))
    ids = pia.detect_changes(admin)
    items = [PiaChange.objects.get(pk=i).item for i in ids]
    assert any("委託" in it for it in items)
    warn = pia.assess_change(admin, ids[0], important=True, submission="after")
    assert warn == pia.IMPORTANT_AFTER
    assert pia.assess_change(admin, ids[0], important=True, submission="before") is None


def test_auditor_cannot_run_deletions(make_ctx: Callable[..., Any]) -> None:
    auditor = make_ctx(Purpose.AUDIT_REVIEW, duties=[Duty.AUDITOR])
    with pytest.raises(AccessDenied):
        retention.plan(auditor)
