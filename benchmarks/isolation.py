"""Per-test isolation: what the pytest plugin pays between two tests (reset of a shared
emulator, with the work a test leaves behind) against building a fresh emulator per test.

Each round first leaves state behind (a connector, a deployed model, a setting), then times
the isolation step; both sides do the same work. Run alone: ``python -m benchmarks.isolation``.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._common import median, percentile, ratio, seed_body

NAME = "isolation"
TARGET = "<= 0.5"


async def _dirty(emu: Any) -> None:
    """What a typical test leaves behind."""
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", seed_body("openai_chat_connector"))
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/models/_register?deploy=true", {
        "name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]})
    assert r.status == 200, r.body
    r = await emu.request("PUT", "/_cluster/settings", {"transient": {"plugins.ml_commons.only_run_on_ml_node": False}})
    assert r.status == 200, r.body


async def _measure(rounds: int) -> dict[str, Any]:
    from mlcommons_emu import Emulator

    reset_ms: list[float] = []
    rebuild_ms: list[float] = []
    shared = await Emulator().start()
    try:
        for _ in range(rounds):
            await _dirty(shared)
            t0 = time.perf_counter()
            await shared.reset()
            r = await shared.request("GET", "/_plugins/_ml/connectors/none")
            reset_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status == 404

            own = await Emulator().start()
            await _dirty(own)
            t0 = time.perf_counter()
            await own.stop()
            fresh = await Emulator().start()
            r = await fresh.request("GET", "/_plugins/_ml/connectors/none")
            rebuild_ms.append((time.perf_counter() - t0) * 1000)
            assert r.status == 404
            await fresh.stop()
    finally:
        await shared.stop()
    return {"reset_median_ms": median(reset_ms), "reset_p99_ms": percentile(reset_ms, 99),
            "rebuild_median_ms": median(rebuild_ms), "rebuild_p99_ms": percentile(rebuild_ms, 99)}


def run(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    rounds = rounds or (20 if quick else 100)
    figures = asyncio.run(_measure(rounds))
    return {
        "benchmark": NAME,
        "params": {"rounds": rounds, "database": "sqlite in memory",
                   "subject": "Emulator.reset() + one request (the plugin's per-test step)",
                   "baseline": "Emulator.stop() + Emulator().start() + one request"},
        "figures": figures,
        "ratios": [ratio("per-test isolation (median)", figures["reset_median_ms"], figures["rebuild_median_ms"],
                         "ms", target=TARGET)],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
