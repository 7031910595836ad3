"""Private key files under ``YOBO_KEY_DIR``: written atomically, mode 0600, directory 0700.

Every key ring (My Number cipher and index keys, audit checkpoint key, certificate issuer key,
exchange keys, relief document keys) is written through here, so a crash never leaves a half-written
key and no key file is ever readable by other users of the host.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_private(path: Path, data: str | bytes, *, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` (0600) through a temporary file in the same directory and an
    atomic rename. With ``exclusive`` an existing file is never replaced (FileExistsError)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if exclusive and path.exists():
        raise FileExistsError(str(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # fails if another process created it meanwhile
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
