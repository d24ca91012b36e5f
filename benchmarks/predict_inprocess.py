"""In-process predict: ``Emulator.request(POST .../_predict)`` against calling the fake
provider directly with the very request the connector renders, for two connectors:

* OpenAI chat (``protocol: http``, the seed's ``openai_chat_connector``, the body
  ``predict_messages``), answered by ``emu.providers["openai"]``;
* SageMaker (``protocol: aws_sigv4``, the seed's ``sagemaker_connector``, the body
  ``{"parameters": {"inputs": ...}}``), answered by ``emu.providers["sagemaker"]``. The
  connector signs every request with SigV4; the fake checks that the signature is well formed
  and fresh (no ``aws_credentials`` are configured, so it does not recompute it), and its
  default endpoint answers with a 384-dimension embedding.

The baseline replays ``provider.recorder.last`` of a warm-up predict: the request as rendered
(and signed), the work that cannot be avoided. All four sides run in one event loop, in
alternating blocks, so drift (CPU frequency, other load) hits them alike. Target: the median
of each predict <= 3x its direct provider call. Run alone:
``python -m benchmarks.predict_inprocess [--quick]``.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._common import median, percentile, ratio, seed_body

NAME = "predict_inprocess"
TARGET = "<= 3"
BLOCK = 50
WARMUP = 50
SAGEMAKER_PREDICT = {"parameters": {"inputs": "hello world"}}


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


async def setup_sagemaker(emu: Any) -> str:
    """A deployed model on the seed's SageMaker (aws_sigv4) connector, after ``setup`` (whose
    trusted endpoints allow runtime.sagemaker.*.amazonaws.com); its model id."""
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", seed_body("sagemaker_connector"))
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    r = await emu.request("POST", "/_plugins/_ml/model_groups/_register",
                          {"name": "sagemaker-models", "description": "Models served through SageMaker"})
    assert r.status == 200, r.body
    group_id = r.body["model_group_id"]
    body = seed_body("register_model", model_group_id=group_id, connector_id=connector_id)
    body["name"] = "sagemaker-embedding"
    r = await emu.request("POST", "/_plugins/_ml/models/_register", body)
    assert r.status == 200, r.body
    model_id = r.body["model_id"]
    r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200 and r.body["status"] == "COMPLETED", r.body
    return str(model_id)


class _Case:
    """One connector's predict and its replayed provider call, with their samples."""

    def __init__(self, emu: Any, model_id: str, body: Any, provider: str) -> None:
        self.emu = emu
        self.path = f"/_plugins/_ml/models/{model_id}/_predict"
        self.body = body
        self.provider = emu.providers[provider]
        self.rendered: Any = None
        self.emu_ns: list[int] = []
        self.fake_ns: list[int] = []
        self.failures = 0

    async def prepare(self) -> None:
        r = await self.emu.request("POST", self.path, self.body)
        assert r.status == 200, r.body
        assert r.body["inference_results"][0]["status_code"] == 200, r.body
        self.rendered = self.provider.recorder.last  # what the connector sent: replayed as is
        assert self.rendered is not None
        reply = await self.provider.handle(self.rendered)
        assert reply.status == 200, reply.body

    async def warm_up(self, n: int) -> None:
        for _ in range(n):
            await self.emu.request("POST", self.path, self.body)
            await self.provider.handle(self.rendered)

    async def block(self, n: int) -> None:
        clock = time.perf_counter_ns
        for _ in range(n):
            t0 = clock()
            r = await self.emu.request("POST", self.path, self.body)
            self.emu_ns.append(clock() - t0)
            self.failures += r.status != 200
        for _ in range(n):
            t0 = clock()
            reply = await self.provider.handle(self.rendered)
            self.fake_ns.append(clock() - t0)
            self.failures += reply.status != 200

    def figures(self, prefix: str = "") -> dict[str, Any]:
        emu_us = [v / 1000 for v in self.emu_ns]
        fake_us = [v / 1000 for v in self.fake_ns]
        return {
            f"{prefix}emulator_median_us": median(emu_us), f"{prefix}emulator_p99_us": percentile(emu_us, 99),
            f"{prefix}provider_median_us": median(fake_us), f"{prefix}provider_p99_us": percentile(fake_us, 99),
            f"{prefix}emulator_mean_us": sum(emu_us) / len(emu_us),
            f"{prefix}provider_mean_us": sum(fake_us) / len(fake_us),
            f"{prefix}failures": self.failures,
        }


async def _measure(k: int) -> dict[str, Any]:
    from mlcommons_emu import Emulator

    async with Emulator() as emu:  # SQLite in memory
        openai = _Case(emu, await setup(emu), seed_body("predict_messages"), "openai")
        sagemaker = _Case(emu, await setup_sagemaker(emu), SAGEMAKER_PREDICT, "sagemaker")
        cases = (openai, sagemaker)
        for case in cases:
            await case.prepare()
        for case in cases:
            await case.warm_up(WARMUP)
        done = 0
        while done < k:
            n = min(BLOCK, k - done)
            for case in cases:
                await case.block(n)
            done += n
    return {**openai.figures(), **sagemaker.figures("sagemaker_")}


def run(quick: bool = False, k: int | None = None) -> dict[str, Any]:
    k = k or (300 if quick else 2000)
    figures = asyncio.run(_measure(k))
    return {
        "benchmark": NAME,
        "params": {"k": k, "block": BLOCK, "warmup": WARMUP, "database": "sqlite in memory",
                   "emulator": "await emu.request('POST', '/_plugins/_ml/models/<id>/_predict', predict_messages)",
                   "baseline": "await emu.providers['openai'].handle(<recorder.last of a warm-up predict>)",
                   "sagemaker_emulator": "await emu.request('POST', '/_plugins/_ml/models/<id>/_predict', "
                                         f"{SAGEMAKER_PREDICT}) on the seed's sagemaker_connector (aws_sigv4)",
                   "sagemaker_baseline": "await emu.providers['sagemaker'].handle(<recorder.last of a warm-up "
                                         "predict>)"},
        "figures": figures,
        "ratios": [
            ratio("predict latency (median)", figures["emulator_median_us"], figures["provider_median_us"],
                  "us", target=TARGET),
            ratio("predict latency (p99)", figures["emulator_p99_us"], figures["provider_p99_us"],
                  "us", target=None),
            ratio("predict latency, SageMaker sigv4 (median)", figures["sagemaker_emulator_median_us"],
                  figures["sagemaker_provider_median_us"], "us", target=TARGET),
            ratio("predict latency, SageMaker sigv4 (p99)", figures["sagemaker_emulator_p99_us"],
                  figures["sagemaker_provider_p99_us"], "us", target=None),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
