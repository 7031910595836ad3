"""Batches (atomic, skip-invalid, idempotent), corrections and voids, entry batches (束), selectors."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import InputRejected
from yobo.immunizations import selectors, services, synth
from yobo.immunizations.services import DoseRejected

from .conftest import TODAY, add_person, dose

BABY, GIRL, CHILD = "1000000001", "1000000002", "1000000006"


def _file_inputs() -> list[Any]:
    rows = [
        dose(BABY, "HIB", date(2025, 3, 12), 1, ref="clinic.csv:2"),
        dose(BABY, "PCV", date(2025, 3, 12), 1, product_code="PCV20", ref="clinic.csv:3"),
        dose(CHILD, "MR2", date(2025, 6, 1), 1, ref="clinic.csv:4"),
    ]
    return rows


def test_batch_all_or_nothing_with_file_rows(city: Any, masters: Any, v02: Any) -> None:
    rows = [*_file_inputs(), dose("9999999999", "MR1", date(2026, 1, 20), ref="clinic.csv:5")]
    with pytest.raises(DoseRejected) as exc:
        services.record_batch(v02, rows, file_name="clinic.csv", column_of={"atena_no": "宛名番号"})
    fp = exc.value.file_problems
    assert [(p.file, p.row, p.column) for p in fp] == [("clinic.csv", 5, "宛名番号")]
    assert "unknown_person" in fp[0].message and exc.value.result is not None and exc.value.result.rejected == 1
    assert selectors.doses_of(v02, [BABY, CHILD]) == {BABY: [], CHILD: []}


def test_batch_skip_invalid_then_rerun_is_unchanged(city: Any, masters: Any, v02: Any) -> None:
    rows = [*_file_inputs(), dose("9999999999", "MR1", date(2026, 1, 20), ref="clinic.csv:5")]
    r = services.record_batch(v02, rows, file_name="clinic.csv", skip_invalid=True)
    assert (r.inserted, r.rejected, r.unchanged, r.applied) == (3, 1, 0, True)
    assert r.rejected_rows == [3]
    again = services.record_batch(v02, rows, file_name="clinic.csv", skip_invalid=True)
    assert (again.inserted, again.rejected, again.unchanged) == (0, 1, 3)
    assert len(selectors.doses_of(v02, [BABY])[BABY]) == 2
    b = selectors.batch(v02, r.batch_id or 0)
    assert (b.saved, b.rejected, b.kind) == (3, 1, "import")
    assert [d.source_ref for d in selectors.batch_doses(v02, b.id)] == ["clinic.csv:2", "clinic.csv:3", "clinic.csv:4"]


def test_batch_is_one_log_entry_with_counts(city: Any, masters: Any, v02: Any) -> None:
    n = AccessLogEntry.objects.count()
    services.record_batch(v02, _file_inputs(), file_name="clinic.csv")
    new = list(AccessLogEntry.objects.all()[n:])
    batch_entries = [e for e in new if e.resource == "immunizations.batch"]
    assert len(batch_entries) == 1 and "inserted=3" in batch_entries[0].detail
    assert batch_entries[0].operation == "batch" and batch_entries[0].purpose == "V02"


def test_check_only_saves_nothing(city: Any, masters: Any, v02: Any) -> None:
    r = services.record_batch(v02, _file_inputs(), check_only=True)
    assert r.inserted == 3 and not r.applied
    assert selectors.doses_of(v02, [BABY])[BABY] == []


def test_duplicate_inside_one_file(city: Any, masters: Any, v02: Any) -> None:
    rows = [dose(BABY, "HIB", date(2025, 3, 12), ref="f.csv:2"), dose(BABY, "HIB", date(2025, 3, 12), ref="f.csv:3")]
    with pytest.raises(DoseRejected) as exc:
        services.record_batch(v02, rows, file_name="f.csv")
    assert [(p.row, "duplicate_in_input" in p.message) for p in exc.value.file_problems] == [(3, True)]


def test_correct_keeps_before_and_after(city: Any, masters: Any, v01: Any) -> None:
    r = services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20), product_code="MR-BIKEN"))
    assert r.dose_id
    c = services.correct_dose(v01, r.dose_id, "ロット番号の入力誤り", lot_number="MR25001A", date=date(2026, 1, 21))
    assert c.dose_id and c.dose_id != r.dose_id
    old = selectors.get_dose(v01, r.dose_id)
    assert old.state == "superseded" and old.replaced_by_id == c.dose_id
    active = selectors.doses_of(v01, [BABY])[BABY]
    assert [(d.id, d.date, d.lot_number) for d in active] == [(c.dose_id, date(2026, 1, 21), "MR25001A")]
    (corr,) = selectors.corrections(v01, BABY)
    assert corr.kind == "correct" and corr.before["date"] == "2026-01-20" and corr.after["date"] == "2026-01-21"
    # The same correction again finds no active record.
    with pytest.raises(InputRejected):
        services.correct_dose(v01, r.dose_id, "again", lot_number="X")


def test_correction_that_breaks_a_rule_is_refused_and_nothing_changes(city: Any, masters: Any, v01: Any) -> None:
    r = services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20)))
    with pytest.raises(DoseRejected):
        services.correct_dose(v01, r.dose_id or 0, "日付訂正", date=date(2030, 1, 1))
    assert selectors.get_dose(v01, r.dose_id or 0).state == "active"
    assert selectors.corrections(v01, BABY) == []


def test_void_keeps_the_record(city: Any, masters: Any, v01: Any) -> None:
    r = services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20)))
    services.void_dose(v01, r.dose_id or 0, "別人の予診票")
    assert selectors.doses_of(v01, [BABY])[BABY] == []
    h = selectors.person_history(v01, BABY, include_inactive=True)
    assert [c.dose.state for c in h.doses] == ["void"]
    # The same dose can be entered again once the wrong one is void.
    assert services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20))).dose_id


def test_entry_batch_counts(city: Any, masters: Any, v01: Any, make_ctx: Any) -> None:
    b = services.open_batch(v01, label="中区医師会 11月分 1束目", declared_count=3)
    services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20)), batch_id=b)
    services.record_dose(v01, dose(CHILD, "MR1", date(2026, 1, 20)), batch_id=b)  # not_target warning
    services.note_rejected(v01, b)
    other = make_ctx(v01.purpose, duties=["entry"])
    with pytest.raises(InputRejected):
        services.record_dose(other, dose(GIRL, "HPV", date(2026, 1, 20)), batch_id=b)
    counts = services.close_batch(v01, b)
    assert counts == {"batch_id": b, "saved": 2, "with_warnings": 1, "rejected": 1, "declared": 3,
                      "matches_declared": True}
    with pytest.raises(InputRejected):
        services.record_dose(v01, dose(GIRL, "HPV", date(2026, 1, 20)), batch_id=b)


def test_find_by_voucher_and_bulk_history(city: Any, masters: Any, v01: Any, v02: Any) -> None:
    services.record_dose(v01, dose(BABY, "MR1", date(2026, 1, 20), voucher_no="1234567890"))
    services.record_dose(v01, dose(BABY, "ROTA", date(2025, 3, 12), product_code="RV5"))
    assert [d.atena_no for d in selectors.find_by_voucher(v01, "1234567890")] == [BABY]
    rows = list(selectors.bulk_history(v02, [BABY], codes=("ROTA", "MR1")))
    assert sorted(rows) == [(BABY, "MR1", date(2026, 1, 20), None), (BABY, "ROTA", date(2025, 3, 12), "RV5")]
    hist = selectors.population_history(v02, {BABY: 0})
    assert len(hist) == 2


def test_synthetic_city_imports_with_few_warnings(db: Any, masters: Any, v02: Any, tmp_path: Path) -> None:
    from yobo.people import synth as people_synth
    from yobo.schedule.ages import parse_iso

    res = tmp_path / "res.csv"
    people_synth.write_csv(res, 400, seed=3, as_of=TODAY)
    residents = list(synth.read_residents(res))
    for r in residents:
        add_person(r.atena_no, r.birth, sex=r.sex, status=r.status, status_date=r.status_date)
    inputs = list(synth.generate(residents, 7, TODAY))
    assert len(inputs) > 400
    assert inputs == list(synth.generate(synth.read_residents(res), 7, TODAY))  # deterministic
    r = services.record_batch(v02, inputs, file_name="synth.csv")
    assert r.rejected == 0 and r.inserted == len(inputs)
    assert r.with_warnings < len(inputs) * 0.1, r.codes
    assert parse_iso("2026-11-23") == TODAY


def test_demo_doses_load_once(db: Any, v02: Any, tmp_path: Path) -> None:
    from yobo.people import synth as people_synth

    res = tmp_path / "demo-residents-2025.csv"
    people_synth.write_csv(res, 150, seed=2025, as_of=date(2025, 4, 1), date_style="mixed")
    for r in synth.read_residents(res):
        add_person(r.atena_no, r.birth, sex=r.sex, status=r.status, status_date=r.status_date)
    first = services.ensure_demo_doses(v02, tmp_path)
    assert first is not None and first.inserted > 50 and first.applied
    assert len(selectors.clinics()) == 36 and selectors.products("HPV")
    assert services.ensure_demo_doses(v02, tmp_path) is None


@pytest.mark.parametrize("way", ["in_lists", "joined", "scan"])
def test_ledger_reads_the_same_doses_every_way(city: Any, masters: Any, v01: Any, v02: Any,
                                               monkeypatch: pytest.MonkeyPatch, way: str) -> None:
    """A batch's ledger (active doses of its persons) is the same whether the persons are asked in IN
    lists, staged in a temporary table and joined, or found by one scan of the city's doses; another
    city's doses and superseded ones are never in it."""
    from django.db import transaction
    from django.test.utils import override_settings

    from yobo.immunizations import store

    services.record_batch(v02, _file_inputs(), file_name="clinic.csv")
    voided = services.record_dose(v01, dose(GIRL, "MR1", date(2026, 1, 20)))
    services.void_dose(v01, voided.dose_id or 0, "別人の予診票")
    if way != "in_lists":
        monkeypatch.setattr(store, "_IN_LISTS", 1)
        monkeypatch.setattr(store, "_persons_with_doses", lambda cur: 10**6 if way == "joined" else 0)
    staged: list[str] = []
    real = store.bulkload.staged_keys
    monkeypatch.setattr(store.bulkload, "staged_keys", lambda *a: staged.append(a[2]) or real(*a))
    with transaction.atomic():
        ledger = store.load_ledger([BABY, CHILD, GIRL, "nobody"])
        again = store.load_ledger([CHILD, BABY])  # a second read in the same transaction
    assert sorted(ledger.keys) == [(BABY, "HIB", date(2025, 3, 12)), (BABY, "PCV", date(2025, 3, 12)),
                                   (CHILD, "MR2", date(2025, 6, 1))]
    assert sorted(ledger.atena) == [BABY, BABY, CHILD] and len(ledger.day) == 3
    assert sorted(again.keys) == sorted(ledger.keys)
    assert staged == (["imm_ledger_wanted"] * 2 if way == "joined" else [])
    with override_settings(MUNICIPALITY_CODE="999999"):
        assert store.load_ledger([BABY, CHILD, GIRL]).keys == {}
