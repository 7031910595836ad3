"""The staff-facing register: search (keys, widths, limits, logging), My Number search, support
measures (支援措置) with second-staff confirmation and masking, non-registered persons (住登外者)."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose, Result
from yobo.core.text import is_katakana
from yobo.mynumber import checkdigit, keys
from yobo.mynumber import selectors as vault_selectors
from yobo.mynumber.models import IdentityVerification, MyNumberLink
from yobo.mynumber.services import Verification
from yobo.people import lookup, nonresidents, protection
from yobo.people.models import ChangeKind, Person, PersonHistory, ProtectionAction, Source
from yobo.people.nonresidents import Applicant

pytestmark = pytest.mark.django_db


def add_person(atena: str, kanji: str, kana: str, born: date, *, address: str = "横浜市中区本町1丁目2番3号",
               household: str = "", relationship: str = "", phone: str = "045-000-0000", sex: int = 1,
               status: int = 1) -> Person:
    """A person as the register import would leave it (keys made the same way)."""
    from django.conf import settings

    from yobo.core.text import search_key

    now = timezone.now()
    return Person.objects.create(
        municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=household or atena, name_kanji=kanji,
        name_kana=kana, kanji_key=search_key(kanji), kana_key=search_key(kana), birth_date=born, sex=sex,
        relationship=relationship, postal_code="2310005", address=address, phone=phone, status=status,
        row_hash="x", created_at=now, updated_at=now,
    )


def write_register(path: Path, rows: list[dict[str, str]]) -> Path:
    """A register extract (CONTRACTS.md §1, UTF-8) of these rows."""
    import csv

    from yobo.people.extract import COLUMNS

    with path.open("w", encoding="utf-8", newline="") as out:
        w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture
def city(key_dir: Path) -> dict[str, Person]:
    keys.ensure_keys()
    return {
        "taro": add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(1985, 4, 1), household="2000000001",
                           relationship="世帯主"),
        "hanako": add_person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1987, 6, 15), household="2000000001",
                             relationship="妻", sex=2),
        "ichiro": add_person("1000000003", "佐藤　一郎", "サトウ　イチロウ", date(2019, 5, 1),
                             address="横浜市西区みなとみらい3丁目5番地", household="2000000003"),
        "yamashita": add_person("1000000004", "小山田　健", "コヤマダ　ケン", date(1950, 1, 2),
                                address="横浜市港北区日吉本町10番地の2", household="2000000004", status=3),
    }


def entries(**kw: Any) -> list[AccessLogEntry]:
    return list(AccessLogEntry.objects.filter(**kw).order_by("seq"))


def mynumber(seed: int) -> str:
    return checkdigit.generate(random.Random(seed))


# --- search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["ﾔﾏﾀﾞ", "やまだ", "ヤマダ", "ﾔﾏﾀﾞ ﾀﾛｳ", "やまだ　たろう", "タロウ", "山田", "田　太"])
def test_name_search_is_partial_and_width_and_kana_insensitive(city: Any, make_ctx: Callable[..., Any],
                                                               text: str) -> None:
    hits = lookup.search(make_ctx(Purpose.PERSON_INQUIRY), lookup.Criteria(name=text))
    assert city["taro"].atena_no in {p.atena_no for p in hits.persons}
    assert city["ichiro"].atena_no not in {p.atena_no for p in hits.persons}


def test_a_name_in_variant_kanji_is_found_by_the_form_staff_type_and_shown_as_given(
        key_dir: Path, make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    from yobo.people.services import import_residents
    from yobo.people.tests.test_import import AS_OF, rows_of

    keys.ensure_keys()
    base = rows_of(3)
    names = ["髙橋　𠮷子", "山﨑　太郎", "葛\U000e0100城　花子"]  # the last with a variation selector (IVS)
    rows = [dict(r, 漢字氏名=n, 個人番号="") for r, n in zip(base, names, strict=True)]
    import_residents(make_ctx(Purpose.RESIDENT_SYNC), write_register(tmp_path / "v.csv", rows), as_of=AS_OF)
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    for typed, i in [("高橋", 0), ("高橋　吉子", 0), ("髙橋", 0), ("山崎", 1), ("崎太", 1), ("葛城", 2), ("城　花", 2)]:
        hits = lookup.search(ctx, lookup.Criteria(name=typed)).persons
        assert [(p.atena_no, p.name_kanji) for p in hits] == [(rows[i]["宛名番号"], names[i])], typed


def test_the_migration_refolds_keys_stored_before(city: Any) -> None:
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    old = add_person("1000000009", "髙橋　𠮷子", "タカハシ　ヨシコ", date(1990, 1, 1))
    Person.objects.filter(pk=old.pk).update(kanji_key="髙橋𠮷子")  # as the key was made before 0010
    untouched = {p.pk: p.updated_at for p in Person.objects.exclude(pk=old.pk)}
    migration = importlib.import_module("yobo.people.migrations.0010_search_keys_fold_variants")
    migration.refold(apps, SimpleNamespace(connection=connection))
    assert Person.objects.get(pk=old.pk).kanji_key == "高橋吉子"
    assert {p.pk: p.updated_at for p in Person.objects.exclude(pk=old.pk)} == untouched
    assert Person.objects.get(pk=city["taro"].pk).kanji_key == "山田太郎"


def test_an_address_is_found_however_staff_write_it(key_dir: Path, make_ctx: Callable[..., Any],
                                                    tmp_path: Path) -> None:
    """The register writes 本町一丁目2番3号; staff type what the form says (本町1-2-3, 本町１丁目２－３,
    3号コーポ). A changed address is searched at the new one (the daily diff rewrites the key)."""
    from yobo.people.services import import_residents
    from yobo.people.tests.test_import import AS_OF, rows_of

    keys.ensure_keys()
    places = [("神奈川県横浜市中区本町一丁目2番3号", "コーポ本町　１０１号室"),
              ("神奈川県横浜市中区本町十一丁目2番3号", ""),
              ("神奈川県横浜市中区霞が丘3丁目4番地の5", "")]
    rows = [dict(r, 住所=a, 方書=e, 個人番号="") for r, (a, e) in zip(rows_of(3), places, strict=True)]
    sync = make_ctx(Purpose.RESIDENT_SYNC)
    import_residents(sync, write_register(tmp_path / "a.csv", rows), as_of=AS_OF)
    ctx = make_ctx(Purpose.PERSON_INQUIRY)

    def found(typed: str) -> list[str]:
        return [p.atena_no for p in lookup.search(ctx, lookup.Criteria(address=typed)).persons]

    first, eleventh, kasumi = (r["宛名番号"] for r in rows)
    for typed in ("本町1-2-3", "本町１丁目２－３", "本町1丁目2番地の3", "中区本町1ー2", "3号コーポ本町",
                  "本町1-2-3-101号室", "神奈川県横浜市中区本町一丁目"):
        assert found(typed) == [first], typed
    assert sorted(found("本町")) == sorted([first, eleventh])
    assert found("本町11-2") == found("本町十一丁目") == [eleventh]
    assert found("霞ヶ丘3-4-5") == found("霞ケ丘三丁目4番地5") == [kasumi]
    assert found("本町2-3") == []  # 2丁目3番 is not 1丁目2番3号
    # the person page shows the address as the register wrote it
    assert lookup.search(ctx, lookup.Criteria(address="本町1-2-3")).persons[0].address == places[0][0]

    moved = dict(rows[0], 住所="神奈川県横浜市西区みなとみらい二丁目3番1号", 方書="", 異動事由="転居",
                 異動日=AS_OF.isoformat())
    later = AS_OF.replace(day=2)
    import_residents(sync, write_register(tmp_path / "b.csv", [moved]), as_of=later)
    assert found("みなとみらい2-3-1") == [first]
    assert found("本町1-2-3") == [] and found("コーポ本町") == []


def test_the_migration_keys_every_address_on_record(city: Any) -> None:
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    Person.objects.update(address_key="")  # as the column is added
    migration = importlib.import_module("yobo.people.migrations.0011_address_key")
    migration.fill(apps, SimpleNamespace(connection=connection))
    keys_now = dict(Person.objects.values_list("atena_no", "address_key"))
    assert keys_now == {"1000000001": "横浜市中区本町1-2-3-", "1000000002": "横浜市中区本町1-2-3-",
                        "1000000003": "横浜市西区ミナトミライ3-5-", "1000000004": "横浜市港北区日吉本町10-2"}


def test_prefix_matches_come_before_matches_inside_the_name(city: Any, make_ctx: Callable[..., Any]) -> None:
    hits = lookup.search(make_ctx(), lookup.Criteria(name="ﾔﾏﾀﾞ")).persons
    # ヤマダ… first, then コヤマダ (inside the name)
    assert [p.atena_no for p in hits] == ["1000000001", "1000000002", "1000000004"]


def test_search_by_birth_date_address_and_atena(city: Any, make_ctx: Callable[..., Any]) -> None:
    ctx = make_ctx()
    assert [p.atena_no for p in lookup.search(ctx, lookup.Criteria(birth_date=date(1987, 6, 15))).persons] == [
        "1000000002"]
    # full-width digits typed for an address stored with ASCII digits, and a part of it
    by_addr = lookup.search(ctx, lookup.Criteria(address="みなとみらい３丁目")).persons
    assert [p.atena_no for p in by_addr] == ["1000000003"]
    assert [p.atena_no for p in lookup.search(ctx, lookup.Criteria(atena_no=" 1000000004 ")).persons] == [
        "1000000004"]
    both = lookup.search(ctx, lookup.Criteria(name="やまだ", birth_date=date(1985, 4, 1))).persons
    assert [p.atena_no for p in both] == ["1000000001"]
    assert both[0].birth_wareki == "昭和60年4月1日"


@pytest.mark.parametrize("text", ["%", "_", "\\", "山_", "%田"])
def test_like_wildcards_typed_in_a_search_are_plain_characters(city: Any, make_ctx: Callable[..., Any],
                                                               text: str) -> None:
    add_person("1000000009", "山%田　次郎", "ヤマダ　ジロウ", date(1990, 1, 1), address="横浜市中区100%通り")
    names = [p.atena_no for p in lookup.search(make_ctx(), lookup.Criteria(name=text)).persons]
    assert names == (["1000000009"] if text in ("%", "%田") else [])
    by_addr = [p.atena_no for p in lookup.search(make_ctx(), lookup.Criteria(address=text)).persons]
    assert by_addr == (["1000000009"] if text == "%" else [])


def _plan(sql: str) -> list[str]:
    """The database's plan of ``sql`` (as captured: parameters already in it), one line per step."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(("EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN ") + sql)
        return [str(r[-1]).strip() for r in cur.fetchall()]


def _crowd_pg(n: int) -> None:
    """``n`` more persons (PostgreSQL, made in SQL) with names and addresses that match no search
    of these tests: ten kana, or four kanji, drawn from the digits of a hash."""
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "INSERT INTO people_person (municipality, atena_no, source, household_no, name_kanji, name_kana, "
            "kanji_key, kana_key, birth_date, sex, relationship, postal_code, address, address_extra, address_key, "
            "phone, status, status_reason, row_hash, created_at, updated_at) "
            "SELECT %s, (3000000000 + i)::text, 'juki', (3000000000 + i)::text, k, n, k, n, "
            "DATE '1960-01-01' + i %% 9000, 1, '', '2310005', '横浜市' || k || i || '番地', '', "
            "'横浜市' || k || i || '-', '', 1, '', 'x', now(), now() FROM ("
            "  SELECT i, translate(left(md5(i::text), 10), '0123456789abcdef', 'アイウエオカキクケコサシスセソナ')"
            "         AS n,"
            "         translate(left(md5(i::text), 4), '0123456789abcdef', '東西南北春夏秋冬金銀松竹梅桜川森') AS k"
            "  FROM generate_series(1, %s) AS i) AS g",
            [settings.MUNICIPALITY_CODE, n],
        )
        cur.execute("ANALYZE people_person")


def _search_queries(ctx: Any, criteria: lookup.Criteria, limit: int = 50) -> tuple[list[str], list[Any]]:
    """The person queries a search ran (as captured) and the persons it found."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as q:
        found = lookup.search(ctx, criteria, limit=limit).persons
    return [x["sql"] for x in q.captured_queries if "people_person" in x["sql"] and "ORDER BY" in x["sql"]], found


@pytest.mark.parametrize(("criteria", "index"), [
    (lookup.Criteria(name="ﾔﾏﾀﾞﾀﾛｳ"), "kana"),
    (lookup.Criteria(name="山田太郎"), "kanji"),
    (lookup.Criteria(name="山田"), "kanji"),
    (lookup.Criteria(address="みなとみらい3丁目"), "address"),
])
def test_partial_search_reads_an_index_not_every_persons_row(city: Any, make_ctx: Callable[..., Any],
                                                             criteria: lookup.Criteria, index: str) -> None:
    """Decision 058. On PostgreSQL the trigram indexes serve a name of three characters or more
    anywhere in one read, the start of a two-character one, and addresses; the planner uses them
    once the register is more than a handful of persons (a crowd of 50,000 others is added to ask).
    On SQLite a name is read in two parts, those it starts with (a range of the key's B-tree),
    then, when fewer than the page, those holding it further in, by one read of that B-tree's
    entries alone (not a walk of another index fetching every person's row at random: 1.3 s at a
    million persons); an address has no index there and is one sequential read."""
    from django.db import connection

    queries, found = _search_queries(make_ctx(), criteria)
    assert found  # the plans are of queries that find someone
    pg = connection.vendor == "postgresql"
    if pg:
        _crowd_pg(50_000)
    plans = [_plan(sql) for sql in queries]
    if index == "address":
        assert len(plans) == 1
        if pg:
            assert any("people_person_address_key_trgm" in line for line in plans[0]), plans[0]
        else:
            # The candidates come from the subquery; the outer query only fetches them (by rowid
            # at city scale; a table this small may be walked in order instead).
            assert plans[0][plans[0].index("LIST SUBQUERY 1") + 1] == "SCAN people_person", plans[0]
        return
    if pg and len(criteria.name) >= lookup.TRIGRAM:  # one read: the index finds it anywhere
        assert len(plans) == 1
        assert any(f"people_person_{index}_key_trgm" in line for line in plans[0]), plans[0]
        return
    assert len(plans) == 2  # fewer than 50 start with the key here
    starts, inside = plans
    if pg:  # two characters hold no trigram inside a name, but do at its start
        assert any(f"people_person_{index}_key_trgm" in line for line in starts), starts
        # ... and inside, the table is read, never the whole trigram index (far slower)
        assert not any("trgm" in line for line in inside), inside
    else:
        assert any(f"INDEX people_person_{index} (municipality=? AND {index}_key>? AND {index}_key<?)" in line
                   for line in starts), starts
        assert inside[inside.index("LIST SUBQUERY 1") + 1] == (
            f"SEARCH people_person USING COVERING INDEX people_person_{index} (municipality=?)"), inside


def test_a_name_search_stops_at_the_names_that_start_with_it_when_they_fill_the_page(
        city: Any, make_ctx: Callable[..., Any]) -> None:
    from datetime import timedelta

    for i in range(3):
        add_person(f"10000001{i:02d}", "山田　三郎", "ヤマダ　サブロウ", date(1990, 1, 1) + timedelta(days=i))
    # Five start with 山田 (two characters: read in two parts on both databases): a page of 4,
    # and the fifth that says "more", need no other read.
    queries, found = _search_queries(make_ctx(), lookup.Criteria(name="山田"), limit=4)
    assert len(queries) == 1
    assert [p.atena_no for p in found] == ["1000000100", "1000000101", "1000000102", "1000000001"]
    # A page of 50: then those holding it further in (小山田), after all that start with it.
    queries, found = _search_queries(make_ctx(), lookup.Criteria(name="山田"))
    assert len(queries) == 2
    assert [p.atena_no for p in found] == ["1000000100", "1000000101", "1000000102", "1000000001", "1000000002",
                                           "1000000004"]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_name_search_returns_the_page_of_one_starts_first_ordering(key_dir: Path, make_ctx: Callable[..., Any],
                                                                     seed: int) -> None:
    """However the reads are split (starts-with, then inside; one trigram read), a page is the
    first ``limit`` of: every person whose key holds the typed key, those it starts with first,
    then by kana key, birth date and 宛名番号 — computed here in Python for a crowd of names from a
    small alphabet (many overlaps, ties broken by birth date and number)."""
    from yobo.core.text import search_key

    rnd = random.Random(seed)
    kana, kanji = "アイカサタ", "山田川本中"
    persons = []
    for i in range(120):
        k, j = "".join(rnd.choices(kana, k=rnd.randint(2, 5))), "".join(rnd.choices(kanji, k=rnd.randint(2, 4)))
        born = date(1950 + rnd.randrange(3), 1, 1 + rnd.randrange(2))
        persons.append(add_person(f"{1100000000 + i}", j, k, born))
    for typed in ["ア", "アイ", "カサ", "イカサ", "山", "山田", "田川本", "ｱｲ"]:
        key = search_key(typed)
        col = "kana_key" if lookup._is_kana(key) else "kanji_key"
        for limit in (3, 10, 50):
            want = sorted((p for p in persons if key in getattr(p, col)),
                          key=lambda p: (not getattr(p, col).startswith(key), p.kana_key, p.birth_date, p.atena_no))
            res = lookup.search(make_ctx(), lookup.Criteria(name=typed), limit=limit)
            assert [p.atena_no for p in res.persons] == [p.atena_no for p in want[:limit]], (typed, limit)
            assert res.more == (len(want) > limit)


def test_a_keyed_search_keeps_its_btree(city: Any, make_ctx: Callable[..., Any]) -> None:
    """Birth date or 宛名番号 narrows best on its own B-tree, name or address given or not."""
    for criteria in (lookup.Criteria(name="ﾔﾏﾀﾞ", birth_date=date(1985, 4, 1)),
                     lookup.Criteria(address="本町", atena_no="1000000001")):
        queries, found = _search_queries(make_ctx(), criteria)
        assert [p.atena_no for p in found] == ["1000000001"]
        assert not any("INDEXED BY" in sql or "NOT INDEXED" in sql for sql in queries)


def test_search_without_keys_is_refused(city: Any, make_ctx: Callable[..., Any]) -> None:
    with pytest.raises(InputRejected, match="検索条件"):
        lookup.search(make_ctx(), lookup.Criteria())


def test_search_logs_one_entry_per_person_shown_with_the_purpose(city: Any, make_ctx: Callable[..., Any]) -> None:
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    lookup.search(ctx, lookup.Criteria(name="ﾔﾏﾀﾞ"))
    got = entries(request_id=ctx.request_id, operation=Operation.SEARCH)
    assert sorted(e.target for e in got) == ["1000000001", "1000000002", "1000000004"]
    assert {e.purpose for e in got} == {Purpose.PERSON_INQUIRY.value}
    assert all("ﾔﾏﾀﾞ" not in e.detail and "ヤマダ" not in e.detail for e in got)  # the keys, not the values
    assert got[0].detail.startswith("search by=name hits=3")


def test_search_without_a_purpose_is_refused_and_logged(city: Any, make_ctx: Callable[..., Any]) -> None:
    ctx = make_ctx(Purpose.PERSON_INQUIRY).for_purpose("")
    with pytest.raises(AccessDenied):
        lookup.search(ctx, lookup.Criteria(name="ﾔﾏﾀﾞ"))
    denied = entries(request_id=ctx.request_id)
    assert [(e.result, e.detail) for e in denied] == [(Result.DENIED.value, "no_purpose")]


def test_search_limit_says_there_are_more(make_ctx: Callable[..., Any]) -> None:
    for i in range(5):
        add_person(f"10000001{i:02d}", "鈴木　一", "スズキ　ハジメ", date(2000, 1, 1 + i))
    r = lookup.search(make_ctx(), lookup.Criteria(name="すずき"), limit=3)
    assert len(r.persons) == 3 and r.more
    r = lookup.search(make_ctx(), lookup.Criteria(name="すずき"), limit=5)
    assert len(r.persons) == 5 and not r.more


def test_person_page_has_household_history_and_logs_a_read(city: Any, make_ctx: Callable[..., Any]) -> None:
    PersonHistory.objects.create(municipality=city["taro"].municipality, atena_no="1000000001",
                                 changed_at=timezone.now(), kind=ChangeKind.UPDATED,
                                 changes={"address": ["旧住所1番", "横浜市中区本町1丁目2番3号"]}, status=1)
    ctx = make_ctx(Purpose.PERSON_INQUIRY)
    page = lookup.person_page(ctx, "1000000001")
    assert page.person.name_kanji == "山田　太郎" and not page.person.masked
    assert [m.atena_no for m in page.household] == ["1000000002"]
    assert page.history[0].changes["address"][0] == "旧住所1番"
    assert not page.mynumber.registered
    reads = entries(request_id=ctx.request_id, operation=Operation.READ, resource="people.person")
    assert ("1000000001", "person page") in [(e.target, e.detail) for e in reads]
    assert all(e.purpose == Purpose.PERSON_INQUIRY for e in reads)


def test_person_page_of_unknown_atena(city: Any, make_ctx: Callable[..., Any]) -> None:
    with pytest.raises(InputRejected, match="登録されていません"):
        lookup.person_page(make_ctx(), "1999999999")


# --- My Number search -----------------------------------------------------------------------------


def _link(ctx_factory: Callable[..., Any], atena: str, number: str) -> None:
    from yobo.mynumber import services as vault_services

    vault_services.register(ctx_factory(Purpose.MYNUMBER_REGISTRATION), atena, number)


def test_mynumber_search_needs_the_right_and_is_logged(city: Any, make_ctx: Callable[..., Any]) -> None:
    number = mynumber(1)
    _link(make_ctx, "1000000003", number)
    without = make_ctx(Purpose.PERSON_INQUIRY)
    with pytest.raises(AccessDenied):
        lookup.search_by_mynumber(without, number)
    denied = entries(request_id=without.request_id)
    assert [(e.operation, e.result, e.detail) for e in denied] == [
        (Operation.REVEAL_MYNUMBER.value, Result.DENIED.value, "mynumber_right")]
    with_right = make_ctx(Purpose.PERSON_INQUIRY, mynumber_right=True)
    atena, result = lookup.search_by_mynumber(with_right, number)
    assert atena == "1000000003" and [p.atena_no for p in result.persons] == ["1000000003"]
    ok = entries(request_id=with_right.request_id)
    assert {(e.operation, e.target) for e in ok} == {(Operation.REVEAL_MYNUMBER.value, "1000000003"),
                                                     (Operation.SEARCH.value, "1000000003")}
    # the number is in no log entry
    assert not AccessLogEntry.objects.filter(detail__contains=number).exists()
    assert not AccessLogEntry.objects.filter(target__contains=number).exists()


# --- 支援措置 ---------------------------------------------------------------------------------------


def _protect(make_staff: Callable[..., Any], make_ctx: Callable[..., Any], atena: str) -> tuple[Any, Any]:
    a = make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.CLERK])
    b = make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.CLERK])
    rid = protection.request_change(a, atena, ProtectionAction.SET, note="申出 第12号")
    protection.confirm(b, rid)
    return a, b


def test_setting_protection_needs_a_different_confirmer(city: Any, make_ctx: Callable[..., Any]) -> None:
    a = make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.CLERK])
    rid = protection.request_change(a, "1000000003", ProtectionAction.SET)
    with pytest.raises(InputRejected, match="別の職員"):
        protection.confirm(a, rid)
    st_ = protection.status(a, "1000000003")
    assert not st_.in_force and st_.pending is not None and st_.masked  # pending set already masks
    with pytest.raises(InputRejected, match="確認待ち"):
        protection.request_change(a, "1000000003", ProtectionAction.SET)
    b = make_ctx(Purpose.PROTECTION_MEASURE, duties=[Duty.SUPERVISOR])
    protection.confirm(b, rid)
    assert protection.status(b, "1000000003").in_force
    assert protection.is_protected(make_ctx(Purpose.EXCHANGE_PROVISION, duties=[Duty.EXCHANGE]), "1000000003")
    logged = entries(resource=protection.RESOURCE, operation=Operation.UPDATE)
    assert [(e.staff, e.result, e.purpose) for e in logged] == [
        (a.username, Result.ERROR.value, Purpose.PROTECTION_MEASURE.value),  # the refused self-confirmation
        (b.username, Result.OK.value, Purpose.PROTECTION_MEASURE.value),
    ]
    assert logged[1].target == "1000000003" and logged[1].detail == "confirm set"


def test_clearing_protection_needs_a_different_confirmer_and_a_pending_clear_keeps_the_mask(
        city: Any, make_staff: Callable[..., Any], make_ctx: Callable[..., Any]) -> None:
    a, b = _protect(make_staff, make_ctx, "1000000003")
    rid = protection.request_change(b, "1000000003", ProtectionAction.CLEAR)
    with pytest.raises(InputRejected):
        protection.confirm(b, rid)
    clerk = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.CLERK])
    assert lookup.person_page(clerk, "1000000003").person.masked  # still masked until confirmed
    protection.confirm(a, rid)
    assert not protection.is_protected(a, "1000000003")
    assert not lookup.person_page(clerk, "1000000003").person.masked


def test_protection_requests_can_be_withdrawn_and_only_for_existing_persons(
        city: Any, make_ctx: Callable[..., Any]) -> None:
    a = make_ctx(Purpose.PROTECTION_MEASURE)
    with pytest.raises(InputRejected):
        protection.request_change(a, "1999999999", ProtectionAction.SET)
    with pytest.raises(InputRejected, match="対象ではありません"):
        protection.request_change(a, "1000000003", ProtectionAction.CLEAR)
    rid = protection.request_change(a, "1000000003", ProtectionAction.SET)
    assert [r.id for r in protection.pending_requests(a)] == [rid]
    protection.withdraw(a, rid)
    assert not protection.is_protected(a, "1000000003") and protection.pending_requests(a) == []


def test_protected_address_hidden_without_the_right_and_shown_with_it(
        city: Any, make_staff: Callable[..., Any], make_ctx: Callable[..., Any]) -> None:
    _protect(make_staff, make_ctx, "1000000001")  # 山田太郎; 花子 shares the household
    clerk = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.CLERK])
    hits = {p.atena_no: p for p in lookup.search(clerk, lookup.Criteria(name="やまだ")).persons}
    assert hits["1000000001"].masked and hits["1000000001"].address == "" and hits["1000000001"].phone == ""
    assert hits["1000000002"].masked  # same household, same address
    assert not hits["1000000004"].masked
    # typing the address does not reveal who lives there
    assert lookup.search(clerk, lookup.Criteria(address="本町1丁目2番3号")).persons == []
    page = lookup.person_page(clerk, "1000000001")
    assert page.person.masked and page.person.postal_code == ""
    assert entries(request_id=clerk.request_id, detail="person page masked", target="1000000001")

    boss = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.SUPERVISOR])
    seen = lookup.person_page(boss, "1000000001").person
    assert not seen.masked and seen.protected and seen.address == "横浜市中区本町1丁目2番3号"
    assert [p.atena_no for p in lookup.search(boss, lookup.Criteria(address="本町1丁目2番3号")).persons] == [
        "1000000001", "1000000002"]


def test_masked_history_hides_old_addresses(city: Any, make_staff: Callable[..., Any],
                                            make_ctx: Callable[..., Any]) -> None:
    PersonHistory.objects.create(municipality=city["ichiro"].municipality, atena_no="1000000003",
                                 changed_at=timezone.now(), kind=ChangeKind.UPDATED,
                                 changes={"address": ["旧住所", "新住所"], "name_kana": ["サトウ", "サトウ　イチロウ"]},
                                 status=1)
    _protect(make_staff, make_ctx, "1000000003")
    hist = lookup.person_page(make_ctx(duties=[Duty.CLERK]), "1000000003").history
    assert hist[0].changes["address"] == [lookup.HIDDEN, lookup.HIDDEN]
    assert hist[0].changes["name_kana"] == ["サトウ", "サトウ　イチロウ"]


# --- 住登外者 --------------------------------------------------------------------------------------


def _applicant(**kw: Any) -> Applicant:
    base: dict[str, Any] = {"name_kanji": "高橋　陽菜", "name_kana": "ﾀｶﾊｼ ﾋﾅ", "birth_date": date(2024, 12, 1),
                            "sex": 2, "address": "東京都千代田区千代田1番1号", "reason": "里帰り出産中の乳児",
                            "postal_code": "１００－０００１"}
    base.update(kw)
    return Applicant(**base)


VERIF = Verification(number_check="card", identity_documents=("card",))


def test_nonresident_is_pending_until_another_staff_member_confirms(
        city: Any, make_ctx: Callable[..., Any]) -> None:
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK])
    number = mynumber(2)
    app_id, atena = nonresidents.apply(a, _applicant(), number, VERIF)
    assert atena.startswith("9") and len(atena) == 10
    # pending: not a person, not found by a search
    assert not Person.objects.filter(atena_no=atena).exists()
    assert lookup.search(make_ctx(), lookup.Criteria(name="たかはし")).persons == []
    assert [x.atena_no for x in nonresidents.pending(a)] == [atena]
    with pytest.raises(InputRejected, match="別の職員"):
        nonresidents.confirm(a, app_id)
    assert not Person.objects.filter(atena_no=atena).exists()

    b = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR])
    assert nonresidents.confirm(b, app_id) == atena
    found = lookup.search(make_ctx(), lookup.Criteria(name="たかはし")).persons
    assert [p.atena_no for p in found] == [atena] and found[0].source == Source.NON_REGISTERED
    assert found[0].name_kana == "タカハシ　ヒナ" and found[0].postal_code == "1000001"
    v = IdentityVerification.objects.get(atena_no=atena)
    assert v.verified_by_id == a.staff_id and v.confirmed_by_id == b.staff_id
    assert vault_selectors.status(b, atena).registered
    assert nonresidents.pending(b) == []
    with pytest.raises(InputRejected, match="処理済み"):
        nonresidents.confirm(b, app_id)
    hist = PersonHistory.objects.get(atena_no=atena)
    assert hist.kind == ChangeKind.CREATED and hist.changed_by_id == b.staff_id
    # logged with the purpose, never with the number
    logged = entries(target=atena)
    assert {e.purpose for e in logged} == {Purpose.NONRESIDENT_REGISTRATION.value, Purpose.PERSON_INQUIRY.value}
    assert not AccessLogEntry.objects.filter(detail__contains=number).exists()


def _half_width_table() -> dict[int, str]:
    """Full-width katakana → the half-width form that NFKC brings back (voiced ones as two marks)."""
    out: dict[int, str] = {0x3000: " "}
    bases = [chr(c) for c in range(0xFF66, 0xFF9E)]
    for h in bases + [b + m for b in bases for m in ("\uff9e", "\uff9f")]:
        full = unicodedata.normalize("NFKC", h)
        if len(full) == 1 and ord(full) not in out:
            out[ord(full)] = h
    return out


_HALF = _half_width_table()
_KATAKANA = st.text(alphabet=st.characters(min_codepoint=0x30A1, max_codepoint=0x30F6), min_size=1, max_size=6)


@hsettings(max_examples=60, deadline=None)
@given(parts=st.lists(_KATAKANA, min_size=1, max_size=3), half=st.booleans(),
       gaps=st.lists(st.sampled_from([" ", "\u3000", "  ", " \u3000"]), min_size=2, max_size=2))
def test_a_reading_keyed_on_the_web_is_stored_as_the_register_stores_it(parts: list[str], half: bool,
                                                                         gaps: list[str]) -> None:
    """住登外者 (web) and register (import) persons share one stored form of カナ氏名: full-width
    katakana, one ideographic space between parts, whatever width or spaces were typed."""
    from yobo.core.text import kana_fullwidth
    from yobo.people import extract

    typed = "".join(p + (gaps[i % 2] if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    if half:  # as keyed on a half-width IME setting (NFKC brings these back)
        typed = typed.translate(_HALF)
    assume(is_katakana(typed))
    got = kana_fullwidth(typed)
    kana = extract._kana(typed)
    assert kana is not None and got == kana[0] == "\u3000".join(parts)


def test_nonresident_numbers_are_consecutive_and_skip_register_numbers(
        city: Any, settings: Any, make_ctx: Callable[..., Any]) -> None:
    settings.YOBO_NONRESIDENT_ATENA_PREFIX = "1"
    add_person("1000000005", "登録　済", "トウロク　スミ", date(2000, 1, 1))
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION)
    got = [nonresidents.apply(a, _applicant(), mynumber(10 + i), VERIF)[1] for i in range(6)]
    # 1000000001..0005 belong to the register: skipped, never shared
    assert got == ["1000000006", "1000000007", "1000000008", "1000000009", "1000000010", "1000000011"]


def test_nonresident_application_checks_items_identity_and_number(city: Any, make_ctx: Callable[..., Any]) -> None:
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION)
    with pytest.raises(InputRejected, match="フリガナ"):
        nonresidents.apply(a, _applicant(name_kana="高橋"), mynumber(3), VERIF)
    with pytest.raises(InputRejected, match="未来"):
        nonresidents.apply(a, _applicant(birth_date=date(2999, 1, 1)), mynumber(3), VERIF)
    with pytest.raises(InputRejected, match="委任状"):
        nonresidents.apply(a, _applicant(), mynumber(3),
                           Verification(number_check="card", agent_kind="delegate", agent_identity_documents=("card",)))
    bad = mynumber(3)[:-1] + str((int(mynumber(3)[-1]) + 1) % 10)
    with pytest.raises(InputRejected) as exc:
        nonresidents.apply(a, _applicant(), bad, VERIF)
    assert bad not in str(exc.value)
    # a number already linked elsewhere: refused, naming the other 宛名番号 only
    number = mynumber(4)
    _link(make_ctx, "1000000001", number)
    with pytest.raises(InputRejected, match="1000000001") as exc:
        nonresidents.apply(a, _applicant(), number, VERIF)
    assert number not in str(exc.value)
    assert nonresidents.pending(a) == []  # nothing of the refused applications stayed


def test_nonresident_withdrawn_application_never_becomes_a_person(city: Any, make_ctx: Callable[..., Any]) -> None:
    a = make_ctx(Purpose.NONRESIDENT_REGISTRATION)
    app_id, atena = nonresidents.apply(a, _applicant(), mynumber(5), VERIF)
    nonresidents.withdraw(make_ctx(Purpose.NONRESIDENT_REGISTRATION), app_id, "重複申請")
    with pytest.raises(InputRejected):
        nonresidents.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION), app_id)
    assert not Person.objects.filter(atena_no=atena).exists()
    assert nonresidents.application(a, app_id).state == "withdrawn"
    # the number was unlinked: the same person can apply again with it (a new 宛名番号)
    _app2, atena2 = nonresidents.apply(a, _applicant(), mynumber(5), VERIF)
    assert atena2 != atena and not MyNumberLink.objects.filter(atena_no=atena).exists()
    assert MyNumberLink.objects.filter(atena_no=atena2).exists()


def test_nonresident_registration_needs_the_purpose(city: Any, make_ctx: Callable[..., Any]) -> None:
    entry = make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.ENTRY])
    with pytest.raises(AccessDenied):
        nonresidents.apply(entry, _applicant(), mynumber(6), VERIF)
    assert entries(request_id=entry.request_id)[0].detail == "purpose_not_permitted"


# --- properties -----------------------------------------------------------------------------------


@hsettings(max_examples=60, deadline=None)
@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)),
       st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 1, 1)))
def test_age_is_full_years(born: date, on: date) -> None:
    assume(on >= born)
    age = lookup.age_on(born, on)
    # the birthday of year born+age has passed, that of born+age+1 has not
    def anniversary(n: int) -> tuple[int, int, int]:
        return (born.year + n, born.month, born.day)
    assert anniversary(age) <= (on.year, on.month, on.day) < anniversary(age + 1)


def test_register_row_of_a_nonresident_who_moved_in_is_refused_with_a_merge_hint(
        city: Any, make_ctx: Callable[..., Any], tmp_path: Path) -> None:
    """A 住登外者 who moves in comes back in the register extract under a new 宛名番号 with the same
    My Number: the row is refused (one number, two 宛名番号), and the problem says why and what to do."""
    from yobo.people import synth
    from yobo.people.services import ImportRejected, import_residents

    number = mynumber(7)
    app_id, nonresident = nonresidents.apply(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.CLERK]),
                                             _applicant(), number, VERIF)
    nonresidents.confirm(make_ctx(Purpose.NONRESIDENT_REGISTRATION, duties=[Duty.SUPERVISOR]), app_id)
    rows = list(synth.generate(3, 5, date(2025, 9, 1)))
    rows[1]["個人番号"] = number
    f = write_register(tmp_path / "r.csv", rows)
    seen: list[str] = []
    with pytest.raises(ImportRejected):
        import_residents(make_ctx(Purpose.RESIDENT_SYNC), f, as_of=date(2025, 9, 1),
                         on_problem=lambda p: seen.append(str(p)))
    assert len(seen) == 1 and nonresident in seen[0] and "住登外者" in seen[0] and number not in seen[0]
    assert "住民記録への切替" in seen[0]  # what to do about it
    s = import_residents(make_ctx(Purpose.RESIDENT_SYNC), f, as_of=date(2025, 9, 1), skip_invalid=True)
    assert (s.inserted, s.rejected) == (2, 1)
    assert "住登外者" in (tmp_path / "r.rejected.csv").read_text(encoding="utf-8-sig")
