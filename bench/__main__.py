"""Run benchmarks. Each ``bench/bench_<name>.py`` defines ``run(size: int | None) -> dict``.

The dict must hold the measured figures and, where the benchmark has one, the raw baseline measured
in the same run and the ratio between them. Output: one JSON document keyed by benchmark name.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    here = Path(__file__).resolve().parent
    names = sorted(m.name[len("bench_"):] for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    ap = argparse.ArgumentParser(prog="./dev bench", description=__doc__)
    ap.add_argument("names", nargs="*", choices=[*names, []] if names else None, help=f"one of {names}")
    ap.add_argument("--size", type=int, default=None, help="problem size (each benchmark has its default)")
    args = ap.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yobo.settings")
    out: dict[str, object] = {}
    for name in args.names or names:
        mod = importlib.import_module(f"bench.bench_{name}")
        t0 = time.perf_counter()
        res = mod.run(args.size)
        res["wall_seconds"] = round(time.perf_counter() - t0, 2)
        out[name] = res
        print(json.dumps({name: res}, ensure_ascii=False), file=sys.stderr)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
