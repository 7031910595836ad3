"""Residents' requests (開示・訂正・利用停止請求; 001 V): register, disclose, correct, suspend.

- ``register`` a request for a person; a person who does not exist is refused with the same words
  as any unverifiable request, so the refusal reveals nothing.
- ``disclosure_set`` gathers everything held on the person — each app contributes its part
  through ``registry.register_disclosure`` — and every access-log entry about them; ``write_disclosure``
  writes it as a readable PDF and a machine-readable JSON for the resident (G01, operation export).
- ``record_correction`` keeps the item, before, after and the decision; applying an accepted
  correction is the owning app's own service (the record names it).
- ``decide_suspension`` sets 利用停止 in ``people`` (``people.services.set_use_suspension``), which the
  rest of the system reads through ``people.selectors.is_use_suspended`` / ``suspended_among``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from yobo.audit import selectors as audit_selectors
from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import OPERATION_LABELS, PURPOSE_LABELS, Operation, Purpose, parse_purpose
from yobo.people import selectors as people_selectors
from yobo.people import services as people_services
from yobo.people import switch

from . import registry
from .models import Correction, RequestKind, RequestState, ResidentRequest

RESOURCE = "governance.request"
DECISION_DAYS = 30  # 開示決定等の期限 (個人情報保護法 第83条: 30日以内)
NOT_ACCEPTED = ("この請求は受け付けられません。請求書の記載内容を確認してください。"
                " / The request cannot be accepted; check the details given.")


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def _g01(ctx: AccessContext) -> AccessContext:
    return ctx.for_purpose(Purpose.DISCLOSURE_REQUEST)


@dataclass(frozen=True, slots=True)
class RequestView:
    id: int
    kind: str
    atena_no: str
    requester: str
    identity_check: str
    detail: str
    received_on: date
    due_on: date
    state: str
    decision: str
    decision_reason: str
    received_by: str
    decided_by: str | None
    corrections: list[dict[str, Any]] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return RequestKind(self.kind).label

    @property
    def state_label(self) -> str:
        return RequestState(self.state).label


def _view(r: ResidentRequest) -> RequestView:
    cs = [{"item": c.item, "before": c.before, "after": c.after, "decision": c.decision, "reason": c.reason,
           "recorded_by": c.recorded_by.get_username(), "recorded_at": c.recorded_at.isoformat()}
          for c in r.corrections.select_related("recorded_by").order_by("pk")]
    return RequestView(r.pk, r.kind, r.atena_no, r.requester, r.identity_check, r.detail, r.received_on, r.due_on,
                       r.state, r.decision, r.decision_reason, r.received_by.get_username(),
                       r.decided_by.get_username() if r.decided_by else None, cs)


def register(ctx: AccessContext, *, kind: RequestKind | str, atena_no: str, identity_check: str,
             requester: str = "本人", detail: str = "", received_on: date | None = None) -> int:
    """Register a request (受付); returns its number. The decision is due in 30 days."""
    g = _g01(ctx)
    a = str(atena_no).strip()
    k = str(kind)
    if k not in RequestKind.values:
        raise InputRejected(f"請求の種類は {', '.join(RequestKind.values)} です。 / Unknown request kind.")
    if not identity_check.strip():
        raise InputRejected("本人確認の方法（書類の種類）を入力してください。 / Give how identity was checked.")
    try:
        people_selectors.get_person(g, a)
    except people_selectors.PersonNotFound:
        raise InputRejected(NOT_ACCEPTED) from None
    d = received_on or timezone.localdate()
    with door(g, Operation.CREATE, resource=RESOURCE, target=a, detail=f"register {k}"):
        r = ResidentRequest.objects.create(
            municipality=_m(), kind=k, atena_no=a, requester=requester.strip()[:10] or "本人",
            identity_check=identity_check.strip()[:200], detail=detail.strip()[:500], received_on=d,
            due_on=d + timedelta(days=DECISION_DAYS), received_by_id=ctx.staff_id,
        )
        return r.pk


def _get(request_id: int, lock: bool = False) -> ResidentRequest:
    qs = ResidentRequest.objects.filter(pk=request_id, municipality=_m())
    r = (qs.select_for_update() if lock else qs.select_related("received_by", "decided_by")).first()
    if r is None:
        raise InputRejected(f"請求 {request_id} がありません。 / No request {request_id}.")
    return r


def get(ctx: AccessContext, request_id: int) -> RequestView:
    with door(_g01(ctx), Operation.READ, resource=RESOURCE) as rec:
        r = _get(request_id)
        rec.targets = [r.atena_no]
        return _view(r)


def list_requests(ctx: AccessContext, *, state: str | None = None, limit: int = 200) -> list[RequestView]:
    with door(_g01(ctx), Operation.SEARCH, resource=RESOURCE) as rec:
        qs = ResidentRequest.objects.filter(municipality=_m()).select_related("received_by", "decided_by")
        if state:
            qs = qs.filter(state=state)
        rows = [_view(r) for r in qs.order_by("-received_on", "-pk")[:limit]]
        rec.targets = sorted({r.atena_no for r in rows}) or [""]
    return rows


def decide(ctx: AccessContext, request_id: int, decision: str, reason: str = "") -> None:
    """Record the decision (決定): granted / partial / refused, with the reason."""
    if decision not in ("granted", "partial", "refused"):
        raise InputRejected("決定は granted / partial / refused のいずれかです。 / Unknown decision.")
    with door(_g01(ctx), Operation.UPDATE, resource=RESOURCE) as rec:
        r = _get(request_id, lock=True)
        rec.targets, rec.detail = [r.atena_no], f"decide {r.kind} {decision}"
        if r.state != RequestState.RECEIVED:
            raise InputRejected("この請求は決定済みです。 / Already decided.")
        if decision != "granted" and not reason.strip():
            raise InputRejected("一部開示・不開示等の理由を入力してください。 / Give the reason.")
        r.state, r.decision, r.decision_reason = RequestState.DECIDED, decision, reason.strip()[:500]
        r.decided_by_id, r.decided_at = ctx.staff_id, timezone.now()
        r.save(update_fields=["state", "decision", "decision_reason", "decided_by", "decided_at"])


def close(ctx: AccessContext, request_id: int) -> None:
    with door(_g01(ctx), Operation.UPDATE, resource=RESOURCE) as rec:
        r = _get(request_id, lock=True)
        rec.targets, rec.detail = [r.atena_no], "close"
        if r.state != RequestState.DECIDED:
            raise InputRejected("決定前の請求は完了にできません。 / Decide before closing.")
        r.state, r.closed_at = RequestState.CLOSED, timezone.now()
        r.save(update_fields=["state", "closed_at"])


def record_correction(ctx: AccessContext, request_id: int, *, item: str, before: str, after: str,
                      decision: str, reason: str = "") -> None:
    """Record one item of a correction request (訂正): before, after, accepted or refused, why."""
    if decision not in ("accepted", "refused"):
        raise InputRejected("訂正の決定は accepted / refused です。 / Decision must be accepted or refused.")
    with door(_g01(ctx), Operation.UPDATE, resource=RESOURCE) as rec:
        r = _get(request_id, lock=True)
        rec.targets, rec.detail = [r.atena_no], f"correction {item[:40]} {decision}"
        if r.kind != RequestKind.CORRECTION:
            raise InputRejected("訂正請求ではありません。 / Not a correction request.")
        if not item.strip():
            raise InputRejected("訂正する項目を入力してください。 / Give the item.")
        Correction.objects.create(request=r, item=item.strip()[:100], before=before[:500], after=after[:500],
                                  decision=decision, reason=reason.strip()[:500], recorded_by_id=ctx.staff_id,
                                  recorded_at=timezone.now())


def decide_suspension(ctx: AccessContext, request_id: int, *, grant: bool, reason: str, scope: str = "") -> None:
    """Decide a suspension request (利用停止): when granted, the person's data is suspended in ``people``
    in the same transaction as the decision."""
    g = _g01(ctx)
    r = _get(request_id)
    if r.kind != RequestKind.SUSPENSION:
        raise InputRejected("利用停止請求ではありません。 / Not a suspension request.")
    with door(g, Operation.UPDATE, resource=RESOURCE, target=r.atena_no, detail=f"suspension grant={grant}"):
        decide(ctx, request_id, "granted" if grant else "refused", reason)
        if grant:
            people_services.set_use_suspension(g, r.atena_no, True, reason=reason or "利用停止請求",
                                               scope=scope, request_ref=f"G{r.pk}")


def lift_suspension(ctx: AccessContext, atena_no: str) -> bool:
    return people_services.set_use_suspension(_g01(ctx), atena_no, False)


# --- 開示 (the disclosure set) ---------------------------------------------------------------------


def _jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return timezone.localtime(v).isoformat(timespec="seconds") if timezone.is_aware(v) else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def _person_part(ctx: AccessContext, a: str) -> list[dict[str, Any]]:
    p = people_selectors.get_person(ctx, a)
    row = {k: _jsonable(v) for k, v in asdict(p).items()}
    row["sex"], row["status"] = p.sex_label, p.status_label
    return [row]


def _history_part(ctx: AccessContext, a: str) -> list[dict[str, Any]]:
    return [{"changed_at": _jsonable(h.changed_at), "kind": h.kind, "changes": h.changes,
             "status_date": _jsonable(h.status_date), "status_reason": h.status_reason}
            for h in people_selectors.history(ctx, a)]


def _suspension_part(ctx: AccessContext, a: str) -> list[dict[str, Any]]:
    return [{"use_suspended": people_selectors.is_use_suspended(ctx, a)}]


def _requests_part(ctx: AccessContext, a: str) -> list[dict[str, Any]]:
    rows = ResidentRequest.objects.filter(municipality=_m(), atena_no=a).order_by("pk")
    return [{"id": r.pk, "kind": r.get_kind_display(), "received_on": r.received_on.isoformat(),
             "state": r.get_state_display(), "decision": r.decision} for r in rows]


def access_log_about(ctx: AccessContext, atena_no: str) -> list[dict[str, Any]]:
    """Every access-log entry whose target is the person, oldest first (no My Number is ever logged):
    under their 宛名番号 and under the 住登外者 宛名番号 they had before a switch (people.switch)."""
    former = tuple(switch.former_atenas(ctx, atena_no))
    return sorted(_log_entries(ctx, audit_selectors.LogFilter(target=atena_no, former=former)),
                  key=lambda r: r["seq"])


def _log_entries(ctx: AccessContext, flt: audit_selectors.LogFilter) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before: int | None = None
    while True:
        page = audit_selectors.list_entries(ctx, flt, before=before, per_page=500)
        for e in page.entries:
            p = parse_purpose(e.purpose)
            try:
                op = OPERATION_LABELS[Operation(e.operation)]
            except ValueError:
                op = e.operation
            out.append({"seq": e.seq, "at": _jsonable(e.at), "staff": e.staff, "department": e.department,
                        "terminal": e.terminal, "purpose": e.purpose,
                        "purpose_label": PURPOSE_LABELS[p] if p else "", "operation": op, "result": e.result})
        if not page.has_more:
            break
        before = page.next_before
    return out


BUILTIN_PARTS = (
    registry.DisclosurePart("people.person", "宛名情報 (氏名・住所等)", _person_part, order=10),
    registry.DisclosurePart("people.history", "異動・変更履歴", _history_part, order=11),
    registry.DisclosurePart("people.suspension", "利用停止の状況", _suspension_part, order=12),
    registry.DisclosurePart("governance.requests", "開示・訂正・利用停止請求の記録", _requests_part, order=90),
)


def disclosure_set(ctx: AccessContext, request_id: int) -> dict[str, Any]:
    """Everything held on the request's person, part by part, and every access-log entry about them
    up to this moment (the disclosure itself is logged too, as the next entry)."""
    g = _g01(ctx)
    r = _get(request_id)
    if r.kind != RequestKind.DISCLOSURE:
        raise InputRejected("開示請求ではありません。 / Not a disclosure request.")
    a = r.atena_no
    with door(g, Operation.EXPORT, resource=RESOURCE, target=a, detail=f"disclosure set request={r.pk}"):
        parts = []
        for p in registry.disclosure_parts():
            parts.append({"code": p.code, "label": p.label,
                          "rows": [{k: _jsonable(v) for k, v in row.items()} for row in p.collect(g, a)]})
        log = access_log_about(g, a)
    return {"format": "yobo.disclosure/1", "municipality": _m(), "request_id": r.pk, "atena_no": a,
            "produced_at": _jsonable(timezone.now()), "produced_by": ctx.username, "parts": parts,
            "access_log": log}


def write_disclosure(ctx: AccessContext, request_id: int, out_dir: Path | str) -> tuple[Path, Path, dict[str, Any]]:
    """Write the disclosure set for the resident: ``<n>.json`` (machine-readable) and ``<n>.pdf``."""
    data = disclosure_set(ctx, request_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    stem = f"disclosure-{data['municipality']}-{request_id}"
    jpath, ppath = out / f"{stem}.json", out / f"{stem}.pdf"
    jpath.write_text(json.dumps(data, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    _pdf(ppath, data)
    return jpath, ppath, data


def _pdf(path: Path, data: dict[str, Any]) -> None:
    from .pdf import Doc

    d = Doc(path, "保有個人情報開示 (Disclosure of personal data)")
    d.line(f"請求番号 {data['request_id']}   宛名番号 {data['atena_no']}   作成 {data['produced_at']}")
    for part in data["parts"]:
        d.heading(part["label"])
        if not part["rows"]:
            d.line("（該当なし）")
        for row in part["rows"]:
            for k, v in row.items():
                d.line(f"{k}: {v}", indent=8)
            d.y -= 3
    d.heading(f"あなたの情報へのアクセス記録 ({len(data['access_log'])}件)")
    d.table(["日時", "職員", "所属", "端末", "処理事由", "操作", "結果"],
            [[r["at"][:19].replace("T", " "), r["staff"], r["department"], r["terminal"],
              f"{r['purpose']} {r['purpose_label']}", r["operation"], r["result"]] for r in data["access_log"]],
            [0.17, 0.12, 0.1, 0.13, 0.28, 0.12, 0.08])
    d.save()


def waiting_work() -> list[tuple[str, str, int]]:
    """Residents' requests received and not yet decided, as (purpose code, label, count)."""
    n = ResidentRequest.objects.filter(municipality=_m(), state=RequestState.RECEIVED).count()
    return [(Purpose.DISCLOSURE_REQUEST.value, "未決定", n)] if n else []
