"""Approved exports: request, second-person approval, permitted terminal, encrypted output, media log,
deletion confirmation, and every refusal logged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from django.utils import timezone

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.exports import registry, selectors, services
from yobo.exports.models import ExportRequest, MediaLogEntry

pytestmark = pytest.mark.django_db
KIND = "test.mailing"
ITEMS = ("宛名番号", "氏名", "郵便番号", "住所")


@pytest.fixture(autouse=True)
def kind() -> Iterator[None]:
    registry.register(registry.ExportKind(
        KIND, "テスト用発送ファイル", ITEMS, frozenset({Purpose.RECOMMENDATION.value}),
        producer=lambda ctx, req: (list(ITEMS), [["100000001", "横浜 花子", "2310000", "中区1-1"]]),
    ))
    yield
    registry.unregister(KIND)


@pytest.fixture
def actors(make_ctx: Callable[..., Any]) -> dict[str, Any]:
    clerk = make_ctx(Purpose.RECOMMENDATION, duties=[Duty.CLERK])
    boss = make_ctx(Purpose.EXPORT, duties=[Duty.SUPERVISOR])
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    services.permit_terminal(admin, "test-terminal", "窓口1")
    return {"clerk": clerk, "boss": boss, "admin": admin}


def _request(ctx: Any, **kw: Any) -> int:
    args: dict[str, Any] = {
        "kind": KIND, "purpose": "N03", "items": list(ITEMS), "reason": "接種勧奨はがきの印刷",
        "destination": "○○印刷株式会社", "medium": "lgwan",
    }
    args.update(kw)
    return services.request_export(ctx, **args)


ROWS = [["100000001", "横浜 花子", "2310000", "中区1-1"], ["100000002", "髙橋 一郎", "2310001", "中区2-2"]]


def test_unapproved_export_is_refused_and_logged(actors: dict[str, Any], tmp_path: Path) -> None:
    rid = _request(actors["clerk"])
    with pytest.raises(AccessDenied) as exc, services.open_export(actors["clerk"], rid, out_dir=tmp_path) as out:
        out.write_rows(ITEMS, ROWS)
    assert exc.value.reason == "export_not_approved"
    assert list(tmp_path.iterdir()) == []
    e = AccessLogEntry.objects.order_by("-seq").first()
    assert e is not None and e.result == "denied" and e.detail == "export_not_approved" and e.purpose == "G03"
    assert not MediaLogEntry.objects.exists()


def test_approved_export_is_encrypted_logged_and_single_use(actors: dict[str, Any], tmp_path: Path) -> None:
    clerk, boss = actors["clerk"], actors["boss"]
    rid = _request(clerk, encoding="cp932")
    services.approve(boss, rid, "決裁済み")
    with services.open_export(clerk, rid, out_dir=tmp_path) as out:
        out.write_rows(ITEMS, ROWS[:1])
        out.write_rows(ITEMS, iter(ROWS[1:]))
    res = out.result
    assert res is not None and res.rows == 2 and res.persons == 2
    assert res.path.exists() and res.path.parent == tmp_path
    assert hashlib.sha256(res.path.read_bytes()).hexdigest() == res.sha256
    raw = res.path.read_bytes()
    assert "横浜".encode("cp932") not in raw and b"100000001" not in raw  # encrypted, not just zipped
    with pyzipper.AESZipFile(res.path) as z:
        with pytest.raises(RuntimeError):
            z.read(res.member)
        z.setpassword(res.password.encode())
        text = z.read(res.member).decode("cp932")
    assert text.splitlines() == ["宛名番号,氏名,郵便番号,住所", *(",".join(r) for r in ROWS)]
    m = MediaLogEntry.objects.get()
    assert (m.serial, m.row_count, m.person_count, m.file_sha256) == (res.serial, 2, 2, res.sha256)
    assert m.items == list(ITEMS) and m.terminal == "test-terminal" and m.encryption == "zip-aes256"
    assert m.delete_due == timezone.localdate() + timedelta(days=30)
    # one export entry per person, purpose G03, naming the request and the caller's purpose
    entries = list(AccessLogEntry.objects.filter(operation="export", result="ok").order_by("target"))
    assert [e.target for e in entries] == ["100000001", "100000002"]
    assert all(e.purpose == "G03" and f"for=N03 media={res.serial}" in e.detail for e in entries)
    assert ExportRequest.objects.get(pk=rid).state == "produced"
    with pytest.raises(AccessDenied) as exc, services.open_export(clerk, rid, out_dir=tmp_path):
        pass
    assert exc.value.reason == "export_already_produced"


def test_requester_cannot_approve_and_approver_needs_supervisor_duty(
        make_ctx: Callable[..., Any], actors: dict[str, Any]) -> None:
    both = make_ctx(Purpose.EXPORT, duties=[Duty.CLERK, Duty.SUPERVISOR])
    rid = _request(both.for_purpose("N03"))
    with pytest.raises(InputRejected):
        services.approve(both, rid)
    with pytest.raises(AccessDenied) as exc:
        services.approve(actors["clerk"], rid)
    assert exc.value.reason == "export_approver"
    assert ExportRequest.objects.get(pk=rid).state == "pending"


def test_expired_approval_cannot_be_produced(actors: dict[str, Any], tmp_path: Path) -> None:
    rid = _request(actors["clerk"])
    services.approve(actors["boss"], rid)
    ExportRequest.objects.filter(pk=rid).update(approval_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(AccessDenied) as exc, services.open_export(actors["clerk"], rid, out_dir=tmp_path):
        pass
    assert exc.value.reason == "export_approval_expired"


def test_terminal_must_be_permitted(make_ctx: Callable[..., Any], actors: dict[str, Any], tmp_path: Path) -> None:
    rid = _request(actors["clerk"])
    services.approve(actors["boss"], rid)
    elsewhere = make_ctx(Purpose.RECOMMENDATION, duties=[Duty.CLERK], terminal="kiosk-2")
    with pytest.raises(AccessDenied) as exc, services.open_export(elsewhere, rid, out_dir=tmp_path):
        pass
    assert exc.value.reason == "export_terminal"
    assert services.revoke_terminal(actors["admin"], "test-terminal")
    with pytest.raises(AccessDenied), services.open_export(actors["clerk"], rid, out_dir=tmp_path):
        pass


def test_unapproved_items_and_my_numbers_are_refused(actors: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputRejected, match="個人番号"):
        _request(actors["clerk"], items=["宛名番号", "個人番号"])
    with pytest.raises(InputRejected, match="電話番号"):
        _request(actors["clerk"], items=["宛名番号", "電話番号"])
    with pytest.raises(InputRejected):
        _request(actors["clerk"], purpose="V01")  # the kind does not serve this purpose
    rid = _request(actors["clerk"], items=["宛名番号", "住所"])
    services.approve(actors["boss"], rid)
    with pytest.raises(InputRejected, match="氏名"), services.open_export(actors["clerk"], rid, out_dir=tmp_path) as o:
        o.write_rows(["宛名番号", "氏名"], [["1", "x"]])
    assert [p for p in tmp_path.iterdir()] == []  # the failed attempt left no file
    assert not MediaLogEntry.objects.exists()
    assert ExportRequest.objects.get(pk=rid).state == "approved"  # may be retried
    assert AccessLogEntry.objects.filter(operation="export", result="error").exists()


def test_unencodable_cell_names_row_and_column(actors: dict[str, Any], tmp_path: Path) -> None:
    rid = _request(actors["clerk"], encoding="cp932")
    services.approve(actors["boss"], rid)
    with pytest.raises(InputRejected) as exc, services.open_export(actors["clerk"], rid, out_dir=tmp_path) as o:
        o.write_rows(ITEMS, [ROWS[0], ["100000003", "𠮷田 太郎", "2310002", "中区3-3"]])
    assert "3行目" in str(exc.value) and "氏名" in str(exc.value)


def test_deletion_confirmation_and_overdue(actors: dict[str, Any], tmp_path: Path) -> None:
    clerk = actors["clerk"]
    rid = _request(clerk, delete_within_days=7)
    services.approve(actors["boss"], rid)
    res = services.run_registered(clerk, rid, out_dir=tmp_path)
    assert res.rows == 1
    later = timezone.localdate() + timedelta(days=8)
    late = selectors.overdue(clerk, today=later)
    assert [m.serial for m in late] == [res.serial]
    assert selectors.overdue(clerk, today=timezone.localdate()) == []
    services.confirm_deletion(clerk, res.serial, reported_by="○○印刷 山田", reported_on=date.today())
    assert selectors.overdue(clerk, today=later) == []
    with pytest.raises(InputRejected):
        services.confirm_deletion(clerk, res.serial, reported_by="again")
    s = selectors.summary(actors["admin"], date.today() - timedelta(days=1), date.today())
    assert (s.requests, s.produced, s.rows_written, s.deletions_confirmed, s.by_kind) == (1, 1, 1, 1, {KIND: 1})


def test_contractor_cannot_export(make_ctx: Callable[..., Any], actors: dict[str, Any], tmp_path: Path) -> None:
    rid = _request(actors["clerk"])
    services.approve(actors["boss"], rid)
    contractor = make_ctx(Purpose.RECOMMENDATION, duties=[Duty.CLERK], contractor=True)
    with pytest.raises(AccessDenied), services.open_export(contractor, rid, out_dir=tmp_path):
        pass
    assert list(tmp_path.iterdir()) == []
