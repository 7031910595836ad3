from datetime import date
from typing import Any

from yobo.immunizations import selectors, services

from .conftest import dose


def test_keyed_dose_saved_and_in_history(city: Any, masters: Any, v01: Any) -> None:
    r = services.record_dose(v01, dose("1000000001", "MR1", date(2026, 1, 20), 1, product_code="MR-BIKEN"))
    assert r.dose_id is not None
    h = selectors.person_history(v01, "1000000001")
    assert h.doses[0].dose.vaccine == "MR1"
    assert h.doses[0].valid is True
