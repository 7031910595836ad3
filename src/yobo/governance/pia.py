"""Live PIA evidence (特定個人情報保護評価の実施状況): ``yobo pia report``, the self-inspection checklist
(自己点検) pre-filled from the facts, and the PIA change log (変更箇所).

The record items of each personal-information file come from the live schema (Django's model
registry: tables and columns, no values), like 別添2. Counts are row counts or account counts,
shown as the ranges the PIA form uses. This is the one place governance looks at other apps' tables,
and only for ``count()``; everything else comes through their selectors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.utils import timezone

from yobo.access import selectors as access_selectors
from yobo.audit import review as audit_review
from yobo.audit import selectors as audit_selectors
from yobo.audit.door import door
from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected
from yobo.core.purposes import DUTY_PURPOSES, Operation, Purpose
from yobo.exports import registry as export_registry
from yobo.exports import selectors as export_selectors

from . import registry, retention
from .models import PiaChange, PiaSnapshot, RequestState, ResidentRequest, SelfInspection

RESOURCE = "governance.pia"

# 特定個人情報ファイル and the apps whose tables make it up (別添2 of the seeds: one file, 予防接種).
FILES: dict[str, tuple[str, ...]] = {
    "予防接種に関する事務ファイル": ("people", "mynumber", "immunizations", "notices", "certificates", "fees",
                                     "relief", "exchange"),
    "アクセス記録・媒体管理等の管理ファイル": ("audit", "exports", "governance"),
}

PERSON_RANGES = ((10_000, "1万人未満"), (100_000, "1万人以上10万人未満"), (1_000_000, "10万人以上100万人未満"),
                 (10_000_000, "100万人以上1,000万人未満"), (None, "1,000万人以上"))
STAFF_RANGES = ((10, "10人未満"), (50, "10人以上50人未満"), (100, "50人以上100人未満"), (500, "100人以上500人未満"),
                (1_000, "500人以上1,000人未満"), (None, "1,000人以上"))
RETENTION_CHOICES = ((1, "1年未満"), (2, "1年"), (3, "2年"), (4, "3年"), (5, "4年"), (6, "5年"),
                     (10, "6年以上10年未満"), (20, "10年以上20年未満"), (None, "20年以上"))


def _m() -> str:
    return settings.MUNICIPALITY_CODE


def range_label(n: int, ranges: tuple[tuple[int | None, str], ...]) -> str:
    """The PIA form's range for ``n`` (e.g. 10万人以上100万人未満)."""
    for upper, label in ranges:
        if upper is None or n < upper:
            return label
    raise AssertionError("unreachable")  # pragma: no cover


def retention_choice(years: int) -> str:
    for upper, label in RETENTION_CHOICES:
        if upper is None or years < upper:
            return label
    raise AssertionError("unreachable")  # pragma: no cover


def schema_items() -> list[dict[str, Any]]:
    """The record items of each file, from the live schema (別添2): table, name, columns."""
    out = []
    for fname, labels in FILES.items():
        tables = []
        for label in labels:
            try:
                cfg = apps.get_app_config(label)
            except LookupError:
                continue
            for model in cfg.get_models():
                meta = model._meta
                cols = [{"name": f.column, "label": str(getattr(f, "verbose_name", f.name)),
                         "type": f.get_internal_type()} for f in meta.concrete_fields]
                tables.append({"app": label, "table": meta.db_table, "name": str(meta.verbose_name),
                               "doc": (model.__doc__ or "").strip().splitlines()[0] if model.__doc__ else "",
                               "columns": cols})
        out.append({"file": fname, "tables": tables})
    return out


def _count(label: str, model: str, **flt: Any) -> int:
    try:
        m = apps.get_model(label, model)
    except LookupError:
        return 0
    return int(m.objects.filter(**flt).count())  # type: ignore[attr-defined]


def facts(ctx: AccessContext) -> dict[str, Any]:
    """The PIA-relevant settings and counts now (no personal data)."""
    staff = access_selectors.list_staff(ctx, include_revoked=False)
    usable = [s for s in staff if s.inactive_reason() is None]
    with door(ctx, Operation.READ, resource=RESOURCE, detail="pia facts (counts only)"):
        persons = _count("people", "Person", municipality=_m())
        linked = _count("mynumber", "MyNumberLink")
    rules = retention.rules(ctx)
    return {
        "persons": persons,
        "persons_range": range_label(persons, PERSON_RANGES),
        "mynumber_linked": linked,
        "mynumber_linked_range": range_label(linked, PERSON_RANGES),
        "staff_with_access": len(usable),
        "staff_with_access_range": range_label(len(usable), STAFF_RANGES),
        "staff_with_mynumber_right": sum(1 for s in usable if s.mynumber_right),
        "staff_with_mynumber_right_range": range_label(sum(1 for s in usable if s.mynumber_right), STAFF_RANGES),
        "contractor_accounts": sum(1 for s in usable if s.is_contractor),
        "contractor_companies": sorted({s.contractor_company for s in usable if s.is_contractor}),
        "retention": {r.record_type: {"label": r.label, "years": r.years, "choice": retention_choice(r.years),
                                      "action": r.action, "basis": r.basis} for r in rules},
        "export_kinds": {k.code: {"label": k.label, "items": list(k.items)} for k in export_registry.all_kinds()},
        "duty_policy": {d.value: sorted(p.value for p in ps) for d, ps in DUTY_PURPOSES.items()},
    }


def record_counts(ctx: AccessContext, as_of: date | None = None) -> dict[str, dict[str, Any]]:
    """Per registered record type: records held now and those due on ``as_of`` under the rule in
    force (counts only, through each app's registered functions). Not a tracked fact: counts move daily."""
    d = as_of or timezone.localdate()
    years = {r.record_type: r.years for r in retention.rules(ctx)}
    out: dict[str, dict[str, Any]] = {}
    with door(ctx, Operation.READ, resource=RESOURCE, detail="pia record counts (counts only)"):
        for t in registry.record_types():
            y = years.get(t.code, t.default_years)
            cutoff = retention.years_before(d, y)
            out[t.code] = {"label": t.label, "years": y, "cutoff": cutoff.isoformat(),
                           "held": int(t.count_held(ctx)) if t.count_held else None,
                           "due": int(t.count_due(ctx, cutoff))}
    return out


# Which facts are PIA items, and how a change to them is described in the change log.
TRACKED = {
    "persons_range": "I 2. 特定個人情報ファイルの対象となる本人の数",
    "staff_with_access_range": "II 3. 特定個人情報ファイルの取扱いの委託/取扱者数",
    "contractor_companies": "II 4. 特定個人情報ファイルの取扱いの委託 (委託先)",
    "retention": "II 6. 特定個人情報の保管・消去 ②保管期間",
    "export_kinds": "III 3. リスク4 (外部媒体への出力の種類)",
    "duty_policy": "III 3. リスク2 (アクセス権限の管理: 職責と処理事由)",
}


def _short(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, sort_keys=True, default=str)[:2000]


def detect_changes(ctx: AccessContext) -> list[int]:
    """Compare the PIA facts with the last snapshot; record each difference as a change (source auto).
    The first call only takes the snapshot. Returns the ids of the changes recorded."""
    now_facts = facts(ctx)
    with door(ctx, Operation.CREATE if _can_create(ctx) else Operation.READ, resource=RESOURCE,
              detail="pia detect changes") as rec:
        last = PiaSnapshot.objects.filter(municipality=_m()).order_by("-taken_at", "-pk").first()
        ids: list[int] = []
        if last is not None:
            for key, item in TRACKED.items():
                before, after = last.facts.get(key), now_facts.get(key)
                if _short(before) != _short(after):
                    ids.append(_record(ctx, item=item, before=_short(before), after=_short(after), source="auto"))
        if last is None or ids:
            PiaSnapshot.objects.create(municipality=_m(), taken_at=timezone.now(), facts=now_facts)
        rec.detail = f"pia detect changes n={len(ids)}"
    return ids


def _can_create(ctx: AccessContext) -> bool:
    from yobo.core.context import check

    return check(ctx, Operation.CREATE) is None


def _record(ctx: AccessContext, *, item: str, before: str, after: str, source: str,
            changed_on: date | None = None) -> int:
    c = PiaChange.objects.create(municipality=_m(), changed_on=changed_on or timezone.localdate(), item=item[:300],
                                 before=before, after=after, source=source, recorded_by=ctx.username,
                                 recorded_at=timezone.now())
    return c.pk


def record_change(ctx: AccessContext, *, item: str, before: str, after: str, source: str = "manual",
                  changed_on: date | None = None) -> int:
    """Record a change to a PIA item (変更箇所); its importance and submission are assessed after."""
    with door(ctx, Operation.CREATE, resource=RESOURCE, detail=f"pia change {item[:60]}"):
        if not item.strip():
            raise InputRejected("変更した項目を入力してください。 / Give the item.")
        return _record(ctx, item=item, before=before, after=after, source=source, changed_on=changed_on)


IMPORTANT_AFTER = ("重要な変更は事前に評価書を提出する必要があります。事後の記録になっています。"
                   " / An important change must be submitted before it takes effect; this one is recorded after.")


def assess_change(ctx: AccessContext, change_id: int, *, important: bool, submission: str,
                  explanation: str = "") -> str | None:
    """Record whether a change is important (重要な変更) and submitted before or after (事前/事後).
    Returns a warning when an important change is recorded after the fact."""
    if submission not in ("before", "after"):
        raise InputRejected("提出時期は before (事前) か after (事後) です。 / Submission is before or after.")
    with door(ctx, Operation.UPDATE if _can_update(ctx) else Operation.CREATE, resource=RESOURCE,
              detail=f"pia assess change={change_id}"):
        c = PiaChange.objects.select_for_update().filter(pk=change_id, municipality=_m()).first()
        if c is None:
            raise InputRejected(f"変更記録 {change_id} がありません。 / No change {change_id}.")
        c.important, c.submission, c.explanation = important, submission, explanation.strip()[:300]
        c.save(update_fields=["important", "submission", "explanation"])
    return IMPORTANT_AFTER if important and submission == "after" else None


def _can_update(ctx: AccessContext) -> bool:
    from yobo.core.context import check

    return check(ctx, Operation.UPDATE) is None


def changes(ctx: AccessContext, date_from: date | None = None, date_to: date | None = None) -> list[dict[str, Any]]:
    with door(ctx, Operation.READ, resource=RESOURCE, detail="pia changes"):
        qs = PiaChange.objects.filter(municipality=_m())
        if date_from:
            qs = qs.filter(changed_on__gte=date_from)
        if date_to:
            qs = qs.filter(changed_on__lte=date_to)
        out = []
        for c in qs.order_by("changed_on", "pk"):
            out.append({"id": c.pk, "changed_on": c.changed_on.isoformat(), "item": c.item, "before": c.before,
                        "after": c.after, "important": c.important, "submission": c.submission,
                        "explanation": c.explanation, "source": c.source, "recorded_by": c.recorded_by,
                        "warning": IMPORTANT_AFTER if c.important and c.submission == "after" else
                        ("未評価 / not assessed" if c.important is None else "")})
    return out


def build_report(ctx: AccessContext, date_from: date, date_to: date, *, verify: bool = False) -> dict[str, Any]:
    """The whole report as a JSON-ready dict. ``ctx`` acts for A02 (監査); ``verify`` runs the
    access-log verification now instead of quoting the latest run."""
    ctx = ctx.for_purpose(Purpose.AUDIT_REVIEW)
    f = facts(ctx)
    if verify:
        from yobo.audit.services import run_verify

        run_verify(ctx)
    vr = audit_selectors.latest_verify_run()
    rep = audit_review.review(ctx, date_from, date_to)
    ex = export_selectors.summary(ctx, date_from, date_to)
    runs = retention.runs(ctx, date_from=date_from, date_to=date_to)
    with door(ctx, Operation.READ, resource=RESOURCE, detail="pia report requests"):
        reqs = ResidentRequest.objects.filter(municipality=_m(), received_on__gte=date_from, received_on__lte=date_to)
        req_counts: dict[str, int] = {}
        for k in reqs.values_list("kind", flat=True):
            req_counts[k] = req_counts.get(k, 0) + 1
        late = ResidentRequest.objects.filter(municipality=_m(), state=RequestState.RECEIVED,
                                              due_on__lt=timezone.localdate()).count()
    ch = changes(ctx, date_from, date_to)
    report: dict[str, Any] = {
        "format": "yobo.pia-report/1",
        "municipality": _m(),
        "period": {"from": date_from.isoformat(), "to": date_to.isoformat()},
        "produced_at": timezone.localtime().isoformat(timespec="seconds"),
        "produced_by": ctx.username,
        "files": schema_items(),
        "counts": {k: f[k] for k in ("persons", "persons_range", "mynumber_linked", "mynumber_linked_range",
                                     "staff_with_access", "staff_with_access_range", "staff_with_mynumber_right",
                                     "staff_with_mynumber_right_range", "contractor_accounts",
                                     "contractor_companies")},
        "retention": f["retention"],
        "records": record_counts(ctx),
        "exports": asdict(ex),
        "deletions": [asdict(r) for r in runs],
        "access_log_verification": (
            {"at": vr.at.isoformat(), "ok": vr.ok, "entries": vr.entries, "broken_seq": vr.broken_seq,
             "kind": vr.kind} if vr else None),
        "review": {"entries": rep.entries, "after_hours": len(rep.after_hours), "holiday": len(rep.holiday),
                   "failed_logins": len(rep.failed_logins), "denied": len(rep.denied),
                   "bulk_reads": len(rep.bulk_reads)},
        "resident_requests": {"by_kind": req_counts, "overdue": late},
        "export_kinds": f["export_kinds"],
        "changes": ch,
    }
    report["self_inspection"] = checklist(report)
    return report


def checklist(report: dict[str, Any]) -> list[dict[str, Any]]:
    """自己点検 items pre-filled from the facts; ``suggested`` is yes/no, for a person to confirm."""
    vr = report["access_log_verification"]
    ex = report["exports"]
    rv = report["review"]
    dose = report["retention"].get("immunizations.dose")
    unassessed = [c for c in report["changes"] if c["important"] is None]
    late_changes = [c for c in report["changes"] if c["important"] and c["submission"] == "after"]
    deletions_done = [r for r in report["deletions"] if r["state"] == "done"]

    def item(code: str, q: str, ok: bool, facts: str) -> dict[str, Any]:
        return {"code": code, "question": q, "facts": facts, "suggested": "yes" if ok else "no"}

    return [
        item("log-verify", "アクセス記録の改ざんがないことを検証したか",
             bool(vr and vr["ok"]),
             f"最新の検証: {vr['at'][:10]} {'正常' if vr['ok'] else '異常'}" if vr else "検証記録なし"),
        item("log-review", "アクセス記録を定期的に点検し、不審なアクセスを確認したか", rv["entries"] > 0,
             f"期間内 {rv['entries']}件, 時間外 {rv['after_hours']}, 休日 {rv['holiday']}, 拒否 {rv['denied']}, "
             f"大量参照 {rv['bulk_reads']}"),
        item("exports-approved", "外部媒体への出力はすべて承認を得て暗号化して行ったか", True,
             f"出力 {ex['produced']}件 (申請 {ex['requests']}, 却下 {ex['rejected']}); 承認外の出力は仕組み上不可"),
        item("exports-deleted", "提供先での消去を期限内に確認したか", ex["deletions_overdue"] == 0,
             f"消去確認 {ex['deletions_confirmed']}件, 期限超過 {ex['deletions_overdue']}件"),
        item("retention", "保存期間を過ぎた記録を手順に従い削除したか", bool(deletions_done),
             f"完了した削除処理 {len(deletions_done)}件"),
        item("dose-5y", "接種記録を5年以上保存しているか", dose is None or dose["years"] >= 5,
             f"接種記録の保存期間: {dose['years']}年" if dose else "接種記録の種類は未登録"),
        item("requests", "開示・訂正・利用停止請求に期限内に対応したか",
             report["resident_requests"]["overdue"] == 0,
             f"期間内の請求 {sum(report['resident_requests']['by_kind'].values())}件, "
             f"期限超過 {report['resident_requests']['overdue']}件"),
        item("accounts", "委託先アカウント・個人番号参照権限を必要最小限としているか", True,
             f"利用可能な職員 {report['counts']['staff_with_access']}人, 個人番号参照権限 "
             f"{report['counts']['staff_with_mynumber_right']}人, 委託先 {report['counts']['contractor_accounts']}人"),
        item("pia-changes", "評価書の記載事項の変更を記録し、重要な変更を事前に提出したか",
             not unassessed and not late_changes,
             f"変更 {len(report['changes'])}件, 未評価 {len(unassessed)}件, "
             f"重要な変更の事後記録 {len(late_changes)}件"),
    ]


def record_inspection(ctx: AccessContext, fiscal_year: int, date_from: date, date_to: date,
                      answers: dict[str, tuple[str, str]], summary: str = "") -> int:
    """Record the confirmed self-inspection (自己点検の結果): ``answers`` maps each item code to
    (yes/no/na, note). Every item of the pre-filled checklist must be answered."""
    rep = build_report(ctx, date_from, date_to)
    items = rep["self_inspection"]
    missing = [i["code"] for i in items if i["code"] not in answers]
    bad = [c for c, (a, _) in answers.items() if a not in ("yes", "no", "na")]
    if missing or bad:
        raise InputRejected(f"未回答の項目があります: {', '.join(missing + bad)} / Unanswered or invalid items.")
    results = [{**i, "answer": answers[i["code"]][0], "note": answers[i["code"]][1][:300]} for i in items]
    with door(ctx.for_purpose(Purpose.AUDIT_REVIEW), Operation.CREATE, resource=RESOURCE,
              detail=f"self inspection {fiscal_year}"):
        s = SelfInspection.objects.create(
            municipality=_m(), fiscal_year=fiscal_year, period_from=date_from, period_to=date_to, results=results,
            summary=summary.strip()[:500], inspector_id=ctx.staff_id, recorded_at=timezone.now())
        return s.pk


def inspections(ctx: AccessContext) -> list[dict[str, Any]]:
    with door(ctx.for_purpose(Purpose.AUDIT_REVIEW), Operation.READ, resource=RESOURCE, detail="inspections"):
        return [{"id": s.pk, "fiscal_year": s.fiscal_year, "period_from": s.period_from.isoformat(),
                 "period_to": s.period_to.isoformat(), "inspector": s.inspector.get_username(),
                 "recorded_at": s.recorded_at.isoformat(), "summary": s.summary, "results": s.results}
                for s in SelfInspection.objects.filter(municipality=_m()).select_related("inspector")
                .order_by("-fiscal_year", "-pk")]


def report_digest(report: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(report, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def write_pdf(report: dict[str, Any], path: Path) -> None:
    """The report as a readable PDF (fonts embedded)."""
    from .pdf import Doc

    d = Doc(path, "特定個人情報保護評価 実施状況報告 (PIA evidence)")
    p = report["period"]
    d.line(f"地方公共団体コード {report['municipality']}   期間 {p['from']} 〜 {p['to']}   作成 {report['produced_at']}"
           f"   作成者 {report['produced_by']}")
    c = report["counts"]
    d.heading("1. 対象となる本人の数・取扱者数")
    d.table(["項目", "件数", "評価書の区分"], [
        ["特定個人情報ファイルの対象となる本人の数 (宛名)", c["persons"], c["persons_range"]],
        ["個人番号が紐付いている本人の数", c["mynumber_linked"], c["mynumber_linked_range"]],
        ["取扱者数 (利用可能な職員アカウント)", c["staff_with_access"], c["staff_with_access_range"]],
        ["個人番号参照権限のある職員", c["staff_with_mynumber_right"], c["staff_with_mynumber_right_range"]],
        ["委託先アカウント", c["contractor_accounts"], ", ".join(c["contractor_companies"])],
    ], [0.55, 0.15, 0.30])
    d.heading("2. 保管期間")
    recs = report.get("records", {})
    d.table(["記録の種類", "年数", "評価書の区分", "方法", "保有件数", "期限到来", "根拠"],
            [[v["label"], v["years"], v["choice"], v["action"],
              "" if recs.get(k, {}).get("held") is None else recs[k]["held"], recs.get(k, {}).get("due", ""),
              v["basis"]] for k, v in report["retention"].items()],
            [0.22, 0.06, 0.14, 0.1, 0.09, 0.09, 0.3])
    ex = report["exports"]
    d.heading("3. 外部媒体への出力 (媒体管理簿)")
    d.line(f"申請 {ex['requests']}件 / 承認 {ex['approved_or_produced']}件 / 却下 {ex['rejected']}件"
           f" / 出力 {ex['produced']}件"
           f" ({ex['rows_written']}行, {ex['persons_written']}人) / 消去確認 {ex['deletions_confirmed']}件"
           f" / 消去期限超過 {ex['deletions_overdue']}件")
    d.heading("4. 削除処理")
    if not report["deletions"]:
        d.line("（期間内の削除処理なし）")
    for r in report["deletions"]:
        d.line(f"削除処理 {r['id']} 基準日 {r['as_of']} {r['state']} 計画 {r['planned_by']}"
               f" 承認 {r['approved_by'] or '-'}")
        for i in r["items"]:
            d.line(f"{i['label']}: {i['cutoff']} より前 {i['planned']}件 → {i['done']}件 ({i['action']}; {i['basis']})",
                   indent=10)
    d.heading("5. アクセス記録の検証・点検")
    vr = report["access_log_verification"]
    d.line(f"検証: {vr['at'][:19]} {'正常' if vr['ok'] else '異常 seq ' + str(vr['broken_seq'])} ({vr['entries']}件)"
           if vr else "検証記録なし")
    rv = report["review"]
    d.line(f"点検: {rv['entries']}件中 時間外 {rv['after_hours']} / 休日 {rv['holiday']} / ログイン失敗 "
           f"{rv['failed_logins']} / 拒否 {rv['denied']} / 大量参照 {rv['bulk_reads']}")
    rr = report["resident_requests"]
    d.heading("6. 開示・訂正・利用停止請求")
    d.line(f"{rr['by_kind']}  期限超過 {rr['overdue']}件")
    d.heading("7. 自己点検 (確認用)")
    d.table(["点検項目", "事実", "判定案"], [[i["question"], i["facts"], i["suggested"]]
                                         for i in report["self_inspection"]], [0.42, 0.48, 0.10])
    d.heading("8. 変更箇所")
    if not report["changes"]:
        d.line("（期間内の変更なし）")
    d.table(["変更日", "項目", "変更前", "変更後", "重要", "提出"],
            [[c["changed_on"], c["item"], c["before"][:60], c["after"][:60],
              {True: "重要", False: "-", None: "未評価"}[c["important"]],
              {"before": "事前", "after": "事後"}.get(c["submission"], "")] for c in report["changes"]],
            [0.1, 0.3, 0.2, 0.2, 0.1, 0.1])
    d.heading("別添: 特定個人情報ファイルの記録項目 (稼働中のスキーマから生成)")
    for f in report["files"]:
        d.line(f"■ {f['file']}", size=10)
        for t in f["tables"]:
            d.line(f"{t['table']} ({t['name']}): " + ", ".join(col["label"] for col in t["columns"]), size=7.5,
                   indent=8)
    d.save()
