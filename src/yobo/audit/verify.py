"""Verification of the access log (改ざん検証): ``yobo audit verify`` and the viewer's check.

What is checked:

* the chain: for every entry, ``hash == sha256(previous entry's hash || canonical(entry))`` and the
  sequence numbers are contiguous, starting after the last archive's anchor (or at 1);
* every checkpoint's Ed25519 signature, and that the entry at the checkpoint's seq carries its hash;
* every archive record's signature and that archives are contiguous;
* the chain-head row agrees with the last entry.

Speed: rows are read with a raw cursor in key-ordered chunks, the canonical bytes are built by the
database (one bytes value per row, no per-field Python objects), and the seq range is split into
segments verified by parallel processes; each segment starts from the stored hash of the entry just
before it, and the segment before checks that boundary entry itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from django.db import connection

from . import signing
from .chain import GENESIS

CHUNK = 50_000
PARALLEL_MIN = 200_000  # below this, one process is faster than starting workers
SEPARATORS = 11  # 12 canonical fields
CLASSIFY_WINDOW = 5_000

KIND_LABELS = {
    "altered": "改ざん (内容の変更)",
    "removed": "欠落 (削除)",
    "reordered": "順序の入れ替え",
    "checkpoint_mismatch": "チェックポイント不一致",
    "bad_signature": "署名不正",
    "head_mismatch": "チェーン先頭の不一致",
}


@dataclass(slots=True)
class Problem:
    seq: int
    kind: str
    message: str


@dataclass
class VerifyResult:
    """The outcome of a verification (検証結果)."""

    ok: bool
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    checkpoints: int = 0
    archives: int = 0
    broken_seq: int | None = None
    kind: str = ""
    message: str = ""
    problems: list[Problem] = field(default_factory=list)
    guards: bool = True
    seconds: float = 0.0
    workers: int = 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _message(p: Problem) -> str:
    texts = {
        "altered": ("内容が変更されています", "altered"),
        "removed": ("記録が欠落しています", "removed (gap)"),
        "reordered": ("記録の順序が入れ替えられています", "reordered"),
        "checkpoint_mismatch": ("署名付きチェックポイントと一致しません", "does not match its signed checkpoint"),
        "bad_signature": ("署名が正しくありません", "bad signature"),
        "head_mismatch": ("チェーン先頭と一致しません", "chain head disagrees"),
    }
    ja, en = texts.get(p.kind, (p.kind, p.kind))
    return f"アクセスログ #{p.seq}: {ja}。 / access log entry #{p.seq}: {en}."


# --- reading rows ---------------------------------------------------------------------------------

_FIELDS = "seq, at_us, staff, department, terminal, purpose, operation, resource, target, result, request_id, detail"


def _rows_sql(vendor: str) -> str:
    if vendor == "postgresql":
        blob = f"convert_to(concat_ws(E'\\x1f', {_FIELDS}), 'UTF8')"
    else:
        blob = "CAST(" + " || char(31) || ".join(_FIELDS.split(", ")) + " AS BLOB)"
    return f"SELECT seq, hash, {blob} FROM audit_access_log WHERE seq >= %s AND seq <= %s ORDER BY seq LIMIT {CHUNK}"


def _raw_connection(settings_dict: dict[str, Any]) -> Any:
    """A connection of our own for a worker process (never a connection of the parent)."""
    if settings_dict["ENGINE"].endswith("postgresql"):
        import psycopg

        opts = {k: v for k, v in {
            "dbname": settings_dict.get("NAME"), "user": settings_dict.get("USER"),
            "password": settings_dict.get("PASSWORD"), "host": settings_dict.get("HOST"),
            "port": settings_dict.get("PORT"),
        }.items() if v}
        return psycopg.connect(**opts)
    import sqlite3

    return sqlite3.connect(settings_dict["NAME"])


def _scan(cur: Any, vendor: str, lo: int, hi: int, prev_hex: str | None) -> tuple[Problem | None, int, int, str]:
    """Verify entries lo..hi. Returns (first problem, entries checked, last seq seen, last hash)."""
    sql = _rows_sql(vendor)
    if vendor != "postgresql":
        sql = sql.replace("%s", "?")
    sha = hashlib.sha256
    prev: bytes | None = bytes.fromhex(prev_hex) if prev_hex else None
    expect = lo
    count = 0
    last_hash = prev_hex or ""
    while expect <= hi:
        cur.execute(sql, (expect, hi))
        rows = cur.fetchall()
        if not rows:
            break
        for seq, h, raw in rows:
            if seq != expect:
                return Problem(expect, "removed", ""), count, expect - 1, last_hash
            blob = bytes(raw)
            if prev is None:  # segment start whose predecessor is missing: the segment before reports it
                dg = None
            else:
                dg = sha(prev + blob)
                if dg.hexdigest() != h:
                    return Problem(seq, "altered", ""), count, seq - 1, last_hash
            if blob.count(b"\x1f") != SEPARATORS:
                return Problem(seq, "altered", ""), count, seq - 1, last_hash
            try:
                prev = dg.digest() if dg is not None else bytes.fromhex(h)
            except ValueError:
                return Problem(seq, "altered", ""), count, seq - 1, last_hash
            last_hash = h
            expect += 1
            count += 1
    if expect <= hi:
        return Problem(expect, "removed", ""), count, expect - 1, last_hash
    return None, count, hi, last_hash


def _segment_worker(settings_dict: dict[str, Any], vendor: str, lo: int, hi: int, prev_hex: str | None,
                    ) -> tuple[Problem | None, int]:
    conn = _raw_connection(settings_dict)
    try:
        cur = conn.cursor()
        if prev_hex is None and lo > 1:
            q = "SELECT hash FROM audit_access_log WHERE seq = %s"
            cur.execute(q if vendor == "postgresql" else q.replace("%s", "?"), (lo - 1,))
            row = cur.fetchone()
            prev_hex = row[0] if row else None
        prob, n, _, _ = _scan(cur, vendor, lo, hi, prev_hex)
        return prob, n
    finally:
        conn.close()


def _classify(cur: Any, vendor: str, p: Problem, anchor_seq: int, anchor_hash: str) -> Problem:
    """Tell a reordering (the entry that belongs at p.seq sits elsewhere) from an alteration."""
    if p.kind != "altered":
        return p
    i = p.seq
    if i - 1 == anchor_seq:
        prev_hex = anchor_hash
    else:
        cur.execute("SELECT hash FROM audit_access_log WHERE seq = %s", [i - 1])
        row = cur.fetchone()
        if row is None:
            return p
        prev_hex = row[0]
    try:
        prev = bytes.fromhex(prev_hex)
    except ValueError:
        return p
    cur.execute("SELECT hash FROM audit_access_log WHERE seq = %s", [i])
    here = cur.fetchone()
    here_hash = here[0] if here else ""
    sql = _rows_sql(vendor).replace(f"LIMIT {CHUNK}", "")
    cur.execute(sql, [max(anchor_seq + 1, i - CLASSIFY_WINDOW), i + CLASSIFY_WINDOW])
    prefix = str(i).encode()
    for seq, h, raw in cur.fetchall():
        if seq == i:
            continue
        blob = bytes(raw)
        cut = blob.find(b"\x1f")
        if cut < 0:
            continue
        d = hashlib.sha256(prev + prefix + blob[cut:]).hexdigest()
        if d in (h, here_hash):
            return Problem(i, "reordered", "")
    return p


# --- the whole check ------------------------------------------------------------------------------


def _default_workers(entries: int) -> int:
    name = str(connection.settings_dict.get("NAME") or "")
    if connection.vendor == "sqlite" and ("memory" in name or not name):
        return 1
    if entries < PARALLEL_MIN:
        return 1
    return max(1, min(8, os.cpu_count() or 1))


def verify(workers: int | None = None) -> VerifyResult:
    """Verify the whole access log; never raises for a broken log (see ``VerifyResult.ok``)."""
    t0 = time.perf_counter()
    vendor = connection.vendor
    keys = signing.public_keys()
    problems: list[Problem] = []
    res = VerifyResult(ok=True)
    from .guards import guards_installed

    res.guards = guards_installed(connection)

    with connection.cursor() as cur:
        # Archives: signed, contiguous; the last one is the chain's anchor.
        cur.execute(
            "SELECT first_seq, last_seq, last_hash, file_sha256, entries, at_us, key_id, signature "
            "FROM audit_archive ORDER BY last_seq"
        )
        anchor_seq, anchor_hash = 0, GENESIS
        for first, last, lh, fsha, n, at_us, kid, sig in cur.fetchall():
            msg = signing.archive_message(first, last, lh, fsha, n, at_us, kid)
            if not signing.check(msg, kid, sig, keys):
                problems.append(Problem(last, "bad_signature", ""))
            if first != anchor_seq + 1:
                problems.append(Problem(anchor_seq + 1, "removed", ""))
            anchor_seq, anchor_hash = last, lh
            res.archives += 1

        # One statement, so one snapshot: entries appended while we verify are left for the next run.
        cur.execute(
            "SELECT (SELECT MIN(seq) FROM audit_access_log WHERE seq > %s), (SELECT MAX(seq) FROM audit_access_log),"
            " (SELECT seq FROM audit_chain_head WHERE id = 1), (SELECT hash FROM audit_chain_head WHERE id = 1),"
            " (SELECT MAX(seq) FROM audit_checkpoint)",
            [anchor_seq],
        )
        lo, hi, hseq0, hhash0, cp_max = cur.fetchone()
        head = (hseq0, hhash0) if hseq0 is not None else None
        if hi is not None and hi <= anchor_seq:
            lo = hi = None  # only rows the archive already covers (should have been deleted with it)
        n = (hi - lo + 1) if lo is not None and hi is not None else 0

    if lo is not None:
        res.first_seq, res.last_seq = lo, hi
        if lo != anchor_seq + 1:
            problems.append(Problem(anchor_seq + 1, "removed", ""))
        w = workers or _default_workers(int(n))
        if connection.in_atomic_block:
            w = 1  # other processes would not see this transaction's uncommitted rows
        res.workers = w
        start = anchor_seq + 1
        if w <= 1:
            with connection.cursor() as cur:
                prob, cnt, _, _ = _scan(_ParamCursor(cur.cursor, vendor), vendor, start, hi, anchor_hash)
            res.entries = cnt
            if prob:
                problems.append(prob)
        else:
            res.entries, prob_list = _parallel(vendor, start, hi, anchor_hash, w)
            problems += prob_list

    with connection.cursor() as cur:
        # Head: must name the last entry.
        if head is not None:
            hseq, hhash = int(head[0]), head[1]
            last = hi if hi is not None else anchor_seq
            if hseq > last:
                problems.append(Problem(last + 1, "removed", ""))
            elif hseq < last:
                problems.append(Problem(hseq + 1, "head_mismatch", ""))
            elif hseq > 0:
                if hi is None:
                    last_h = anchor_hash
                else:
                    cur.execute("SELECT hash FROM audit_access_log WHERE seq = %s", [hseq])
                    last_h = cur.fetchone()[0]
                if last_h != hhash:
                    problems.append(Problem(hseq, "head_mismatch", ""))
        elif hi is not None:
            problems.append(Problem(hi, "head_mismatch", ""))

        # Checkpoints: signature, and the chain passes through each one.
        cur.execute(
            "SELECT c.seq, c.hash, c.at_us, c.key_id, c.signature, l.hash FROM audit_checkpoint c "
            "LEFT JOIN audit_access_log l ON l.seq = c.seq WHERE c.seq <= %s ORDER BY c.seq",
            [max(hi or 0, anchor_seq, int(head[0]) if head else 0, cp_max or 0)],
        )
        last = hi if hi is not None else anchor_seq
        for cseq, chash, at_us, kid, sig, lhash in cur.fetchall():
            res.checkpoints += 1
            if not signing.check(signing.checkpoint_message(cseq, chash, at_us, kid), kid, sig, keys):
                problems.append(Problem(cseq, "bad_signature", ""))
            elif cseq < anchor_seq:
                continue  # archived: the archive's signed manifest stands for these
            elif cseq == anchor_seq:
                if chash != anchor_hash:
                    problems.append(Problem(cseq, "checkpoint_mismatch", ""))
            elif lhash is None:
                problems.append(Problem(min(cseq, last + 1), "removed", ""))
            elif lhash != chash:
                problems.append(Problem(cseq, "checkpoint_mismatch", ""))

        if problems:
            order = ["removed", "reordered", "altered", "checkpoint_mismatch", "bad_signature", "head_mismatch"]
            problems.sort(key=lambda p: (p.seq, order.index(p.kind)))
            first = _classify(cur, vendor, problems[0], anchor_seq, anchor_hash)
            problems[0] = first
            for p in problems:
                p.message = _message(p)
            res.ok = False
            res.broken_seq, res.kind, res.message = first.seq, first.kind, first.message
            res.problems = problems[:20]
        else:
            res.message = (
                f"アクセスログは改ざんされていません ({res.entries:,}件、チェックポイント{res.checkpoints}件)。"
                f" / The access log is intact ({res.entries} entries, {res.checkpoints} checkpoints)."
            )
    res.seconds = round(time.perf_counter() - t0, 3)
    return res


class _ParamCursor:
    """Adapts '%s' placeholders for a raw sqlite3 cursor (the Django wrapper is bypassed for speed)."""

    def __init__(self, cur: Any, vendor: str) -> None:
        self.cur, self.sqlite = cur, vendor == "sqlite"

    def execute(self, sql: str, params: Any) -> None:
        self.cur.execute(sql.replace("%s", "?") if self.sqlite else sql, params)

    def fetchall(self) -> list[Any]:
        return list(self.cur.fetchall())

    def fetchone(self) -> Any:
        return self.cur.fetchone()


def _parallel(vendor: str, start: int, hi: int, anchor_hash: str, workers: int) -> tuple[int, list[Problem]]:
    """Verify [start, hi] in ``workers`` segments, each in a fresh interpreter (``python -m
    yobo.audit._worker``): nothing of this process (threads, connections, ``__main__``) is inherited."""
    settings_dict = {k: v for k, v in connection.settings_dict.items() if isinstance(v, str | int | None)}
    step = max(1, (hi - start + workers) // workers)
    bounds = [(a, min(hi, a + step - 1)) for a in range(start, hi + 1, step)]
    procs = []
    for a, b in bounds:
        job = {"db": settings_dict, "vendor": vendor, "lo": a, "hi": b, "prev": anchor_hash if a == start else None}
        p = subprocess.Popen(
            [sys.executable, "-m", "yobo.audit._worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        assert p.stdin is not None  # noqa: S101 - PIPE was asked for
        p.stdin.write(json.dumps(job).encode())
        p.stdin.close()
        procs.append(p)
    problems: list[Problem] = []
    total = 0
    for p in procs:
        assert p.stdout is not None  # noqa: S101 - PIPE was asked for
        out = p.stdout.read()
        p.stdout.close()
        if p.wait() != 0:
            raise RuntimeError(f"verify worker failed (exit {p.returncode})")
        r = json.loads(out)
        total += int(r["count"])
        if r["problem"]:
            problems.append(Problem(int(r["problem"][0]), str(r["problem"][1]), ""))
    return total, problems
