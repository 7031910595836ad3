"""One verify segment in its own interpreter: reads a JSON job on stdin, prints the outcome as JSON.

Started by ``yobo.audit.verify._parallel``; needs no Django set-up (it opens its own connection).
"""

from __future__ import annotations

import json
import sys

from yobo.audit.verify import _segment_worker


def main() -> int:
    job = json.loads(sys.stdin.read())
    prob, n = _segment_worker(job["db"], job["vendor"], int(job["lo"]), int(job["hi"]), job["prev"])
    sys.stdout.write(json.dumps({"count": n, "problem": [prob.seq, prob.kind] if prob else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
