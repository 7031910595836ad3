"""A schemathesis run against the OpenAPI document served by the live test server: generated
requests (path parameters, query parameters, purposes) with a system client's credential never
produce a server error, and every response is one the document declares."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from yobo.core.purposes import Duty, Purpose


@pytest.fixture
def api_token(transactional_db: Any, make_ctx: Any, key_dir: Path) -> str:
    from yobo.access import clients
    from yobo.certificates import issuer_keys
    from yobo.mynumber import keys
    from yobo.people.tests.test_registry_staff import add_person

    keys.ensure_keys()
    issuer_keys.ensure_keys()
    add_person("1000000001", "山田　太郎", "ヤマダ　タロウ", date(2025, 3, 1))
    add_person("1", "佐藤　花子", "サトウ　ハナコ", date(1950, 1, 1), sex=2)
    admin = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])
    _info, token = clients.register(admin, "fuzz", duties=[Duty.CLERK], purposes=["P02", "C01", "N03"])
    return token


def test_no_server_errors(live_server: Any, api_token: str) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/v1/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 5
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    seen: set[int] = set()
    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: Any) -> None:
            resp = case.call_and_validate(base_url=live_server.url,
                                          headers={"Authorization": f"Bearer {api_token}"}, checks=checks)
            seen.add(resp.status_code)

        run()
    assert 200 in seen and 404 in seen  # the run reached real data and real refusals
