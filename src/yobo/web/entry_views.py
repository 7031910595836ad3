"""Keyed entry of pre-screening forms (予診票の入力画面), built for the staff who key them all day.

Purpose V01 (予診票の入力); duties ENTRY, CONTRACTOR_ENTRY, CLERK. Every read and write goes through
``yobo.immunizations`` services/selectors and ``yobo.people`` / ``yobo.notices`` selectors, so each
lookup and save is checked and logged by the door.

The flow:

- ``/doses/entry/``: the staff member's 束 (entry batches) and the form that opens one, with the
  clinic and the default date set once.
- ``/doses/entry/<id>/``: the entry screen. One form per 予診票, fields in the order of the paper
  form (see ``FIELDS``). Enter moves to the next field (Shift+Enter back), F9 or Ctrl+Enter saves
  and opens a fresh form with the cursor in the first field, F8 sets the form aside as 返戻 (counted
  as an error of the 束). A change of any field posts the form to ``check/`` (htmx), which shows the
  person (name, birth date in 和暦) for the visual check and every problem with its code, inline
  next to its field. ``save/`` answers with the fresh form plus the 束 counts and a row of the
  recent list (out-of-band swaps), never a page reload. Defaults (clinic, date, vaccine, product,
  lot, doctor) carry over from the previous form of the 束.
- ``/doses/entry/dose/<id>/``: correct (訂正) or cancel (取消) one saved record, with a reason.

Saves and checks carry a ``Server-Timing`` header with the server time of the view, so the
browser test can report the average time per save.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache, wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Purpose
from yobo.core.wareki import DateFormatError, era_of, from_era, parse_date, to_wareki
from yobo.immunizations import selectors, services
from yobo.immunizations.inputs import Category, DoseInput, Source
from yobo.immunizations.validation import UNCHANGED
from yobo.notices import selectors as notice_selectors
from yobo.notices.vouchers import VoucherNumberError, check_voucher_number, damm_valid, parse_ocr
from yobo.people import selectors as people_selectors

SESSION_KEY = "entry_defaults"  # {batch id: {field: value}}: what the next form starts with
SESSION_CLAIM = "entry_claim"  # {batch id: claim month}
RECENT = 8  # saved forms listed under the form
CARRIED = ("vaccine", "date", "product", "lot", "amount", "clinic", "doctor", "category")

# The form's fields in the order of the paper 予診票: the number printed at the top (券番号 or
# 宛名番号), the vaccine and dose named on the form, then the doctor's part (接種年月日, ワクチン名・
# ロット, 接種量, 実施医療機関, 医師名, 予診の結果).
FIELDS: tuple[tuple[str, str], ...] = (
    ("key", "宛名番号・券番号"),
    ("vaccine", "ワクチン"),
    ("dose", "回数"),
    ("date", "接種日"),
    ("product", "製品"),
    ("lot", "ロット番号"),
    ("amount", "接種量(mL)"),
    ("clinic", "医療機関コード"),
    ("doctor", "医師名"),
    ("screening", "予診のみ"),
    ("reason", "見合せ理由"),
    ("findings", "所見・副反応"),
    ("category", "実施区分"),
)
FIELD_LABELS = dict(FIELDS)

# DoseInput field (validation's ``DoseProblem.field``) -> form field.
FORM_FIELD_OF = {
    "atena_no": "key", "voucher_no": "key", "vaccine": "vaccine", "dose_number": "dose", "date": "date",
    "product_code": "product", "lot_number": "lot", "amount_ml": "amount", "clinic_code": "clinic",
    "doctor": "doctor", "screening_only": "screening", "reason_not_vaccinated": "reason",
    "findings": "findings", "reactions": "findings", "category": "category",
}
CATEGORY_LABELS = {Category.ROUTINE: "定期", Category.CATCH_UP: "キャッチアップ", Category.VOLUNTARY: "任意(助成)",
                   Category.SPECIAL: "特例(長期療養等)"}
STATUS_LABELS = {1: "住民", 2: "転出", 3: "死亡", 4: "職権消除等"}


# --- pure helpers: dates and the number at the top of the form ---------------------------------------

_NO_ERA_SHORT = re.compile(r"^(\d{1,2})[./\-](\d{1,2})[./\-](\d{1,2})$")
_NO_ERA_PACKED = re.compile(r"^(\d{2})(\d{2})(\d{2})$")


def parse_entry_date(text: str, today: date) -> date:
    """A date as staff key it from a 予診票.

    Besides every form ``core.wareki.parse_date`` reads (``R7.9.5``, ``令和7年9月5日``,
    ``2025-09-05``, ``20250905``, the 7-digit system form), the short forms without an era are read
    in the era of ``today`` (当該元号): ``7.9.5`` and the packed ``070905`` (YYMMDD). Full-width
    digits are accepted. Raises ``DateFormatError`` with a bilingual message."""
    s = unicodedata.normalize("NFKC", text or "").strip().replace(" ", "")
    m = _NO_ERA_SHORT.match(s) or _NO_ERA_PACKED.match(s)
    if m:
        era = era_of(today)
        return from_era(era, int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return parse_date(s)


@dataclass(frozen=True, slots=True)
class Key:
    """What the number at the top of the form is: a 宛名番号, or a voucher (券番号, 18-digit OCR line
    or ``K`` + 券番号 when a 10-digit 宛名番号 would be ambiguous)."""

    kind: str  # "atena" | "voucher"
    value: str
    maybe_voucher: bool = False  # a 宛名番号 that is also shaped like a voucher number


class BadKey(ValueError):
    """The number at the top of the form is malformed."""


def parse_key(text: str) -> Key:
    """Read the number keyed at the top of the form (pure; no lookups).

    - ``K`` or ``券`` followed by 10 digits: a voucher number (券番号), check digit verified.
    - 18 digits: the OCR line printed on the voucher (the 券番号 is its last 10 digits).
    - up to 15 digits: a 宛名番号; when it is 10 digits with a valid voucher check digit it may also
      be a voucher (``maybe_voucher``), tried when no person has that 宛名番号.
    """
    s = re.sub(r"[\s\-‐－ー]", "", unicodedata.normalize("NFKC", text or "")).upper()
    if not s:
        raise BadKey("宛名番号または券番号を入力してください / enter a 宛名番号 or voucher number")
    try:
        if s[0] in "K券":
            return Key("voucher", check_voucher_number(s[1:]))
        if len(s) == 18 and s.isdigit():
            return Key("voucher", parse_ocr(s).number)
    except VoucherNumberError as exc:
        raise BadKey(str(exc)) from None
    if not s.isdigit() or len(s) > 15:
        raise BadKey("宛名番号は15桁以内の数字、券番号は10桁（先頭に K も可）です"
                        " / a 宛名番号 is up to 15 digits, a voucher number 10 digits (optionally K first)")
    return Key("atena", s, maybe_voucher=len(s) == 10 and damm_valid(s))


def age_text(birth: date, on: date) -> str:
    """``1歳10か月`` (満年齢 and months, as 予診票 state it)."""
    months = (on.year - birth.year) * 12 + (on.month - birth.month) - (1 if on.day < birth.day else 0)
    if months < 0:
        return ""
    return f"{months // 12}歳{months % 12}か月"


# --- the form ------------------------------------------------------------------------------------------


@dataclass
class Person:
    """What the screen shows of the person for the visual check (no address, no My Number)."""

    atena_no: str
    name_kanji: str
    name_kana: str
    birth: date
    birth_wareki: str
    age: str
    sex: str
    status: int
    status_label: str
    voucher_no: str = ""
    voucher_vaccine: str = ""
    voucher_dose: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class EntryForm:
    """The values keyed on one form, what could be read from them, and the problems found."""

    values: dict[str, str]
    errors: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # form field -> problems
    person: Person | None = None
    day: date | None = None
    dose: int | None = None

    def add(self, form_field: str, code: str, severity: str, message: str) -> None:
        self.errors.setdefault(form_field, []).append({"code": code, "severity": severity, "message": message})

    @property
    def blocking(self) -> bool:
        return any(p["severity"] == "error" for ps in self.errors.values() for p in ps)

    @property
    def problems(self) -> list[dict[str, str]]:
        return [dict(p, field=FIELD_LABELS.get(f, f)) for f, ps in self.errors.items() for p in ps]

    @property
    def by_field(self) -> list[tuple[str, list[dict[str, str]]]]:
        return [(name, self.errors.get(name, [])) for name, _ in FIELDS]

    @property
    def first_error_field(self) -> str:
        for name, _ in FIELDS:
            if any(p["severity"] == "error" for p in self.errors.get(name, ())):
                return name
        return "key"


def _values(data: Mapping[str, Any], defaults: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {name: str(data.get(name) or "").strip() for name, _ in FIELDS}
    out["screening"] = "1" if data.get("screening") in ("1", "on", "true") else ""
    for k in ("atena_no", "voucher_no", "key_seen"):
        out[k] = str(data.get(k) or "").strip()
    if defaults:
        for k, v in defaults.items():
            out[k] = out.get(k) or v
    return out


def _resolve(ctx: AccessContext, f: EntryForm, today: date) -> None:
    """Find the person named at the top of the form (READ of the register, and of the voucher when
    a voucher number was keyed), filling ``f.person`` or a ``key`` problem."""
    f.person = None
    try:
        key = parse_key(f.values["key"])
    except BadKey as exc:
        f.add("key", "bad_key", "error", str(exc))
        return
    voucher = None
    if key.kind == "atena":
        try:
            p = people_selectors.get_person(ctx, key.value)
        except people_selectors.PersonNotFound as exc:
            if not key.maybe_voucher:
                f.add("key", "unknown_person", "error", str(exc))
                return
            p = None
        if p is None:
            voucher = _voucher(ctx, f, key.value)
            if voucher is None:
                return
            p = people_selectors.get_person(ctx, voucher.atena_no)
    else:
        voucher = _voucher(ctx, f, key.value)
        if voucher is None:
            return
        p = people_selectors.get_person(ctx, voucher.atena_no)
    person = Person(
        atena_no=p.atena_no, name_kanji=p.name_kanji, name_kana=p.name_kana, birth=p.birth_date,
        birth_wareki=to_wareki(p.birth_date), age=age_text(p.birth_date, f.day or today),
        sex=p.sex_label, status=p.status, status_label=STATUS_LABELS.get(p.status, str(p.status)),
    )
    if p.status != 1:
        when = f"（{p.status_date.isoformat()}）" if p.status_date else ""
        person.notes.append(f"住民区分: {person.status_label}{when}")
    if voucher is not None:
        person.voucher_no = voucher.number
        person.voucher_vaccine = voucher.vaccine
        person.voucher_dose = voucher.dose
        if voucher.state != "issued":
            person.notes.append(f"この券番号は{voucher.state}です"
                                + (f"（再発行後の券番号 {voucher.replaced_by}）" if voucher.replaced_by else ""))
    f.person = person


def _voucher(ctx: AccessContext, f: EntryForm, number: str) -> Any:
    try:
        return notice_selectors.find_voucher(ctx, number)
    except (InputRejected, VoucherNumberError) as exc:
        f.add("key", "unknown_voucher", "error", str(exc))
        return None


def read_form(ctx: AccessContext, data: Mapping[str, Any], *, today: date, complete: bool,
              defaults: Mapping[str, str] | None = None) -> EntryForm:
    """Parse the keyed values and find the person. ``complete`` (on save) reports missing required
    items; on a field change only what was keyed is judged."""
    f = EntryForm(_values(data, defaults))
    v = f.values
    v["key"] = re.sub(r"\s", "", unicodedata.normalize("NFKC", v["key"])).upper()
    v["vaccine"] = unicodedata.normalize("NFKC", v["vaccine"]).upper().replace(" ", "")
    v["clinic"] = re.sub(r"\D", "", unicodedata.normalize("NFKC", v["clinic"])) or v["clinic"]
    v["product"] = unicodedata.normalize("NFKC", v["product"]).upper()
    v["lot"] = unicodedata.normalize("NFKC", v["lot"]).upper()
    v["amount"] = unicodedata.normalize("NFKC", v["amount"])
    if v["date"]:
        try:
            f.day = parse_entry_date(v["date"], today)
        except DateFormatError as exc:
            f.add("date", "bad_date", "error", str(exc))
    elif complete:
        f.add("date", "missing", "error", "接種日を入力してください / the date is required")
    if v["dose"]:
        d = unicodedata.normalize("NFKC", v["dose"])
        if d.isdigit() and 1 <= int(d) <= 20:
            f.dose = int(d)
        else:
            f.add("dose", "bad_dose_number", "error", "回数は1〜20の数字です / the dose number is 1 to 20")
    if complete and not v["vaccine"]:
        f.add("vaccine", "missing", "error", "ワクチンを入力してください / the vaccine is required")
    if v["category"] and v["category"] not in {c.value for c in Category}:
        f.add("category", "bad_category", "error", "実施区分が正しくありません / unknown category")
    if v["key"]:
        if v["key_seen"] and v["key_seen"] == v["key"] and v["atena_no"]:
            f.person = _trusted_person(v)
        else:
            _resolve(ctx, f, today)
    elif complete:
        f.add("key", "missing", "error", "宛名番号または券番号を入力してください / enter a 宛名番号 or voucher number")
    return f


def _trusted_person(v: Mapping[str, str]) -> Person:
    """The person the previous check of this same key found (carried in hidden fields): saves one
    lookup per save. The dose is validated against the register again by ``record_dose``."""
    return Person(atena_no=v["atena_no"], name_kanji="", name_kana="", birth=date.min, birth_wareki="", age="",
                  sex="", status=1, status_label="", voucher_no=v["voucher_no"])


def dose_input(f: EntryForm, *, batch_id: int, claim_month: str = "") -> DoseInput | None:
    """The ``DoseInput`` of a form whose person, vaccine and date are known (else None)."""
    v = f.values
    if f.person is None or f.day is None or not v["vaccine"]:
        return None
    return DoseInput(
        atena_no=f.person.atena_no, vaccine=v["vaccine"], date=f.day, dose_number=f.dose,
        clinic_code=v["clinic"], doctor=v["doctor"][:100], product_code=v["product"], lot_number=v["lot"][:30],
        amount_ml=v["amount"], voucher_no=f.person.voucher_no,
        category=Category(v["category"] or Category.ROUTINE), screening_only=bool(v["screening"]),
        reason_not_vaccinated=v["reason"][:200], findings=v["findings"][:500], claim_month=claim_month,
        source=Source.KEYED, ref=f"束{batch_id}",
    )


def add_problems(f: EntryForm, problems: list[Any]) -> None:
    """Validation's problems (``DoseProblem``) next to the form fields they concern."""
    seen = {(fld, p["code"]) for fld, ps in f.errors.items() for p in ps}
    for p in problems:
        name = FORM_FIELD_OF.get(p.field or "", "key")
        if (name, p.code) in seen or (p.code == "unknown_person" and (name, "unknown_person") in seen):
            continue
        f.add(name, p.code, p.severity, p.message)


# --- views ---------------------------------------------------------------------------------------------


def _htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _ctx(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.DOSE_ENTRY)


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def timed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Adds ``Server-Timing: app;dur=<ms>`` (the view's own time, rendering included)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        t0 = time.perf_counter()
        response = view(request, *args, **kwargs)
        response["Server-Timing"] = f'app;dur={(time.perf_counter() - t0) * 1000:.1f};desc="{view.__name__}"'
        return response

    return wrapper


@lru_cache(maxsize=1)
def vaccine_choices() -> tuple[tuple[str, str], ...]:
    from yobo.schedule.engine import load_series

    return tuple((code, s.name_ja) for code, s in load_series().items())


def _masters(*, lists: bool = True) -> dict[str, Any]:
    """What the form needs; ``lists`` adds the datalists (full pages only, not the fragments)."""
    out: dict[str, Any] = {"categories": [(c.value, CATEGORY_LABELS[c]) for c in Category]}
    if lists:
        out |= {"vaccines": vaccine_choices(), "products": selectors.products()}
    return out


def _claim_month(request: HttpRequest, ctx: AccessContext, batch_id: int) -> str:
    """The 束's claim month (請求月), which every record of the 束 carries; kept in the session so a
    save does not read the 束 first."""
    claims = request.session.get(SESSION_CLAIM, {})
    if str(batch_id) not in claims:
        claims = dict(claims) | {str(batch_id): selectors.batch(ctx, batch_id).claim_month}
        request.session[SESSION_CLAIM] = claims
    return str(claims[str(batch_id)])


def _defaults(request: HttpRequest, b: selectors.BatchView) -> dict[str, str]:
    saved = request.session.get(SESSION_KEY, {}).get(str(b.id), {})
    return {"clinic": b.clinic_code, "category": Category.ROUTINE.value, **saved}


def _remember(request: HttpRequest, batch_id: int, values: Mapping[str, str]) -> None:
    store = dict(request.session.get(SESSION_KEY, {}))
    store[str(batch_id)] = {k: values.get(k, "") for k in CARRIED}
    request.session[SESSION_KEY] = store


def _batch_counts(b: selectors.BatchView) -> dict[str, Any]:
    entered = b.saved + b.rejected
    return {"entered": entered, "saved": b.saved, "warnings": b.with_warnings, "errors": b.rejected,
            "declared": b.declared_count,
            "matches": b.declared_count is None or b.declared_count == entered}


def _recent(ctx: AccessContext, batch_id: int) -> list[dict[str, Any]]:
    doses = selectors.batch_doses(ctx, batch_id)
    return [_row(d.id, d.atena_no, d.vaccine, d.dose_number, d.date, d.lot_number, d.screening_only,
                 d.problems, d.state) for d in reversed(doses[-RECENT:] if len(doses) > RECENT else doses)]


def _row(dose_id: int | None, atena: str, vaccine: str, dose: int | None, day: date, lot: str, screening: bool,
         problems: list[Any], state: str = "active") -> dict[str, Any]:
    return {"id": dose_id, "atena": atena, "vaccine": vaccine, "dose": dose, "date": day,
            "wareki": to_wareki(day, short=True), "lot": lot, "screening": screening, "state": state,
            "warnings": [p if isinstance(p, dict) else p.as_dict() for p in problems]}


@login_required
@require_http_methods(["GET", "POST"])
def batches(request: HttpRequest) -> HttpResponse:
    """入力する束の一覧と、束を開く（医療機関と接種日の既定値を一度だけ）."""
    try:
        ctx = _ctx(request)
        mine = selectors.batches(ctx, mine=True, kind="keyed", limit=30)
    except AccessDenied as exc:
        return _denied(request, exc)
    form = {k: (request.POST.get(k) or "").strip() for k in ("clinic", "date", "label", "declared", "claim_month")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        clinic = re.sub(r"\D", "", unicodedata.normalize("NFKC", form["clinic"]))
        if not clinic:
            errors["clinic"] = "医療機関コードを入力してください / the clinic code is required"
        elif selectors.clinic(clinic) is None:
            errors["clinic"] = f"医療機関コード「{clinic}」は登録されていません / unknown clinic code"
        day = None
        if form["date"]:
            try:
                day = parse_entry_date(form["date"], date.today())
            except DateFormatError as exc:
                errors["date"] = str(exc)
        declared = None
        if form["declared"]:
            d = unicodedata.normalize("NFKC", form["declared"])
            if d.isdigit() and 0 < int(d) <= 10000:
                declared = int(d)
            else:
                errors["declared"] = "枚数は1〜10000の数字です / the count is a number from 1 to 10000"
        claim = re.sub(r"\D", "", unicodedata.normalize("NFKC", form["claim_month"]))
        if claim and not (len(claim) == 6 and 1 <= int(claim[4:]) <= 12):
            errors["claim_month"] = "請求月は YYYYMM です（例: 202510） / the claim month is YYYYMM"
        if not errors:
            try:
                bid = services.open_batch(ctx, label=form["label"], clinic_code=clinic, claim_month=claim,
                                          declared_count=declared)
            except AccessDenied as exc:
                return _denied(request, exc)
            except InputRejected as exc:
                errors["clinic"] = str(exc)
            else:
                _remember(request, bid, {"clinic": clinic, "date": to_wareki(day, short=True) if day else "",
                                         "category": Category.ROUTINE.value})
                return HttpResponseRedirect(f"/doses/entry/{bid}/")
    clinics = selectors.clinics(on=date.today())
    return render(request, "web/entry/index.html", {
        "batches": [(b, _batch_counts(b)) for b in mine], "form": form, "errors": errors, "clinics": clinics,
    }, status=400 if errors else 200)


def _screen(request: HttpRequest, ctx: AccessContext, b: selectors.BatchView, f: EntryForm | None = None,
            *, status: int = 200) -> HttpResponse:
    closed = b.state != "open"
    mine = b.operator == ctx.username
    claims = request.session.get(SESSION_CLAIM, {})
    if not closed and mine and claims.get(str(b.id)) != b.claim_month:
        request.session[SESSION_CLAIM] = dict(claims) | {str(b.id): b.claim_month}
    return render(request, "web/entry/batch.html", {
        "b": b, "counts": _batch_counts(b), "closed": closed, "mine": mine,
        "f": f or EntryForm(_defaults(request, b) | {"key": ""}),
        "recent": _recent(ctx, b.id) if not closed else [],
        "all_doses": ([_row(d.id, d.atena_no, d.vaccine, d.dose_number, d.date, d.lot_number, d.screening_only,
                            d.problems, d.state) for d in selectors.batch_doses(ctx, b.id)] if closed else []),
        "clinic": selectors.clinic(b.clinic_code) if b.clinic_code else None,
        "fields": FIELDS, **_masters(),
    }, status=status)


@login_required
def batch(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The entry screen of one 束 (or its summary once closed)."""
    try:
        ctx = _ctx(request)
        b = selectors.batch(ctx, batch_id)
        return _screen(request, ctx, b)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/doses/entry/")


def _today() -> date:
    from yobo.immunizations import store  # the same "today" validation uses (fixed in tests)

    return store.today()


@login_required
@require_POST
@timed
def check(request: HttpRequest, batch_id: int) -> HttpResponse:
    """A field changed: show the person (when the number at the top changed) and every problem of
    what is keyed so far, each next to its field. Saves nothing."""
    try:
        ctx = _ctx(request)
        f = read_form(ctx, request.POST, today=_today(), complete=False)
        inp = dose_input(f, batch_id=batch_id)
        unchanged = False
        if inp is not None:
            c = services.check_inputs(ctx, [inp])
            add_problems(f, c.problems.get(0, []))
            unchanged = int(c.outcome[0]) == UNCHANGED
            if not f.dose and int(c.dose_number[0]):
                f.dose = int(c.dose_number[0])
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "web/entry/_check.html", {
        "f": f, "fields": FIELDS, "unchanged": unchanged,
        # The person panel is sent again only when the number changed (a fresh lookup).
        "person_changed": f.person is None or bool(f.person.name_kanji),
        "inferred_dose": f.dose if not f.values["dose"] else None,
    })


@login_required
@require_POST
@timed
def save(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Save one form (F9 / Ctrl+Enter). Blocking problems keep the form with each problem inline;
    otherwise the answer is a fresh form (defaults carried) with the counts and the recent row."""
    try:
        ctx = _ctx(request)
        claim = _claim_month(request, ctx, batch_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/doses/entry/")
    today = _today()
    f = read_form(ctx, request.POST, today=today, complete=True)
    result = None
    inp = None if f.blocking else dose_input(f, batch_id=batch_id, claim_month=claim)
    if inp is not None:
        try:
            result = services.record_dose(ctx, inp, batch_id=batch_id)
        except services.DoseRejected as exc:
            add_problems(f, exc.problems)
        except AccessDenied as exc:
            return _denied(request, exc)
        except InputRejected as exc:  # the 束 was closed meanwhile, or is another staff member's
            f.add("key", "batch", "error", str(exc))
    if result is None or inp is None:
        if f.person is not None and not f.person.name_kanji:
            _resolve(ctx, f, today)  # the kept form shows the person again for the visual check
        return _form_answer(request, ctx, selectors.batch(ctx, batch_id), f)
    # The date carried to the next form is shown as 和暦 (R7.3.12) whatever form it was typed in.
    _remember(request, batch_id, f.values | {"date": to_wareki(inp.date, short=True)})
    b = selectors.batch(ctx, batch_id)
    fresh = EntryForm(_defaults(request, b) | {"key": ""})
    saved = _row(result.dose_id, inp.atena_no, inp.vaccine, result.dose_number, inp.date, inp.lot_number,
                 inp.screening_only, result.warnings)
    ctx_vars = {"b": b, "counts": _batch_counts(b), "f": fresh, "fields": FIELDS, "mine": True, "swapped": True,
                "saved": saved, "unchanged": result.unchanged, **_masters(lists=False)}
    if _htmx(request):
        return render(request, "web/entry/_saved.html", ctx_vars)
    if result.unchanged:
        messages.info(request, "同じ記録が既に登録されています（変更なし） / already on record")
    else:
        messages.success(request, f"登録しました（{inp.atena_no} {inp.vaccine}） / saved")
    return HttpResponseRedirect(f"/doses/entry/{batch_id}/")


def _form_answer(request: HttpRequest, ctx: AccessContext, b: selectors.BatchView, f: EntryForm) -> HttpResponse:
    """The form kept with its problems: the fragment for htmx, the whole screen otherwise."""
    if _htmx(request):
        # 200 so htmx swaps it (it leaves 4xx answers unswapped); the form says it was not saved.
        return render(request, "web/entry/_form.html", {"b": b, "f": f, "fields": FIELDS, "kept": True, "swapped": True,
                                                        "mine": True, **_masters(lists=False)})
    return _screen(request, ctx, b, f, status=400)


@login_required
@require_POST
@timed
def set_aside(request: HttpRequest, batch_id: int) -> HttpResponse:
    """返戻 (F8): the form cannot be saved (e.g. goes back to the clinic); counted as an error."""
    try:
        ctx = _ctx(request)
        services.note_rejected(ctx, batch_id)
        b = selectors.batch(ctx, batch_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/doses/entry/")
    if _htmx(request):
        fresh = EntryForm(_defaults(request, b) | {"key": ""})
        return render(request, "web/entry/_saved.html", {
            "b": b, "counts": _batch_counts(b), "f": fresh, "fields": FIELDS, "mine": True, "set_aside": True,
            "swapped": True, **_masters(lists=False),
        })
    messages.info(request, "返戻として計上しました / set aside")
    return HttpResponseRedirect(f"/doses/entry/{batch_id}/")


@login_required
@require_POST
def close(request: HttpRequest, batch_id: int) -> HttpResponse:
    """Close the 束: no more forms; the closed 束 is the unit the clinic payment works on."""
    try:
        counts = services.close_batch(_ctx(request), batch_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(f"/doses/entry/{batch_id}/")
    store = dict(request.session.get(SESSION_KEY, {}))
    store.pop(str(batch_id), None)
    request.session[SESSION_KEY] = store
    declared = "" if counts["declared"] is None else (
        f"、申告 {counts['declared']} 枚" + ("（一致）" if counts["matches_declared"] else "（不一致）"))
    messages.success(request, f"束 {batch_id} を締めました: 登録 {counts['saved']} 件（警告あり "
                              f"{counts['with_warnings']}）、返戻 {counts['rejected']} 件{declared}")
    return HttpResponseRedirect(f"/doses/entry/{batch_id}/")


CORRECTABLE = ("vaccine", "dose", "date", "product", "lot", "amount", "clinic", "doctor", "screening", "reason",
               "findings", "category")


@login_required
@require_http_methods(["GET", "POST"])
def correct(request: HttpRequest, dose_id: int) -> HttpResponse:
    """訂正・取消 of one saved record (from the recent list): the old record is kept as superseded or
    void, with the reason; the corrected record is validated like any input."""
    try:
        ctx = _ctx(request)
        d = selectors.get_dose(ctx, dose_id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect("/doses/entry/")
    back = f"/doses/entry/{d.batch_id}/" if d.batch_id else "/doses/entry/"
    current = {
        "key": d.atena_no, "vaccine": d.vaccine, "dose": str(d.dose_number or ""), "date": d.date.isoformat(),
        "product": d.product_code, "lot": d.lot_number, "amount": str(d.amount_ml or ""), "clinic": d.clinic_code,
        "doctor": d.doctor, "screening": "1" if d.screening_only else "", "reason": d.reason_not_vaccinated,
        "findings": d.findings, "category": d.category,
    }
    f = EntryForm(dict(current))
    note = ""
    action = (request.POST.get("action") or "correct").strip()
    if request.method == "POST":
        note = (request.POST.get("note") or "").strip()
        data = {k: request.POST.get(k, "") for k in CORRECTABLE} | {"key": d.atena_no, "key_seen": d.atena_no,
                                                                    "atena_no": d.atena_no,
                                                                    "voucher_no": d.voucher_no}
        f = read_form(ctx, data, today=_today(), complete=True)
        f.values["key"] = d.atena_no
        if not note:
            f.add("note", "missing", "error", "訂正・取消の理由を入力してください / a reason is required")
        if not f.blocking:
            try:
                if action == "void":
                    services.void_dose(ctx, dose_id, note)
                    messages.success(request, f"記録 {dose_id} を取り消しました / cancelled")
                    return HttpResponseRedirect(back)
                changes = _changes(d, f)
                if not changes:
                    f.add("vaccine", "no_change", "error", "変更がありません / nothing was changed")
                else:
                    r = services.correct_dose(ctx, dose_id, note, **changes)
                    warn = f"（警告 {len(r.warnings)} 件）" if r.warnings else ""
                    messages.success(request, f"記録 {dose_id} を訂正しました（新しい記録 {r.dose_id}）{warn}")
                    return HttpResponseRedirect(back)
            except services.DoseRejected as exc:
                add_problems(f, exc.problems)
            except AccessDenied as exc:
                return _denied(request, exc)
            except InputRejected as exc:
                f.add("note", "rejected", "error", str(exc))
    return render(request, "web/entry/correct.html", {
        "d": d, "f": f, "note": note, "action": action, "back": back, "fields": FIELDS,
        "wareki": to_wareki(d.date), **_masters(),
    }, status=400 if f.errors else 200)


def _changes(d: selectors.DoseView, f: EntryForm) -> dict[str, Any]:
    v = f.values
    new: dict[str, Any] = {
        "vaccine": v["vaccine"], "dose_number": f.dose, "date": f.day, "product_code": v["product"],
        "lot_number": v["lot"], "amount_ml": v["amount"], "clinic_code": v["clinic"], "doctor": v["doctor"],
        "screening_only": bool(v["screening"]), "reason_not_vaccinated": v["reason"], "findings": v["findings"],
        "category": Category(v["category"] or Category.ROUTINE),
    }
    old: dict[str, Any] = {
        "vaccine": d.vaccine, "dose_number": d.dose_number, "date": d.date, "product_code": d.product_code,
        "lot_number": d.lot_number, "amount_ml": str(d.amount_ml or ""), "clinic_code": d.clinic_code,
        "doctor": d.doctor, "screening_only": d.screening_only, "reason_not_vaccinated": d.reason_not_vaccinated,
        "findings": d.findings, "category": Category(d.category),
    }
    if old["amount_ml"] and new["amount_ml"]:
        try:
            from decimal import Decimal

            if Decimal(new["amount_ml"]) == Decimal(old["amount_ml"]):
                new["amount_ml"] = old["amount_ml"]
        except ArithmeticError:
            pass
    return {k: val for k, val in new.items() if val != old[k]}


__all__ = ["Key", "parse_entry_date", "parse_key"]
