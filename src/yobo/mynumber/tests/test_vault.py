"""The vault through its services and selectors: registration, reveal, search, bulk, status."""

from __future__ import annotations

import datetime as dt

import pytest

from yobo.audit.models import AccessLogEntry
from yobo.core.errors import AccessDenied, InputRejected
from yobo.core.purposes import Duty, Operation, Purpose
from yobo.mynumber import selectors, services, vault
from yobo.mynumber.models import IdentityVerification, MyNumberLink

pytestmark = pytest.mark.django_db

REG = Purpose.MYNUMBER_REGISTRATION


def last_entry() -> AccessLogEntry:
    return AccessLogEntry.objects.order_by("-seq").first()  # type: ignore[return-value]


def test_register_assigns_integrated_number_and_reveal_returns_it(make_ctx, numbers) -> None:
    ctx = make_ctx(REG, mynumber_right=True)
    n1, n2 = numbers(2)
    i1 = services.register(ctx, "1001", n1)
    i2 = services.register(ctx, "1002", n2)
    assert vault.is_integrated_no(i1) and vault.is_integrated_no(i2)
    assert i1.startswith("141003") and i1 != i2
    assert int(i2[6:14]) == int(i1[6:14]) + 1
    assert selectors.reveal(ctx, "1001") == n1
    e = last_entry()
    assert (e.operation, e.target, e.result, e.staff) == (Operation.REVEAL_MYNUMBER, "1001", "ok", ctx.username)
    assert e.terminal == "test-terminal" and e.purpose == REG
    assert selectors.integrated_no_for(ctx, "1002") == i2


def test_register_is_idempotent_for_the_same_pair(make_ctx, numbers) -> None:
    ctx = make_ctx(REG)
    (n,) = numbers(1)
    first = services.register(ctx, "1001", n)
    # Written with full-width digits and hyphens: the same number.
    written = (n[:4] + "-" + n[4:8] + "-" + n[8:]).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert services.register(ctx, "1001", written) == first
    assert MyNumberLink.objects.count() == 1


def test_same_number_on_another_atena_refused_without_the_number(make_ctx, numbers) -> None:
    ctx = make_ctx(REG)
    n, m = numbers(2)
    services.register(ctx, "1001", n)
    with pytest.raises(vault.NumberConflict) as exc:
        services.register(ctx, "2002", n)
    assert exc.value.reason == "number_on_other_atena" and exc.value.other_atena_no == "1001"
    assert n not in str(exc.value) and "2002" in str(exc.value)
    with pytest.raises(vault.NumberConflict) as exc2:
        services.register(ctx, "1001", m)
    assert exc2.value.reason == "number_differs" and m not in str(exc2.value) and n not in str(exc2.value)
    assert MyNumberLink.objects.count() == 1
    e = last_entry()
    assert e.result == "error" and e.detail == "NumberConflict" and e.target == "1001"


def test_invalid_numbers_refused(make_ctx, numbers) -> None:
    ctx = make_ctx(REG)
    (n,) = numbers(1)
    bad = n[:11] + str((int(n[11]) + 1) % 10)
    for value in (bad, "000000000000", n[:11], "abc"):
        with pytest.raises(InputRejected) as exc:
            services.register(ctx, "1001", value)
        assert value not in str(exc.value) or value == "abc"
    assert not MyNumberLink.objects.exists()
    with pytest.raises(InputRejected):
        services.register(ctx, "12a", n)


def test_reveal_refused_and_logged_without_the_right(make_ctx, numbers) -> None:
    staff_ctx = make_ctx(REG, mynumber_right=False)
    (n,) = numbers(1)
    services.register(staff_ctx, "1001", n)  # registering needs no right to see numbers
    with pytest.raises(AccessDenied) as exc:
        selectors.reveal(staff_ctx, "1001")
    assert exc.value.reason == "mynumber_right"
    e = last_entry()
    assert (e.operation, e.result, e.detail, e.target) == ("reveal_mynumber", "denied", "mynumber_right", "1001")
    with pytest.raises(AccessDenied):
        selectors.find_atena_by_number(staff_ctx, n)
    e = last_entry()
    assert e.result == "denied" and n not in e.target + e.detail


def test_reveal_refused_for_a_purpose_that_does_not_allow_it(make_ctx, numbers) -> None:
    ctx = make_ctx(REG, mynumber_right=True)
    (n,) = numbers(1)
    services.register(ctx, "1001", n)
    with pytest.raises(AccessDenied) as exc:
        selectors.reveal(ctx.for_purpose(Purpose.DOSE_ENTRY), "1001")
    assert exc.value.reason == "operation_not_permitted"


def test_find_by_number_logs_the_atena_never_the_number(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.CERTIFICATE_ISSUANCE, mynumber_right=True)
    n, other = numbers(2)
    services.register(ctx.for_purpose(REG), "1001", n)
    assert selectors.find_atena_by_number(ctx, n[:4] + " " + n[4:]) == "1001"
    e = last_entry()
    assert (e.operation, e.resource, e.target, e.result) == ("reveal_mynumber", "mynumber.search", "1001", "ok")
    assert selectors.find_atena_by_number(ctx, other) is None
    e = last_entry()
    assert e.target == "" and e.detail.endswith("miss")
    for entry in AccessLogEntry.objects.all():
        assert n not in " ".join([entry.target, entry.detail, entry.resource])


def test_status_for_staff_without_the_right(make_ctx, numbers) -> None:
    ctx = make_ctx(REG)
    (n,) = numbers(1)
    ino = services.register(ctx, "1001", n)
    reader = make_ctx(Purpose.PERSON_INQUIRY, duties=[Duty.ENTRY])
    info = selectors.status(reader, "1001")
    assert info.registered and info.integrated_no == ino and not info.deceased
    assert n not in repr(info)
    assert selectors.status(reader, "9999") == selectors.LinkInfo("9999", registered=False)
    assert last_entry().operation == "read"


def test_deceased_flag_keeps_the_number(make_ctx, numbers) -> None:
    ctx = make_ctx(REG, mynumber_right=True)
    n, m = numbers(2)
    services.register(ctx, "1001", n)
    services.register(ctx, "1002", m)
    services.set_deceased(ctx, "1001", dt.date(2024, 5, 1))
    info = selectors.status(ctx, "1001")
    assert info.deceased and info.deceased_on == dt.date(2024, 5, 1)
    assert selectors.reveal(ctx, "1001") == n
    # Still occupies its number: nobody else can take it.
    with pytest.raises(vault.NumberConflict):
        services.register(ctx, "3003", n)
    sync = make_ctx(Purpose.RESIDENT_SYNC)
    assert services.bulk_set_deceased(sync, [("1002", dt.date(2024, 6, 1)), ("7777", None)]) == 1
    assert services.bulk_set_deceased(sync, [("1002", dt.date(2024, 6, 1))]) == 0
    assert selectors.status(ctx, "1002").deceased
    services.set_deceased(ctx, "1001", deceased=False)
    assert not selectors.status(ctx, "1001").deceased
    with pytest.raises(vault.NotRegistered):
        services.set_deceased(ctx, "4040")


# --- bulk -------------------------------------------------------------------------------------


def test_bulk_register_inserts_and_is_idempotent(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    nums = numbers(50)
    pairs = [(str(10_000 + i), n) for i, n in enumerate(nums)]
    r = services.bulk_register(ctx, pairs)
    assert (r.inserted, r.unchanged, r.conflicts) == (50, 0, [])
    assert len(set(r.assigned.values())) == 50 and all(vault.is_integrated_no(v) for v in r.assigned.values())
    again = services.bulk_register(ctx, pairs)
    assert (again.inserted, again.unchanged, again.conflicts) == (0, 50, [])
    assert MyNumberLink.objects.count() == 50
    revealer = make_ctx(REG, mynumber_right=True)
    assert selectors.reveal(revealer, "10007") == nums[7]
    e = AccessLogEntry.objects.filter(operation="batch").order_by("-seq").first()
    assert e is not None and "unchanged=50" in e.detail
    # A single registration after a bulk one continues the same counter.
    (extra,) = numbers(1, seed=99)
    ino = services.register(revealer, "20000", extra)
    assert int(ino[6:14]) == 51


def test_bulk_register_refuses_conflicts_by_atena_only(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    a, b, c, d, e = numbers(5)
    services.register(ctx.for_purpose(REG), "1", a)
    bad = b[:11] + str((int(b[11]) + 1) % 10)
    pairs = [
        ("1", a),  # unchanged
        ("2", a),  # a is already on 1
        ("1", a),  # repeated identical row: fine
        ("3", c), ("4", c),  # the same number on two atena in the input
        ("5", bad),  # check digit
        ("6", d), ("6", e),  # one atena, two numbers
        ("7", b),  # fine
        ("x9", e),
    ]
    r = services.bulk_register(ctx, pairs)
    reasons = {c.atena_no: c.reason for c in r.conflicts}
    assert reasons == {
        "2": "number_on_other_atena", "3": "number_on_two_atena", "4": "number_on_two_atena",
        "5": "invalid_number", "6": "atena_twice", "x9": "invalid_atena",
    }
    assert (r.inserted, r.unchanged) == (1, 1)
    assert set(MyNumberLink.objects.values_list("atena_no", flat=True)) == {"1", "7"}
    text = repr(r) + repr(r.as_dict()) + " ".join(c.message for c in r.conflicts)
    for n in (a, b, bad, c, d, e):
        assert n not in text
    # A changed number for a known atena is refused too.
    r2 = services.bulk_register(ctx, [("7", d)])
    assert [(c.atena_no, c.reason) for c in r2.conflicts] == [("7", "number_differs")]
    # A number already linked, arriving alone on a new atena (nothing else in the input).
    r3 = services.bulk_register(ctx, [("8", a)])
    assert [(c.atena_no, c.reason, c.other_atena_no) for c in r3.conflicts] == [("8", "number_on_other_atena", "1")]


def test_bulk_check_only_writes_nothing(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    r = services.bulk_register(ctx, [(str(i), n) for i, n in enumerate(numbers(5))], check_only=True)
    assert r.inserted == 5 and not r.applied and not r.assigned
    assert not MyNumberLink.objects.exists()


def test_bulk_register_needs_a_batch_purpose(make_ctx, numbers) -> None:
    ctx = make_ctx(REG)  # M01 allows single registrations, not batches
    with pytest.raises(AccessDenied):
        services.bulk_register(ctx, [("1", numbers(1)[0])])
    assert not MyNumberLink.objects.exists()


# --- identity verification -------------------------------------------------------------------


def test_verification_recorded_with_registration_and_confirmed_by_another(make_ctx, make_staff, numbers) -> None:
    clerk = make_ctx(REG)
    (n,) = numbers(1)
    v = services.Verification(number_check="card", identity_documents=("card",))
    services.register(clerk, "1001", n, verification=v)
    rec = IdentityVerification.objects.get()
    assert rec.link is not None and rec.link.atena_no == "1001" and rec.verified_by_id == clerk.staff_id
    with pytest.raises(InputRejected, match="別の職員"):
        services.confirm_verification(clerk, rec.pk)
    second = make_ctx(REG)
    services.confirm_verification(second, rec.pk)
    e = last_entry()
    assert (e.operation, e.resource, e.target, e.staff) == ("update", "mynumber.verification", "1001", second.username)
    with pytest.raises(InputRejected, match="確認済み"):
        services.confirm_verification(make_ctx(REG), rec.pk)
    [info] = selectors.verifications_for(second, "1001")
    assert info.verified_by == clerk.username and info.confirmed_by == second.username


@pytest.mark.parametrize(
    ("v", "problem"),
    [
        (services.Verification("card", ("insurance",)), "2点以上"),
        (services.Verification("mail", ("card",)), "番号確認"),
        (services.Verification("card", (), agent_kind="delegate", agent_identity_documents=("license",)), "委任状"),
        (services.Verification("card", (), agent_kind="legal", agent_identity_documents=("passport",)), "戸籍"),
        (services.Verification("card", (), agent_kind="delegate", power_of_attorney_seen=True), "代理人の本人確認"),
        (services.Verification("card", ("card",), note="番号 1234 5678 9012 を控えた"), "備考"),
    ],
)
def test_incomplete_verifications_refused(make_ctx, v, problem) -> None:  # type: ignore[no-untyped-def]
    ctx = make_ctx(REG)
    with pytest.raises(InputRejected, match=problem):
        services.record_verification(ctx, "1001", v)
    assert not IdentityVerification.objects.exists()


def test_complete_agent_verifications_accepted(make_ctx) -> None:
    ctx = make_ctx(REG)
    ok = [
        services.Verification("juminhyo", ("insurance", "pension")),
        services.Verification("jukinet", (), agent_kind="delegate", agent_identity_documents=("license",),
                              power_of_attorney_seen=True),
        services.Verification("card", (), agent_kind="legal", agent_identity_documents=("insurance", "other"),
                              representation_document_seen=True),
    ]
    for v in ok:
        services.record_verification(ctx, "1001", v)
    assert IdentityVerification.objects.filter(link__isnull=True).count() == 3


def test_key_ring_missing_in_front_of_rows_is_an_error(make_ctx, numbers, key_dir) -> None:
    ctx = make_ctx(REG, mynumber_right=True)
    services.register(ctx, "1001", numbers(1)[0])
    (key_dir / "mynumber-keys.json").unlink()
    with pytest.raises(vault.KeyRingError):
        selectors.reveal(ctx, "1001")
    assert not (key_dir / "mynumber-keys.json").exists()  # not silently recreated


def test_streaming_bulk_settles_conflicts_across_chunks_and_seals_only_new(make_ctx, numbers, monkeypatch) -> None:
    """Chunks of 3: conflicts that span chunks are found in SQL; a re-run seals nothing."""
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    nums = numbers(12)
    pairs = [(str(500 + i), n) for i, n in enumerate(nums[:8])]
    pairs += [("600", nums[0]), ("501", nums[1]), ("700", nums[9]), ("701", nums[9]), ("502", nums[10])]
    with services.bulk_registration(ctx) as reg:
        reg._chunk = 3
        for i, (a, n) in enumerate(pairs):
            reg.add(a, n, key=100 + i)
        r = reg.finish()
    reasons = {c.atena_no: (c.reason, r.keys[c.atena_no]) for c in r.conflicts}
    # "600" repeats 500's number (chunk 1 vs chunk 3); "502" has two numbers; 700/701 share a new one.
    assert reasons == {
        "600": ("number_on_two_atena", 108), "500": ("number_on_two_atena", 100),
        "502": ("atena_twice", 102), "700": ("number_on_two_atena", 110), "701": ("number_on_two_atena", 111),
    }
    assert (r.inserted, r.unchanged) == (6, 0)  # 501 twice with the same number: linked once
    assert set(MyNumberLink.objects.values_list("atena_no", flat=True)) == {"501", "503", "504", "505", "506", "507"}

    def no_seal(*a, **kw):  # pragma: no cover - must not run
        raise AssertionError("an unchanged pair was sealed again")

    monkeypatch.setattr(services.crypto.Sealer, "seal", no_seal)
    with services.bulk_registration(ctx) as reg:
        reg._chunk = 3
        reg.add_many(pairs[1:2] + pairs[3:8])
        again = reg.finish()
    assert (again.inserted, again.unchanged, again.conflicts) == (0, 6, [])


def test_streaming_bulk_discard_and_check_only(make_ctx, numbers) -> None:
    ctx = make_ctx(Purpose.RESIDENT_SYNC)
    a, b, c = numbers(3)
    with services.bulk_registration(ctx) as reg:
        reg.add("1", a, key=2)
        reg.add("1", b, key=3)  # would be atena_twice …
        reg.add("2", c, key=4)
        reg.discard([3])  # … but the caller rejected that row
        r = reg.finish()
    assert (r.inserted, r.conflicts) == (2, [])
    with services.bulk_registration(ctx) as reg:
        reg.add("3", numbers(1, seed=5)[0])
        reg.check_only = True
        r2 = reg.finish()
    assert r2.inserted == 1 and not r2.applied and MyNumberLink.objects.count() == 2
