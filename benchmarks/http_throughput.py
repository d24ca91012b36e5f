"""HTTP throughput: predict over the emulator's aiohttp server (``mlcommons_emu serve``, whose
app is ``mlcommons_emu.api.app.create_app``) against a bare aiohttp handler answering a body of
the same byte size, each driven by C keep-alive clients for D seconds.

Each server is its own subprocess; the load generator runs in this process, so it never
shares a server's event loop. The two servers are driven one at a time, alternately.
Run alone: ``python -m benchmarks.http_throughput [--quick]``.
"""
from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from typing import Any

from benchmarks._common import (
    Server,
    bare_argv,
    child_env,
    emulator_argv,
    free_port,
    ratio,
    seed_body,
    write_bare_server,
)

NAME = "http_throughput"
TARGET = ">= 0.5"
WARMUP_S = 0.5
JSON = {"Content-Type": "application/json"}


async def _call(session: Any, method: str, url: str, body: Any = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    async with session.request(method, url, data=data, headers=JSON if data else None) as resp:
        return resp.status, await resp.read()


async def setup_emulator(base: str) -> str:
    """The seed flow over HTTP up to a deployed OpenAI chat model; its model id."""
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async def ok(method: str, path: str, body: Any = None) -> dict[str, Any]:
            status, raw = await _call(s, method, base + path, body)
            assert status == 200, (path, status, raw[:500])
            return json.loads(raw)

        await ok("PUT", "/_cluster/settings", seed_body("trusted_endpoints"))
        connector_id = (await ok("POST", "/_plugins/_ml/connectors/_create",
                                 seed_body("openai_chat_connector")))["connector_id"]
        group_id = (await ok("POST", "/_plugins/_ml/model_groups/_register", seed_body("model_group")))["model_group_id"]
        model_id = (await ok("POST", "/_plugins/_ml/models/_register",
                             seed_body("register_model", model_group_id=group_id,
                                       connector_id=connector_id)))["model_id"]
        await ok("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        return str(model_id)


async def probe(url: str, body: bytes) -> tuple[int, int]:
    """(status, response body bytes) of one predict."""
    import aiohttp

    async with aiohttp.ClientSession() as s, s.post(url, data=body, headers=JSON) as resp:
        return resp.status, len(await resp.read())


async def drive(url: str, body: bytes, concurrency: int, duration: float) -> dict[str, Any]:
    """C workers over one keep-alive pool of C connections; requests completed within ``duration``."""
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def worker(deadline: float, counts: list[int]) -> None:
            while time.perf_counter() < deadline:
                async with session.post(url, data=body, headers=JSON) as resp:
                    await resp.read()
                    done = time.perf_counter()
                if done <= deadline:
                    counts[0 if resp.status == 200 else 1] += 1

        warm = [0, 0]
        deadline = time.perf_counter() + WARMUP_S
        await asyncio.gather(*(worker(deadline, warm) for _ in range(concurrency)))
        counts = [0, 0]
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(t0 + duration, counts) for _ in range(concurrency)))
    return {"ok": counts[0], "errors": counts[1], "seconds": duration}


def run(quick: bool = False, concurrency: int = 16, duration: float | None = None,
        rounds: int | None = None) -> dict[str, Any]:
    duration = duration or (2.0 if quick else 5.0)
    rounds = rounds or (1 if quick else 2)
    env = child_env()
    body = json.dumps(seed_body("predict_messages")).encode()
    with tempfile.TemporaryDirectory(prefix="mlcemu-bench-") as tmp:
        emu_port = free_port()
        database = f"sqlite:///{os.path.join(tmp, 'throughput.sqlite3')}"
        with Server(emulator_argv(emu_port, database), emu_port, cwd=tmp, env=env) as emu_server:
            emu_server.start()
            base = f"http://127.0.0.1:{emu_port}"
            model_id = asyncio.run(setup_emulator(base))
            emu_url = f"{base}/_plugins/_ml/models/{model_id}/_predict"
            status, size = asyncio.run(probe(emu_url, body))
            assert status == 200, status

            bare_port = free_port()
            script = write_bare_server(tmp)
            with Server(bare_argv(script, bare_port, size), bare_port, cwd=tmp, env=env) as bare_server:
                bare_server.start()
                bare_url = f"http://127.0.0.1:{bare_port}/_plugins/_ml/models/{model_id}/_predict"
                bare_status, bare_size = asyncio.run(probe(bare_url, body))
                assert bare_status == 200, bare_status

                runs: dict[str, list[dict[str, Any]]] = {"emulator": [], "bare": []}
                for i in range(rounds):  # ABBA...: neither side always goes first
                    order = ("emulator", "bare") if i % 2 == 0 else ("bare", "emulator")
                    for who in order:
                        url = emu_url if who == "emulator" else bare_url
                        runs[who].append(asyncio.run(drive(url, body, concurrency, duration)))

    def rps(who: str) -> float:
        return sum(r["ok"] for r in runs[who]) / sum(r["seconds"] for r in runs[who])

    figures = {
        "emulator_rps": rps("emulator"), "bare_rps": rps("bare"),
        "emulator_requests": sum(r["ok"] for r in runs["emulator"]),
        "bare_requests": sum(r["ok"] for r in runs["bare"]),
        "emulator_errors": sum(r["errors"] for r in runs["emulator"]),
        "bare_errors": sum(r["errors"] for r in runs["bare"]),
        "emulator_body_bytes": size, "bare_body_bytes": bare_size,
        "runs": runs,
    }
    return {
        "benchmark": NAME,
        "params": {"concurrency": concurrency, "duration_s": duration, "rounds": rounds,
                   "warmup_s": WARMUP_S, "database": "sqlite:///<tmp file>",
                   "emulator": "python -m mlcommons_emu serve; POST /_plugins/_ml/models/<id>/_predict",
                   "baseline": "bare aiohttp handler, same path, body of the same byte size",
                   "load_generator": "aiohttp ClientSession, TCPConnector(limit=C), in the runner process"},
        "figures": figures,
        "ratios": [
            ratio("predict requests/s", figures["emulator_rps"], figures["bare_rps"], "req/s",
                  target=TARGET, higher_is_better=True),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
