"""``yobo schedule due`` and ``yobo schedule rules`` per CONTRACTS.md §2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from yobo.schedule.cli import main
from yobo.schedule.rules import load_series


def test_due_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist = tmp_path / "h.csv"
    hist.write_text("vaccine,date\nBCG,2024-12-01\nPCV,2024-08-20\n", encoding="utf-8")
    rc = main(
        ["due", "--birth-date", "2024-06-15", "--sex", "F", "--as-of", "2025-01-10", "--history", str(hist), "--json"]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    by = {r["vaccine"]: r for r in out}
    assert set(out[0]) == {"vaccine", "dose", "status", "eligible_from", "eligible_until"}
    assert by["BCG"] == {
        "vaccine": "BCG",
        "dose": 1,
        "status": "complete",
        "eligible_from": "2024-06-15",
        "eligible_until": "2025-06-14",
    }
    assert by["PCV"]["dose"] == 2 and by["PCV"]["status"] == "due"
    assert by["ROTA"]["status"] == "expired"
    assert by["MR1"] == {
        "vaccine": "MR1",
        "dose": 1,
        "status": "upcoming",
        "eligible_from": "2025-06-14",
        "eligible_until": "2026-06-14",
    }
    assert {r["status"] for r in out} <= {"due", "upcoming", "complete", "expired"}
    assert "DPT-IPV" in by and "HPV" in by


def test_due_table_and_invalid_dose_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hist = tmp_path / "h.csv"
    hist.write_text("\ufeffvaccine,date\nPCV,2024-08-10\n", encoding="utf-8")
    assert (
        main(["due", "--birth-date", "2024-06-15", "--sex", "M", "--as-of", "2025-01-10", "--history", str(hist)]) == 0
    )
    out = capsys.readouterr().out
    assert "接種対象(due)" in out and "PCV 2024-08-10" in out and "接種可能な年齢" in out


@pytest.mark.parametrize(
    ("args", "csv", "needle"),
    [
        (["--birth-date", "2024-02-30"], None, "日付が正しくありません"),
        (["--birth-date", "2024-02-03", "--sex", "X"], None, "性別"),
        (["--birth-date", "2024-02-03"], "vaccine,date\nXYZ,2024-08-20\n", "ワクチンコードが不明"),
        (["--birth-date", "2024-02-03"], "vaccine,date\nBCG,2024-01-20\n", "生年月日より前"),
        (["--birth-date", "2024-02-03"], "vaccine,date\nBCG,2024-13-01\n", "2行目 date列"),
        (["--birth-date", "2024-02-03"], "vax,when\nBCG,2024-03-01\n", "vaccine,date"),
        (["--birth-date", "2026-02-03"], None, "基準日より後"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], csv: str | None, needle: str
) -> None:
    argv = ["due", "--sex", "F", "--as-of", "2025-01-10", *args]
    if csv is not None:
        f = tmp_path / "h.csv"
        f.write_text(csv, encoding="utf-8")
        argv += ["--history", str(f)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and " / " in err  # Japanese, then English


def test_missing_history_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "due",
                "--birth-date",
                "2024-02-03",
                "--sex",
                "F",
                "--as-of",
                "2025-01-10",
                "--history",
                str(tmp_path / "no.csv"),
            ]
        )
        == 2
    )
    assert "読めません" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["text", "markdown", "html", "json"])
def test_rules_table_renders_every_series_with_sources(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "--format", fmt]) == 0
    out = capsys.readouterr().out
    for code in load_series():
        assert code in out
    assert "予防接種法施行令" in out and "予防接種実施規則" in out
    assert "2023-04-01" in out  # an effective date (DPT-IPV start age change)
    if fmt == "json":
        data = json.loads(out)
        assert all(w["source"] for r in data for w in r["windows"])


def test_every_rule_cites_a_source_and_effective_dates_are_ordered() -> None:
    for s in load_series().values():
        for w in s.windows:
            assert w.source
            if w.effective_from and w.effective_until:
                assert w.effective_from <= w.effective_until
        for p in s.plans:
            assert p.source and p.doses


def test_yobo_entry_point_dispatches_without_django(capsys: pytest.CaptureFixture[str]) -> None:
    from yobo.cli import main as yobo_main

    assert yobo_main(["schedule", "rules", "--format", "markdown"]) == 0
    assert "| HIB |" in capsys.readouterr().out
