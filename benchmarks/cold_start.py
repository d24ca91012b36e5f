"""Cold start: ``python -m mlcommons_emu serve`` until its first answered ``GET /``, against a
bare aiohttp script started the same way; and ``import mlcommons_emu`` against
``import aiohttp, sqlalchemy``, each in a fresh interpreter.

A third side, reported for information, is the "floor" of the design's libraries: the same
bare script, but importing SQLAlchemy and creating a one-table schema in a fresh SQLite file
(and writing one row) before it serves.  The emulator cannot start faster than that.

Run alone: ``python -m benchmarks.cold_start [--quick]``.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time
from typing import Any

from benchmarks._common import (
    PYTHON,
    ROOT,
    Server,
    bare_argv,
    child_env,
    emulator_argv,
    free_port,
    median,
    ratio,
    write_bare_server,
)

NAME = "cold_start"
START_TARGET = "<= 1.5"
IMPORT_TARGET = "<= 1.3"

IMPORT_PROBE = ("import time; t0 = time.perf_counter(); import {modules}; "
                "print(repr(time.perf_counter() - t0))")


def _start_once(argv: list[str], port: int, cwd: str, env: dict[str, str]) -> float:
    with Server(argv, port, cwd=cwd, env=env) as server:
        return server.start()


def _import_once(modules: str, env: dict[str, str]) -> tuple[float, float]:
    """(seconds spent in the import statement, seconds for the whole interpreter run)."""
    t0 = time.perf_counter()
    out = subprocess.run([PYTHON, "-c", IMPORT_PROBE.format(modules=modules)], env=env, cwd=str(ROOT),
                         check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    return float(out.strip().splitlines()[-1]), wall


def measure_start(repeats: int) -> dict[str, Any]:
    env = child_env()
    emu: list[float] = []
    bare: list[float] = []
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mlcemu-bench-") as tmp:
        script = write_bare_server(tmp)
        n = 0

        def emulator_start() -> float:
            nonlocal n
            n += 1
            db = os.path.join(tmp, f"cold-{n}.sqlite3")  # a fresh file: schema created every time
            port = free_port()
            return _start_once(emulator_argv(port, f"sqlite:///{db}"), port, tmp, env)

        def bare_start() -> float:
            port = free_port()
            return _start_once(bare_argv(script, port), port, tmp, env)

        def floor_start() -> float:
            nonlocal n
            n += 1
            port = free_port()
            return _start_once(bare_argv(script, port, sqlite=os.path.join(tmp, f"floor-{n}.sqlite3")),
                               port, tmp, env)

        # untimed warm-up of each: byte-code caches written, files in the page cache
        emulator_start()
        bare_start()
        floor_start()
        sides = [(emu, emulator_start), (bare, bare_start), (floor, floor_start)]
        for i in range(repeats):  # every side once a round; the order rotates each round
            for samples, start in sides[i % 3:] + sides[:i % 3]:
                samples.append(start())
    return {"emulator_s": emu, "bare_s": bare, "floor_s": floor,
            "emulator_median_s": median(emu), "bare_median_s": median(bare), "floor_median_s": median(floor)}


def measure_import(repeats: int) -> dict[str, Any]:
    env = child_env()
    emu: list[tuple[float, float]] = []
    base: list[tuple[float, float]] = []
    _import_once("mlcommons_emu", env)
    _import_once("aiohttp, sqlalchemy", env)
    for i in range(repeats):
        if i % 2 == 0:
            emu.append(_import_once("mlcommons_emu", env))
            base.append(_import_once("aiohttp, sqlalchemy", env))
        else:
            base.append(_import_once("aiohttp, sqlalchemy", env))
            emu.append(_import_once("mlcommons_emu", env))
    return {
        "emulator_import_s": [e[0] for e in emu], "baseline_import_s": [b[0] for b in base],
        "emulator_import_median_s": median([e[0] for e in emu]),
        "baseline_import_median_s": median([b[0] for b in base]),
        "emulator_process_median_s": median([e[1] for e in emu]),
        "baseline_process_median_s": median([b[1] for b in base]),
    }


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    n = repeats or (3 if quick else 5)
    start = measure_start(n)
    imports = measure_import(max(n, 5) if quick else max(n, 10))
    return {
        "benchmark": NAME,
        "params": {"repeats": n, "import_repeats": len(imports["emulator_import_s"]),
                   "emulator": "python -m mlcommons_emu serve --port <free> --database sqlite:///<fresh tmp file>",
                   "baseline": "python bare_server.py --port <free> (aiohttp, GET / -> root-info JSON)",
                   "floor": "python bare_server.py --port <free> --sqlite <fresh tmp file> (SQLAlchemy schema first)",
                   "import_baseline": "import aiohttp, sqlalchemy"},
        "figures": {**start, **imports},
        "ratios": [
            ratio("start to first GET / (median)", start["emulator_median_s"], start["bare_median_s"], "s",
                  target=START_TARGET),
            ratio("start: aiohttp + SQLAlchemy floor vs bare (median)", start["floor_median_s"],
                  start["bare_median_s"], "s", target=None),
            ratio("start: emulator vs the floor (median)", start["emulator_median_s"], start["floor_median_s"],
                  "s", target=None),
            ratio("import time (median)", imports["emulator_import_median_s"],
                  imports["baseline_import_median_s"], "s", target=IMPORT_TARGET),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
