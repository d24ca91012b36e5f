"""Machine description, the results table, and the single-benchmark command line."""
from __future__ import annotations

import argparse
import os
import platform
import sys
from collections.abc import Callable, Iterable
from typing import Any


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {"nproc": usable, "cpu_count": os.cpu_count(), "cpu": cpu or platform.processor(),
            "python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform()}


def _num(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms"
    if unit == "us":
        return f"{value:.0f} us" if value >= 100 else f"{value:.1f} us"
    if unit == "req/s":
        return f"{value:.0f} req/s"
    return f"{value:.3g} {unit}"


def _status(r: dict[str, Any]) -> str:
    if r["met"] is None:
        return "-"
    if r["target_is_current"]:
        return "met" if r["met"] else "NOT MET"
    return "met (later target)" if r["met"] else "not yet (later target)"


def rows(results: Iterable[dict[str, Any]]) -> list[list[str]]:
    out = []
    for res in results:
        if "error" in res:
            out.append([res["benchmark"], "ERROR: " + res["error"].splitlines()[-1][:60], "", "", "", "", ""])
            continue
        for r in res["ratios"]:
            out.append([res["benchmark"], r["name"], _num(r["subject"], r["unit"]),
                        _num(r["baseline"], r["unit"]), f"{r['ratio']:.2f}x", r["target"] or "-", _status(r)])
    return out


HEADER = ["benchmark", "figure", "emulator", "baseline", "ratio", "target", "status"]


def table(results: Iterable[dict[str, Any]]) -> str:
    body = rows(results)
    widths = [max(len(str(c)) for c in col) for col in zip(HEADER, *body)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(HEADER), sep, *(line(r) for r in body)])


def main_single(run: Callable[..., dict[str, Any]], argv: list[str] | None = None) -> int:
    """``python -m benchmarks.<name> [--quick]``: run one benchmark and print its table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs (smoke test of the numbers)")
    args = parser.parse_args(argv)
    result = run(quick=args.quick)
    print(table([result]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit("use python -m benchmarks")
