"""``python -m benchmarks [--quick] [--output PATH] [NAME ...]``: run the benchmarks, print the
table of ratios, write the JSON results (default benchmarks/results/latest.json).

Exit status is 0 whatever the ratios are (targets are recorded, not asserted); 1 when a
benchmark could not run at all.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS
from benchmarks._report import machine, table

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    parser.add_argument("--quick", action="store_true", help="shorter runs, under a minute in all")
    parser.add_argument("--output", type=Path, default=RESULTS, help=f"JSON results file (default {RESULTS})")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)

    started = time.perf_counter()
    results: list[dict[str, Any]] = []
    for name in names:
        print(f"running {name}{' (quick)' if args.quick else ''} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            result = module.run(quick=args.quick)
        except Exception:  # noqa: BLE001 - report it and go on with the others
            result = {"benchmark": name, "error": traceback.format_exc()}
            print(result["error"], file=sys.stderr)
        result["elapsed_s"] = time.perf_counter() - t0
        results.append(result)

    report = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine(),
        "elapsed_s": time.perf_counter() - started,
        "benchmarks": {r["benchmark"]: r for r in results},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    print(f"\n{m['nproc']} CPU(s) {m['cpu']}, {m['implementation']} {m['python']}"
          f"{', quick run' if args.quick else ''}, {report['elapsed_s']:.0f} s in all\n")
    print(table(results))
    print(f"\nresults: {args.output}")
    return 1 if any("error" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
