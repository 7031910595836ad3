"""HL7 v2.5.1 VXU^V04 (unsolicited vaccination record update) and its ACK^V04.

The structure follows the CDC HL7 v2.5.1 immunization implementation guide:
``MSH, PID, PD1?, NK1*, [PV1], ORDER{ORC, [TQ1], RXA, [RXR], OBSERVATION{OBX, NTE*}*}*``.
Messages are parsed with **hl7apy** (tolerant parsing so a bad value is reported, not raised;
then hl7apy's structure validation against the 2.5.1 message definition). A message missing a
required segment is refused (``AR``) naming the segment and the reason; a message whose content
is wrong (a missing/invalid field, an unknown vaccine code) is answered ``AE`` with one ``ERR``
per problem (``ERR-2`` segment^occurrence^field, ``ERR-3`` HL7 table 0357 code, ``ERR-8`` the
Japanese and English message); a good one ``AA``.

Mapping to :class:`DoseInput` (one per RXA; see ``docs/formats/hl7-vxu.md``):

- ``PID-3`` the 宛名番号: the repetition with identifier type ``PI`` (or ``MR``), digits ≤ 15;
- ``RXA-3`` date of administration (first 8 digits); ``RXA-5`` the vaccine: CVX (table
  ``CVX_TO_SCHEDULE``) or the local code system ``99YOBO`` whose codes are the schedule codes;
  ``OBX 30973-2`` (dose number in series) gives the dose number, and picks the 期 where a CVX
  code covers two schedule series (MR1/MR2, JE1/JE2);
- ``RXA-6``/``RXA-7`` amount in mL, ``RXA-10`` administering provider (doctor), ``RXA-11.4``
  facility (the 10-digit clinic code; MSH-4 when absent), ``RXA-11.1`` point of care (venue),
  ``RXA-15`` lot, ``RXA-17`` manufacturer (MVX), ``RXA-18``/``RXA-20`` refusal / not administered
  (予診のみ with the reason), ``RXA-21`` action code (``D`` deletions are refused: a dose is
  voided by staff, never by a message).

Pure (no Django).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from yobo.core.problems import ERROR, WARNING, Problem
from yobo.immunizations.inputs import DoseInput, Source

VERSION = "2.5.1"
LOCAL_SYSTEM = "99YOBO"  # local code system: the schedule codes of CONTRACTS.md §2
DOSE_NUMBER_LOINC = "30973-2"  # OBX-3: dose number in series

# CVX -> schedule code. A tuple means "by dose number in series": (code for doses 1..k, k, code after).
CVX_TO_SCHEDULE: dict[str, str | tuple[str, int, str]] = {
    "17": "HIB", "46": "HIB", "47": "HIB", "48": "HIB", "49": "HIB",
    "100": "PCV", "133": "PCV", "152": "PCV", "215": "PCV",
    "08": "HEPB", "45": "HEPB",
    "116": "ROTA", "119": "ROTA", "122": "ROTA",
    "120": "DPT-IPV-HIB",
    "130": "DPT-IPV",
    "19": "BCG",
    "04": ("MR1", 1, "MR2"), "05": ("MR1", 1, "MR2"), "06": ("MR1", 1, "MR2"),
    "21": "VAR",
    "39": ("JE1", 3, "JE2"), "134": ("JE1", 3, "JE2"),
    "28": "DT",
    "62": "HPV", "118": "HPV", "137": "HPV", "165": "HPV",
    "88": "FLU-B", "141": "FLU-B", "150": "FLU-B", "158": "FLU-B", "161": "FLU-B",
    "33": "PPSV-B", "109": "PPSV-B",
    "207": "COVID-B", "208": "COVID-B", "213": "COVID-B",
    "121": "HZ-B", "187": "HZ-B", "188": "HZ-B",
}
SCHEDULE_TO_CVX: dict[str, str] = {
    "HIB": "48", "PCV": "133", "HEPB": "08", "ROTA": "119", "DPT-IPV-HIB": "120", "DPT-IPV": "130", "BCG": "19",
    "MR1": "04", "MR2": "04", "VAR": "21", "JE1": "39", "JE2": "39", "DT": "28", "HPV": "165", "FLU-B": "88",
    "PPSV-B": "33", "COVID-B": "213", "HZ-B": "187",
}
SCHEDULE_CODES = frozenset(SCHEDULE_TO_CVX)

# MVX -> manufacturer name (Japanese where the product is sold in Japan). Others keep the code.
MVX_NAMES: dict[str, str] = {
    "PFR": "ファイザー", "MOD": "モデルナ", "MSD": "MSD", "SKB": "グラクソ・スミスクライン", "PMC": "サノフィ",
    "TAK": "武田薬品工業", "SEQ": "Seqirus", "NOV": "ノバルティス", "OTH": "", "UNK": "",
}

# HL7 table 0357 (message error condition codes) used in ERR-3.
E_SEGMENT_SEQUENCE, E_REQUIRED, E_DATA_TYPE, E_TABLE = "100", "101", "102", "103"
E_UNSUPPORTED_TYPE, E_UNSUPPORTED_VERSION, E_INTERNAL = "200", "203", "207"
E_TEXT = {
    "0": "Message accepted", "100": "Segment sequence error", "101": "Required field missing",
    "102": "Data type error", "103": "Table value not found", "200": "Unsupported message type",
    "203": "Unsupported version id", "207": "Application internal error",
}


@dataclass(frozen=True, slots=True)
class Hl7Error:
    """One ERR: where (segment, occurrence, field), the 0357 code, severity E/W, the message."""

    segment: str
    occurrence: int
    field: int | None
    code: str
    message: str
    severity: str = "E"

    @property
    def location(self) -> str:
        where = self.segment if self.occurrence <= 1 else f"{self.segment}({self.occurrence})"
        return f"{where}-{self.field}" if self.field else where


@dataclass(slots=True)
class VxuMessage:
    """One VXU of a file: its header items, the doses read, and the errors found."""

    index: int  # 1-based position in the file
    file: str = ""
    control_id: str = ""
    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    processing_id: str = "P"
    doses: list[DoseInput] = field(default_factory=list)
    errors: list[Hl7Error] = field(default_factory=list)
    refused: bool = False  # AR: the message itself cannot be processed

    @property
    def ok(self) -> bool:
        return not self.refused and not any(e.severity == "E" for e in self.errors)

    @property
    def ack_code(self) -> str:
        return "AR" if self.refused else ("AA" if self.ok else "AE")

    def problems(self) -> list[Problem]:
        """The errors as file problems: row = message number in the file, column = segment-field."""
        name = f"{self.file} #{self.index}" + (f" ({self.control_id})" if self.control_id else "")
        return [Problem(name, self.index, e.location, e.message, ERROR if e.severity == "E" else WARNING)
                for e in self.errors]

    def error(self, segment: str, occurrence: int, fld: int | None, code: str, message: str,
              *, refuse: bool = False) -> None:
        self.errors.append(Hl7Error(segment, occurrence, fld, code, message))
        self.refused = self.refused or refuse


# --- ER7 text helpers ------------------------------------------------------------------------

_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}
_ESC_RE = re.compile(r"\\([FSTRE])\\")


def unescape(s: str) -> str:
    return _ESC_RE.sub(lambda m: _ESCAPES[m.group(1)], s)


def escape(s: str) -> str:
    """Escape the ER7 delimiters in a value (default encoding characters)."""
    out = s.replace("\\", "\\E\\")
    for ch, code in (("|", "F"), ("^", "S"), ("&", "T"), ("~", "R")):
        out = out.replace(ch, f"\\{code}\\")
    # Segment separators inside a value would split the segment.
    return out.replace("\r", " ").replace("\n", " ")


def split_messages(raw: str) -> list[str]:
    """The messages of a file: MLLP framing and batch envelopes (FHS/BHS/BTS/FTS) removed.

    Segments may be separated by CR, LF or CRLF; each message starts at an ``MSH`` segment.
    """
    text = raw.replace("\x0b", "").replace("\x1c", "").lstrip("\ufeff")
    segments = [s for s in re.split(r"\r\n|\r|\n", text) if s.strip()]
    messages: list[list[str]] = []
    for seg in segments:
        tag = seg[:3]
        if tag in ("FHS", "BHS", "BTS", "FTS"):
            continue
        if tag == "MSH" or not messages:
            messages.append([seg])
        else:
            messages[-1].append(seg)
    return ["\r".join(m) for m in messages]


# --- reading ---------------------------------------------------------------------------------


def _er7(el: Any) -> str:
    try:
        return str(el.to_er7()) if el is not None else ""
    except Exception:  # hl7apy raises many kinds on odd input; an unreadable value is empty
        return ""


def _comp(field_er7: str, n: int, sep: str = "^") -> str:
    parts = field_er7.split(sep)
    return unescape(parts[n - 1]).strip() if len(parts) >= n else ""


def _fields(seg: str) -> list[str]:
    """Raw fields of a segment (index = field number; MSH shifted so MSH-n is index n)."""
    parts = seg.split("|")
    if parts[0] == "MSH":
        return ["MSH", "|", *parts[1:]]
    return parts


def _f(fields: list[str], n: int) -> str:
    return fields[n] if len(fields) > n else ""


def _hl7_date(s: str) -> date | None:
    m = re.match(r"^(\d{4})(\d{2})(\d{2})", s.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _structure(msg: VxuMessage, text: str) -> None:
    """hl7apy's parse and structure validation against the VXU_V04 definition of 2.5.1."""
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    try:
        parsed = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=True)
    except Exception as exc:  # hl7apy raises ParserError, ChildNotFound, ValueError...
        msg.error("MSH", 1, None, E_SEGMENT_SEQUENCE,
                  f"HL7メッセージとして解析できません。 / the message cannot be parsed: {str(exc)[:120]}", refuse=True)
        return
    # validate() raises the first error only; the full list is read from hl7apy's report below.
    with contextlib.suppress(Exception):
        parsed.validate()
        return
    for reason in _all_structure_errors(parsed):
        if m := re.search(r"Missing required child [A-Z0-9_]+\.([A-Z0-9]{3})_(\d+)\b", reason):
            seg, fld = m.group(1), int(m.group(2))
            msg.error(seg, 1, fld, E_REQUIRED,
                      f"必須のフィールド {seg}-{fld} がありません。 / the required field {seg}-{fld} is missing.")
        elif m := re.search(r"Missing required child [A-Z0-9_]+\.([A-Z0-9]{3})$", reason):
            seg = m.group(1)
            msg.error(seg, 1, None, E_SEGMENT_SEQUENCE,
                      f"必須のセグメント {seg} がありません。 / the required segment {seg} is missing.", refuse=True)
        else:
            msg.error("MSH", 1, None, E_SEGMENT_SEQUENCE,
                      f"メッセージの構造が VXU^V04 (2.5.1) の定義と合いません。 / the structure does not match "
                      f"VXU^V04 (2.5.1): {reason[:160]}", refuse=True)


def _all_structure_errors(parsed: Any) -> list[str]:
    """Every structure error hl7apy finds (its ``validate`` raises only the first; the report lists all)."""
    import tempfile

    from hl7apy.validation import Validator

    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.txt"
        with contextlib.suppress(Exception):  # expected: the errors are in the report
            Validator.validate(parsed, reference=parsed.reference, report_file=str(report))
        lines = report.read_text(encoding="utf-8").splitlines() if report.exists() else []
    errors = [ln.removeprefix("Error: ").strip() for ln in lines if ln.startswith("Error: ")]
    return errors or ["unknown structure error"]


def parse_vxu(text: str, *, file: str = "", index: int = 1, municipality: str = "") -> VxuMessage:
    """Read one VXU^V04 message. Never raises on bad input: every problem is in ``errors``.

    ``municipality`` (the city's code), when given, must match the assigning authority of the
    PID-3 identifier when the message states one.
    """
    msg = VxuMessage(index=index, file=file)
    segs = [s for s in text.split("\r") if s.strip()]
    if not segs or not segs[0].startswith("MSH|") or len(segs[0]) < 8:
        msg.error("MSH", 1, None, E_SEGMENT_SEQUENCE,
                  "MSHセグメントで始まっていません。 / the message does not start with an MSH segment.", refuse=True)
        return msg
    msh = _fields(segs[0])
    if _f(msh, 2) != "^~\\&":
        msg.error("MSH", 1, 2, E_DATA_TYPE, "区切り文字は ^~\\& だけを扱います。 / only the encoding characters "
                  "^~\\& are supported.", refuse=True)
        return msg
    msg.sending_application = _comp(_f(msh, 3), 1)
    msg.sending_facility = _comp(_f(msh, 4), 1)
    msg.receiving_application = _comp(_f(msh, 5), 1)
    msg.receiving_facility = _comp(_f(msh, 6), 1)
    msg.control_id = unescape(_f(msh, 10)).strip()[:50]
    msg.processing_id = _comp(_f(msh, 11), 1) or "P"
    mtype = (_comp(_f(msh, 9), 1), _comp(_f(msh, 9), 2))
    if mtype != ("VXU", "V04"):
        msg.error("MSH", 1, 9, E_UNSUPPORTED_TYPE, f"VXU^V04 以外のメッセージは扱いません（{'^'.join(mtype)}）。"
                  f" / unsupported message type {'^'.join(mtype)}; only VXU^V04.", refuse=True)
        return msg
    if _comp(_f(msh, 12), 1) != VERSION:
        msg.error("MSH", 1, 12, E_UNSUPPORTED_VERSION, f"HL7 バージョンは {VERSION} です。"
                  f" / unsupported version; use {VERSION}.", refuse=True)
        return msg
    if not msg.control_id:
        msg.error("MSH", 1, 10, E_REQUIRED, "メッセージ制御ID (MSH-10) がありません。 / MSH-10 is empty.", refuse=True)
    _structure(msg, "\r".join(segs))
    if msg.refused:
        return msg

    atena, extra = _patient(msg, segs, municipality)
    facility = msg.sending_facility if re.fullmatch(r"\d{10}", msg.sending_facility) else ""
    order_no = 0
    rxa_no = 0
    current: dict[str, Any] | None = None
    pending: list[dict[str, Any]] = []
    for seg in segs:
        tag = seg[:3]
        if tag == "ORC":
            order_no += 1
            current = {"order": order_no, "orc": _fields(seg), "obx": []}
        elif tag == "RXA" and current is not None:
            rxa_no += 1
            current["rxa"] = _fields(seg)
            current["rxa_no"] = rxa_no
            pending.append(current)
        elif tag == "OBX" and current is not None:
            current["obx"].append(_fields(seg))
    for order in pending:
        dose = _dose(msg, order, atena, facility, extra)
        if dose is not None:
            msg.doses.append(dose)
    if not msg.ok:
        msg.doses.clear()
    return msg


def _patient(msg: VxuMessage, segs: list[str], municipality: str) -> tuple[str, dict[str, str]]:
    pid = next((_fields(s) for s in segs if s.startswith("PID|")), None)
    extra: dict[str, str] = {}
    if pid is None:  # the structure check refuses this first; kept for safety
        msg.error("PID", 1, None, E_SEGMENT_SEQUENCE, "PIDセグメントがありません。 / no PID segment.", refuse=True)
        return "", extra
    chosen = ""
    for rep in _f(pid, 3).split("~"):
        ident, authority, kind = _comp(rep, 1), _comp(rep, 4), _comp(rep, 5)
        if kind in ("PI", "MR") and ident:
            if municipality and authority and authority.split("&")[0] not in (municipality, ""):
                msg.error("PID", 1, 3, E_TABLE, f"PID-3 の発行者 ({authority[:20]}) が本市のコードではありません。"
                          f" / PID-3 assigning authority is not this city ({municipality}).")
                return "", extra
            if kind == "PI" or not chosen:
                chosen = ident
    if not chosen:
        msg.error("PID", 1, 3, E_REQUIRED, "PID-3 に宛名番号（識別子タイプ PI）がありません。"
                  " / PID-3 has no 宛名番号 with identifier type PI.")
        return "", extra
    digits = chosen.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 15):
        msg.error("PID", 1, 3, E_DATA_TYPE, "PID-3 の宛名番号は15桁以内の数字です。 / the 宛名番号 in PID-3 is "
                  "up to 15 digits.")
        return "", extra
    if birth := _hl7_date(_f(pid, 7)):
        extra["birth_date"] = birth.isoformat()
    return digits, extra


def _dose(msg: VxuMessage, order: dict[str, Any], atena: str, facility: str,
          extra0: dict[str, str]) -> DoseInput | None:
    rxa: list[str] = order["rxa"]
    n = order["rxa_no"]
    bad = False

    def err(fld: int, code: str, text: str) -> None:
        nonlocal bad
        bad = True
        msg.error("RXA", n, fld, code, text)

    day = _hl7_date(_f(rxa, 3))
    if not _f(rxa, 3).strip():
        err(3, E_REQUIRED, "接種日 (RXA-3) がありません。 / RXA-3 (date of administration) is empty.")
    elif day is None:
        err(3, E_DATA_TYPE, "接種日 (RXA-3) が日付ではありません（YYYYMMDD…）。 / RXA-3 is not a date (YYYYMMDD…).")

    dose_number: int | None = None
    for obx in order["obx"]:
        if _comp(_f(obx, 3), 1) == DOSE_NUMBER_LOINC:
            v = unescape(_f(obx, 5)).strip()
            if v.isdigit() and 1 <= int(v) <= 20:
                dose_number = int(v)
            else:
                msg.error("OBX", 1, 5, E_DATA_TYPE, "接種回数 (OBX 30973-2) は1〜20の数字です。"
                          " / the dose number (OBX 30973-2) is 1 to 20.")
                bad = True

    code, system = _comp(_f(rxa, 5), 1), _comp(_f(rxa, 5), 3).upper()
    vaccine = ""
    if not code:
        err(5, E_REQUIRED, "ワクチン (RXA-5) がありません。 / RXA-5 (administered code) is empty.")
    elif system == LOCAL_SYSTEM:
        if code.upper() in SCHEDULE_CODES:
            vaccine = code.upper()
        else:
            err(5, E_TABLE, f"ローカルコード {code[:20]} は定期接種コードではありません。 / local code {code[:20]} "
                "is not a schedule code.")
    elif system in ("CVX", ""):
        got = CVX_TO_SCHEDULE.get(code) or CVX_TO_SCHEDULE.get(code.zfill(2))
        if got is None:
            err(5, E_TABLE, f"CVXコード {code[:10]} は本システムの定期接種に対応していません。"
                f" / CVX {code[:10]} is not mapped to a schedule code.")
        elif isinstance(got, tuple):
            first, k, after = got
            if dose_number is None:
                err(5, E_REQUIRED, f"CVX {code} は期を区別できません。OBX {DOSE_NUMBER_LOINC}（接種回数）を付けるか、"
                    f"{LOCAL_SYSTEM} のコードを使ってください。 / CVX {code} needs the dose number in series "
                    f"(OBX {DOSE_NUMBER_LOINC}) or a {LOCAL_SYSTEM} code.")
            else:
                vaccine = first if dose_number <= k else after
                dose_number = dose_number if dose_number <= k else dose_number - k
        else:
            vaccine = got
    else:
        err(5, E_TABLE, f"RXA-5 のコード体系 {system[:10]} は扱いません（CVX または {LOCAL_SYSTEM}）。"
            f" / code system {system[:10]} unsupported; use CVX or {LOCAL_SYSTEM}.")

    amount = ""
    raw_amount = _f(rxa, 6).strip()
    if raw_amount and raw_amount != "999":  # 999 = unknown amount (historical records)
        unit = _comp(_f(rxa, 7), 1).lower()
        if re.fullmatch(r"\d{1,2}(\.\d{1,3})?", raw_amount) and unit in ("ml", ""):
            amount = raw_amount
        else:
            err(6, E_DATA_TYPE, "接種量 (RXA-6/7) は mL の数値です。 / RXA-6/7 must be an amount in mL.")

    provider = _f(rxa, 10).split("~")[0]
    doctor = " ".join(p for p in (_comp(provider, 2), _comp(provider, 3)) if p)
    location = _f(rxa, 11)
    clinic = _comp(_comp_raw(location, 4), 1, "&") or facility
    if clinic and not re.fullmatch(r"\d{10}", clinic):
        err(11, E_DATA_TYPE, "実施医療機関 (RXA-11.4) は10桁の医療機関コードです。 / RXA-11.4 is the 10-digit "
            "clinic code.")
    venue = _comp(location, 1)
    lot = unescape(_f(rxa, 15).split("~")[0]).strip().upper()[:40]
    mvx, maker_text = _comp(_f(rxa, 17), 1).upper(), _comp(_f(rxa, 17), 2)
    maker = maker_text or MVX_NAMES.get(mvx, mvx)
    status = _comp(_f(rxa, 20), 1).upper() or "CP"
    refusal = _comp(_f(rxa, 18), 2) or _comp(_f(rxa, 18), 1)
    screening_only = status in ("RE", "NA")
    if status not in ("CP", "PA", "RE", "NA"):
        err(20, E_TABLE, "RXA-20 は CP/PA/RE/NA のいずれかです。 / RXA-20 must be CP, PA, RE or NA.")
    action = _comp(_f(rxa, 21), 1).upper()
    if action == "D":
        err(21, E_TABLE, "削除 (RXA-21=D) は取り込めません。記録の取消は職員が画面で行います。 / deletions (RXA-21=D) "
            "are not accepted; staff void a record on screen.")
    elif action not in ("", "A", "U"):
        err(21, E_TABLE, "RXA-21 は A/U のいずれかです。 / RXA-21 must be A or U.")
    if bad or day is None or not atena or not vaccine:
        return None
    extra = dict(extra0)
    if info := _comp(_f(rxa, 9), 1):
        extra["information_source"] = info  # 00 new record, 01 historical
    if mvx:
        extra["mvx"] = mvx
    if order_id := _comp(_f(order["orc"], 3), 1):
        extra["order_id"] = order_id
    if expiry := _hl7_date(_f(rxa, 16)):
        extra["lot_expiry"] = expiry.isoformat()
    return DoseInput(
        atena_no=atena, vaccine=vaccine, date=day, dose_number=dose_number, clinic_code=clinic, venue=venue[:200],
        doctor=doctor[:100], manufacturer=maker[:100], lot_number=lot, amount_ml=amount, screening_only=screening_only,
        reason_not_vaccinated=(refusal or {"RE": "拒否", "NA": "接種せず"}.get(status, "")) if screening_only else "",
        source=Source.HL7, ref=f"{msg.file}#{msg.index}:RXA({n})", extra=extra,
    )


def _comp_raw(field_er7: str, n: int) -> str:
    parts = field_er7.split("^")
    return parts[n - 1] if len(parts) >= n else ""


def read_vxu_text(raw: str, *, file: str = "", municipality: str = "") -> list[VxuMessage]:
    """Every message of a file's text, in order (``index`` 1, 2, …)."""
    msgs = split_messages(raw)
    if not msgs:
        m = VxuMessage(index=1, file=file)
        m.error("MSH", 1, None, E_SEGMENT_SEQUENCE, "HL7メッセージがありません。 / the file holds no HL7 message.",
                refuse=True)
        return [m]
    return [parse_vxu(t, file=file, index=i, municipality=municipality) for i, t in enumerate(msgs, 1)]


def read_vxu_file(path: str | Path, *, municipality: str = "") -> list[VxuMessage]:
    """Read a file of VXU messages (UTF-8, or CP932 when not UTF-8)."""
    p = Path(path)
    data = p.read_bytes()
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            raw = data.decode("cp932")
        except UnicodeDecodeError:
            m = VxuMessage(index=1, file=p.name)
            m.error("MSH", 1, 18, E_DATA_TYPE, "文字コードが UTF-8 でも CP932 でもありません。 / the file is neither "
                    "UTF-8 nor CP932.", refuse=True)
            return [m]
    return read_vxu_text(raw, file=p.name, municipality=municipality)


# --- ACK -------------------------------------------------------------------------------------


def ack(msg: VxuMessage, *, code: str | None = None, extra_errors: Iterable[Hl7Error] = (),
        now: datetime | None = None, application: str = "YOBO", facility: str = "") -> str:
    """The ACK^V04 for ``msg`` (ER7, segments separated by CR), built and validated with hl7apy.

    ``code`` overrides the acknowledgment code (e.g. ``AE`` for a good message of a batch that was
    refused as a whole); ``extra_errors`` adds ERR segments (e.g. the ledger's validation problems).
    """
    from hl7apy.core import Message

    errors = [*msg.errors, *extra_errors]
    ack_code = code or ("AR" if msg.refused else ("AE" if any(e.severity == "E" for e in errors) else "AA"))
    stamp = (now or datetime.now()).strftime("%Y%m%d%H%M%S")  # local time, as the header shows
    a = Message("ACK", version=VERSION)
    a.msh.msh_3 = escape(application)
    if facility:
        a.msh.msh_4 = escape(facility)
    if msg.sending_application:
        a.msh.msh_5 = escape(msg.sending_application)
    if msg.sending_facility:
        a.msh.msh_6 = escape(msg.sending_facility)
    a.msh.msh_7 = stamp
    a.msh.msh_9 = "ACK^V04^ACK"
    a.msh.msh_10 = escape(f"ACK{stamp}{msg.index:04d}")
    a.msh.msh_11 = msg.processing_id if msg.processing_id in ("P", "T", "D") else "P"
    a.msh.msh_12 = VERSION
    a.msa.msa_1 = ack_code
    a.msa.msa_2 = escape(msg.control_id)
    for e in errors:
        seg = a.add_segment("ERR")
        seg.err_2 = f"{e.segment}^{e.occurrence}" + (f"^{e.field}" if e.field else "")
        seg.err_3 = f"{e.code}^{E_TEXT.get(e.code, 'Error')}^HL70357"
        seg.err_4 = e.severity
        seg.err_8 = escape(e.message[:250])
    return str(a.to_er7())


# --- writing (tests, the synthetic generator, other systems) ---------------------------------


def write_vxu(
    dose: DoseInput, *, control_id: str, sending_facility: str = "", municipality: str = "",
    now: datetime | None = None, use_cvx: bool = False,
) -> str:
    """One VXU^V04 for one dose (ER7 with CR separators), the inverse of :func:`parse_vxu`.

    The vaccine is written in the local system ``99YOBO`` (exact), or as CVX with the dose number
    in series when ``use_cvx``.
    """
    stamp = (now or datetime(2000, 1, 1)).strftime("%Y%m%d%H%M%S")
    d = dose
    birth = d.extra.get("birth_date", "").replace("-", "")
    n = d.dose_number
    rxa5 = f"{escape(d.vaccine)}^{escape(d.vaccine)}^{LOCAL_SYSTEM}"
    if use_cvx:
        cvx = SCHEDULE_TO_CVX[d.vaccine]
        series = CVX_TO_SCHEDULE[cvx]
        if not isinstance(series, tuple):
            rxa5 = f"{cvx}^{escape(d.vaccine)}^CVX"
        elif n is not None:  # the 期 is carried by the dose number in series; else keep the exact local code
            first, k, after = series
            if d.vaccine == first and n <= k:
                rxa5 = f"{cvx}^{escape(d.vaccine)}^CVX"
            elif d.vaccine == after:
                rxa5, n = f"{cvx}^{escape(d.vaccine)}^CVX", n + k
    status = "RE" if d.screening_only else "CP"
    mvx = d.extra.get("mvx", "")
    rxa = [
        "RXA", "0", "1", f"{d.date:%Y%m%d}", f"{d.date:%Y%m%d}", rxa5,
        d.amount_ml or "999", "mL^mL^UCUM" if d.amount_ml else "", "",
        f"{d.extra.get('information_source', '00')}^^NIP001",
        f"^{escape(d.doctor)}" if d.doctor else "",
        f"{escape(d.venue)}^^^{d.clinic_code}" if (d.venue or d.clinic_code) else "",
        "", "", "", escape(d.lot_number), "",
        f"{escape(mvx)}^{escape(d.manufacturer)}^MVX" if (mvx or d.manufacturer) else "",
        f"^{escape(d.reason_not_vaccinated)}" if d.screening_only and d.reason_not_vaccinated else "",
        "", status, "A",
    ]
    segs = [
        f"MSH|^~\\&|CLINIC|{escape(sending_facility)}|YOBO|{escape(municipality)}|{stamp}||VXU^V04^VXU_V04|"
        f"{escape(control_id)}|P|{VERSION}|||ER|AL",
        f"PID|1||{d.atena_no}^^^{escape(municipality)}^PI||{escape(d.extra.get('name_kana', ''))}^||{birth}",
        f"ORC|RE||{escape(d.extra.get('order_id', control_id))}",
        "|".join(rxa),
    ]
    if n is not None:
        segs.append(f"OBX|1|NM|{DOSE_NUMBER_LOINC}^Dose number in series^LN|1|{n}||||||F")
    return "\r".join(segs) + "\r"
