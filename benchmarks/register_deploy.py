"""Register + deploy of a remote model in process, in "immediate" progression (the default:
a task's work is done before its REST call answers), against the cheapest request round trip,
``GET /`` through the same ``Emulator.request``; and task throughput, back to back and with
``LANES`` flows at once.

Setup (one event loop, ``Emulator(progression="immediate")``, SQLite in memory): the seed's
trusted endpoints, the OpenAI chat connector and a model group (plus one group per concurrent
lane: registers into one group at the same time conflict on its version, as in the plugin).

* Latency: one flow is ``POST /_plugins/_ml/models/_register`` then
  ``POST /_plugins/_ml/models/<id>/_deploy`` until the deploy task is COMPLETED (its reply
  says so in immediate mode; were it CREATED or RUNNING, ``GET /_plugins/_ml/tasks/<id>`` is
  polled, and the polls are counted). Flows run in blocks of ``BLOCK``, alternating with
  blocks of ``GET /`` (the baseline, ``GETS_PER_FLOW`` per flow), so drift hits both alike;
  the ratio says how many no-op requests one register + deploy costs. After each flow block
  its models are undeployed and deleted (timed apart: the "undeploy + delete" figure), so
  the cluster stays the same size.
* Throughput: M flows back to back, then M flows as ``asyncio.gather`` of ``LANES`` flows at
  a time; tasks completed per second (each flow completes two tasks, register and deploy).
  The ratio is the concurrent rate against the back-to-back one (what concurrency gains).

No target is set: every figure is reported only. The warm-up flows check that both tasks of
a flow are COMPLETED. Run alone: ``python -m benchmarks.register_deploy [--quick]``.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks._common import median, percentile, ratio, seed_body

NAME = "register_deploy"
BLOCK = 10
GETS_PER_FLOW = 10
LANES = 16
WARMUP = 5
TASKS_PER_FLOW = 2
_DONE = ("COMPLETED", "COMPLETED_WITH_ERROR", "FAILED")


class _Flows:
    """Register + deploy flows on one emulator, counting task polls."""

    def __init__(self, emu: Any, connector_id: str) -> None:
        self.emu = emu
        self.connector_id = connector_id
        self.polls = 0
        self.serial = 0

    async def _wait(self, task_id: str) -> dict[str, Any]:
        while True:
            r = await self.emu.request("GET", f"/_plugins/_ml/tasks/{task_id}")
            assert r.status == 200, r.body
            self.polls += 1
            if r.body["state"] in _DONE:
                return dict(r.body)
            await asyncio.sleep(0.001)

    async def flow(self, group_id: str) -> tuple[str, str, str]:
        """Register and deploy one model; (model id, register task id, deploy task id)."""
        self.serial += 1
        body = seed_body("register_model", model_group_id=group_id, connector_id=self.connector_id)
        body["name"] = f"bench-{self.serial}"
        r = await self.emu.request("POST", "/_plugins/_ml/models/_register", body)
        assert r.status == 200, r.body
        model_id, register_task = str(r.body["model_id"]), str(r.body["task_id"])
        r = await self.emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        assert r.status == 200, r.body
        deploy_task = str(r.body["task_id"])
        if r.body.get("status") != "COMPLETED":
            state = await self._wait(deploy_task)
            assert state["state"] == "COMPLETED", state
        return model_id, register_task, deploy_task

    async def check(self, register_task: str, deploy_task: str) -> None:
        for task_id in (register_task, deploy_task):
            r = await self.emu.request("GET", f"/_plugins/_ml/tasks/{task_id}")
            assert r.status == 200 and r.body["state"] == "COMPLETED", r.body

    async def remove(self, model_id: str) -> None:
        r = await self.emu.request("POST", f"/_plugins/_ml/models/{model_id}/_undeploy")
        assert r.status == 200, r.body
        r = await self.emu.request("DELETE", f"/_plugins/_ml/models/{model_id}")
        assert r.status == 200, r.body


async def _setup(emu: Any) -> tuple[str, list[str]]:
    """The connector id and the model groups: the first for back-to-back flows, one per lane."""
    r = await emu.request("PUT", "/_cluster/settings", seed_body("trusted_endpoints"))
    assert r.status == 200, r.body
    r = await emu.request("POST", "/_plugins/_ml/connectors/_create", seed_body("openai_chat_connector"))
    assert r.status == 200, r.body
    connector_id = str(r.body["connector_id"])
    groups = []
    for lane in range(LANES):
        body = seed_body("model_group")
        body["name"] = f"{body['name']}-{lane}"
        r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", body)
        assert r.status == 200, r.body
        groups.append(str(r.body["model_group_id"]))
    return connector_id, groups


async def _measure(k: int, m: int) -> dict[str, Any]:
    from mlcommons_emu import Emulator

    clock = time.perf_counter_ns
    async with Emulator(progression="immediate") as emu:  # SQLite in memory
        connector_id, groups = await _setup(emu)
        flows = _Flows(emu, connector_id)
        for _ in range(WARMUP):
            model_id, register_task, deploy_task = await flows.flow(groups[0])
            await flows.check(register_task, deploy_task)
            await flows.remove(model_id)
        for _ in range(WARMUP * GETS_PER_FLOW):
            await emu.request("GET", "/")

        # latency: alternating blocks of flows and of GET /
        flow_ns: list[int] = []
        get_ns: list[int] = []
        remove_ns: list[int] = []
        failures = 0
        done = 0
        while done < k:
            n = min(BLOCK, k - done)
            models = []
            for _ in range(n):
                t0 = clock()
                model_id, _, _ = await flows.flow(groups[0])
                flow_ns.append(clock() - t0)
                models.append(model_id)
            for _ in range(n * GETS_PER_FLOW):
                t0 = clock()
                r = await emu.request("GET", "/")
                get_ns.append(clock() - t0)
                failures += r.status != 200
            for model_id in models:
                t0 = clock()
                await flows.remove(model_id)
                remove_ns.append(clock() - t0)
            done += n
        latency_polls = flows.polls

        # throughput, back to back
        t0 = clock()
        models = [(await flows.flow(groups[0]))[0] for _ in range(m)]
        serial_s = (clock() - t0) / 1e9
        for model_id in models:
            await flows.remove(model_id)

        # throughput, LANES flows at a time (one model group per lane)
        models = []
        t0 = clock()
        while len(models) < m:
            lanes = min(LANES, m - len(models))
            results = await asyncio.gather(*(flows.flow(groups[lane]) for lane in range(lanes)),
                                           return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    failures += 1
                else:
                    models.append(result[0])
            if all(isinstance(result, BaseException) for result in results):
                raise RuntimeError(f"every concurrent flow failed: {results[0]!r}")
        concurrent_s = (clock() - t0) / 1e9
        for model_id in models:
            await flows.remove(model_id)

    flow_us = [v / 1000 for v in flow_ns]
    get_us = [v / 1000 for v in get_ns]
    remove_us = [v / 1000 for v in remove_ns]
    return {
        "flow_median_us": median(flow_us), "flow_p99_us": percentile(flow_us, 99),
        "flow_mean_us": sum(flow_us) / len(flow_us),
        "get_root_median_us": median(get_us), "get_root_p99_us": percentile(get_us, 99),
        "get_root_mean_us": sum(get_us) / len(get_us),
        "undeploy_delete_median_us": median(remove_us), "undeploy_delete_p99_us": percentile(remove_us, 99),
        "serial_flows": m, "serial_s": serial_s, "serial_tasks_per_s": TASKS_PER_FLOW * m / serial_s,
        "concurrent_flows": m, "concurrent_s": concurrent_s,
        "concurrent_tasks_per_s": TASKS_PER_FLOW * m / concurrent_s,
        "task_polls_latency": latency_polls, "task_polls_total": flows.polls, "failures": failures,
    }


def run(quick: bool = False, k: int | None = None, m: int | None = None) -> dict[str, Any]:
    k = k or (40 if quick else 200)
    m = m or (48 if quick else 192)
    figures = asyncio.run(_measure(k, m))
    return {
        "benchmark": NAME,
        "params": {"k": k, "m": m, "block": BLOCK, "gets_per_flow": GETS_PER_FLOW, "lanes": LANES,
                   "warmup": WARMUP, "database": "sqlite in memory", "progression": "immediate",
                   "subject": "POST .../models/_register + POST .../models/<id>/_deploy (COMPLETED)",
                   "baseline": "await emu.request('GET', '/')"},
        "figures": figures,
        "ratios": [
            ratio("register + deploy latency (median)", figures["flow_median_us"], figures["get_root_median_us"],
                  "us", target=None),
            ratio("register + deploy latency (p99)", figures["flow_p99_us"], figures["get_root_p99_us"],
                  "us", target=None),
            ratio("undeploy + delete latency (median)", figures["undeploy_delete_median_us"],
                  figures["get_root_median_us"], "us", target=None),
            ratio(f"task throughput, {LANES} concurrent vs back to back", figures["concurrent_tasks_per_s"],
                  figures["serial_tasks_per_s"], "tasks/s", target=None, higher_is_better=True),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
