"""Memory: the resident memory (RSS) of an idle emulator server against a 100 MB budget, with
a bare aiohttp server's for reference; and how much the RSS grows per 10,000 stored models.

- **Idle.** ``python -m mlcommons_emu serve --port <free> --database sqlite:///<tmp file>``
  (a fresh file each time) is started, polled until ``GET /`` answers 200, left idle for a
  second, and its ``VmRSS`` read from ``/proc/<pid>/status``. The bare aiohttp script of
  ``cold_start`` is measured the same way, in alternation. **Target: idle RSS <= 100 MB**
  (MB = 10^6 bytes); the ratio to the bare server is reported only.
- **Per 10,000 models.** A child python (so the runner's own memory does not count) starts
  an in-process ``Emulator`` and registers and deploys the seed's model; 20 gets of random
  models and a search run, so that code paths, caches and the search snapshot of the index
  exist, and its RSS is read (after ``gc.collect()``). Then 10,000 copies of the model's
  document are added straight into the store (as ``benchmarks.scale`` does), the gets and
  the search run again (the snapshot of 10,000 parsed documents is built and kept) and the
  RSS is read again, also just before the search, so the snapshot's share shows. Full runs
  add a second 10,000. Measured on a SQLite file (the server's default) and on in-memory
  SQLite (``Emulator()``'s default, where the database pages live in the process too). The
  growth in MB per 10,000 models is reported against the 100 MB budget (no target).

Linux only (``/proc``). Run alone: ``python -m benchmarks.memory [--quick]``.
"""
from __future__ import annotations

import json
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

NAME = "memory"
TARGET = "<= 1"
BUDGET_MB = 100.0
MB = 1_000_000
IDLE_S = 1.0
STEP = 10_000

#: how the runner starts the growth child (arguments: database URL, step, steps, gets)
GROWTH_CHILD = "import sys; from benchmarks.memory import growth_child; growth_child(sys.argv[1:])"


def status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM, RssAnon and RssFile of a process, in bytes."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def growth_child(argv: list[str]) -> None:
    """In the child: an emulator grown by ``step`` models ``steps`` times; prints the RSS
    readings (one before, one after each step) as JSON on its last line."""
    import asyncio
    import contextlib
    import gc
    import random

    from benchmarks import scale

    database, step, steps, gets = argv[0], int(argv[1]), int(argv[2]), int(argv[3])

    def settled() -> dict[str, int]:
        gc.collect()
        return status()

    async def touch(side: scale.Side, rng: random.Random) -> dict[str, Any]:
        """Gets, then a search (its snapshot of the index replaces the previous one)."""
        await scale.timed_gets(side, gets, rng, [])
        before_search = settled()
        r = await side.emu.request("POST", "/_plugins/_ml/models/_search", scale.SEARCH)
        assert r.status == 200, r.body
        return {"models": len(side.ids), **settled(), "before_search": before_search}

    async def main() -> list[dict[str, Any]]:
        rng = random.Random(7)
        async with contextlib.AsyncExitStack() as stack:
            side, template = await scale.start_side(stack, database, None)
            readings = [await touch(side, rng)]
            for _ in range(steps):
                first, stop = scale.grow(side, len(side.ids) + step)
                await scale.fill_copies(side.emu, template, first, stop)
                readings.append(await touch(side, rng))
        return readings

    print(json.dumps(asyncio.run(main())))


def _idle_once(argv: list[str], port: int, cwd: str, env: dict[str, str]) -> dict[str, int]:
    with Server(argv, port, cwd=cwd, env=env) as server:
        server.start()
        time.sleep(IDLE_S)
        assert server.proc is not None
        return status(server.proc.pid)


def measure_idle(repeats: int) -> dict[str, Any]:
    env = child_env()
    emu: list[dict[str, int]] = []
    bare: list[dict[str, int]] = []
    with tempfile.TemporaryDirectory(prefix="mlcemu-bench-") as tmp:
        script = write_bare_server(tmp)
        n = 0

        def emulator_idle() -> dict[str, int]:
            nonlocal n
            n += 1
            port = free_port()
            return _idle_once(emulator_argv(port, f"sqlite:///{os.path.join(tmp, f'idle-{n}.sqlite3')}"),
                              port, tmp, env)

        def bare_idle() -> dict[str, int]:
            port = free_port()
            return _idle_once(bare_argv(script, port), port, tmp, env)

        for i in range(repeats):  # alternate, and swap who goes first each round
            if i % 2 == 0:
                emu.append(emulator_idle())
                bare.append(bare_idle())
            else:
                bare.append(bare_idle())
                emu.append(emulator_idle())
    return {"emulator": emu, "bare": bare,
            "emulator_rss_median_mb": median([s["VmRSS"] / MB for s in emu]),
            "bare_rss_median_mb": median([s["VmRSS"] / MB for s in bare]),
            "emulator_rss_anon_median_mb": median([s["RssAnon"] / MB for s in emu]),
            "bare_rss_anon_median_mb": median([s["RssAnon"] / MB for s in bare])}


def measure_growth(database: str, steps: int, gets: int = 20) -> dict[str, Any]:
    """RSS readings of a child emulator before and after each ``STEP`` models added."""
    with tempfile.TemporaryDirectory(prefix="mlcemu-bench-") as tmp:
        url = database.replace("<tmp>", tmp)
        t0 = time.perf_counter()
        done = subprocess.run([PYTHON, "-c", GROWTH_CHILD, url, str(STEP), str(steps), str(gets)], cwd=str(ROOT),
                              env=child_env(), capture_output=True, text=True)
        elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"the growth child exited with {done.returncode}: {done.stderr[-2000:]}")
    readings: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    pairs = list(zip(readings, readings[1:]))
    growth = [(b["VmRSS"] - a["VmRSS"]) / MB for a, b in pairs]
    # before the search the previous (smaller) snapshot is still held: the search's share is
    # what the new snapshot adds over it
    search_share = [(b["VmRSS"] - b["before_search"]["VmRSS"]) / MB for _, b in pairs]
    return {"readings": readings, "growth_mb_per_step": growth, "first_step_mb": growth[0],
            "mean_step_mb": sum(growth) / len(growth), "search_snapshot_mb_per_step": search_share,
            "store_and_rest_mb_per_step": [g - s for g, s in zip(growth, search_share)], "child_s": elapsed}


def run(quick: bool = False, repeats: int | None = None) -> dict[str, Any]:
    n = repeats or (1 if quick else 3)
    steps = 1 if quick else 2
    idle = measure_idle(n)
    on_file = measure_growth("sqlite:///<tmp>/growth.sqlite3", steps)
    in_memory = measure_growth("sqlite://", steps)
    return {
        "benchmark": NAME,
        "params": {"repeats": n, "idle_s": IDLE_S, "step": STEP, "steps": steps, "mb": "10^6 bytes",
                   "emulator": "python -m mlcommons_emu serve --port <free> --database sqlite:///<fresh tmp file>",
                   "bare": "python bare_server.py --port <free> (aiohttp, GET / -> root-info JSON)",
                   "growth": "VmRSS of a child Emulator after each 10,000 models added (bulk insert, then 20 "
                             "gets and a search), minus before, after gc.collect()",
                   "baseline": f"the {BUDGET_MB:.0f} MB budget"},
        "figures": {"idle": idle, "growth_sqlite_file": on_file, "growth_sqlite_memory": in_memory},
        "ratios": [
            ratio("idle RSS of serve / 100 MB budget (median)", idle["emulator_rss_median_mb"], BUDGET_MB, "MB",
                  target=TARGET),
            ratio("idle RSS of serve / bare aiohttp server (median)", idle["emulator_rss_median_mb"],
                  idle["bare_rss_median_mb"], "MB", target=None),
            ratio("RSS growth per 10k models, SQLite file / 100 MB", on_file["first_step_mb"], BUDGET_MB, "MB",
                  target=None),
            ratio("RSS growth per 10k models, SQLite in memory / 100 MB", in_memory["first_step_mb"], BUDGET_MB,
                  "MB", target=None),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
