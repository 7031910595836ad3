"""The apps' record types in a real deletion run: over synthetic data with known dates, a run removes
(or anonymises) exactly the due records of every registered type, records it, and a second run finds
nothing more; the PIA report shows each type with its rule and counts that match the database."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from yobo.access.models import Terminal
from yobo.core.purposes import Duty, Purpose
from yobo.governance import registry, retention
from yobo.governance.models import DeletionItem

pytestmark = pytest.mark.django_db
M = "141003"
AS_OF = date(2026, 11, 23)
OWN_TYPES = {
    "immunizations.dose", "immunizations.entry_batch", "immunizations.vrs_match", "notices.target_list",
    "notices.print_batch", "certificates.application", "exchange.query_result", "exchange.query",
    "exchange.provision", "exchange.copy", "fees.status", "fees.decision", "fees.claim", "relief.claim",
    "people.history", "people.batch_review",
}


@pytest.fixture(autouse=True)
def _city(settings: Any) -> None:
    settings.MUNICIPALITY_CODE = M


def at(d: date) -> datetime:
    return datetime.combine(d, time(12), tzinfo=timezone.get_current_timezone())


def person(atena: str, born: date = date(2000, 4, 2), status: int = 1) -> Any:
    from yobo.people.models import Person

    now = timezone.now()
    return Person.objects.create(municipality=M, atena_no=atena, household_no=atena, name_kanji="保存 太郎",
                                 name_kana="ホゾン タロウ", kanji_key="保存太郎", kana_key="ホゾンタロウ",
                                 birth_date=born,
                                 sex=1, address="中区本町1-1", row_hash="x", created_at=now, updated_at=now,
                                 status=status)


def dose(p: Any, staff: Any, on: date, vaccine: str = "MR1", state: str = "active", **kw: Any) -> Any:
    from yobo.immunizations.models import Dose

    return Dose.objects.create(municipality=M, atena_no=p.atena_no, person=p, vaccine=vaccine, date=on,
                               fiscal_year=on.year, age_years=1, age_months=0, age_fy_end=1, source="keyed",
                               entered_on=on, entered_by=staff, state=state, doctor="予防 医師", findings="所見",
                               voucher_no="1234567890", clinic_code="1410000001", **kw)


def seed(staff: Any) -> dict[str, Any]:
    """One or more records due on AS_OF and some not, for every type the apps register.
    Returns the expected due count per type and the objects the assertions look at."""
    from yobo.certificates.models import Application, Certificate
    from yobo.exchange.models import CopyEntry, Provision, Query
    from yobo.fees.models import ClaimLine, ClinicClaim, ExemptionDecision, StatusRecord, TaxQuery
    from yobo.immunizations.models import DoseCorrection, EntryBatch, VrsMatchLine, VrsMatchRun
    from yobo.notices.models import PrintBatch, Reminder, TargetEntry, TargetList, Voucher
    from yobo.people.models import BatchAbsence, ImportBatch, NonResidentFinding, PersonHistory
    from yobo.relief.models import Claim, Payment

    o: dict[str, Any] = {}
    p = person("900001")
    # 接種記録 (20 years: cutoff 2006-11-23). A chain whose current record is old is due as a whole; a
    # chain whose current record is recent is not, however old its superseded rows.
    old_batch = EntryBatch.objects.create(municipality=M, kind="keyed", state="closed", opened_by=staff,
                                          terminal="t", opened_at=at(date(2015, 1, 5)))
    new_batch = EntryBatch.objects.create(municipality=M, kind="keyed", state="closed", opened_by=staff,
                                          terminal="t", opened_at=at(date(2024, 1, 5)))
    EntryBatch.objects.create(municipality=M, kind="keyed", state="open", opened_by=staff, terminal="t",
                              opened_at=at(date(2014, 1, 5)))  # still open: never due
    o["cur"] = dose(p, staff, date(2005, 5, 1), batch=old_batch)
    o["sup"] = dose(p, staff, date(2004, 1, 1), state="superseded", replaced_by=o["cur"])
    DoseCorrection.objects.create(municipality=M, atena_no=p.atena_no, kind="correct", old=o["sup"], new=o["cur"],
                                  reason="日付訂正", before={"date": "2004-01-01"}, after={"date": "2005-05-01"},
                                  changed_by=staff, changed_at=at(date(2005, 6, 1)))
    o["void"] = dose(p, staff, date(2003, 1, 1), vaccine="BCG", state="void")
    o["keep_new"] = dose(p, staff, date(2010, 1, 1), vaccine="DPT-IPV")
    o["keep_old"] = dose(p, staff, date(2004, 6, 1), vaccine="DPT-IPV", state="superseded",
                         replaced_by=o["keep_new"])
    o["recent"] = dose(p, staff, date(2025, 1, 1), vaccine="MR2", batch=new_batch)
    run_old = VrsMatchRun.objects.create(municipality=M, file_name="old.csv", file_sha256="0" * 64, vaccine="COVID",
                                         run_by=staff, terminal="t", request_id="r", run_at=at(date(2021, 1, 1)))
    VrsMatchLine.objects.create(run=run_old, municipality=M, atena_no=p.atena_no, kind="missing_in_vrs")
    VrsMatchRun.objects.create(municipality=M, file_name="new.csv", file_sha256="1" * 64, vaccine="COVID",
                               run_by=staff, terminal="t", request_id="r", run_at=at(date(2022, 1, 1)))
    # notices (5 years: cutoff 2021-11-23)
    lst_old = TargetList.objects.create(municipality=M, vaccine="MR2", as_of=date(2020, 4, 1), created_by=staff,
                                        created_at=at(date(2020, 4, 1)), terminal="t")
    lst_new = TargetList.objects.create(municipality=M, vaccine="MR2", as_of=date(2022, 4, 1), created_by=staff,
                                        created_at=at(date(2022, 4, 1)), terminal="t", previous=lst_old)
    for lst in (lst_old, lst_new):
        TargetEntry.objects.create(target_list=lst, atena_no=p.atena_no, dose=2, status="due",
                                   eligible_from=date(2020, 4, 1), eligible_until=date(2021, 3, 31), age=5)
    Reminder.objects.create(municipality=M, atena_no=p.atena_no, vaccine="MR2", target_list=lst_old, channel="letter",
                            at=at(date(2020, 9, 1)), recorded_by=staff)
    b_old = PrintBatch.objects.create(municipality=M, kind="issue", target_list=lst_old, created_by=staff,
                                      created_at=at(date(2020, 4, 2)), terminal="t")
    b_new = PrintBatch.objects.create(municipality=M, kind="issue", target_list=lst_new, created_by=staff,
                                      created_at=at(date(2022, 4, 2)), terminal="t")
    v_new = Voucher.objects.create(municipality=M, number="0000000002", ocr="x", atena_no=p.atena_no, vaccine="MR2",
                                   dose=2, batch=b_new, target_list=lst_new, issued_at=at(date(2022, 4, 2)))
    Voucher.objects.create(municipality=M, number="0000000001", ocr="x", atena_no=p.atena_no, vaccine="MR2", dose=2,
                           batch=b_old, target_list=lst_old, issued_at=at(date(2020, 4, 2)), state="void",
                           replaced_by=v_new)
    o["pdf"] = Path(staff.username + "-old.pdf")
    b_old.pdf_path = str(o["pdf"])
    b_old.save(update_fields=["pdf_path"])
    # certificates (5 years): an old plain one (deleted), an old revoked one (anonymised), a recent one
    for i, (received, revoked) in enumerate([(date(2021, 1, 1), False), (date(2021, 2, 1), True),
                                             (date(2024, 1, 1), False)]):
        app = Application.objects.create(municipality=M, applicant_kind="self", applicant_name="保存 太郎",
                                         passport_no="TK0000000", atena_no=p.atena_no, received_by=staff,
                                         terminal="t", received_at=at(received), state="issued")
        Certificate.objects.create(municipality=M, certificate_id=f"C{i}", atena_no=p.atena_no, application=app,
                                   language="ja", issue_date=received, issued_by=staff, terminal="t", kid="k",
                                   rid=f"rid{i}", nbf=at(received), cards=["x.y.z"],
                                   revoked_at=at(received) if revoked else None)
    # exchange: results (1 year), records (7 years: cutoff 2019-11-23), copy (20 years)
    def query(qid: str, done: date, result: Any) -> None:
        Query.objects.create(municipality=M, query_id=qid, atena_no=p.atena_no, provider="131016",
                             item_set="immunization_history", state="answered", requested_by=staff.username,
                             terminal="t", created_at=at(done), completed_at=at(done), result=result)

    query("q-old-result", date(2025, 1, 1), [{"vaccine": "MR1"}])  # result due, record kept
    query("q-new-result", date(2026, 10, 1), [{"vaccine": "MR1"}])
    query("q-old", date(2018, 1, 1), None)  # record due
    query("q-old-held", date(2018, 2, 1), [{"vaccine": "MR1"}])  # result due; the record waits for it
    Provision.objects.create(municipality=M, msg_id="m1", query_id="x1", asker="131016", permit_id="p",
                             item_set="immunization_history", atena_no=p.atena_no, state="sent",
                             received_at=at(date(2018, 1, 1)))
    Provision.objects.create(municipality=M, msg_id="m2", query_id="x2", asker="131016", permit_id="p",
                             item_set="immunization_history", atena_no=p.atena_no, state="held",
                             received_at=at(date(2018, 1, 1)))  # held for review: never due
    CopyEntry.objects.create(municipality=M, atena_no=p.atena_no, vaccine="MR1", dose=1, given_on=date(2005, 5, 1),
                             registered_at=at(date(2020, 1, 1)))
    CopyEntry.objects.create(municipality=M, atena_no=p.atena_no, vaccine="MR2", dose=1, given_on=date(2025, 1, 1),
                             registered_at=at(date(2025, 2, 1)))
    # fees (5 years)
    StatusRecord.objects.create(municipality=M, atena_no=p.atena_no, kind=1, key="2020", tax_year=2020,
                                tax_status=1, updated_at=at(date(2020, 6, 1)))
    StatusRecord.objects.create(municipality=M, atena_no=p.atena_no, kind=1, key="2025", tax_year=2025,
                                tax_status=1, updated_at=at(date(2025, 6, 1)))
    for no, on, result in (("D1", date(2020, 6, 1), "exempt"), ("D2", date(2020, 7, 1), "pending"),
                           ("D3", date(2025, 6, 1), "exempt")):
        d = ExemptionDecision.objects.create(municipality=M, decision_no=no, atena_no=p.atena_no, household_no="1",
                                             vaccine="HZ", applied_on=on, fiscal_year=on.year, tax_year=on.year,
                                             result=result, category="tax_exempt", decided_by=staff, decided_at=at(on))
        TaxQuery.objects.create(municipality=M, decision=d, atena_no=p.atena_no, tax_year=on.year,
                                created_at=at(on))
    for no, on in (("K1", date(2020, 6, 10)), ("K2", date(2025, 6, 10))):
        c = ClinicClaim.objects.create(municipality=M, claim_no=no, claim_month=f"{on:%Y%m}", clinic_code="1410000001",
                                       built_by=staff, built_at=at(on))
        ClaimLine.objects.create(claim=c, dose_id=o["recent"].pk if no == "K2" else o["cur"].pk, atena_no=p.atena_no,
                                 vaccine="MR1", dose_date=on, included=True)
    # relief (30 years: cutoff 1996-11-23): closed and quiet since 1990 (due); closed but paid since (kept)
    for no, since, paid in (("R1", date(1990, 1, 1), date(1990, 2, 1)), ("R2", date(1990, 1, 1), date(2000, 2, 1))):
        c = Claim.objects.create(municipality=M, claim_no=no, atena_no=p.atena_no, benefit="disability",
                                 applicant_name="保存 花子", received_on=date(1989, 1, 1), state="paid",
                                 state_since=since, received_by=staff, created_at=at(date(1989, 1, 1)))
        Payment.objects.create(claim=c, paid_on=paid, amount_yen=1000, by=staff, at=at(paid))
    # people history (20 years): old rows go, the newest row of each person stays however old
    for d in (date(2001, 1, 1), date(2002, 1, 1), date(2020, 1, 1)):
        PersonHistory.objects.create(municipality=M, atena_no=p.atena_no, changed_at=at(d), kind="updated", status=1)
    PersonHistory.objects.create(municipality=M, atena_no="900002", changed_at=at(date(2001, 1, 1)), kind="created",
                                 status=1)
    # review lists (5 years: cutoff 2021-11-23): an old snapshot's and an old check's lists go; the
    # latest of each kind stays however old (it is the current list), as does a recent one
    for mode, started, n in (("full", date(2020, 6, 1), 2), ("full", date(2021, 6, 1), 1), ("jkn", date(2019, 6, 1), 1),
                             ("jkn", date(2026, 1, 1), 1), ("diff", date(2019, 1, 1), 0)):
        b = ImportBatch.objects.create(municipality=M, status="applied", mode=mode, file_name=f"{mode}.csv",
                                       file_sha256="0" * 64, operator=staff, terminal="t", started_at=at(started))
        for i in range(n):
            if mode == "full":
                BatchAbsence.objects.create(batch=b, municipality=M, atena_no=f"90001{i}", status=1)
            else:
                NonResidentFinding.objects.create(batch=b, municipality=M, atena_no=f"90002{i}", code="not_found",
                                                  row=i + 2)
    o["expected"] = {
        "immunizations.dose": 3, "immunizations.entry_batch": 1, "immunizations.vrs_match": 1,
        "notices.target_list": 1, "notices.print_batch": 1, "certificates.application": 2,
        "exchange.query_result": 2, "exchange.query": 1, "exchange.provision": 1, "exchange.copy": 1,
        "fees.status": 1, "fees.decision": 1, "fees.claim": 1, "relief.claim": 1, "people.history": 2,
        "people.batch_review": 3,
    }
    return o


def test_every_app_registers_its_types_and_parts() -> None:
    assert {t.code for t in registry.record_types()} >= OWN_TYPES
    assert all(t.count_held is not None for t in registry.record_types() if t.code in OWN_TYPES)
    parts = {p.code for p in registry.disclosure_parts()}
    assert {"immunizations.doses", "immunizations.corrections", "notices.vouchers", "notices.reminders",
            "certificates", "exchange", "fees", "relief"} <= parts
    dose = registry.record_type("immunizations.dose")
    assert dose is not None and dose.min_years == 5 and dose.action == "anonymise"


def test_deletion_run_removes_exactly_the_due_records_of_every_type(
        make_staff: Callable[..., Any], make_ctx: Callable[..., Any], tmp_path: Path, monkeypatch: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    from yobo.certificates.models import Application, Certificate
    from yobo.certificates.selectors import revocation_list
    from yobo.exchange.models import CopyEntry, Provision, Query
    from yobo.fees.models import ClaimLine, ClinicClaim, ExemptionDecision, StatusRecord, TaxQuery
    from yobo.immunizations.models import Dose, DoseCorrection, EntryBatch, VrsMatchLine, VrsMatchRun
    from yobo.notices.models import PrintBatch, Reminder, TargetEntry, TargetList, Voucher
    from yobo.people.models import BatchAbsence, NonResidentFinding, PersonHistory
    from yobo.relief.models import Claim, Payment

    monkeypatch.chdir(tmp_path)
    staff = make_staff(duties=[Duty.SUPERVISOR])
    o = seed(staff)
    o["pdf"].write_bytes(b"%PDF-1.4 names and addresses")
    planner = make_ctx(Purpose.RETENTION, staff=staff)
    boss = make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR])
    due = {d.record_type: d.count for d in retention.due(planner, AS_OF)}
    assert {k: due[k] for k in OWN_TYPES} == o["expected"]

    run_id = retention.plan(planner, AS_OF)
    retention.approve(boss, run_id)
    with django_capture_on_commit_callbacks(execute=True):  # the printed files go once committed
        items = {i.record_type: i for i in retention.execute(planner, run_id)}
    for code, n in o["expected"].items():
        assert (items[code].planned_count, items[code].done_count) == (n, n), code
    assert DeletionItem.objects.filter(run_id=run_id, record_type="immunizations.dose", action="anonymise").exists()

    # 接種記録: the old chain and the old void row are anonymised, kept for statistics
    cur = Dose.objects.get(pk=o["cur"].pk)
    assert cur.atena_no == f"#{cur.pk}" and cur.person_id == 0 and cur.batch_id is None
    assert (cur.vaccine, cur.date, cur.age_years, cur.state) == ("MR1", date(2005, 5, 1), 1, "active")
    assert (cur.doctor, cur.findings, cur.voucher_no, cur.clinic_code) == ("", "", "", "")
    assert Dose.objects.get(pk=o["sup"].pk).atena_no.startswith("#")
    assert Dose.objects.get(pk=o["void"].pk).atena_no.startswith("#")
    assert not DoseCorrection.objects.exists()
    assert set(Dose.objects.filter(atena_no="900001").values_list("pk", flat=True)) == {
        o["keep_new"].pk, o["keep_old"].pk, o["recent"].pk}
    assert Dose.objects.get(pk=o["recent"].pk).batch_id is not None
    assert EntryBatch.objects.count() == 2  # the recent closed one and the open one
    assert list(VrsMatchRun.objects.values_list("file_name", flat=True)) == ["new.csv"]
    assert not VrsMatchLine.objects.exists()
    # notices: the old list with its entries and reminder; the old batch with its voucher and PDF
    assert list(TargetList.objects.values_list("vaccine", "as_of")) == [("MR2", date(2022, 4, 1))]
    assert TargetList.objects.get().previous_id is None
    assert TargetEntry.objects.count() == 1 and not Reminder.objects.exists()
    assert PrintBatch.objects.count() == 1 and list(Voucher.objects.values_list("number", flat=True)) == ["0000000002"]
    assert not o["pdf"].exists()
    # certificates: the revoked one stays anonymised on the revocation list
    assert Application.objects.count() == 2
    assert Application.objects.filter(applicant_name="", atena_no="", passport_no="").count() == 1
    revoked = Certificate.objects.get(revoked_at__isnull=False)
    assert (revoked.atena_no, revoked.cards, revoked.rid) == ("", [], "rid1")
    assert revocation_list("k")["rids"] == ["rid1"]
    assert Certificate.objects.filter(atena_no="900001").count() == 1
    # exchange
    assert not Query.objects.filter(query_id="q-old").exists()
    assert Query.objects.get(query_id="q-old-result").result is None
    assert Query.objects.get(query_id="q-old-held").result is None  # emptied; the record goes next time
    assert Query.objects.get(query_id="q-new-result").result is not None
    assert list(Provision.objects.values_list("state", flat=True)) == ["held"]
    assert list(CopyEntry.objects.values_list("vaccine", flat=True)) == ["MR2"]
    # fees
    assert list(StatusRecord.objects.values_list("key", flat=True)) == ["2025"]
    assert set(ExemptionDecision.objects.values_list("decision_no", flat=True)) == {"D2", "D3"}
    assert TaxQuery.objects.count() == 2
    assert list(ClinicClaim.objects.values_list("claim_no", flat=True)) == ["K2"] and ClaimLine.objects.count() == 1
    # relief, people
    assert list(Claim.objects.values_list("claim_no", flat=True)) == ["R2"] and Payment.objects.count() == 1
    assert sorted(PersonHistory.objects.values_list("atena_no", "changed_at__year")) == [
        ("900001", 2020), ("900002", 2001)]
    assert list(BatchAbsence.objects.values_list("batch__started_at__year", flat=True)) == [2021]
    assert sorted(NonResidentFinding.objects.values_list("batch__started_at__year", flat=True)) == [2026]

    # nothing more is due, but for the query whose result was emptied in this run
    again = {d.record_type: d.count for d in retention.due(planner, AS_OF)}
    assert {k: v for k, v in again.items() if k in OWN_TYPES and v} == {"exchange.query": 1}


def test_interrupted_run_rolls_back_the_item_and_resumes(
        make_staff: Callable[..., Any], make_ctx: Callable[..., Any], monkeypatch: Any, tmp_path: Path) -> None:
    from yobo.immunizations import governance_hooks as hooks
    from yobo.immunizations.models import Dose

    monkeypatch.chdir(tmp_path)
    staff = make_staff(duties=[Duty.SUPERVISOR])
    o = seed(staff)
    planner = make_ctx(Purpose.RETENTION, staff=staff)
    run_id = retention.plan(planner, AS_OF)
    retention.approve(make_ctx(Purpose.RETENTION, duties=[Duty.SUPERVISOR]), run_id)
    real = hooks.Dose.objects.filter

    def broken(*a: Any, **kw: Any) -> Any:
        if "pk__in" in kw:
            raise RuntimeError("power cut")
        return real(*a, **kw)

    monkeypatch.setattr(hooks.Dose.objects, "filter", broken)
    with pytest.raises(RuntimeError):
        retention.execute(planner, run_id)
    monkeypatch.undo()
    monkeypatch.chdir(tmp_path)
    assert Dose.objects.get(pk=o["cur"].pk).atena_no == "900001"  # the item rolled back whole
    items = {i.record_type: i for i in retention.execute(planner, run_id)}
    assert items["immunizations.dose"].done_count == 3
    assert Dose.objects.get(pk=o["cur"].pk).atena_no.startswith("#")


def test_pia_report_shows_every_type_with_counts_matching_the_database(
        make_staff: Callable[..., Any], make_ctx: Callable[..., Any], monkeypatch: Any, tmp_path: Path) -> None:
    from yobo.certificates.models import Application
    from yobo.exchange.models import CopyEntry, Provision, Query
    from yobo.fees.models import ClinicClaim, ExemptionDecision, StatusRecord
    from yobo.immunizations.models import Dose, EntryBatch, VrsMatchRun
    from yobo.notices.models import PrintBatch, TargetList
    from yobo.people.models import BatchAbsence, NonResidentFinding, PersonHistory
    from yobo.relief.models import Claim

    monkeypatch.chdir(tmp_path)
    staff = make_staff(duties=[Duty.SUPERVISOR])
    o = seed(staff)
    make_staff("kansa", duties=[Duty.AUDITOR])
    Terminal.objects.create(name="ops-host", kind="cli")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-host")
    out = io.StringIO()
    call_command("pia", "report", "--json", "--as", "kansa", stdout=out)
    rep = json.loads(out.getvalue())
    held = {
        "immunizations.dose": Dose.objects.exclude(atena_no__startswith="#").count(),
        "immunizations.entry_batch": EntryBatch.objects.count(), "immunizations.vrs_match": VrsMatchRun.objects.count(),
        "notices.target_list": TargetList.objects.count(), "notices.print_batch": PrintBatch.objects.count(),
        "certificates.application": Application.objects.count(),
        "exchange.query_result": Query.objects.filter(result__isnull=False).count(),
        "exchange.query": Query.objects.count(), "exchange.provision": Provision.objects.count(),
        "exchange.copy": CopyEntry.objects.count(), "fees.status": StatusRecord.objects.count(),
        "fees.decision": ExemptionDecision.objects.count(), "fees.claim": ClinicClaim.objects.count(),
        "relief.claim": Claim.objects.count(), "people.history": PersonHistory.objects.count(),
        "people.batch_review": BatchAbsence.objects.count() + NonResidentFinding.objects.count(),
    }
    assert held["immunizations.dose"] == 6 and held["exchange.query"] == 4
    assert set(rep["retention"]) >= OWN_TYPES and set(rep["records"]) >= OWN_TYPES
    for code in OWN_TYPES:
        assert rep["records"][code]["held"] == held[code], code
        assert rep["retention"][code]["years"] == rep["records"][code]["years"]
    assert rep["retention"]["immunizations.dose"]["years"] == 20
    assert rep["retention"]["immunizations.dose"]["action"] == "anonymise"
    # what the report says falls due today is what a deletion run planned today would take
    planner = make_ctx(Purpose.RETENTION, staff=staff)
    today = {d.record_type: d.count for d in retention.due(planner, timezone.localdate())}
    assert {c: rep["records"][c]["due"] for c in OWN_TYPES} == {c: today[c] for c in OWN_TYPES}
    assert today["immunizations.dose"] >= o["expected"]["immunizations.dose"]  # the seeded old chain
    dose_item = next(i for i in rep["self_inspection"] if i["code"] == "dose-5y")
    assert (dose_item["facts"], dose_item["suggested"]) == ("接種記録の保存期間: 20年", "yes")
