"""Account and terminal lifecycle services: rules and the access log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from yobo.access import selectors, services
from yobo.access.models import Staff
from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose, Result

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_ctx(make_ctx: Any) -> Any:
    return make_ctx(Purpose.ADMINISTRATION, duties=[Duty.ADMIN])


def _new(ctx: Any, username: str = "tanaka.hanako", **kw: Any) -> services.NewAccount:
    args: dict[str, Any] = {"username": username, "last_name": "田中", "first_name": "花子",
                            "department": None, "duties": ["clerk"]}
    args.update(kw)
    return services.create_staff(ctx, **args)


@pytest.mark.parametrize("name", ["admin", "Admin1", "user01", "guest", "test-2", "kyoyu", "shared_9", "madoguchi"])
def test_shared_or_generic_ids_are_refused(admin_ctx: Any, name: str) -> None:
    with pytest.raises(InputRejected, match="共用"):
        _new(admin_ctx, name)


@pytest.mark.parametrize("name", ["a", "1abc", "tanaka hanako", "田中"])
def test_malformed_ids_are_refused(admin_ctx: Any, name: str) -> None:
    with pytest.raises(InputRejected):
        _new(admin_ctx, name)


def test_a_persons_name_is_required(admin_ctx: Any) -> None:
    with pytest.raises(InputRejected, match="氏名"):
        _new(admin_ctx, last_name=" ")


def test_create_staff_is_logged_without_the_password(admin_ctx: Any) -> None:
    acc = _new(admin_ctx, duties=["clerk", "certificate"], mynumber_right=True)
    assert acc.staff.check_password(acc.password)
    assert acc.staff.duties() == {"clerk", "certificate"} and acc.staff.mynumber_right
    e = AccessLogEntry.objects.filter(operation=Operation.ADMIN).latest("seq")
    assert e.result == Result.OK and e.purpose == Purpose.ADMINISTRATION
    assert "staff=tanaka.hanako" in e.detail and acc.password not in e.detail


def test_non_admin_cannot_administer_and_the_attempt_is_logged(make_ctx: Any) -> None:
    ctx = make_ctx(Purpose.ADMINISTRATION, duties=[Duty.CLERK])
    with pytest.raises(AccessDenied):
        _new(ctx)
    assert not Staff.objects.filter(username="tanaka.hanako").exists()
    e = AccessLogEntry.objects.latest("seq")
    assert e.result == Result.DENIED and e.operation == Operation.ADMIN


def test_contractor_needs_expiry_and_gets_only_the_minimum_duty(admin_ctx: Any) -> None:
    with pytest.raises(InputRejected, match="有効期限"):
        services.create_contractor(admin_ctx, username="itaku.a", last_name="委託", first_name="A",
                                   company="入力センター", expires_on=None)
    with pytest.raises(InputRejected, match="事業者名"):
        services.create_contractor(admin_ctx, username="itaku.a", last_name="委託", first_name="A",
                                   company="", expires_on=timezone.localdate() + timedelta(days=90))
    acc = services.create_contractor(admin_ctx, username="itaku.a", last_name="委託", first_name="A",
                                     company="入力センター", expires_on=timezone.localdate() + timedelta(days=90))
    s = acc.staff
    assert s.is_contractor and s.duties() == {str(Duty.CONTRACTOR_ENTRY)} and not s.mynumber_right
    with pytest.raises(InputRejected, match="個人番号"):
        services.set_mynumber_right(admin_ctx, "itaku.a", True)
    with pytest.raises(InputRejected, match="委託先"):
        services.update_staff(admin_ctx, "itaku.a", duties=["clerk"])
    with pytest.raises(InputRejected, match="有効期限"):
        services.update_staff(admin_ctx, "itaku.a", expires_on=None)


def test_contractor_duty_is_not_for_staff(admin_ctx: Any) -> None:
    with pytest.raises(InputRejected, match="委託先"):
        _new(admin_ctx, duties=["clerk", "contractor_entry"])


def test_account_expires_by_itself(admin_ctx: Any) -> None:
    s = _new(admin_ctx, expires_on=timezone.localdate()).staff
    assert s.inactive_reason() is None
    assert s.inactive_reason(timezone.localdate() + timedelta(days=1)) == "expired"


def test_revoke_needs_a_reason_and_not_oneself(admin_ctx: Any, make_staff: Any) -> None:
    _new(admin_ctx)
    with pytest.raises(InputRejected):
        services.revoke_staff(admin_ctx, "tanaka.hanako", "")
    services.revoke_staff(admin_ctx, "tanaka.hanako", "退職")
    s = Staff.objects.get(username="tanaka.hanako")
    assert s.inactive_reason() == "revoked" and s.revoked_reason == "退職"
    with pytest.raises(InputRejected, match="自分"):
        services.revoke_staff(admin_ctx, admin_ctx.username, "test")


def test_unlock_and_reset_credentials(admin_ctx: Any, make_staff: Any) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    s = make_staff("ono", locked_until=timezone.now() + timedelta(minutes=5), failed_logins=3)
    TOTPDevice.objects.create(user=s, name="phone")
    services.unlock_staff(admin_ctx, "ono")
    s.refresh_from_db()
    assert s.locked_until is None and s.failed_logins == 0
    acc = services.reset_credentials(admin_ctx, "ono")
    s.refresh_from_db()
    assert s.check_password(acc.password) and not TOTPDevice.objects.filter(user=s).exists()


def test_review_lists_unused_and_expiring_accounts(admin_ctx: Any, make_staff: Any) -> None:
    now = timezone.now()
    make_staff("old.user", last_login=now - timedelta(days=200))
    make_staff("recent.user", last_login=now - timedelta(days=1))
    make_staff("soon.user", last_login=now, expires_on=timezone.localdate() + timedelta(days=10))
    make_staff("ghost.user", date_joined=now - timedelta(days=120))
    make_staff("new.user")
    rows = {r.username: r.finding for r in selectors.review_accounts(admin_ctx, unused_days=90, expiring_days=30)}
    assert rows.get("old.user") == "unused"
    assert rows.get("soon.user") == "expiring"
    assert rows.get("ghost.user") == "never_used"
    assert "recent.user" not in rows and "new.user" not in rows


def test_terminal_registration_rules(admin_ctx: Any) -> None:
    nt = services.register_terminal(admin_ctx, name="pc-01", cert_fingerprint="AB:" * 31 + "AB")
    assert nt.terminal.cert_fingerprint == "ab" * 32 and nt.enroll_code
    with pytest.raises(InputRejected):
        services.register_terminal(admin_ctx, name="pc-01")
    with pytest.raises(InputRejected, match="SHA-256"):
        services.register_terminal(admin_ctx, name="pc-02", cert_fingerprint="abcd")
    assert services.register_terminal(admin_ctx, name="batch-01", kind="cli").enroll_code == ""
    assert services.enroll_terminal(nt.enroll_code) is not None
    assert services.enroll_terminal(nt.enroll_code) is None  # one time only
    assert AccessLogEntry.objects.filter(result=Result.FAILED, resource="access.terminal").exists()


def test_demo_bootstrap_is_idempotent(db: Any) -> None:
    from yobo.access.models import Terminal

    first = services.bootstrap_demo(municipality="141003")
    second = services.bootstrap_demo(municipality="141003")
    assert Staff.objects.filter(username="demo-admin").count() == 1
    assert Terminal.objects.filter(name="demo-terminal").count() == 1
    s = Staff.objects.get(username="demo-admin")
    assert s.check_password(second["password"]) and not s.check_password(first["password"])
    assert s.mynumber_right and str(Duty.ADMIN) in s.duties()
    assert first["device"].key == second["device"].key  # the authenticator app keeps working
