"""The review report (アクセスログ点検報告): what a supervisor checks in the log for a period.

* 時間外アクセス: entries outside office hours (``YOBO_OFFICE_HOURS``, Asia/Tokyo) on working days;
* 休日アクセス: entries on Saturdays, Sundays, national holidays (jpholiday) and the year-end closure
  (12/29–1/3, when municipal offices are closed);
* ログイン失敗: login entries with result ``failed``;
* 拒否された操作: every ``denied`` entry;
* 大量参照: reads and searches by one staff member on one day above ``YOBO_BULK_READ_THRESHOLD``.

The report is computed from the entries of the period (read in chunks with a raw cursor); items are
grouped per staff member and day so that a busy period gives a readable report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import jpholiday
from django.conf import settings
from django.db import connection

from yobo.core.context import AccessContext
from yobo.core.purposes import Operation, Result

from .archive import day_start_us
from .door import door

TOKYO = ZoneInfo("Asia/Tokyo")
READ_OPS = {Operation.READ.value, Operation.SEARCH.value}
_DAY_US = 86_400 * 1_000_000


@dataclass
class Group:
    """Entries of one staff member on one day (or one terminal for failed logins)."""

    staff: str
    day: str
    count: int = 0
    first: str = ""
    last: str = ""
    targets: int = 0
    detail: str = ""


@dataclass
class ReviewReport:
    date_from: str
    date_to: str
    entries: int = 0
    after_hours: list[Group] = field(default_factory=list)
    holiday: list[Group] = field(default_factory=list)
    failed_logins: list[Group] = field(default_factory=list)
    denied: list[Group] = field(default_factory=list)
    bulk_reads: list[Group] = field(default_factory=list)
    office_hours: tuple[int, int] = (8, 19)
    bulk_threshold: int = 500

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=4096)
def closed_day(d: date) -> str:
    """Why ``d`` is not a working day ('' when it is): 土曜, 日曜, the holiday's name, 年末年始."""
    if (d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3):
        return "年末年始"
    name = jpholiday.is_holiday_name(d)
    if name:
        return str(name)
    if d.weekday() == 5:
        return "土曜日"
    if d.weekday() == 6:
        return "日曜日"
    return ""


def build_review(date_from: date, date_to: date) -> ReviewReport:
    start, end = settings.YOBO_OFFICE_HOURS
    threshold = int(settings.YOBO_BULK_READ_THRESHOLD)
    rep = ReviewReport(date_from.isoformat(), date_to.isoformat(), office_hours=(start, end), bulk_threshold=threshold)
    lo, hi = day_start_us(date_from), day_start_us(date_to + timedelta(days=1))
    after: dict[tuple[str, str], Group] = {}
    holiday: dict[tuple[str, str], Group] = {}
    failed: dict[tuple[str, str], Group] = {}
    denied: dict[tuple[str, str], Group] = {}
    reads: dict[tuple[str, str], Group] = {}
    targets: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    day_cache: dict[int, tuple[date, int]] = {}  # day index -> (local date, local midnight in µs)

    def add(groups: dict[tuple[str, str], Group], kind: str, staff: str, day: str, clock: str, target: str,
            detail: str = "") -> None:
        g = groups.get((staff, day))
        if g is None:
            g = groups[(staff, day)] = Group(staff, day, first=clock, detail=detail)
        g.count += 1
        g.last = clock
        if target:
            targets[(kind, staff, day)].add(target)

    nxt = 0
    with connection.cursor() as cur:
        while True:
            cur.execute(
                "SELECT seq, at_us, staff, terminal, operation, target, result, detail FROM audit_access_log "
                "WHERE at_us >= %s AND at_us < %s AND seq > %s ORDER BY seq LIMIT 50000",
                [lo, hi, nxt],
            )
            rows = cur.fetchall()
            if not rows:
                break
            nxt = rows[-1][0]
            for _seq, at_us, staff, terminal, op, target, result, detail in rows:
                rep.entries += 1
                local_us = at_us + 9 * 3600 * 1_000_000  # Asia/Tokyo has no daylight saving time
                key = local_us // _DAY_US
                dd = day_cache.get(key)
                if dd is None:
                    dd = day_cache[key] = (date(1970, 1, 1) + timedelta(days=key), key * _DAY_US)
                d, midnight = dd
                secs = (local_us - midnight) // 1_000_000
                hour = secs // 3600
                clock = f"{hour:02d}:{secs // 60 % 60:02d}"
                day = d.isoformat()
                closed = closed_day(d)
                if closed:
                    add(holiday, "holiday", staff, day, clock, target, closed)
                elif not (start <= hour < end):
                    add(after, "after", staff, day, clock, target)
                if op == Operation.LOGIN and result == Result.FAILED:
                    add(failed, "failed", staff or "(不明)", day, clock, "", terminal)
                elif result == Result.DENIED:
                    add(denied, "denied", staff, day, clock, target, detail)
                if op in READ_OPS and result == Result.OK:
                    add(reads, "reads", staff, day, clock, target)
    for kind, groups, out in (
        ("after", after, rep.after_hours), ("holiday", holiday, rep.holiday), ("failed", failed, rep.failed_logins),
        ("denied", denied, rep.denied), ("reads", reads, rep.bulk_reads),
    ):
        for (staff, day), g in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            g.targets = len(targets.get((kind, staff, day), ()))
            if kind != "reads" or g.count > threshold:
                out.append(g)
    return rep


def review(ctx: AccessContext, date_from: date, date_to: date) -> ReviewReport:
    """The review report for ``date_from``..``date_to`` (inclusive); reading the log is itself logged."""
    with door(ctx, Operation.READ, resource="audit.review") as rec:
        rep = build_review(date_from, date_to)
        rec.detail = f"review {date_from}..{date_to} entries={rep.entries}"
    return rep


def render_text(rep: ReviewReport) -> str:
    """The report in Japanese, for print or mail."""
    s, e = rep.office_hours
    lines = [
        f"アクセスログ点検報告  対象期間: {rep.date_from} 〜 {rep.date_to}  (記録 {rep.entries:,} 件)",
        f"開庁時間: 平日 {s}時〜{e}時 / 大量参照のしきい値: 1日 {rep.bulk_threshold:,} 件",
        "",
    ]
    sections = [
        ("■ 時間外アクセス (平日の開庁時間外)", rep.after_hours, "件"),
        ("■ 休日アクセス (土日・祝日・年末年始)", rep.holiday, "件"),
        ("■ ログイン失敗", rep.failed_logins, "回"),
        ("■ 拒否された操作", rep.denied, "件"),
        ("■ 大量参照 (参照・検索)", rep.bulk_reads, "件"),
    ]
    for title, groups, unit in sections:
        lines.append(f"{title}: {len(groups)} 件")
        if not groups:
            lines.append("  該当なし")
        for g in groups:
            extra = f" 対象者 {g.targets} 名" if g.targets else ""
            note = f" [{g.detail}]" if g.detail else ""
            lines.append(f"  {g.day} {g.first}〜{g.last}  {g.staff or '(不明)'}  {g.count:,}{unit}{extra}{note}")
        lines.append("")
    lines.append("各項目について、業務上の必要があったかを所属長が確認してください。")
    return "\n".join(lines)


def parse_day(value: str) -> date:
    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=TOKYO).date()
