"""Verify finds any single altered, removed or reordered entry, forged checkpoints and a cut tail."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from yobo.audit.chain import GENESIS, canonical
from yobo.audit.models import AccessLogEntry, ChainHead, Checkpoint
from yobo.audit.verify import verify

pytestmark = pytest.mark.django_db

N = 12


def test_intact_log_verifies_with_its_checkpoints(fill_log):
    fill_log(N)
    res = verify()
    assert res.ok, res.message
    assert (res.entries, res.first_seq, res.last_seq) == (N, 1, N)
    assert res.checkpoints == 2  # at 5 and 10
    assert res.guards


def test_empty_log_verifies():
    assert verify().ok


@pytest.mark.parametrize("k", range(1, N + 1))
@pytest.mark.parametrize("column", ["target", "staff", "at_us", "result", "detail"])
def test_editing_any_field_of_any_entry_is_found_at_that_seq(fill_log, tamper, k, column):
    fill_log(N)
    value = "1" if column == "at_us" else "x"
    with tamper() as cur:
        cur.execute(f"UPDATE audit_access_log SET {column} = %s WHERE seq = %s", [value, k])
    res = verify()
    assert not res.ok
    assert (res.broken_seq, res.kind) == (k, "altered")
    assert f"#{k}" in res.message


@pytest.mark.parametrize("k", [1, 4, 5, 6, N - 1])
def test_editing_a_hash_is_found(fill_log, tamper, k):
    fill_log(N)
    with tamper() as cur:
        cur.execute("UPDATE audit_access_log SET hash = %s WHERE seq = %s", ["ab" * 32, k])
    res = verify()
    assert (res.ok, res.broken_seq) == (False, k)


def test_moving_a_field_boundary_with_the_separator_is_found(fill_log, tamper):
    fill_log(3)
    e = AccessLogEntry.objects.get(seq=2)
    with tamper() as cur:
        # staff+department keep their joined canonical bytes; only the field boundary moves.
        cur.execute(
            "UPDATE audit_access_log SET staff = %s, department = %s WHERE seq = 2",
            [e.staff + "\x1f" + e.department[:1], e.department[1:]],
        )
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 2, "altered")


@pytest.mark.parametrize("k", [1, 2, 5, 7, N - 1])
def test_deleting_any_entry_is_found_as_a_gap(fill_log, tamper, k):
    fill_log(N)
    with tamper() as cur:
        cur.execute("DELETE FROM audit_access_log WHERE seq = %s", [k])
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, k, "removed")


COLS = "at_us, staff, department, terminal, purpose, operation, resource, target, result, request_id, detail, hash"


def _swap(cur, i, j):
    cur.execute(f"SELECT {COLS} FROM audit_access_log WHERE seq = %s", [i])
    a = cur.fetchone()
    cur.execute(f"SELECT {COLS} FROM audit_access_log WHERE seq = %s", [j])
    b = cur.fetchone()
    sets = ", ".join(f"{c} = %s" for c in COLS.split(", "))
    cur.execute(f"UPDATE audit_access_log SET {sets} WHERE seq = %s", [*b, i])
    cur.execute(f"UPDATE audit_access_log SET {sets} WHERE seq = %s", [*a, j])


@pytest.mark.parametrize(("i", "j"), [(1, 2), (3, 4), (2, 9), (6, N)])
def test_swapping_two_entries_is_found_as_reordered(fill_log, tamper, i, j):
    fill_log(N)
    with tamper() as cur:
        _swap(cur, i, j)
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, i, "reordered")


def test_dropping_the_tail_is_found(fill_log, tamper):
    fill_log(N)
    with tamper() as cur:
        cur.execute("DELETE FROM audit_access_log WHERE seq > %s", [N - 3])
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, N - 2, "removed")


def test_dropping_the_tail_and_rewinding_the_head_is_found_by_the_checkpoint(fill_log, tamper):
    fill_log(N)  # checkpoint at 10
    with tamper() as cur:
        cur.execute("DELETE FROM audit_access_log WHERE seq > 8")
        h = AccessLogEntry.objects.get(seq=8).hash
        cur.execute("UPDATE audit_chain_head SET seq = 8, hash = %s WHERE id = 1", [h])
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 9, "removed")


def test_forged_checkpoint_is_found(fill_log, tamper):
    fill_log(N)
    h = AccessLogEntry.objects.get(seq=7).hash
    with tamper() as cur:
        cur.execute(
            "INSERT INTO audit_checkpoint (seq, hash, at_us, key_id, signature) VALUES (7, %s, 0, %s, %s)",
            [h, Checkpoint.objects.first().key_id, "00" * 64],
        )
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 7, "bad_signature")


def test_edited_checkpoint_hash_is_found(fill_log, tamper):
    fill_log(N)
    with tamper() as cur:
        cur.execute("UPDATE audit_checkpoint SET hash = %s WHERE seq = 5", ["cd" * 32])
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 5, "bad_signature")


def test_rewriting_the_whole_chain_after_an_edit_is_found_by_the_checkpoint(fill_log, tamper):
    fill_log(N)
    rows = list(AccessLogEntry.objects.order_by("seq"))
    rows[2].target = "999999999"
    prev = GENESIS
    with tamper() as cur:
        for e in rows:
            f = (e.staff, e.department, e.terminal, e.purpose, e.operation, e.resource, e.target, e.result,
                 e.request_id, e.detail)
            prev = hashlib.sha256(bytes.fromhex(prev) + canonical(e.seq, e.at_us, f)).hexdigest()
            cur.execute("UPDATE audit_access_log SET target = %s, hash = %s WHERE seq = %s", [e.target, prev, e.seq])
        cur.execute("UPDATE audit_chain_head SET hash = %s WHERE id = 1", [prev])
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 5, "checkpoint_mismatch")


def test_entry_appended_behind_the_heads_back_is_found(fill_log, tamper):
    fill_log(3)
    with tamper() as cur:
        cur.execute("UPDATE audit_chain_head SET seq = 2 WHERE id = 1")
    res = verify()
    assert (res.ok, res.broken_seq, res.kind) == (False, 3, "head_mismatch")


def test_missing_triggers_are_reported(fill_log, tamper):
    fill_log(2)
    from yobo.audit.guards import drop_guards, install_guards

    drop_guards(connection)
    try:
        assert verify().guards is False
    finally:
        install_guards(connection)
    assert ChainHead.objects.get().seq == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("k", [3, 16, 17, 24, 29])
def test_parallel_segments_find_the_break_and_check_their_boundaries(fill_log, tamper, k):
    if connection.vendor == "sqlite" and "memory" in str(connection.settings_dict["NAME"]):
        pytest.skip("worker processes cannot open an in-memory test database")
    fill_log(30)
    assert verify(workers=2).ok
    with tamper() as cur:
        cur.execute("DELETE FROM audit_access_log WHERE seq = %s", [k])
    res = verify(workers=2)
    assert (res.ok, res.broken_seq, res.kind, res.workers) == (False, k, "removed", 2)
