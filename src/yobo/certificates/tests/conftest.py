"""A small city with dose histories, the issuer key in a private key dir, and C01 staff."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from yobo.core.purposes import Duty, Purpose

VOUCHER = "1234567890"


@pytest.fixture
def keydir(key_dir: Path) -> Path:
    from yobo.certificates import issuer_keys
    from yobo.mynumber import keys

    keys.ensure_keys()
    issuer_keys.ensure_keys()
    return key_dir


@pytest.fixture
def certificate_city(db: Any, keydir: Path, make_ctx: Any) -> dict[str, Any]:
    """山田太郎 (child, 4 doses), 山田花子 (mother, 1 COVID dose), and two 佐藤 children with the same
    name and birth date at the same address (a three-item search must not pick one)."""
    from yobo.immunizations import demo, services
    from yobo.immunizations.inputs import DoseInput, Source
    from yobo.people.tests.test_registry_staff import add_person

    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(2020, 5, 1), household="2000000001")
    add_person("1000000002", "山田　花子", "ヤマダ　ハナコ", date(1955, 6, 15), household="2000000001", sex=2)
    add_person("1000000003", "佐藤　蓮", "サトウ　レン", date(2021, 3, 3), household="2000000003",
               address="横浜市西区みなとみらい３丁目５番地")
    add_person("1000000004", "佐藤　蓮", "サトウ　レン", date(2021, 3, 3), household="2000000003",
               address="横浜市西区みなとみらい３丁目５番地")
    clerk = make_ctx(Purpose.DOSE_IMPORT, duties=[Duty.CLERK])
    services.load_demo_masters(clerk)
    clinic = demo.clinic_code(0)
    for vaccine, on, n, lot, voucher in (("HIB", date(2020, 7, 10), 1, "HB001", VOUCHER),
                                         ("HIB", date(2020, 8, 14), 2, "HB002", ""),
                                         ("BCG", date(2020, 10, 1), 1, "BC101", ""),
                                         ("MR1", date(2021, 5, 10), 1, "MR555", "")):
        services.record_dose(clerk, DoseInput(atena_no="1000000001", vaccine=vaccine, date=on, dose_number=n,
                                              clinic_code=clinic, lot_number=lot, voucher_no=voucher,
                                              source=Source.KEYED))
    return {"clinic": clinic}


@pytest.fixture
def c01(make_ctx: Any) -> Any:
    return make_ctx(Purpose.CERTIFICATE_ISSUANCE, duties=[Duty.CERTIFICATE])


def mynumber(seed: int) -> str:
    from yobo.mynumber import checkdigit

    return checkdigit.generate(random.Random(seed))
