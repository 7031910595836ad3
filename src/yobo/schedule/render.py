"""The rules table (yobo schedule rules) for a public-health nurse to check against the official schedule."""

from __future__ import annotations

import html
import json
from typing import Any

from yobo.schedule.ages import Span
from yobo.schedule.rules import Plan, Series, Window, load_series

COLUMNS = ("コード", "名称", "類", "対象者（法定の期間）", "有効期間", "接種回数・間隔", "標準的な接種", "根拠")


def _eff(a: object, b: object) -> str:
    return f"{a or '—'} 〜 {b or ''}".rstrip()


def window_text(w: Window) -> str:
    f = w.from_age.ja() if w.from_age else ""
    u = w.until_age.ja() if w.until_age else ""
    if w.kind == "age":
        text = f"{f}から{u}に至るまで" if w.until_age else f"{f}以上"
    elif w.kind == "fy_age":
        if w.until_age and w.until_age.months >= 99 * 12:
            text = f"{f}となる日の属する年度の初日から（有効期間の末日まで）"
        elif w.from_age == w.until_age:
            text = f"{f}となる日の属する年度"
        else:
            text = f"{f}となる日の属する年度の初日から{u}となる日の属する年度の末日まで"
    else:
        parts = []
        if w.cohort_ages:
            parts.append("年度内に" + "・".join(str(a) for a in w.cohort_ages) + "歳となる者")
        if w.cohort_min_age is not None:
            parts.append(f"年度末までに{w.cohort_min_age}歳以上となる者")
        text = "、".join(parts)
    extra = []
    if w.born_from or w.born_until:
        extra.append(f"生年月日 {w.born_from or ''}〜{w.born_until or ''}")
    if w.product:
        extra.append(f"製剤 {w.product}")
    if w.requires_dose_between:
        a, b = w.requires_dose_between
        extra.append(f"{a}〜{b}に1回以上接種した者")
    if w.reading:
        extra.append("「65歳の者」の読み方は市の設定")
    return text + (f"（{'、'.join(extra)}）" if extra else "")


def _iv(span: Span) -> str:
    return span.ja(interval=True)


def plan_text(p: Plan) -> str:
    head = []
    if p.product != "*":
        head.append(p.product)
    if p.start_from is not None or p.start_before is not None:
        head.append(
            f"開始 {p.start_from.ja() if p.start_from else '対象期間の初日'}"
            + (f"〜{p.start_before.ja()}" if p.start_before else "")
        )
    doses = []
    for d in p.doses:
        bits = [f"{d.number}回目{('(' + d.kind + ')') if d.kind else ''}"]
        for from_no, span in d.intervals:
            bits.append(f"{'前回' if from_no == 0 else f'{from_no}回目'}から{_iv(span)}以上")
        if d.min_age:
            bits.append(f"{d.min_age.ja()}以降")
        if d.max_age:
            bits.append(f"{d.max_age.ja()}まで")
        if d.skip_after:
            bits.append(f"{d.skip_after.ja()}を超えたら行わない")
        doses.append(" ".join(bits))
    route = f"［{p.route}］" if p.route else ""
    return f"{' '.join(head)}{'：' if head else ''}{' / '.join(doses)}{route}"


def rows() -> list[dict[str, Any]]:
    out = []
    for s in load_series().values():
        out.append(_series_row(s))
    return out


def _series_row(s: Series) -> dict[str, Any]:
    return {
        "code": s.code,
        "name": s.name_ja,
        "name_en": s.name_en,
        "category": s.category + "類" + ("・女子" if s.sex == "F" else "") + ("・毎年度" if s.repeat != "none" else ""),
        "windows": [
            {"text": window_text(w), "effective": _eff(w.effective_from, w.effective_until), "source": w.source,
             "standard": w.standard, "note": w.note}
            for w in s.windows
        ],
        "plans": [
            {"text": plan_text(p), "effective": _eff(p.effective_from, p.effective_until), "source": p.source,
             "standard": p.standard}
            for p in s.plans
        ],
        "counted_by": list(s.counted_by),
        "notes": list(s.notes),
    }  # fmt: skip


def render(fmt: str = "text") -> str:
    data = rows()
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    if fmt == "markdown":
        return _markdown(data)
    if fmt == "html":
        return _html(data)
    return _text(data)


def _flat(r: dict[str, Any]) -> list[list[str]]:
    lines = []
    n = max(len(r["windows"]), len(r["plans"]))
    for i in range(n):
        w = r["windows"][i] if i < len(r["windows"]) else None
        p = r["plans"][i] if i < len(r["plans"]) else None
        lines.append([
            r["code"] if i == 0 else "",
            r["name"] if i == 0 else "",
            r["category"] if i == 0 else "",
            w["text"] if w else "",
            (w["effective"] if w else "") + _plan_eff(p),
            p["text"] if p else "",
            "；".join(x for x in ((w or {}).get("standard", ""), (p or {}).get("standard", "")) if x),
            "；".join(x for x in ((w or {}).get("source", ""), (p or {}).get("source", "")) if x),
        ])  # fmt: skip
    return lines


def _plan_eff(p: dict[str, Any] | None) -> str:
    return f"（接種計画 {p['effective']}）" if p and p["effective"] != "— 〜" else ""


def _markdown(data: list[dict[str, Any]]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in data:
        for line in _flat(r):
            out.append("| " + " | ".join(c.replace("|", "／") for c in line) + " |")
    out.append("")
    for r in data:
        if r["notes"] or len(r["counted_by"]) > 1:
            counted = f" 数える接種: {', '.join(r['counted_by'])}" if len(r["counted_by"]) > 1 else ""
            out.append(f"- **{r['code']}**: " + " ".join(r["notes"]) + counted)
    return "\n".join(out) + "\n"


def _html(data: list[dict[str, Any]]) -> str:
    h = ['<table class="schedule-rules">', "<thead><tr>" + "".join(f"<th>{c}</th>" for c in COLUMNS) + "</tr></thead>"]
    h.append("<tbody>")
    for r in data:
        for line in _flat(r):
            h.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>")
    h.append("</tbody></table>")
    return "\n".join(h) + "\n"


def _text(data: list[dict[str, Any]]) -> str:
    out = []
    for r in data:
        out.append(f"■ {r['code']}  {r['name']}（{r['name_en']}） {r['category']}")
        for w in r["windows"]:
            out.append(f"  対象: {w['text']}  [有効 {w['effective']}]")
            if w["standard"]:
                out.append(f"        標準: {w['standard']}")
            out.append(f"        根拠: {w['source']}")
        for p in r["plans"]:
            eff = f"  [有効 {p['effective']}]" if p["effective"] != "— 〜" else ""
            out.append(f"  接種: {p['text']}{eff}")
            if p["standard"]:
                out.append(f"        標準: {p['standard']}")
            out.append(f"        根拠: {p['source']}")
        if len(r["counted_by"]) > 1:
            out.append(f"  数える接種: {', '.join(r['counted_by'])}")
        for n in r["notes"]:
            out.append(f"  注: {n}")
        out.append("")
    return "\n".join(out)
