"""利用停止: set, read back from lower-layer selectors, lift; refused for unknown persons; logged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.utils import timezone

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import InputRejected
from yobo.core.purposes import Purpose
from yobo.people import selectors, services
from yobo.people.models import Person

pytestmark = pytest.mark.django_db


def _person(atena: str) -> None:
    now = timezone.now()
    Person.objects.create(municipality="141003", atena_no=atena, household_no="1", name_kanji="横浜 太郎",
                          name_kana="ヨコハマ タロウ", kanji_key="横浜太郎", kana_key="ヨコハマタロウ",
                          birth_date=date(2000, 1, 1), sex=1, address="中区", row_hash="x", created_at=now,
                          updated_at=now)


def test_set_read_lift(make_ctx: Callable[..., Any], settings: Any) -> None:
    settings.MUNICIPALITY_CODE = "141003"
    _person("500001")
    ctx = make_ctx(Purpose.DISCLOSURE_REQUEST)
    assert not selectors.is_use_suspended(ctx, "500001")
    assert services.set_use_suspension(ctx, "500001", True, reason="本人の請求", request_ref="R-1")
    assert not services.set_use_suspension(ctx, "500001", True, reason="again")
    assert selectors.is_use_suspended(ctx, "500001")
    assert selectors.suspended_among(["500001", "500002"]) == {"500001"}
    assert AccessLogEntry.objects.filter(resource="people.suspension", target="500001", operation="update").exists()
    assert services.set_use_suspension(ctx, "500001", False)
    assert not selectors.is_use_suspended(ctx, "500001")
    with pytest.raises(InputRejected):
        services.set_use_suspension(ctx, "999999", True, reason="x")
