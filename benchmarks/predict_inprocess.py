"""In-process predict: ``Emulator.request(POST .../_predict)`` against calling the fake OpenAI
provider directly with the very request the connector renders.

Both run in one event loop, in alternating blocks, so drift (CPU frequency, other load) hits
both sides alike. Run alone: ``python -m benchmarks.predict_inprocess [--quick]``.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._common import median, percentile, ratio, seed_body

NAME = "predict_inprocess"
TARGET = "<= 3"  # a later issue's target; reported, not yet expected
BLOCK = 50
WARMUP = 50


async def setup(emu: Any) -> str:
    """The seed flow up to a deployed OpenAI chat model; its model id."""
    r = await emu.request("PUT", "/_cluster/settings", seed_body("trusted_endpoints"))
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", seed_body("openai_chat_connector"))
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", seed_body("model_group"))
    assert r.status == 200, r.body
    group_id = r.body["model_group_id"]
    r = await emu.request("POST", "/_plugins/_ml/models/_register",
                          seed_body("register_model", model_group_id=group_id, connector_id=connector_id))
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200 and r.body["status"] == "COMPLETED", r.body
    return str(model_id)


async def _measure(k: int) -> dict[str, Any]:
    from mlcommons_emu import Emulator

    async with Emulator() as emu:  # SQLite in memory
        model_id = await setup(emu)
        path = f"/_plugins/_ml/models/{model_id}/_predict"
        predict_body = seed_body("predict_messages")
        provider = emu.providers["openai"]

        r = await emu.request("POST", path, predict_body)
        assert r.status == 200, r.body
        assert r.body["inference_results"][0]["status_code"] == 200, r.body
        rendered = provider.recorder.last  # what the connector sent: replayed as is
        assert rendered is not None
        reply = await provider.handle(rendered)
        assert reply.status == 200, reply.body

        for _ in range(WARMUP):
            await emu.request("POST", path, predict_body)
            await provider.handle(rendered)

        emu_ns: list[int] = []
        fake_ns: list[int] = []
        failures = 0
        clock = time.perf_counter_ns
        done = 0
        while done < k:
            n = min(BLOCK, k - done)
            for _ in range(n):
                t0 = clock()
                r = await emu.request("POST", path, predict_body)
                emu_ns.append(clock() - t0)
                failures += r.status != 200
            for _ in range(n):
                t0 = clock()
                reply = await provider.handle(rendered)
                fake_ns.append(clock() - t0)
                failures += reply.status != 200
            done += n
    emu_us = [v / 1000 for v in emu_ns]
    fake_us = [v / 1000 for v in fake_ns]
    return {
        "emulator_median_us": median(emu_us), "emulator_p99_us": percentile(emu_us, 99),
        "provider_median_us": median(fake_us), "provider_p99_us": percentile(fake_us, 99),
        "emulator_mean_us": sum(emu_us) / len(emu_us), "provider_mean_us": sum(fake_us) / len(fake_us),
        "failures": failures,
    }


def run(quick: bool = False, k: int | None = None) -> dict[str, Any]:
    k = k or (300 if quick else 2000)
    figures = asyncio.run(_measure(k))
    return {
        "benchmark": NAME,
        "params": {"k": k, "block": BLOCK, "warmup": WARMUP, "database": "sqlite in memory",
                   "emulator": "await emu.request('POST', '/_plugins/_ml/models/<id>/_predict', predict_messages)",
                   "baseline": "await emu.providers['openai'].handle(<recorder.last of a warm-up predict>)"},
        "figures": figures,
        "ratios": [
            ratio("predict latency (median)", figures["emulator_median_us"], figures["provider_median_us"],
                  "us", target=TARGET, enforced_now=False),
            ratio("predict latency (p99)", figures["emulator_p99_us"], figures["provider_p99_us"],
                  "us", target=None, enforced_now=False),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
