"""A My Number never appears in plaintext where it must not: the database file (with its WAL),
log output (even with SQL query logging on), the access log, exception messages, SQL parameters,
or anything an actor without the My Number right receives. And only this app touches the cipher.
"""

from __future__ import annotations

import logging
import os
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import YoboError
from yobo.core.purposes import Duty, Purpose
from yobo.mynumber import checkdigit, selectors, services

SRC = Path(__file__).resolve().parents[2]  # src/yobo

SEED = 20250905
COUNT = 205


def scenario_numbers() -> list[str]:
    rng = random.Random(SEED)
    out: dict[str, None] = {}
    while len(out) < COUNT:
        out[checkdigit.generate(rng)] = None
    return list(out)


SCENARIO = r'''
import logging, os, random, shutil, sys
from pathlib import Path
import django
django.setup()
logging.getLogger("django.db.backends").setLevel(logging.DEBUG)  # every statement with its parameters
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from yobo.access.models import Department, DutyRole, Staff, Terminal
from yobo.core.context import AccessContext
from yobo.core.errors import YoboError
from yobo.core.purposes import Purpose
from yobo.mynumber import checkdigit, selectors, services

rng = random.Random(int(os.environ["SCENARIO_SEED"]))
nums = {}
while len(nums) < int(os.environ["SCENARIO_COUNT"]):
    nums[checkdigit.generate(rng)] = None
nums = list(nums)

dept = Department.objects.create(code="hoken", name="保健課")
admin_role = DutyRole.objects.create(code="admin", name="admin", duties=["admin"])
clerk_role = DutyRole.objects.create(code="clerk", name="clerk", duties=["clerk"])
boss = Staff.objects.create_user("boss", password="x" * 16, department=dept, mynumber_right=True)
boss.roles.add(admin_role)
clerk = Staff.objects.create_user("clerk", password="x" * 16, department=dept)
clerk.roles.add(clerk_role)
Terminal.objects.create(name="t1")

def ctx(staff, purpose):
    return AccessContext(staff.pk, staff.username, "hoken", staff.duties(), "t1", str(purpose),
                         mynumber_right=staff.mynumber_right)

reg = ctx(boss, Purpose.MYNUMBER_REGISTRATION)
v = services.Verification("card", ("card",))
for i, n in enumerate(nums[:5]):
    services.register(reg, str(1000000 + i), n, verification=v)
r = services.bulk_register(ctx(boss, Purpose.RESIDENT_SYNC), [(str(2000000 + i), n) for i, n in enumerate(nums[5:])])
assert r.inserted == len(nums) - 5, r.as_dict()
services.bulk_register(ctx(boss, Purpose.RESIDENT_SYNC), [("3000000", nums[0])])  # refused, reported
for attempt in (lambda: services.register(reg, "3000001", nums[1]),
                lambda: services.register(reg, "1000000", nums[9]),
                lambda: services.register(reg, "3000002", nums[2][:11] + str((int(nums[2][11]) + 1) % 10)),
                lambda: selectors.reveal(ctx(clerk, Purpose.MYNUMBER_REGISTRATION), "1000001"),
                lambda: selectors.find_atena_by_number(ctx(clerk, Purpose.PERSON_INQUIRY), nums[3])):
    try:
        attempt()
    except YoboError as exc:
        print("refused:", exc, file=sys.stderr)
    else:
        raise SystemExit("an attempt that must fail succeeded")
services.set_deceased(reg, "1000004")
print(selectors.status(ctx(clerk, Purpose.PERSON_INQUIRY), "1000003"), file=sys.stderr)
assert selectors.find_atena_by_number(ctx(boss, Purpose.PERSON_INQUIRY), nums[3]) == "1000003"
maint = ctx(boss, Purpose.MYNUMBER_MAINTENANCE)
services.rotate_data_key(maint)
services.reindex(maint)
got = [selectors.reveal(reg, str(1000000 + i)) for i in range(5)]
got += [selectors.reveal(reg, str(2000000 + i)) for i in range(len(nums) - 5)]
assert got == nums, "reveal did not return the registered numbers"
# Snapshot the database with its WAL while the connection is still open (the WAL is
# checkpointed and removed on close).
db = Path(connection.settings_dict["NAME"])
snap = Path(os.environ["SCENARIO_SNAP"])
snap.mkdir()
for p in db.parent.glob(db.name + "*"):
    shutil.copy(p, snap / p.name)
'''


def _forms(n: str) -> list[bytes]:
    return [n.encode("ascii"), n.encode("utf-16-le"), n.encode("utf-16-be")]


def test_sqlite_file_wal_and_logs_never_hold_a_plaintext_number(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("YOBO_")}
    db = tmp_path / "var" / "yobo.sqlite3"
    env.update(
        DJANGO_SETTINGS_MODULE="yobo.settings",
        YOBO_VAR_DIR=str(tmp_path / "var"),
        YOBO_KEY_DIR=str(tmp_path / "keys"),
        YOBO_DATABASE_URL=f"sqlite:///{db}",
        YOBO_DEBUG="1",  # Django then logs every SQL statement with its parameters...
        YOBO_LOG_LEVEL="DEBUG",  # ...and the root logger lets them through to stderr.
        SCENARIO_SEED=str(SEED),
        SCENARIO_COUNT=str(COUNT),
        SCENARIO_SNAP=str(tmp_path / "snap"),
    )
    (tmp_path / "var").mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", SCENARIO], env=env, capture_output=True, timeout=300, check=False
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output.decode(errors="replace")[-3000:]
    assert b"INSERT INTO" in output and b"args=" in output  # SQL logging really was on
    assert "個人番号の参照権限がありません".encode() in output

    files = sorted(p for p in tmp_path.rglob("*") if p.is_file() and "keys" not in p.parts)
    assert any(p.name.endswith("-wal") for p in files)
    blob = b"".join(p.read_bytes() for p in files)
    assert b"2000123" in blob and b"1000004" in blob  # the scan does see plain column values
    nums = scenario_numbers()
    for n in nums:
        for form in _forms(n):
            assert form not in blob, "a My Number is in the database file"
            assert form not in output, "a My Number is in the log output"

    with sqlite3.connect(db) as con:
        assert con.execute("select count(*) from mynumber_link").fetchone() == (COUNT,)
        log_text = "\n".join("\x1f".join(map(str, r)) for r in con.execute("select * from audit_access_log"))
    assert "reveal_mynumber" in log_text and "denied" in log_text
    assert not any(n in log_text for n in nums)


@pytest.mark.django_db
def test_logs_access_log_sql_and_errors_in_process(make_ctx, numbers, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    nums = numbers(30, seed=5)
    boss = make_ctx(Purpose.MYNUMBER_REGISTRATION, duties=[Duty.ADMIN], mynumber_right=True)
    clerk = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.CLERK])
    messages: list[str] = []
    revealed: list[str] = []
    with CaptureQueriesContext(connection) as queries:
        for i, n in enumerate(nums[:10]):
            services.register(boss, str(500 + i), n)
        sync = boss.for_purpose(Purpose.RESIDENT_SYNC)
        services.bulk_register(sync, [(str(600 + i), n) for i, n in enumerate(nums[10:])])
        attempts = [
            lambda: services.register(boss, "700", nums[0]),
            lambda: services.register(boss, "500", nums[1]),
            lambda: services.register(boss, "701", nums[0][:11] + str((int(nums[0][11]) + 1) % 10)),
            lambda: services.register(boss, "702", nums[0][:6]),
            lambda: selectors.reveal(clerk, "500"),
            lambda: selectors.find_atena_by_number(clerk, nums[2]),
            lambda: selectors.reveal(boss, "999"),
        ]
        for attempt in attempts:
            with pytest.raises(YoboError) as exc:
                attempt()
            messages.append(str(exc.value) + repr(exc.value.args))
        revealed.append(selectors.reveal(boss, "500"))
        assert selectors.find_atena_by_number(boss.for_purpose(Purpose.PERSON_INQUIRY), nums[2]) == "502"
        info = selectors.status(clerk, "500")
        summary = services.bulk_register(boss.for_purpose(Purpose.RESIDENT_SYNC), [("800", nums[4])])
        rot = services.rotate_data_key(boss.for_purpose(Purpose.MYNUMBER_MAINTENANCE))
        idx = services.reindex(boss.for_purpose(Purpose.MYNUMBER_MAINTENANCE))
    assert revealed == [nums[0]]  # the right holder does get it
    sql = "\n".join(f"{q['sql']}" for q in queries.captured_queries)
    log_rows = "\n".join(
        "\x1f".join(str(v) for v in row) for row in AccessLogEntry.objects.values_list()
    )
    without_right = repr(info) + repr(summary.as_dict()) + repr(summary) + repr(rot) + repr(idx)
    for n in nums:
        assert n not in caplog.text
        assert n not in sql
        assert n not in log_rows
        assert not any(n in m for m in messages)
        assert n not in without_right
    assert "denied" in log_rows and "reveal_mynumber" in log_rows


# Other data sealed at rest with its OWN key ring (never the My Number keys), each reviewed here.
OTHER_SEALED = {
    "relief/vault.py": "健康被害救済の添付書類 (relief documents): own key file, AAD binds claim and name",
}


def test_only_the_vault_uses_the_cipher() -> None:
    pattern = re.compile(r"\bAESGCM\b|ciphers\.aead|mynumber\.crypto|mynumber import crypto")
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "mynumber" not in p.relative_to(SRC).parts and pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert sorted(offenders) == sorted(OTHER_SEALED)
    # None of them reaches the My Number cipher or its keys.
    for rel in OTHER_SEALED:
        text = (SRC / rel).read_text(encoding="utf-8")
        assert "mynumber" not in text
    # And inside the vault the cipher is used by crypto.py alone.
    inner = [
        p.name for p in (SRC / "mynumber").rglob("*.py")
        if "tests" not in p.parts and "AESGCM" in p.read_text(encoding="utf-8")
    ]
    assert inner == ["crypto.py"]
