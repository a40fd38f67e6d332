"""`python -m bench` (what `make bench` runs): every benchmark in turn. `--quick` for a small smoke run."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
from collections.abc import Callable, Sequence
from typing import cast

# Run in this order; a module that does not exist yet (bench.ingest, until the adapters are done) is skipped.
BENCHMARKS = ("bench.ingest", "bench.summary", "bench.report", "bench.footprint")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small data and few repetitions (smoke run)")
    args = parser.parse_args(argv)
    forwarded = ["--quick"] if args.quick else []
    failed = []
    for name in BENCHMARKS:
        if importlib.util.find_spec(name) is None:
            print(f"\n== {name}: not written yet, skipped", flush=True)
            continue
        print(f"\n== {name}", flush=True)
        began = time.perf_counter()
        module = importlib.import_module(name)
        run = cast(Callable[[Sequence[str]], int], module.main)
        code = run(forwarded)
        print(f"({name} took {time.perf_counter() - began:.0f} s)", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
