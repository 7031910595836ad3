"""Resident search and person page (宛名検索・個人画面), 住登外者 applications and 支援措置 requests.

The staff member chooses the purpose (処理事由) at the top of the search form from those their
duties allow; it is remembered in the session and used for every search and view. A search
without a purpose is refused by the door (and logged). The My Number search is a POST (the number
never appears in a URL) and is offered only to staff with the My Number right.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from yobo.access.context import context_for_request
from yobo.core.context import AccessContext
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import PURPOSE_LABELS, PURPOSE_OPERATIONS, Operation, Purpose
from yobo.core.wareki import DateFormatError, parse_date
from yobo.mynumber.services import AgentKind, IdentityDocument, NumberCheckMethod, Verification
from yobo.people import jukinet, lookup, nonresidents, protection, review, selectors, services, switch
from yobo.people.nonresidents import Sex, Source
from yobo.people.protection import ProtectionAction

SESSION_PURPOSE = "people_purpose"
LIMIT = 50


def _denied(request: HttpRequest, exc: AccessDenied) -> HttpResponse:
    return render(request, "web/access/denied.html", {"message": str(exc)}, status=403)


def search_purposes(ctx: AccessContext) -> list[tuple[str, str]]:
    """The purposes this staff member may search persons for, as (code, label)."""
    ps = [p for p in ctx.allowed_purposes() if Operation.SEARCH in PURPOSE_OPERATIONS[p]
          and Operation.READ in PURPOSE_OPERATIONS[p]]
    return [(p.value, f"{p.value} {PURPOSE_LABELS[p]}") for p in sorted(ps, key=lambda p: p.value)]


def _purpose(request: HttpRequest, base: AccessContext) -> str:
    """The chosen purpose: from the form (remembered), else the session, else 対象者の照会 (P02)."""
    allowed = {code for code, _ in search_purposes(base)}
    if "purpose" in request.GET or "purpose" in request.POST:
        chosen = (request.GET.get("purpose") if "purpose" in request.GET else request.POST.get("purpose")) or ""
        chosen = chosen.strip().upper()
        if chosen in allowed:
            request.session[SESSION_PURPOSE] = chosen
        return chosen  # an empty or foreign purpose goes to the door, which refuses and logs it
    saved = request.session.get(SESSION_PURPOSE)
    if saved in allowed:
        return str(saved)
    return Purpose.PERSON_INQUIRY.value if Purpose.PERSON_INQUIRY.value in allowed else ""


def _ctx(request: HttpRequest) -> AccessContext:
    base = context_for_request(request, Purpose.PERSON_INQUIRY)
    return base.for_purpose(_purpose(request, base))


class SearchForm(forms.Form):
    name = forms.CharField(label="氏名（カナ・漢字、一部でも可）", required=False, max_length=100)
    birth = forms.CharField(label="生年月日（西暦・和暦）", required=False, max_length=20,
                            help_text="例: 1985-04-01, 昭和60年4月1日, S60.4.1")
    address = forms.CharField(label="住所（一部でも可）", required=False, max_length=100,
                              help_text="例: 本町1-2-3, 本町一丁目2番3号, 本町1-2-3-101")
    atena = forms.RegexField(label="宛名番号", required=False, regex=r"^\s*[0-9０-９]{1,15}\s*$",
                             error_messages={"invalid": "宛名番号は15桁以内の数字で入力してください。"
                                             " / 宛名番号 is up to 15 digits."})

    def clean_birth(self) -> date | None:
        raw = (self.cleaned_data.get("birth") or "").strip()
        if not raw:
            return None
        try:
            return parse_date(raw)
        except DateFormatError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_atena(self) -> str:
        import unicodedata

        return unicodedata.normalize("NFKC", self.cleaned_data.get("atena") or "").strip()

    def criteria(self) -> lookup.Criteria:
        d = self.cleaned_data
        return lookup.Criteria(name=(d.get("name") or "").strip(), birth_date=d.get("birth"),
                               address=(d.get("address") or "").strip(), atena_no=d.get("atena") or "")

    def has_keys(self) -> bool:
        return any((self.data.get(k) or "").strip() for k in ("name", "birth", "address", "atena"))


def _page_context(request: HttpRequest, ctx: AccessContext, form: SearchForm, **extra: Any) -> dict[str, Any]:
    return {
        "form": form,
        "purposes": search_purposes(ctx),
        "purpose": ctx.purpose,
        "mynumber_right": ctx.mynumber_right,
        "limit": LIMIT,
        **extra,
    }


@login_required
@require_GET
def search(request: HttpRequest) -> HttpResponse:
    """宛名検索: the form, and the results when a key is given (htmx swaps only the results)."""
    try:
        ctx = _ctx(request)
    except AccessDenied as exc:
        return _denied(request, exc)
    form = SearchForm(request.GET if any(k in request.GET for k in ("name", "birth", "address", "atena")) else None)
    result: lookup.SearchResult | None = None
    error = ""
    if form.is_bound and form.is_valid() and form.has_keys():
        try:
            result = lookup.search(ctx, form.criteria(), limit=LIMIT)
        except AccessDenied as exc:
            error = str(exc)
        except InputRejected as exc:
            error = str(exc)
    elif form.is_bound and form.is_valid():
        error = "検索条件を1つ以上入力してください。 / Enter at least one search key."
    context = _page_context(request, ctx, form, result=result, error=error)
    template = "people/_results.html" if getattr(request, "htmx", False) else "people/search.html"
    return render(request, template, context)


@login_required
@require_POST
def search_mynumber(request: HttpRequest) -> HttpResponse:
    """個人番号による検索 (POST only: the number never goes into a URL or the log)."""
    try:
        ctx = _ctx(request)
    except AccessDenied as exc:
        return _denied(request, exc)
    result: lookup.SearchResult | None = None
    error = ""
    notice = ""
    try:
        atena, result = lookup.search_by_mynumber(ctx, request.POST.get("mynumber", ""))
        if atena is None:
            notice = "この個人番号の登録はありません。 / No person has this My Number."
        elif not result.persons:
            notice = (f"この個人番号は宛名番号 {atena} に登録されていますが、住民としては未登録です"
                      "（住登外者の確認待ちなど）。 / Linked to a 宛名番号 not registered as a person (pending).")
    except AccessDenied as exc:
        error = str(exc)
    except InputRejected as exc:
        error = str(exc)  # the vault's messages never contain the number
    context = _page_context(request, ctx, SearchForm(), result=result, error=error, notice=notice)
    status = 403 if error and not ctx.mynumber_right else 200
    return render(request, "people/search.html", context, status=status)


@login_required
@require_GET
def person(request: HttpRequest, atena_no: str) -> HttpResponse:
    """個人画面: logged as a READ of the 宛名番号 with the chosen purpose."""
    try:
        ctx = _ctx(request)
        page = lookup.person_page(ctx, atena_no)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        new = switch.replaced_by(ctx, atena_no)
        if new is not None:  # a 住登外者 switched to the register's 宛名番号 (a bookmark, an old list)
            messages.info(request, f"宛名番号 {atena_no} の住登外者は、転入により宛名番号 {new} に切り替わりました。")
            return HttpResponseRedirect(f"/people/{new}/?purpose={ctx.purpose}")
        return render(request, "people/not_found.html", {"message": str(exc)}, status=404)
    can_protect = Purpose.PROTECTION_MEASURE in ctx.allowed_purposes()
    can_switch = (page.person.source == Source.NON_REGISTERED
                  and Purpose.NONRESIDENT_REGISTRATION in ctx.allowed_purposes())
    return render(request, "people/person.html", {
        "page": page, "p": page.person, "purpose": ctx.purpose,
        "purpose_label": dict(search_purposes(ctx)).get(ctx.purpose, ctx.purpose),
        "can_protect": can_protect, "can_switch": can_switch, "staff_id": ctx.staff_id, "requested_by_me":
            page.protection.pending is not None and page.protection.pending.requested_by == ctx.username,
    })


# --- 支援措置 (purpose P04) -----------------------------------------------------------------------


def _p04(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.PROTECTION_MEASURE)


@login_required
@require_POST
def protection_request(request: HttpRequest, atena_no: str) -> HttpResponse:
    try:
        ctx = _p04(request)
        action = ProtectionAction(request.POST.get("action", ""))
        protection.request_change(ctx, atena_no, action, request.POST.get("note", ""))
        messages.success(request, f"支援措置の{action.label}を申請しました。別の職員の確認で有効になります。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except (InputRejected, ValueError) as exc:
        messages.error(request, str(exc) if isinstance(exc, InputRejected) else "操作が正しくありません。")
    return HttpResponseRedirect(f"/people/{atena_no}/")


@login_required
@require_POST
def protection_decide(request: HttpRequest, request_id: str, decision: str) -> HttpResponse:
    atena = request.POST.get("atena_no", "")
    try:
        ctx = _p04(request)
        if decision == "confirm":
            protection.confirm(ctx, int(request_id))
            messages.success(request, "支援措置の申請を確認しました。 / Confirmed.")
        else:
            protection.withdraw(ctx, int(request_id))
            messages.success(request, "支援措置の申請を取り下げました。 / Withdrawn.")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    if request.POST.get("back") == "pending":
        return HttpResponseRedirect("/people/protection/")
    return HttpResponseRedirect(f"/people/{atena}/" if atena.isdigit() else "/people/")


@login_required
@require_GET
def protection_pending(request: HttpRequest) -> HttpResponse:
    """確認待ちの支援措置申請 (city-wide, for the staff who confirm them; purpose P04)."""
    try:
        ctx = _p04(request)
        reqs = protection.pending_requests(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "people/protection_pending.html", {"reqs": reqs, "me": ctx.username})


# --- 住登外者 (purpose P03) -----------------------------------------------------------------------


def _p03(request: HttpRequest) -> AccessContext:
    return context_for_request(request, Purpose.NONRESIDENT_REGISTRATION)


class NonResidentForm(forms.Form):
    reason = forms.CharField(label="登録事由", max_length=200,
                             help_text="例: 里帰り出産中の乳児、施設入所者など、本市で接種対象とする理由")
    name_kanji = forms.CharField(label="氏名", max_length=100)
    name_kana = forms.CharField(label="フリガナ（カタカナ）", max_length=100)
    birth = forms.CharField(label="生年月日（西暦・和暦）", max_length=20)
    sex = forms.TypedChoiceField(label="性別", choices=Sex.choices, coerce=int, widget=forms.RadioSelect)
    postal_code = forms.CharField(label="郵便番号", max_length=8, required=False)
    address = forms.CharField(label="住所", max_length=300)
    address_extra = forms.CharField(label="方書", max_length=200, required=False)
    phone = forms.CharField(label="電話番号", max_length=30, required=False)
    # A password input is never rendered with its value: the number does not come back to the page.
    mynumber = forms.CharField(label="個人番号", max_length=20,
                               widget=forms.PasswordInput(attrs={"autocomplete": "off", "inputmode": "numeric"}))
    number_check = forms.ChoiceField(label="番号確認の方法", choices=NumberCheckMethod.choices)
    identity_documents = forms.MultipleChoiceField(label="本人確認書類（本人）", required=False,
                                                   choices=IdentityDocument.choices,
                                                   widget=forms.CheckboxSelectMultiple)
    agent_kind = forms.ChoiceField(label="申請者", choices=AgentKind.choices, required=False)
    agent_identity_documents = forms.MultipleChoiceField(label="本人確認書類（代理人）", required=False,
                                                         choices=IdentityDocument.choices,
                                                         widget=forms.CheckboxSelectMultiple)
    power_of_attorney_seen = forms.BooleanField(label="委任状を確認した", required=False)
    representation_document_seen = forms.BooleanField(label="代理権を証明する書類（戸籍謄本等）を確認した",
                                                      required=False)
    note = forms.CharField(label="備考（番号は書かない）", max_length=200, required=False)

    def clean_birth(self) -> date:
        try:
            return parse_date(self.cleaned_data.get("birth") or "")
        except DateFormatError as exc:
            raise forms.ValidationError(str(exc)) from None


@login_required
@require_http_methods(["GET", "POST"])
def nonresident_new(request: HttpRequest) -> HttpResponse:
    """住登外者の登録申請: the person's items, the My Number and the identity check."""
    try:
        ctx = _p03(request)
    except AccessDenied as exc:
        return _denied(request, exc)
    form = NonResidentForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        applicant = nonresidents.Applicant(
            name_kanji=d["name_kanji"], name_kana=d["name_kana"], birth_date=d["birth"], sex=d["sex"],
            address=d["address"], reason=d["reason"], postal_code=d["postal_code"],
            address_extra=d["address_extra"], phone=d["phone"],
        )
        v = Verification(
            number_check=d["number_check"], identity_documents=tuple(d["identity_documents"]),
            agent_kind=d["agent_kind"] or "", agent_identity_documents=tuple(d["agent_identity_documents"]),
            power_of_attorney_seen=d["power_of_attorney_seen"],
            representation_document_seen=d["representation_document_seen"], note=d["note"],
        )
        try:
            app_id, atena = nonresidents.apply(ctx, applicant, d["mynumber"], v)
            messages.success(request, f"住登外者の登録を申請しました（宛名番号 {atena}、申請 {app_id}）。"
                                      "別の職員が確認すると登録されます。")
            return HttpResponseRedirect("/people/nonresidents/")
        except AccessDenied as exc:
            return _denied(request, exc)
        except InputRejected as exc:
            error = str(exc)
    return render(request, "people/nonresident_new.html", {"form": form, "error": error})


@login_required
@require_GET
def nonresident_list(request: HttpRequest) -> HttpResponse:
    """確認待ちの住登外者申請."""
    try:
        ctx = _p03(request)
        apps = nonresidents.pending(ctx)
        switches = switch.pending(ctx)
        check, findings = jukinet.findings(ctx)
    except AccessDenied as exc:
        return _denied(request, exc)
    return render(request, "people/nonresidents.html", {"apps": apps, "switches": switches, "me": ctx.username,
                                                        "check": check, "findings": findings})


@login_required
@require_POST
def nonresident_decide(request: HttpRequest, application_id: str, decision: str) -> HttpResponse:
    try:
        ctx = _p03(request)
        if decision == "confirm":
            atena = nonresidents.confirm(ctx, int(application_id))
            messages.success(request, f"確認しました。住登外者として登録しました（宛名番号 {atena}）。")
        else:
            nonresidents.withdraw(ctx, int(application_id), request.POST.get("note", ""))
            messages.success(request, "申請を取り下げました（却下）。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect("/people/nonresidents/")


# --- 住登外者の転入による切替 (purpose P03) ---------------------------------------------------------


@login_required
@require_POST
def switch_request(request: HttpRequest, atena_no: str) -> HttpResponse:
    """Request the switch of this 住登外者 to the register's 宛名番号 (a second staff member confirms)."""
    try:
        ctx = _p03(request)
        switch.request(ctx, atena_no, request.POST.get("to_atena", ""), request.POST.get("note", ""))
        messages.success(request, "住民記録への切替を申請しました。別の職員が確認すると切り替わります。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(f"/people/{atena_no}/")


@login_required
@require_POST
def switch_decide(request: HttpRequest, switch_id: str, decision: str) -> HttpResponse:
    try:
        ctx = _p03(request)
        if decision == "confirm":
            atena = switch.confirm(ctx, int(switch_id))
            messages.success(request, f"確認しました。住民記録の宛名番号 {atena} に切り替えました。")
            return HttpResponseRedirect(f"/people/{atena}/?purpose={Purpose.NONRESIDENT_REGISTRATION.value}")
        switch.withdraw(ctx, int(switch_id), request.POST.get("note", ""))
        messages.success(request, "切替の申請を取り下げました（却下）。")
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect("/people/nonresidents/")


# --- 住民記録連携の結果と確認 (purpose P01; a 住基ネット check's items P03) ----------------------------

MODE_LABELS = {"full": "全件", "diff": "差分", "jkn": "住基ネット確認"}
# the batch record's summary keys and their parts, as staff read them
SUMMARY_LABELS = {"problems": "問題", "warnings": "警告", "mynumber": "個人番号", "status_changes": "住民区分の異動",
                  "findings": "要確認の内訳", "backdated": "異動日が記録より前の行",
                  "allow_backdated": "遡った異動日の取込（--allow-backdated）",
                  "mass_absent": f"ファイルにない人（記録の{services.MASS_ABSENT_SHARE:.0%}超）",
                  "allow_mass_absent": "多数の不在の取込（--allow-mass-absent）"}
PART_LABELS = {"inserted": "新規登録", "unchanged": "変更なし", "refused": "不受理"}


def _parts(counts: dict[str, Any]) -> dict[str, Any]:
    """A breakdown's counts in a fixed order (PostgreSQL's jsonb keeps keys in its own order), labelled."""
    order = [*PART_LABELS, *selectors.STATUS_CHANGE_LABELS, *jukinet.FINDING_LABELS]
    keys = sorted((k for k, n in counts.items() if not isinstance(n, (dict, list))),
                  key=lambda k: (order.index(k) if k in order else len(order), k))
    return {PART_LABELS.get(k) or selectors.STATUS_CHANGE_LABELS.get(k)
            or jukinet.FINDING_LABELS.get(k, k).split("（")[0]: counts[k] for k in keys}


BATCH_PAGE = 50  # batches per page of the history (about two months of daily runs)


def _batch_purpose(request: HttpRequest) -> Purpose:
    """The purpose a batch page is opened under: P03 when asked for (a 住基ネット check), else P01."""
    asked = request.POST.get("purpose") or request.GET.get("purpose")
    p03 = Purpose.NONRESIDENT_REGISTRATION
    return p03 if asked == p03.value else Purpose.RESIDENT_SYNC


def _batch_url(batch_id: int, purpose: Purpose) -> str:
    return f"/people/batches/{batch_id}/" + ("" if purpose is Purpose.RESIDENT_SYNC else f"?purpose={purpose.value}")


@login_required
@require_GET
def batch_list(request: HttpRequest) -> HttpResponse:
    """連携の履歴: the latest batches with their counts and how many listed items wait for review."""
    try:
        ctx = context_for_request(request, Purpose.RESIDENT_SYNC)
        before = request.GET.get("before", "")
        rows = selectors.batches(ctx, limit=BATCH_PAGE + 1, before=int(before) if before.isdigit() else None)
    except AccessDenied as exc:
        return _denied(request, exc)
    more = len(rows) > BATCH_PAGE
    rows = rows[:BATCH_PAGE]
    counts = review.open_counts([b.id for b in rows])
    return render(request, "people/batches.html", {
        "rows": [(b, MODE_LABELS.get(b.mode, b.mode), counts.get(b.id, (0, 0))) for b in rows],
        "older": rows[-1].id if more else None, "paged": before.isdigit(), "page_size": BATCH_PAGE})


@login_required
@require_GET
def batch_detail(request: HttpRequest, batch_id: str) -> HttpResponse:
    """One batch: file, who, counts; and what it left for review (persons missing from a complete
    snapshot, 住基ネット findings) with a form to record each review. The list is one READ entry
    naming the persons shown, under the items' own purpose."""
    try:
        ctx = context_for_request(request, _batch_purpose(request))
        b = selectors.batch(ctx, int(batch_id))
        if ctx.purpose != review.purpose_of(b.mode).value:
            # a 住基ネット check is P03's work, an import P01's: the page is read under the batch's own
            # purpose, so a 決裁者 (P03 only) can open a check from the 住登外者 page
            return HttpResponseRedirect(_batch_url(b.id, review.purpose_of(b.mode)))
        items: list[review.ReviewItem] = []
        listing = review.lists_items(b.status, b.mode)
        if listing:
            _, items = review.items(ctx, b.id)
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        return render(request, "people/not_found.html", {"message": str(exc), "title": "バッチが見つかりません"},
                      status=404)
    show = request.GET.get("show", "open")
    shown = [i for i in items if show == "all" or not i.reviewed]
    purpose = review.purpose_of(b.mode)
    return render(request, "people/batch.html", {
        "b": b, "mode_label": MODE_LABELS.get(b.mode, b.mode), "listing": listing, "items": shown, "total": len(items),
        "open": sum(1 for i in items if not i.reviewed), "show": show, "purpose": purpose.value,
        "summary": sorted((SUMMARY_LABELS.get(k, k), "指定あり" if v is True else v) for k, v in b.summary.items()
                          if not isinstance(v, (dict, list))),
        "breakdowns": sorted((SUMMARY_LABELS.get(k, k), _parts(v)) for k, v in b.summary.items()
                             if isinstance(v, dict) and v),
    })


@login_required
@require_POST
def batch_review(request: HttpRequest, batch_id: str, atena_no: str) -> HttpResponse:
    """確認の記録: the note says what was found (never a number)."""
    try:
        ctx = context_for_request(request, _batch_purpose(request))
        n = review.mark(ctx, int(batch_id), atena_no, request.POST.get("note", ""))
        messages.success(request, f"宛名番号 {atena_no} の確認を記録しました"
                                  + (f"（後のバッチの同じ項目 {n - 1} 件にも）。" if n > 1 else "。"))
    except AccessDenied as exc:
        return _denied(request, exc)
    except InputRejected as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(_batch_url(int(batch_id), _batch_purpose(request)))
