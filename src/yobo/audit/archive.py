"""Archiving closed periods out of the access log (保存期間を過ぎた記録の退避).

The log is kept ``YOBO_AUDIT_RETENTION_YEARS`` (default 7) years. Older entries leave only as whole
periods: every entry before a date (and after the previous archive) is first verified, then written
to ``audit-<first>-<last>.jsonl.gz`` (one JSON object per entry with every field and its hash) with a
manifest (first/last seq, the hash before the first entry, the last hash, the file's sha256, signed
with the checkpoint key). An ``ArchiveRecord`` is inserted and only then are the rows deleted, in one
transaction; the delete trigger lets go exactly the rows an archive record covers. Verify afterwards
starts from the archive's last hash and checks the record's signature.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from yobo.core.context import AccessContext
from yobo.core.errors import InputRejected, IntegrityBroken
from yobo.core.purposes import Operation

from . import signing
from .chain import GENESIS, now_micros
from .door import door
from .models import ArchiveRecord
from .verify import _ParamCursor, _scan

TOKYO = ZoneInfo("Asia/Tokyo")
COLUMNS = (
    "seq", "at_us", "staff", "department", "terminal", "purpose", "operation", "resource", "target", "result",
    "request_id", "detail", "hash",
)


@dataclass
class ArchiveResult:
    first_seq: int
    last_seq: int
    entries: int
    file: str
    manifest: str
    file_sha256: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def retention_cutoff(today: date | None = None) -> date:
    """The earliest date whose entries must still be kept (today minus the retention years)."""
    d = today or datetime.now(TOKYO).date()
    years = int(settings.YOBO_AUDIT_RETENTION_YEARS)
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def day_start_us(d: date) -> int:
    return int(datetime.combine(d, time(0), tzinfo=TOKYO).timestamp()) * 1_000_000


def archive_before(
    ctx: AccessContext, before: date, out_dir: Path, *, today: date | None = None
) -> ArchiveResult | None:
    """Archive every entry dated before ``before`` (Asia/Tokyo); None when there is nothing to archive."""
    cutoff = retention_cutoff(today)
    if before > cutoff:
        raise InputRejected(
            f"{before} より前の記録はまだ保存期間内です ({settings.YOBO_AUDIT_RETENTION_YEARS}年)。"
            f"{cutoff} 以前の日付を指定してください。 / Entries before {before} are still within the retention "
            f"period; give a date on or before {cutoff}."
        )
    with door(ctx, Operation.BATCH, resource="audit.archive") as rec:
        res = _archive(before, out_dir)
        rec.detail = f"archived seq {res.first_seq}-{res.last_seq}" if res else "nothing to archive"
    return res


def _archive(before: date, out_dir: Path) -> ArchiveResult | None:
    vendor = connection.vendor
    with connection.cursor() as cur:
        last_arch = ArchiveRecord.objects.order_by("-last_seq").first()
        anchor_seq, anchor_hash = (last_arch.last_seq, last_arch.last_hash) if last_arch else (0, GENESIS)
        cur.execute(
            "SELECT MAX(seq) FROM audit_access_log WHERE seq > %s AND at_us < %s", [anchor_seq, day_start_us(before)]
        )
        last = cur.fetchone()[0]
        if last is None:
            return None
        first = anchor_seq + 1
        prob, n, _, last_hash = _scan(_ParamCursor(cur.cursor, vendor), vendor, first, last, anchor_hash)
        if prob is not None:
            raise IntegrityBroken(
                f"アクセスログ #{prob.seq} に異常があるため退避できません。先に yobo audit verify で確認してください。"
                f" / Entry #{prob.seq} fails verification; the period was not archived."
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"audit-{first:012d}-{last:012d}"
        path = out_dir / f"{stem}.jsonl.gz"
        sha = hashlib.sha256()
        with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as gz:
            nxt = first
            while nxt <= last:
                cur.execute(
                    f"SELECT {', '.join(COLUMNS)} FROM audit_access_log WHERE seq >= %s AND seq <= %s "
                    "ORDER BY seq LIMIT 50000",
                    [nxt, last],
                )
                rows = cur.fetchall()
                if not rows:
                    break
                for r in rows:
                    gz.write(json.dumps(dict(zip(COLUMNS, r, strict=True)), ensure_ascii=False).encode() + b"\n")
                nxt = rows[-1][0] + 1
        sha.update(path.read_bytes())
        file_sha = sha.hexdigest()
        at_us = now_micros()
        key = signing.private_key()
        if key is None:
            raise IntegrityBroken("署名鍵がありません (yobo init)。 / No signing key; run `yobo init`.")
        key_id = signing.key_id_of(key.public_key())
        sig = key.sign(signing.archive_message(first, last, last_hash, file_sha, n, at_us, key_id)).hex()
        manifest = {
            "first_seq": first, "last_seq": last, "prev_hash": anchor_hash, "last_hash": last_hash, "entries": n,
            "before": before.isoformat(), "file": path.name, "file_sha256": file_sha, "at_us": at_us,
            "key_id": key_id, "signature": sig,
        }
        mpath = out_dir / f"{stem}.manifest.json"
        mpath.write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        with transaction.atomic():
            ArchiveRecord.objects.create(
                first_seq=first, last_seq=last, last_hash=last_hash, before=before, file_name=path.name,
                file_sha256=file_sha, entries=n, at_us=at_us, key_id=key_id, signature=sig,
            )
            cur.execute("DELETE FROM audit_access_log WHERE seq >= %s AND seq <= %s", [first, last])
    return ArchiveResult(first, last, n, str(path), str(mpath), file_sha)


def check_archive_file(manifest_path: Path) -> bool:
    """Re-read an archive file: its sha256, signature and the chain inside it."""
    m = json.loads(manifest_path.read_text())
    path = manifest_path.parent / m["file"]
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != m["file_sha256"]:
        return False
    msg = signing.archive_message(m["first_seq"], m["last_seq"], m["last_hash"], m["file_sha256"], m["entries"],
                                  m["at_us"], m["key_id"])
    if not signing.check(msg, m["key_id"], m["signature"], signing.public_keys()):
        return False
    from .chain import entry_hash

    prev, expect = m["prev_hash"], m["first_seq"]
    for line in gzip.decompress(data).splitlines():
        e = json.loads(line)
        fields = [e[c] for c in COLUMNS[2:-1]]
        if e["seq"] != expect or entry_hash(prev, e["seq"], e["at_us"], fields) != e["hash"]:
            return False
        prev, expect = e["hash"], expect + 1
    return prev == m["last_hash"] and expect == m["last_seq"] + 1
