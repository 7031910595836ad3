"""VRS matching: a synthetic ledger/VRS pair with planted differences finds exactly those; lines are
resolved through the core's services and logged; the error list and the upload file are approved exports."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
import pyzipper
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.audit.models import AccessLogEntry
from yobo.core.errors import InputRejected
from yobo.core.purposes import Duty, Purpose
from yobo.exports import services as exports
from yobo.immunizations import matching, services, vrs_export
from yobo.immunizations.formats import vrs_csv
from yobo.immunizations.inputs import DoseInput, Source
from yobo.immunizations.models import Dose, DoseState

from .conftest import CLINIC, add_person

pytestmark = pytest.mark.django_db

ELDERS = {k: f"20000000{i:02d}" for i, k in enumerate("ABCDEFG", 1)}
UNKNOWN = "9999999999"


def d(atena: str, on: date, n: int | None = 1, lot: str = "LOT1", **kw: Any) -> DoseInput:
    return DoseInput(atena_no=atena, vaccine="COVID-B", date=on, dose_number=n, clinic_code=CLINIC, lot_number=lot,
                     **kw)


@pytest.fixture
def planted(city: Any, masters: Any, v02: Any, tmp_path: Path) -> dict[str, Any]:
    """Ledger and VRS file for seven elders; each letter plants one case (see the asserts)."""
    for i, a in enumerate(ELDERS.values()):
        add_person(a, date(1950, 1, 10 + i))
    e = ELDERS
    ledger = [
        d(e["A"], date(2025, 10, 15), lot="L1"),                 # same in VRS -> matched
        d(e["B"], date(2025, 10, 16), lot="L2"),                 # VRS date differs -> conflict date
        d(e["C"], date(2025, 10, 18), lot="L3"),                 # VRS lot differs -> conflict lot
        d(e["E"], date(2025, 10, 21), lot="L5"),                 # same in VRS -> matched
        d(e["F"], date(2025, 10, 22), lot="L6"),                 # not in the VRS file -> missing_in_vrs (--full)
        d(e["G"], date(2025, 10, 23), n=1, lot="L7"),            # VRS says 2回目 -> conflict dose
    ]
    res = services.record_batch(v02, ledger, file_name="ledger", source=Source.CLINIC_CSV)
    assert res.inserted == 6, res.problems
    reg = datetime(2025, 10, 25, 9, 30, 0)
    vrs = [
        d(e["A"], date(2025, 10, 15), lot="L1", registered_at=reg),
        d(e["B"], date(2025, 10, 17), lot="L2", registered_at=reg),
        d(e["C"], date(2025, 10, 18), lot="L9", registered_at=reg),
        d(e["D"], date(2025, 10, 20), lot="L4", registered_at=reg, voucher_no="1234567890",
          municipality_code="141003", venue="市民会館", doctor="港　花子", manufacturer="ファイザー"),
        d(e["E"], date(2025, 10, 21), lot="L5"),
        d(e["G"], date(2025, 10, 23), n=2, lot="L7"),
        d(UNKNOWN, date(2025, 10, 24), lot="LX"),
    ]
    f = tmp_path / "vrs.csv"
    vrs_csv.write_vrs_csv(f, vrs_csv.group_by_person(vrs), doses=2, encoding="cp932")
    return {"file": f}


@pytest.fixture
def v03(make_ctx: Callable[..., Any]) -> Any:
    return make_ctx(Purpose.VRS_MATCHING, duties=[Duty.CLERK])


def test_planted_differences_are_found_exactly(planted: dict[str, Any], v03: Any) -> None:
    run = matching.match_file(v03, planted["file"], full=True)
    assert run.counts == {"matched": 2, "missing_in_ledger": 1, "missing_in_vrs": 1, "conflicts": 3,
                          "unknown_person": 1}
    _, lines = matching.run_lines(v03, run.id)
    got = sorted((x.atena_no, x.kind, x.detail) for x in lines)
    e = ELDERS
    assert got == sorted([
        (e["B"], "conflict", "date"), (e["C"], "conflict", "lot"), (e["G"], "conflict", "dose"),
        (e["D"], "missing_in_ledger", ""), (e["F"], "missing_in_vrs", ""), (UNKNOWN, "unknown_person", ""),
    ])
    d_line = next(x for x in lines if x.atena_no == e["D"])
    assert (d_line.vrs_voucher, d_line.vrs_registered, d_line.src_row) == ("1234567890", "20251025093000", 5)


def test_without_full_only_persons_of_the_file_are_compared(planted: dict[str, Any], v03: Any) -> None:
    run = matching.match_file(v03, planted["file"])
    assert run.counts["missing_in_vrs"] == 0
    assert run.counts["conflicts"] == 3


def test_resolving_lines_goes_through_the_ledger_services(planted: dict[str, Any], v03: Any) -> None:
    run = matching.match_file(v03, planted["file"], full=True)
    _, lines = matching.run_lines(v03, run.id)
    by = {(x.atena_no, x.kind): x for x in lines}
    e = ELDERS
    # Accept VRS for a dose missing in the ledger: recorded with the VRS items.
    got = matching.resolve(v03, by[(e["D"], "missing_in_ledger")].id, "accept_vrs")
    new = Dose.objects.get(pk=got.result_dose_id)
    assert (new.atena_no, new.date, new.lot_number, new.voucher_no, new.source) == (
        e["D"], date(2025, 10, 20), "L4", "1234567890", "vrs")
    # Accept VRS for a date conflict: the ledger dose is corrected (old superseded, kept).
    line_b = by[(e["B"], "conflict")]
    got = matching.resolve(v03, line_b.id, "accept_vrs", note="VRSが正")
    assert Dose.objects.get(pk=line_b.ledger_dose_id).state == DoseState.SUPERSEDED
    assert Dose.objects.get(pk=got.result_dose_id).date == date(2025, 10, 17)
    # Keep the ledger: nothing changes.
    line_c = by[(e["C"], "conflict")]
    matching.resolve(v03, line_c.id, "keep_ledger", note="予診票を確認")
    assert Dose.objects.get(pk=line_c.ledger_dose_id).state == DoseState.ACTIVE
    # Correct with typed values.
    line_g = by[(e["G"], "conflict")]
    got = matching.resolve(v03, line_g.id, "correct", lot="L7B")
    assert Dose.objects.get(pk=got.result_dose_id).lot_number == "L7B"
    # A resolved line cannot be resolved twice; an unknown person cannot be recorded.
    with pytest.raises(InputRejected):
        matching.resolve(v03, line_c.id, "accept_vrs")
    with pytest.raises(InputRejected):
        matching.resolve(v03, by[(UNKNOWN, "unknown_person")].id, "accept_vrs")
    assert matching.get_line(v03, by[(UNKNOWN, "unknown_person")].id).is_open
    logged = AccessLogEntry.objects.filter(resource="immunizations.vrs_line", result="ok", purpose="V03")
    assert logged.count() == 4
    assert set(logged.values_list("target", flat=True)) >= {e["B"], e["C"], e["D"], e["G"]}
    view, still_open = matching.run_lines(v03, run.id, only_open=True)
    assert {x.atena_no for x in still_open} == {e["F"], UNKNOWN}
    assert view.open_lines == 2


def test_malformed_vrs_file_is_refused_and_nothing_saved(city: Any, v03: Any, tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("個別宛名番号,1回目接種日\r\n1000000005,2025-13-01\r\n", encoding="utf-8")
    with pytest.raises(matching.MatchRejected) as exc:
        matching.match_file(v03, f)
    assert exc.value.problems and exc.value.problems[0].row == 2
    assert not matching.runs(v03)


@pytest.fixture
def cli(make_staff: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, make_ctx: Callable[..., Any]) -> Any:
    Terminal.objects.create(name="batch-1", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "batch-1")
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN], terminal="batch-1")
    exports.permit_terminal(admin, "batch-1", "照合端末")
    return make_staff("vrsclerk", duties=[Duty.CLERK])


def test_command_json_counts_and_exports_need_approval(planted: dict[str, Any], cli: Any, tmp_path: Path,
                                                        make_ctx: Callable[..., Any]) -> None:
    out = io.StringIO()
    call_command("vrs", "match", str(planted["file"]), "--full", "--as", cli.username, "--json", stdout=out,
                 stderr=io.StringIO())
    got = json.loads(out.getvalue())
    assert {k: got[k] for k in ("matched", "missing_in_ledger", "missing_in_vrs", "conflicts", "unknown_person")} == {
        "matched": 2, "missing_in_ledger": 1, "missing_in_vrs": 1, "conflicts": 3, "unknown_person": 1}
    # The error list and the upload file are refused without an approved request; nothing written.
    for args in (["match", str(planted["file"]), "--out", str(tmp_path / "errors.csv")],
                 ["export", "--out", str(tmp_path / "up")]):
        with pytest.raises(CommandError) as exc:
            call_command("vrs", *args, "--as", cli.username, stdout=io.StringIO(), stderr=io.StringIO())
        assert exc.value.returncode == 3
    assert not (tmp_path / "errors.csv").exists() and not (tmp_path / "up").exists()
    # With a request approved by a supervisor: an encrypted ZIP without My Numbers.
    clerk_ctx = make_ctx(Purpose.VRS_MATCHING, staff=cli, terminal="batch-1")
    rid = exports.request_export(clerk_ctx, kind=vrs_export.KIND, purpose="V03",
                                 items=vrs_csv.header(vrs_export.MAX_DOSES), reason="VRS登録", destination="VRS",
                                 medium="portal")
    exports.approve(make_ctx(Purpose.EXPORT, duties=[Duty.SUPERVISOR]), rid)
    out, err = io.StringIO(), io.StringIO()
    call_command("vrs", "export", "--out", str(tmp_path / "up"), "--request", str(rid), "--as", cli.username,
                 "--json", stdout=out, stderr=err)
    res = json.loads(out.getvalue())
    password = err.getvalue().rsplit(": ", 1)[1].strip()
    with pyzipper.AESZipFile(res["path"]) as z:
        z.setpassword(password.encode())
        body = z.read(z.namelist()[0]).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith("個別宛名番号,1回目接種履歴登録日時,1回目接種日")
    assert "個人番号" not in body
    assert res["persons"] == len(lines) - 1 == 6  # the ledger doses (none came from VRS)
