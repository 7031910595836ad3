"""Fee exemption: the status import (atomic, file/row/column problems), the decision with its basis,
the pending query to another municipality and its answer, and the certificate PDF."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.errors import AccessDenied
from yobo.core.purposes import Duty, Operation, Purpose
from yobo.fees import selectors, services

from .conftest import write_csv

HEADER = "宛名番号,種別,年度,課税区分,開始日,終了日\n"


def _status(tmp_path: Path, body: str, name: str = "status.csv") -> Path:
    return write_csv(tmp_path / name, HEADER + body)


def test_import_is_atomic_and_names_file_row_column(city: Any, f01: Any, tmp_path: Path) -> None:
    from yobo.fees.models import StatusRecord

    bad = _status(tmp_path, "1000000001,1,2026,2,,\n1000000002,1,令和8,9,,\n1000000004,2,,,R8.13.1,\n"
                            "1000000001,1,2026,1,,\n9999999999,1,2026,2,,\n", "bad.csv")
    seen: list[Any] = []
    with pytest.raises(services.StatusImportRejected) as exc:
        services.import_status(f01, bad, on_problem=seen.append)
    text = [str(p) for p in exc.value.summary.problems]
    assert any("bad.csv: 3行目" in t and "課税区分" in t for t in text)
    assert any("4行目" in t and "開始日" in t for t in text)
    assert any("5行目" in t and "2行目と同じ" in t for t in text)
    assert len(seen) == len(exc.value.summary.problems)
    assert StatusRecord.objects.count() == 0
    # A file clean in itself but naming a person the registry does not know: refused, nothing kept.
    unknown = _status(tmp_path, "1000000001,1,2026,2,,\n9999999999,住民税,2026,非課税,,\n", "unknown.csv")
    with pytest.raises(services.StatusImportRejected) as exc2:
        services.import_status(f01, unknown)
    assert [(p.row, p.column) for p in exc2.value.summary.problems] == [(3, "宛名番号")]
    assert StatusRecord.objects.count() == 0


def test_import_upserts_and_is_idempotent(city: Any, f01: Any, tmp_path: Path) -> None:
    f = _status(tmp_path, "1000000001,1,2026,2,,\n1000000002,住民税,R8,非課税,,\n1000000004,2,,,2025-04-01,\n")
    s = services.import_status(f01, f)
    assert (s.inserted, s.updated, s.unchanged) == (3, 0, 0)
    # The file's persons were checked through the register's selector, logged under F01.
    from yobo.audit.models import AccessLogEntry

    reg = AccessLogEntry.objects.filter(resource="people.person", purpose="F01").order_by("-seq").first()
    assert reg is not None and "asked=3 found=3" in reg.detail
    s = services.import_status(f01, f)
    assert (s.inserted, s.updated, s.unchanged) == (0, 0, 3)
    f2 = _status(tmp_path, "1000000001,1,2026,1,,\n1000000004,2,,,2025-04-01,2026-03-31\n", "cp.csv")
    f2.write_bytes(f2.read_text(encoding="utf-8").encode("cp932"))
    s = services.import_status(f01, f2)
    assert (s.inserted, s.updated, s.unchanged) == (0, 2, 0)
    assert selectors.status_imports(f01)[0]["updated"] == 2


def test_household_non_taxable_is_exempt_with_basis_and_certificate(city: Any, f01: Any, tmp_path: Path) -> None:
    services.import_status(f01, _status(tmp_path, "1000000001,1,2026,2,,\n1000000002,1,2026,2,,\n"))
    services.set_fee(f01, 2026, "MR1", "general", "3,000")
    services.set_fee(f01, 2026, "MR1", "tax_exempt", 0)
    # 葵 was born after 1 January 2026: nobody was assessed for her, she does not block the decision.
    did = services.check_exemption(f01, "1000000003", "mr1", date(2026, 7, 1))
    d = selectors.decision(f01, did)
    assert (d.result, d.category, d.tax_year, d.amount_due_yen) == ("exempt", "tax_exempt", 2026, 0)
    assert {b["atena_no"]: b["tax_status"] for b in d.basis} == {
        "1000000001": "非課税", "1000000002": "非課税", "1000000003": "対象外（1月1日以後の出生）"}
    pdf = services.issue_certificate(f01, did, tmp_path)
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    font_rows = out.splitlines()[2:]
    assert font_rows and all(" yes " in r for r in font_rows)  # every font embedded
    from pypdf import PdfReader

    text = PdfReader(str(pdf)).pages[0].extract_text()
    assert "予防接種費用免除証明書" in text and "山田" in text and "令和" in text


def test_taxable_member_means_not_exempt_and_no_certificate(city: Any, f01: Any, tmp_path: Path) -> None:
    services.import_status(f01, _status(tmp_path, "1000000001,1,2026,1,,\n1000000002,1,2026,2,,\n"))
    services.set_fee(f01, 2026, "MR1", "general", 3000)
    d = selectors.decision(f01, services.check_exemption(f01, "1000000003", "MR1", date(2026, 7, 1)))
    assert (d.result, d.amount_due_yen) == ("not_exempt", 3000)
    assert "1000000001" in d.reason
    with pytest.raises(services.InputRejected):
        services.issue_certificate(f01, d.id, tmp_path)


def test_welfare_exempts_whatever_the_tax(city: Any, f01: Any, tmp_path: Path) -> None:
    services.import_status(f01, _status(tmp_path, "1000000004,1,2026,1,,\n1000000004,2,,,2026-04-01,\n"))
    d = selectors.decision(f01, services.check_exemption(f01, "1000000005", "MR2", date(2026, 7, 1)))
    assert (d.result, d.category) == ("exempt", "welfare")
    # Before the welfare spell began, on the 2025 tax year (no record): pending, a query is made.
    d2 = selectors.decision(f01, services.check_exemption(f01, "1000000005", "MR2", date(2026, 3, 1)))
    assert d2.result == "pending" and {q.atena_no for q in d2.queries} == {"1000000004", "1000000005"}


def test_no_record_of_1_january_queries_then_the_answer_decides(city: Any, f01: Any) -> None:
    from yobo.audit.models import AccessLogEntry

    did = services.check_exemption(f01, "1000000006", "FLU-B", date(2026, 10, 1))
    d = selectors.decision(f01, did)
    assert d.result == "pending" and [q.state for q in d.queries] == ["pending"]
    [q] = selectors.pending_queries(f01)
    assert (q.atena_no, q.tax_year) == ("1000000006", 2026)
    services.answer_query(f01, q.id, 2)
    d = selectors.decision(f01, did)
    assert (d.result, d.category) == ("exempt", "tax_exempt")
    assert d.history[0]["result"] == "pending" and d.basis[0]["source"] == "exchange"
    assert selectors.pending_queries(f01) == []
    entries = AccessLogEntry.objects.filter(resource="fees.exemption", purpose="F01", target="1000000006")
    assert entries.filter(operation=Operation.CREATE).exists()
    assert AccessLogEntry.objects.filter(resource="people.person", purpose="F01", target="1000000006").exists()


def test_only_payment_duty_may_decide_and_the_refusal_is_logged(city: Any, make_ctx: Any) -> None:
    from yobo.audit.models import AccessLogEntry

    clerk = make_ctx(Purpose.FEE_EXEMPTION, duties=[Duty.RELIEF])
    with pytest.raises(AccessDenied):
        services.check_exemption(clerk, "1000000006", "FLU-B")
    assert AccessLogEntry.objects.filter(resource="fees.exemption", result="denied").count() == 1


def test_fees_are_integer_yen(f01: Any) -> None:
    with pytest.raises(services.InputRejected):
        services.set_fee(f01, 2026, "MR1", "general", 1200.5)
    with pytest.raises(services.InputRejected):
        services.set_fee(f01, 2026, "MR1", "general", "12.5")
    with pytest.raises(services.InputRejected):
        services.set_fee(f01, 2026, "XXX", "general", 100)
