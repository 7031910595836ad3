"""HL7 v2.5.1 VXU^V04 reader and ACK^V04 (pure): round trips, code tables, refusals, garbage."""

from __future__ import annotations

import string
from datetime import date

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from hypothesis import given, settings
from hypothesis import strategies as st

from yobo.immunizations.formats import hl7_vxu
from yobo.immunizations.inputs import DoseInput, Source

FAST = settings(max_examples=80, deadline=None)
TRICKY = "|^~\\&"
names = st.text(st.sampled_from(list("山田花子太郎アイウ ABCxyz-." + TRICKY)), max_size=12).map(str.strip)
lots = st.text(string.ascii_uppercase + string.digits, max_size=10)


@st.composite
def doses(draw: st.DrawFn) -> DoseInput:
    vaccine = draw(st.sampled_from(sorted(hl7_vxu.SCHEDULE_CODES)))
    screening = draw(st.booleans())
    return DoseInput(
        atena_no=draw(st.text(string.digits, min_size=1, max_size=15)), vaccine=vaccine,
        date=draw(st.dates(date(2000, 1, 1), date(2030, 12, 31))), dose_number=draw(st.integers(1, 3)),
        clinic_code=draw(st.sampled_from(["", "1411234567"])), venue=draw(names), doctor=draw(names),
        manufacturer=draw(names), lot_number=draw(lots), amount_ml=draw(st.sampled_from(["", "0.5", "0.25"])),
        screening_only=screening, reason_not_vaccinated=(draw(names) or "拒否") if screening else "",
        source=Source.HL7, extra={"birth_date": "2019-05-03"},
    )


KEYS = ("atena_no", "vaccine", "date", "dose_number", "clinic_code", "venue", "doctor", "manufacturer", "lot_number",
        "amount_ml", "screening_only", "reason_not_vaccinated")


def _key(d: DoseInput) -> tuple[object, ...]:
    return tuple(getattr(d, k) for k in KEYS)


@FAST
@given(d=doses(), cvx=st.booleans())
def test_round_trip_local_and_cvx(d: DoseInput, cvx: bool) -> None:
    text = hl7_vxu.write_vxu(d, control_id="C1", municipality="141003", use_cvx=cvx)
    [m] = hl7_vxu.read_vxu_text(text, file="x.hl7", municipality="141003")
    assert m.ack_code == "AA", m.errors
    [got] = m.doses
    assert _key(got) == _key(d)
    assert got.source == Source.HL7 and got.extra["birth_date"] == "2019-05-03"


@FAST
@given(raw=st.text(max_size=400))
def test_garbage_never_crashes_and_is_acknowledged(raw: str) -> None:
    for m in hl7_vxu.read_vxu_text(raw, file="g.hl7"):
        assert m.ack_code in ("AA", "AE", "AR")
        assert m.ack_code == "AA" or m.errors
        ack = hl7_vxu.ack(m)
        parsed = parse_message(ack, validation_level=VALIDATION_LEVEL.TOLERANT)
        assert parsed.msa.msa_1.to_er7() == m.ack_code


@FAST
@given(d=doses(), drop=st.sampled_from(["PID", "ORC", "RXA"]))
def test_missing_required_segment_is_refused_naming_it(d: DoseInput, drop: str) -> None:
    text = hl7_vxu.write_vxu(d, control_id="C2", municipality="141003")
    text = "\r".join(s for s in text.split("\r") if not s.startswith(drop))
    [m] = hl7_vxu.read_vxu_text(text, file="x.hl7")
    assert m.ack_code == "AR" and m.doses == []
    assert any(e.segment == drop and e.code == hl7_vxu.E_SEGMENT_SEQUENCE for e in m.errors)
    ack = hl7_vxu.ack(m)
    assert f"ERR||{drop}^1|100^Segment sequence error^HL70357|E" in ack


def _msg(rxa5: str, obx: str = "", rxa3: str = "20251001", pid3: str = "1234^^^141003^PI") -> str:
    segs = ["MSH|^~\\&|C|1411234567|Y|141003|20251001||VXU^V04^VXU_V04|M1|P|2.5.1", f"PID|1||{pid3}||ヤマダ^タロウ",
            "ORC|RE||o1", f"RXA|0|1|{rxa3}|{rxa3}|{rxa5}|0.5|mL||00^^NIP001||^^^1411234567||||LOT9||PFR^^MVX||||A"]
    if obx:
        segs.append(obx)
    return "\r".join(segs)


def test_cvx_table_and_series_by_dose_number() -> None:
    [m] = hl7_vxu.read_vxu_text(_msg("208^Pfizer^CVX"))
    assert [(d.vaccine, d.manufacturer, d.lot_number) for d in m.doses] == [("COVID-B", "ファイザー", "LOT9")]
    [m] = hl7_vxu.read_vxu_text(_msg("04^MR^CVX"))
    assert m.ack_code == "AE" and m.errors[0].field == 5 and m.errors[0].code == hl7_vxu.E_REQUIRED
    [m] = hl7_vxu.read_vxu_text(_msg("04^MR^CVX", "OBX|1|NM|30973-2^Dose number^LN|1|2||||||F"))
    assert [(d.vaccine, d.dose_number) for d in m.doses] == [("MR2", 1)]
    [m] = hl7_vxu.read_vxu_text(_msg("39^JE^CVX", "OBX|1|NM|30973-2^Dose number^LN|1|4||||||F"))
    assert [(d.vaccine, d.dose_number) for d in m.doses] == [("JE2", 1)]
    [m] = hl7_vxu.read_vxu_text(_msg("999^X^CVX"))
    assert m.errors[0].code == hl7_vxu.E_TABLE and m.errors[0].location == "RXA-5"
    [m] = hl7_vxu.read_vxu_text(_msg("HIB^ヒブ^99YOBO"))
    assert [d.vaccine for d in m.doses] == ["HIB"]


def test_field_errors_are_ae_with_err_locations() -> None:
    [m] = hl7_vxu.read_vxu_text(_msg("HIB^^99YOBO", rxa3="2025XX01", pid3="1234^^^999999^PI"), municipality="141003")
    assert m.ack_code == "AE" and m.doses == []
    assert {(e.segment, e.field) for e in m.errors} == {("PID", 3), ("RXA", 3)}
    ack = hl7_vxu.ack(m)
    assert "\rMSA|AE|M1" in ack and "ERR||RXA^1^3|102^" in ack and "ERR||PID^1^3|103^" in ack
    parsed = parse_message(ack, validation_level=VALIDATION_LEVEL.STRICT)
    parsed.validate()


def test_deletion_and_unsupported_message_type_are_refused() -> None:
    [m] = hl7_vxu.read_vxu_text(_msg("HIB^^99YOBO").replace("||A", "||D"))
    assert m.errors[0].field == 21 and m.doses == []
    [m] = hl7_vxu.read_vxu_text("MSH|^~\\&|C||Y||20251001||ADT^A01|9|P|2.5.1\rPID|1||1^^^^PI")
    assert m.ack_code == "AR" and m.errors[0].code == hl7_vxu.E_UNSUPPORTED_TYPE
    [m] = hl7_vxu.read_vxu_text(_msg("HIB^^99YOBO").replace("|2.5.1", "|2.3"))
    assert m.ack_code == "AR" and m.errors[0].code == hl7_vxu.E_UNSUPPORTED_VERSION


def test_several_messages_batch_envelope_and_mllp() -> None:
    one = _msg("HIB^^99YOBO")
    raw = "FHS|^~\\&\nBHS|^~\\&\n" + "\x0b" + one + "\x1c\r" + one.replace("M1", "M2") + "\nBTS|2\nFTS|1\n"
    ms = hl7_vxu.read_vxu_text(raw)
    assert [(m.index, m.control_id, m.ack_code) for m in ms] == [(1, "M1", "AA"), (2, "M2", "AA")]
