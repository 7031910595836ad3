"""Key rotation and reindexing: services and the ``yobo mynumber`` command."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from yobo.access.models import Terminal
from yobo.core.errors import AccessDenied
from yobo.core.purposes import Duty, Purpose
from yobo.mynumber import crypto, keys, selectors, services
from yobo.mynumber.models import MyNumberLink

pytestmark = pytest.mark.django_db

REG = Purpose.MYNUMBER_REGISTRATION
MAINT = Purpose.MYNUMBER_MAINTENANCE


@pytest.fixture
def filled(make_ctx, numbers):  # type: ignore[no-untyped-def]
    ctx = make_ctx(REG, mynumber_right=True)
    nums = numbers(12)
    services.bulk_register(make_ctx(Purpose.RESIDENT_SYNC), [(str(100 + i), n) for i, n in enumerate(nums)])
    return ctx, nums


def ring() -> keys.Keyring:
    r = keys.load()
    assert r is not None
    return r


def test_rows_under_an_old_key_still_open_and_rotation_reseals_them(filled, make_ctx, numbers) -> None:
    ctx, nums = filled
    first = ring().active_data_key
    # A new active key before any re-encryption: old rows open, new rows use the new key.
    keys.save(ring().with_new_data_key("t"))
    second = ring().active_data_key
    (extra,) = numbers(1, seed=1234)
    services.register(ctx, "999", extra)
    assert MyNumberLink.objects.get(atena_no="999").key_id == second
    assert selectors.reveal(ctx, "100") == nums[0]
    assert set(MyNumberLink.objects.values_list("key_id", flat=True)) == {first, second}

    before = dict(MyNumberLink.objects.values_list("atena_no", "ciphertext"))
    summary = services.rotate_data_key(make_ctx(MAINT, duties=[Duty.ADMIN]), batch_size=5)
    third = summary["active_key"]
    assert third not in (first, second) and summary["resealed"] == 13
    assert set(MyNumberLink.objects.values_list("key_id", flat=True)) == {third}
    after = dict(MyNumberLink.objects.values_list("atena_no", "ciphertext"))
    assert all(bytes(before[a]) != bytes(after[a]) for a in before)
    assert [selectors.reveal(ctx, str(100 + i)) for i in range(12)] == nums
    assert selectors.reveal(ctx, "999") == extra
    # Old keys stay until pruned.
    assert {first, second, third} <= set(ring().data_keys)
    pruned = services.rotate_data_key(make_ctx(MAINT, duties=[Duty.ADMIN]), prune=True)
    assert set(pruned["pruned"]) == {first, second, third}
    assert set(ring().data_keys) == {pruned["active_key"]}
    assert selectors.find_atena_by_number(ctx, nums[3]) == "103"


def test_failed_rotation_changes_no_row(filled, make_ctx, monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, nums = filled
    old = ring().active_data_key
    real = crypto.Sealer.seal
    calls = {"n": 0}

    def flaky(self, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 7:
            raise RuntimeError("disk full")
        return real(self, *a, **kw)

    monkeypatch.setattr(crypto.Sealer, "seal", flaky)
    with pytest.raises(RuntimeError):
        services.rotate_data_key(make_ctx(MAINT, duties=[Duty.ADMIN]), batch_size=5)
    monkeypatch.setattr(crypto.Sealer, "seal", real)
    assert set(MyNumberLink.objects.values_list("key_id", flat=True)) == {old}
    assert old in ring().data_keys  # still there: the rows need it
    assert selectors.reveal(ctx, "105") == nums[5]
    services.rotate_data_key(make_ctx(MAINT, duties=[Duty.ADMIN]))
    assert selectors.reveal(ctx, "105") == nums[5]


def test_reindex_replaces_the_index_key(filled, make_ctx) -> None:
    ctx, nums = filled
    old_key = ring().active_index_key
    old_index = dict(MyNumberLink.objects.values_list("atena_no", "blind_index"))
    s = services.reindex(make_ctx(MAINT, duties=[Duty.ADMIN]), batch_size=5)
    assert s["reindexed"] == 12 and s["removed"] == [old_key]
    assert set(ring().index_keys) == {s["active_index_key"]}
    new_index = dict(MyNumberLink.objects.values_list("atena_no", "blind_index"))
    assert all(old_index[a] != new_index[a] for a in old_index)
    assert set(MyNumberLink.objects.values_list("index_key_id", flat=True)) == {s["active_index_key"]}
    assert selectors.find_atena_by_number(ctx, nums[4]) == "104"
    r = services.bulk_register(make_ctx(Purpose.RESIDENT_SYNC), [(str(100 + i), n) for i, n in enumerate(nums)])
    assert r.unchanged == 12 and r.inserted == 0


def test_lookups_survive_an_interrupted_reindex(filled, make_ctx, numbers) -> None:
    ctx, nums = filled
    # The new index key was added (inactive) but the rows were never recomputed.
    with_new, _ = ring().with_new_index_key()
    keys.save(with_new)
    assert selectors.find_atena_by_number(ctx, nums[2]) == "102"
    r = services.bulk_register(make_ctx(Purpose.RESIDENT_SYNC), [("555", nums[2])])
    assert [c.reason for c in r.conflicts] == ["number_on_other_atena"]


def test_rotation_refused_when_keys_come_from_the_environment(filled, make_ctx, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ctx, nums = filled
    monkeypatch.setenv(keys.ENV_VAR, json.dumps(ring().to_json()))
    with pytest.raises(keys.KeyRingError, match=keys.ENV_VAR):
        services.rotate_data_key(make_ctx(MAINT, duties=[Duty.ADMIN]))
    assert selectors.reveal(ctx, "100") == nums[0]


def test_maintenance_needs_the_maintenance_purpose(filled, make_ctx) -> None:
    with pytest.raises(AccessDenied):
        services.rotate_data_key(make_ctx(MAINT))  # a clerk's duties do not include M02


def test_command_rotate_and_reindex_json(filled, make_staff, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ctx, nums = filled
    admin = make_staff("keyadmin", duties=[Duty.ADMIN])
    Terminal.objects.create(name="ops-1")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-1")
    out = io.StringIO()
    call_command("mynumber", "rotate-keys", "--as", admin.username, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["resealed"] == 12 and data["active_key"] == ring().active_data_key
    out = io.StringIO()
    call_command("mynumber", "--json", "reindex", "--as", admin.username, stdout=out)
    assert json.loads(out.getvalue())["reindexed"] == 12
    out = io.StringIO()
    call_command("mynumber", "keys", "--as", admin.username, stdout=out)
    assert out.getvalue().strip() == f"{ring().active_data_key}\t12"
    for n in nums:
        assert n not in out.getvalue()
    assert selectors.reveal(ctx, "100") == nums[0]


def test_command_refused_with_exit_3(filled, make_staff, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clerk = make_staff("clerk1", duties=[Duty.CLERK])
    Terminal.objects.create(name="ops-1")
    monkeypatch.setenv("YOBO_TERMINAL", "ops-1")
    with pytest.raises(CommandError) as exc:
        call_command("mynumber", "rotate-keys", "--as", clerk.username, stderr=io.StringIO())
    assert exc.value.returncode == 3
