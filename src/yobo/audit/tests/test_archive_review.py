"""Archiving an old period keeps the chain verifiable; the review report finds what it should."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from yobo.audit.archive import archive_before, check_archive_file, day_start_us
from yobo.audit.chain import PendingEntry, append
from yobo.audit.guards import enforced
from yobo.audit.models import AccessLogEntry, ArchiveRecord
from yobo.audit.review import build_review, closed_day, render_text
from yobo.audit.verify import verify
from yobo.core.errors import InputRejected
from yobo.core.purposes import Duty, Purpose

pytestmark = pytest.mark.django_db
TOKYO = ZoneInfo("Asia/Tokyo")


def _append_at(monkeypatch, when: datetime, n: int = 1, *, staff="alice", op="read", result="ok", target="100000001"):
    us = int(when.timestamp() * 1_000_000)
    monkeypatch.setattr("yobo.audit.chain.now_micros", lambda: us)
    from django.db import transaction

    with transaction.atomic():
        append([PendingEntry(staff, "hoken", "t1", "P02", op, "people.person", target, result, "r1", "")
                for _ in range(n)])
    monkeypatch.undo()


@pytest.fixture
def old_and_new(monkeypatch, signing_key, settings):
    settings.YOBO_AUDIT_CHECKPOINT_EVERY = 4
    for day in (date(2015, 3, 2), date(2016, 3, 2), date(2024, 3, 4)):
        for h in (10, 11, 12):
            _append_at(monkeypatch, datetime(day.year, day.month, day.day, h, tzinfo=TOKYO))


def test_archive_removes_a_whole_old_period_and_verify_still_passes(old_and_new, make_ctx, tmp_path):
    ctx = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    with enforced(connection):
        res = archive_before(ctx, date(2017, 1, 1), tmp_path, today=date(2025, 1, 1))
    assert res is not None and (res.first_seq, res.last_seq, res.entries) == (1, 6, 6)
    assert not AccessLogEntry.objects.filter(seq__lte=6).exists()
    assert ArchiveRecord.objects.get().last_seq == 6
    assert check_archive_file(tmp_path / "audit-000000000001-000000000006.manifest.json")
    v = verify()
    assert v.ok, v.message
    assert (v.first_seq, v.archives) == (7, 1)
    # The archive action is itself in the log.
    assert AccessLogEntry.objects.filter(resource="audit.archive", result="ok").exists()


def test_archive_refuses_a_period_inside_the_retention(old_and_new, make_ctx, tmp_path):
    ctx = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    with pytest.raises(InputRejected):
        archive_before(ctx, date(2024, 6, 1), tmp_path, today=date(2025, 1, 1))
    assert AccessLogEntry.objects.count() == 9


def test_a_tampered_archive_file_is_found(old_and_new, make_ctx, tmp_path):
    ctx = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    archive_before(ctx, date(2017, 1, 1), tmp_path, today=date(2025, 1, 1))
    f = tmp_path / "audit-000000000001-000000000006.jsonl.gz"
    f.write_bytes(f.read_bytes()[:-3] + b"\0\0\0")
    assert not check_archive_file(tmp_path / "audit-000000000001-000000000006.manifest.json")


def test_a_forged_archive_record_is_found(old_and_new, tamper):
    with tamper() as cur:
        cur.execute(
            "INSERT INTO audit_archive (first_seq, last_seq, last_hash, before, file_name, file_sha256, entries,"
            " at_us, key_id, signature) VALUES (1, 3, %s, '2016-01-01', 'x', 'x', 3, 0, 'x', 'x')",
            [AccessLogEntry.objects.get(seq=3).hash],
        )
        cur.execute("DELETE FROM audit_access_log WHERE seq <= 3")
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 3, "bad_signature")


def test_holidays_and_closures():
    assert closed_day(date(2026, 1, 12)) == "成人の日"
    assert closed_day(date(2025, 12, 30)) == "年末年始"
    assert closed_day(date(2026, 11, 21)) == "土曜日"
    assert closed_day(date(2026, 11, 24)) == ""


def test_review_finds_after_hours_holiday_failed_login_denied_and_bulk_reads(monkeypatch, settings):
    settings.YOBO_OFFICE_HOURS = (8, 19)
    settings.YOBO_BULK_READ_THRESHOLD = 5
    _append_at(monkeypatch, datetime(2026, 11, 24, 10, tzinfo=TOKYO), staff="normal")  # Tue, office hours
    _append_at(monkeypatch, datetime(2026, 11, 24, 22, 30, tzinfo=TOKYO), staff="night")  # Tue late
    _append_at(monkeypatch, datetime(2026, 11, 23, 10, tzinfo=TOKYO), staff="holiday")  # 勤労感謝の日
    _append_at(monkeypatch, datetime(2026, 11, 24, 9, tzinfo=TOKYO), staff="mallory", op="login", result="failed",
               target="")
    _append_at(monkeypatch, datetime(2026, 11, 24, 9, tzinfo=TOKYO), staff="eve", result="denied")
    _append_at(monkeypatch, datetime(2026, 11, 25, 11, tzinfo=TOKYO), 6, staff="bulk")
    _append_at(monkeypatch, datetime(2026, 11, 26, 11, tzinfo=TOKYO), 5, staff="bulk")  # at threshold: not bulk
    _append_at(monkeypatch, datetime(2026, 12, 1, 23, tzinfo=TOKYO), staff="outside")  # outside the period
    rep = build_review(date(2026, 11, 23), date(2026, 11, 30))
    assert [(g.staff, g.day) for g in rep.after_hours] == [("night", "2026-11-24")]
    assert [(g.staff, g.detail) for g in rep.holiday] == [("holiday", "勤労感謝の日")]
    assert [g.staff for g in rep.failed_logins] == ["mallory"]
    assert [g.staff for g in rep.denied] == ["eve"]
    assert [(g.staff, g.day, g.count) for g in rep.bulk_reads] == [("bulk", "2026-11-25", 6)]
    assert rep.entries == 16
    text = render_text(rep)
    assert "時間外アクセス" in text and "night" in text and "勤労感謝の日" in text


def test_day_boundaries_are_tokyo_days():
    assert day_start_us(date(2026, 1, 1)) == int(datetime(2025, 12, 31, 15, tzinfo=UTC).timestamp()) * 1_000_000
