"""統計 page (S01): the coverage chart, the suppressed table, the CSV; no person appears; one log entry each."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from yobo.core.purposes import Duty


def _city(staff: Any) -> list[Any]:
    from yobo.immunizations.models import Dose
    from yobo.immunizations.tests.conftest import add_person
    from yobo.immunizations.tests.test_statistics import _dose

    babies = [add_person(f"30000000{k:02d}", date(2025, 3, 1 + k % 28)) for k in range(30)]
    Dose.objects.bulk_create([_dose(p, "MR1", date(2026, 4 if k < 26 else 5, 10), 1, staff)
                              for k, p in enumerate(babies)])
    return babies


def test_stats_page_chart_table_and_csv(logged_in: Any, make_staff: Any) -> None:
    from yobo.audit.models import AccessLogEntry

    staff = make_staff(duties=[Duty.CLERK])
    babies = _city(staff)
    c = logged_in(staff)
    home = c.get("/").content.decode()
    assert "/doses/stats/" in home
    r = c.get("/doses/stats/", {"vaccine": "MR1", "cohort_from": "2023", "cohort_to": "2024"})
    page = r.content.decode()
    assert r.status_code == 200
    assert "<svg" in page and 'class="target"' in page and 'data-cohort="2024"' in page
    assert "100.0" in page  # 30 of 30 born in 年度 2024
    before = AccessLogEntry.objects.order_by("-seq").first()
    assert before is not None
    q = {"run": "table", "from": "2026-04-01", "to": "2026-05-31", "by": ["vaccine", "dose"], "per": "month",
         "vaccine": "MR1", "cohort_from": "2024", "cohort_to": "2024"}
    page = c.get("/doses/stats/", q).content.decode()
    assert 'data-testid="dose-table"' in page and 'class="suppressed"' in page
    new = list(AccessLogEntry.objects.filter(seq__gt=before.seq, purpose="S01"))
    # Table + chart, and the register's read for the chart's denominators: no person named.
    assert sorted((e.resource, e.operation, e.target) for e in new) == [
        ("immunizations.statistics", "batch", ""), ("immunizations.statistics", "batch", ""),
        ("people.person", "batch", "")]
    r = c.get("/doses/stats/doses.csv", {**q, "encoding": "cp932"})
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("cp932"))))
    assert rows[0] == ["ワクチン", "接種回数", "2026-04", "2026-05", "計"]
    assert rows[1][:2] == ["MR1", "1回目"] and rows[1][3] == "*" and "4" not in rows[1]
    text = r.content.decode("cp932") + page
    assert not any(p.atena_no in text for p in babies)


def test_stats_page_bad_input_and_denied(logged_in: Any, make_staff: Any) -> None:
    c = logged_in(make_staff(duties=[Duty.CLERK]))
    page = c.get("/doses/stats/", {"run": "table", "from": "2026-13-40", "to": "2026-05-31"}).content.decode()
    assert "期間の日付が正しくありません" in page
    assert c.get("/doses/stats/doses.csv", {"from": "x", "to": "y"}).status_code == 400
    c.post("/logout/")
    c2 = logged_in(make_staff(duties=[Duty.ENTRY]))
    assert c2.get("/doses/stats/").status_code == 403
