"""Fixtures shared by every app's tests: staff with duties, terminals, access contexts."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from yobo.core.context import AccessContext
from yobo.core.purposes import Duty, Purpose

_counter = itertools.count(1)


@pytest.fixture(autouse=True, scope="session")
def _key_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterable[Path]:
    """Every test session gets its own key directory; keys never come from the developer's var/."""
    from django.conf import settings

    path = tmp_path_factory.mktemp("keys")
    old = settings.KEY_DIR
    settings.KEY_DIR = path
    yield path
    settings.KEY_DIR = old


@pytest.fixture
def key_dir(settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private key directory for this test (keys are created on first use), none from the
    environment, and the demo city's municipality code."""
    from yobo.mynumber import keys

    monkeypatch.delenv(keys.ENV_VAR, raising=False)
    settings.KEY_DIR = tmp_path / "keys"
    settings.MUNICIPALITY_CODE = "141003"
    return Path(settings.KEY_DIR)


@pytest.fixture
def make_staff(db: Any) -> Callable[..., Any]:
    """Create a staff account with the given duties (and a role holding them)."""
    from yobo.access.models import Department, DutyRole, Staff

    def make(
        username: str | None = None,
        duties: Iterable[Duty | str] = (Duty.CLERK,),
        *,
        mynumber_right: bool = False,
        contractor: bool = False,
        department: str = "hoken",
        password: str = "correct horse battery staple",
        **extra: Any,
    ) -> Any:
        n = next(_counter)
        dept, _ = Department.objects.get_or_create(code=department, defaults={"name": f"{department}課"})
        duties = [str(d) for d in duties]
        role, _ = DutyRole.objects.get_or_create(
            code="+".join(sorted(duties)) or "none", defaults={"name": "/".join(duties), "duties": duties}
        )
        staff = Staff.objects.create_user(
            username=username or f"staff{n}",
            password=password,
            department=dept,
            mynumber_right=mynumber_right,
            is_contractor=contractor,
            **extra,
        )
        staff.roles.add(role)
        return staff

    return make


@pytest.fixture
def make_ctx(make_staff: Callable[..., Any]) -> Callable[..., AccessContext]:
    """An AccessContext for a (new or given) staff member acting for ``purpose``."""

    def make(
        purpose: Purpose | str = Purpose.PERSON_INQUIRY,
        staff: Any = None,
        *,
        terminal: str = "test-terminal",
        **staff_kw: Any,
    ) -> AccessContext:
        s = staff or make_staff(**staff_kw)
        return AccessContext(
            staff_id=s.pk,
            username=s.username,
            department=s.department.code if s.department else "",
            duties=s.duties(),
            terminal=terminal,
            purpose=str(purpose),
            mynumber_right=s.mynumber_right,
            contractor=s.is_contractor,
        )

    return make
