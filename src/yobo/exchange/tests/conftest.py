"""Two cities and the hub in one test database: every exchange table is keyed by municipality,
so city A and city B live side by side; ``city(code)`` switches the acting one. The hub runs
in-process over its own SQLite file and is called through its WSGI interface."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from yobo.core.purposes import Duty, Purpose
from yobo.exchange import conf, keys
from yobo.exchange.client import wsgi_transport
from yobo.exchange.hub.app import Hub, open_hub
from yobo.exchange.items import DEFAULT_CLAUSE
from yobo.mynumber import checkdigit
from yobo.mynumber import services as mynumber

CITY_A = "141003"  # 横浜市 (where the person lived)
CITY_B = "172014"  # 金沢市 (where the person moved in)
CITY_C = "011002"  # 札幌市 (a member with no permission)


@pytest.fixture
def hub(tmp_path: Path, settings: Any) -> Iterator[Hub]:
    settings.KEY_DIR = tmp_path / "keys"
    h = open_hub(f"sqlite:///{tmp_path / 'hub.sqlite3'}", tmp_path / "hub-keys")
    conf.set_transport(wsgi_transport(h))
    members = []
    for code in (CITY_A, CITY_B, CITY_C):
        settings.MUNICIPALITY_CODE = code
        keys.init()
        keys.trust_hub(h.keys.public())
        members.append({**keys.show(), "name": code})
    h.load_permissions({
        "members": members,
        "permissions": [
            {"asker": CITY_B, "provider": "*", "item_set": "immunization_history", "clause": DEFAULT_CLAUSE},
            {"asker": CITY_A, "provider": "*", "item_set": "immunization_history", "clause": DEFAULT_CLAUSE},
        ],
    })
    yield h
    conf.set_transport(None)
    h.store.close()


@pytest.fixture
def city(settings: Any) -> Callable[[str], None]:
    def switch(code: str) -> None:
        settings.MUNICIPALITY_CODE = code

    return switch


@pytest.fixture
def admin_ctx(make_ctx: Callable[..., Any], make_staff: Callable[..., Any]) -> Callable[..., Any]:
    """Contexts of one exchange officer who also holds M01 and the My Number right (符号取得)."""
    staff = make_staff("xadmin", duties=[Duty.EXCHANGE, Duty.CLERK, Duty.SUPERVISOR, Duty.ADMIN], mynumber_right=True)

    def make(purpose: Purpose = Purpose.EXCHANGE_QUERY) -> Any:
        return make_ctx(purpose, staff=staff)

    return make


_rng = random.Random(8)


@pytest.fixture
def resident(db: Any) -> Callable[..., str]:
    """Create a person in the acting city with a My Number; returns the 宛名番号."""
    from django.conf import settings

    from yobo.people.models import Person

    def make(atena: str, number: str, ctx: Any, *, born: date = date(2020, 4, 1)) -> str:
        now = timezone.now()
        Person.objects.create(municipality=settings.MUNICIPALITY_CODE, atena_no=atena, household_no=atena,
                              name_kanji="予防 花子", name_kana="ヨボウ ハナコ", kanji_key="予防花子",
                              kana_key="ヨボウハナコ", birth_date=born, sex=2, address="中区",
                              row_hash="x", created_at=now, updated_at=now)
        mynumber.register(ctx.for_purpose(Purpose.MYNUMBER_REGISTRATION), atena, number)
        return atena

    return make


@pytest.fixture
def new_number() -> Callable[[], str]:
    return lambda: checkdigit.generate(_rng)
