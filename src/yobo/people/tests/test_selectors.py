"""Selectors over imported persons: search on normalised keys, households, not-found, logging."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.core.purposes import Purpose
from yobo.people import selectors, synth
from yobo.people.extract import kana_halfwidth
from yobo.people.services import import_residents

AS_OF = date(2025, 9, 1)
pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded(settings, tmp_path: Path, key_dir: Path,  # type: ignore[no-untyped-def]
           make_ctx: Callable[..., Any]) -> tuple[Any, list[dict[str, str]]]:
    rows = list(synth.generate(150, 21, AS_OF))
    f = tmp_path / "r.csv"
    synth.write_csv(f, 150, seed=21, as_of=AS_OF)
    import_residents(make_ctx(Purpose.RESIDENT_SYNC), f, as_of=AS_OF)
    return make_ctx(Purpose.PERSON_INQUIRY), rows


def test_search_by_halfwidth_kana_hiragana_and_kanji(loaded: Any) -> None:
    ctx, rows = loaded
    r = rows[0]
    surname_kana = r["カナ氏名"].split("\u3000")[0]
    hits = selectors.search(ctx, kana=kana_halfwidth(surname_kana))
    assert r["宛名番号"] in {p.atena_no for p in hits}
    assert all(p.name_kana.startswith(surname_kana) for p in hits)
    hira = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in surname_kana)
    assert {p.atena_no for p in selectors.search(ctx, name=hira)} == {p.atena_no for p in hits}
    born = date.fromisoformat(r["生年月日"])
    full = selectors.search(ctx, name=r["漢字氏名"].replace("\u3000", " "), birth_date=born)
    assert [p.atena_no for p in full] == [r["宛名番号"]] and full[0].name_kanji == r["漢字氏名"]
    entry = AccessLogEntry.objects.filter(operation="search", target=r["宛名番号"]).last()
    assert entry is not None and entry.purpose == Purpose.PERSON_INQUIRY


def test_household_members_head_first_and_projection(loaded: Any) -> None:
    ctx, rows = loaded
    hh = next(r["世帯番号"] for r in rows if r["続柄"] == "世帯主" and r["住民区分"] == "1"
              and sum(1 for x in rows if x["世帯番号"] == r["世帯番号"]) > 1)
    members = selectors.household_members(ctx, hh)
    assert members[0].relationship == "世帯主" and len(members) == sum(1 for x in rows if x["世帯番号"] == hh)


def test_get_person_and_not_found(loaded: Any) -> None:
    ctx, rows = loaded
    p = selectors.get_person(ctx, rows[5]["宛名番号"])
    assert p.birth_date == date.fromisoformat(rows[5]["生年月日"]) and p.status_label
    with pytest.raises(selectors.PersonNotFound):
        selectors.get_person(ctx, "9")
