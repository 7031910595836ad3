"""``yobo doses import``: the three formats end to end, atomic refusal, --skip-invalid, re-run, ACKs."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Duty
from yobo.immunizations.formats import clinic_csv, hl7_vxu, vrs_csv
from yobo.immunizations.inputs import DoseInput, Source
from yobo.immunizations.models import Dose

from .conftest import CLINIC, append_bad_rows, good_doses

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(make_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, settings: Any) -> Any:
    settings.MUNICIPALITY_CODE = "141003"
    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")
    return make_staff("doseclerk", duties=[Duty.CLERK])


def run(clerk: Any, *args: str) -> tuple[dict[str, Any], str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("doses", "import", *args, "--as", clerk.username, "--json", stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def refused(clerk: Any, *args: str) -> tuple[dict[str, Any] | None, str, int]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as exc:
        call_command("doses", "import", *args, "--as", clerk.username, "--json", stdout=out, stderr=err)
    text = out.getvalue()
    return (json.loads(text) if text else None), err.getvalue(), exc.value.returncode


def test_clinic_csv_imports_then_reimport_is_unchanged(city: Any, masters: Any, clerk: Any, tmp_path: Path) -> None:
    f = tmp_path / "clinic.csv"
    clinic_csv.write_clinic_csv(f, good_doses(), encoding="cp932", date_style="wareki")
    got, err = run(clerk, str(f), "--format", "clinic")
    assert got["inserted"] == 3, err
    assert got["applied"] is True
    assert Dose.objects.filter(atena_no="1000000001", vaccine="HIB").count() == 2
    again, _ = run(clerk, str(f), "--format", "clinic")
    assert again["inserted"] == 0 and again["unchanged"] == 3
    assert Dose.objects.count() == 3
    assert AccessLogEntry.objects.filter(purpose="V02", operation="batch").count() >= 2


def test_clinic_csv_bad_rows_refuse_the_whole_file(city: Any, masters: Any, clerk: Any, tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    clinic_csv.write_clinic_csv(f, good_doses())
    append_bad_rows(f)
    summary, err, code = refused(clerk, str(f), "--format", "clinic")
    assert code == 2
    assert summary is not None and summary["applied"] is False
    assert "bad.csv: 5行目 (row 5) 列「接種日」" in err
    assert "bad.csv: 6行目 (row 6) 列「接種コード」" in err
    assert Dose.objects.count() == 0


def test_clinic_csv_skip_invalid_writes_rejected_file(city: Any, masters: Any, clerk: Any, tmp_path: Path) -> None:
    doses = [*good_doses(), DoseInput(atena_no="1000000004", vaccine="FLU-B", date=date(2025, 10, 20),
                                      clinic_code=CLINIC, lot_number="X", source=Source.CLINIC_CSV)]  # deceased
    f = tmp_path / "mixed.csv"
    clinic_csv.write_clinic_csv(f, doses)
    with f.open("a", encoding="utf-8", newline="") as h:
        csv.writer(h, lineterminator="\r\n").writerow(["x"] * len(clinic_csv.COLUMNS))
    got, _ = run(clerk, str(f), "--format", "clinic", "--skip-invalid")
    assert got["inserted"] == 3
    assert got["rejected"] == 2
    rej = Path(got["rejected_file"])
    assert rej.name == "mixed.rejected.csv"
    rows = list(csv.reader(rej.open(encoding="utf-8-sig")))
    assert rows[0][-1] == "理由"
    assert [r[0] for r in rows[1:]] == ["1000000004", "x"]
    assert all(r[-1] for r in rows[1:])


def test_vrs_csv_imports_each_given_dose(city: Any, masters: Any, clerk: Any, tmp_path: Path) -> None:
    elder = [
        DoseInput(atena_no="1000000005", vaccine="COVID-B", date=date(2025, 10, 15), dose_number=1,
                  voucher_no="1234567890", municipality_code="141003", venue="市民会館", doctor="港 花子",
                  manufacturer="ファイザー", lot_number="FA0001", source=Source.VRS),
    ]
    f = tmp_path / "vrs.csv"
    vrs_csv.write_vrs_csv(f, vrs_csv.group_by_person(elder), doses=3, encoding="cp932")
    got, err = run(clerk, str(f), "--format", "vrs")
    assert got["doses"] == 1
    assert got["inserted"] + got["unchanged"] == 1, err
    d = Dose.objects.get(atena_no="1000000005")
    assert (d.vaccine, d.lot_number, d.voucher_no, d.source) == ("COVID-B", "FA0001", "1234567890", "vrs")


def test_vrs_file_with_a_my_number_column_is_refused(city: Any, clerk: Any, tmp_path: Path) -> None:
    f = tmp_path / "vrs.csv"
    f.write_text("個別宛名番号,個人番号,1回目接種日\r\n1000000005,,20251015\r\n", encoding="utf-8")
    _, err, code = refused(clerk, str(f), "--format", "vrs")
    assert code == 2
    assert "個人番号" in err and Dose.objects.count() == 0


def vxu(d: DoseInput, cid: str) -> str:
    return hl7_vxu.write_vxu(d, control_id=cid, municipality="141003")


def test_hl7_messages_are_imported_and_acknowledged(city: Any, masters: Any, clerk: Any, tmp_path: Path) -> None:
    f = tmp_path / "in.hl7"
    f.write_text("".join(vxu(d, f"M{i}") for i, d in enumerate(good_doses())), encoding="utf-8")
    got, err = run(clerk, str(f), "--format", "hl7")
    assert got["messages"] == 3 and got["accepted"] == 3, (got, err)
    assert got["inserted"] == 3
    assert all(re.search(r"^MSA\|AA\|M\d$", a, re.M) for a in got["acks"])


def test_hl7_missing_segment_refuses_the_file_with_ar_and_ae(city: Any, masters: Any, clerk: Any,
                                                              tmp_path: Path) -> None:
    good = vxu(good_doses()[0], "OK1")
    bad = "\r".join(s for s in vxu(good_doses()[1], "BAD1").split("\r") if not s.startswith("RXA")) + "\r"
    f = tmp_path / "in.hl7"
    f.write_text(good + bad, encoding="utf-8")
    summary, err, code = refused(clerk, str(f), "--format", "hl7")
    assert code == 2
    assert summary is not None
    acks = summary["acks"]
    assert re.search(r"^MSA\|AE\|OK1$", acks[0], re.M)
    assert re.search(r"^MSA\|AR\|BAD1$", acks[1], re.M)
    assert re.search(r"^ERR\|\|RXA\^1\|100\^", acks[1], re.M)
    assert "RXA" in err
    assert Dose.objects.count() == 0
    # --skip-invalid: the good message is applied, the bad one still refused.
    got, _ = run(clerk, str(f), "--format", "hl7", "--skip-invalid")
    assert got["inserted"] == 1 and got["accepted"] == 1


def test_not_permitted_operator_is_refused(city: Any, make_staff: Callable[..., Any], clerk: Any,
                                           tmp_path: Path) -> None:
    auditor = make_staff("aud2", duties=[Duty.AUDITOR])
    f = tmp_path / "c.csv"
    clinic_csv.write_clinic_csv(f, good_doses())
    with pytest.raises(CommandError) as exc:
        call_command("doses", "import", str(f), "--format", "clinic", "--as", auditor.username,
                     stdout=io.StringIO(), stderr=io.StringIO())
    assert exc.value.returncode == 3
