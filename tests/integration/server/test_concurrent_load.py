"""Hundreds of concurrent HTTP requests against the real server, on SQLite and PostgreSQL.

Wave 1 (about 270 requests at once): registers into three shared model groups, connector
creates, group registers, gets and predicts.  Wave 2: every model registered in wave 1
deployed (the one served model by several deploys at once) and predicted on, together.

Checked: every answer is the right one (a register either succeeds or loses its group's
optimistic-concurrency race with the plugin's 409, tests/conformance/test_concurrency.py);
each losing register's task is FAILED with that version conflict; versions in each group
are exactly 1..``latest_version``, one model each; no task is left in flight; no 5xx; no
wave takes longer than its bound (a deadlock or a lock wait that never ends fails it); the
stored documents are consistent and the server stops cleanly.
"""
from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from typing import Any, Awaitable, Callable

import aiohttp
import pytest

from tests.conftest import BACKENDS
from tests.integration.server_process import ServerProcess, check_consistency, read_documents, server_database
from tests.seed import body

ML = "/_plugins/_ml"
SHARED_GROUPS = 3
REGISTERS_PER_GROUP = 40
WAVE_TIMEOUT = 120.0


@pytest.fixture(params=BACKENDS)
async def load_server(request, tmp_path):
    async with server_database(request.param, tmp_path, "load") as (database, schema):
        server = await ServerProcess(database, schema=schema).start()
        try:
            yield server
        finally:
            server.close()


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url
        self.statuses: collections.Counter[int] = collections.Counter()

    async def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, json=payload) as response:
            data = await response.json(content_type=None)
        self.statuses[response.status] += 1
        return response.status, data

    async def ok(self, method: str, path: str, payload: Any = None) -> Any:
        status, data = await self.call(method, path, payload)
        assert status == 200, (method, path, status, data)
        return data


async def wave(jobs: list[Callable[[], Awaitable[Any]]], what: str) -> list[Any]:
    """Run every job at once; all must finish within WAVE_TIMEOUT."""
    started = time.monotonic()
    try:
        results = await asyncio.wait_for(asyncio.gather(*(job() for job in jobs)), WAVE_TIMEOUT)
    except asyncio.TimeoutError:
        raise AssertionError(f"{what}: {len(jobs)} requests not answered within {WAVE_TIMEOUT}s "
                             "(deadlock or endless lock wait)") from None
    print(f"{what}: {len(jobs)} concurrent requests in {time.monotonic() - started:.2f}s")
    return results


async def test_hundreds_of_concurrent_requests(load_server):
    seed = int(os.environ.get("MLCOMMONS_EMU_LOAD_SEED") or random.randrange(2**32))
    print(f"concurrent load: seed={seed} database={load_server.database} schema={load_server.schema}")
    rng = random.Random(seed)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=400),
                                     timeout=aiohttp.ClientTimeout(total=WAVE_TIMEOUT)) as session:
        client = Client(session, load_server.url)
        connector_id = (await client.ok("POST", f"{ML}/connectors/_create", body("openai_chat_connector")))["connector_id"]
        groups = [(await client.ok("POST", f"{ML}/model_groups/_register", {"name": f"shared-{i}"}))["model_group_id"]
                  for i in range(SHARED_GROUPS)]
        served_group = (await client.ok("POST", f"{ML}/model_groups/_register", {"name": "served"}))["model_group_id"]
        served = (await client.ok("POST", f"{ML}/models/_register", {
            "name": "served", "function_name": "remote", "model_group_id": served_group,
            "connector_id": connector_id}))["model_id"]
        await client.ok("POST", f"{ML}/models/{served}/_deploy")

        # wave 1 ------------------------------------------------------------------------
        registered: dict[str, list[str]] = {g: [] for g in groups}
        conflicts: collections.Counter[str] = collections.Counter()
        created_connectors: dict[str, str] = {}
        created_groups: dict[str, str] = {}
        problems: list[str] = []

        def register(group_id: str, n: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await client.call("POST", f"{ML}/models/_register", {
                    "name": f"m-{n}", "function_name": "remote", "model_group_id": group_id,
                    "connector_id": connector_id})
                if status == 200 and data.get("status") == "CREATED" and data.get("model_id") and data.get("task_id"):
                    registered[group_id].append(data["model_id"])
                elif (status == 409 and data["status"] == 409
                      and data["error"]["type"] == "version_conflict_engine_exception"
                      and data["error"]["reason"].startswith(f"[{group_id}]: version conflict")
                      and data["error"]["root_cause"][0]["reason"] == data["error"]["reason"]):
                    conflicts[group_id] += 1
                else:
                    problems.append(f"register into {group_id}: {status} {data}")
            return job

        def create_connector(n: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                payload = {**body("openai_chat_connector"), "name": f"connector-{n}"}
                status, data = await client.call("POST", f"{ML}/connectors/_create", payload)
                if status == 200 and data.get("connector_id"):
                    created_connectors[data["connector_id"]] = payload["name"]
                else:
                    problems.append(f"create connector: {status} {data}")
            return job

        def create_group(n: int) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await client.call("POST", f"{ML}/model_groups/_register", {"name": f"group-{n}"})
                if status == 200 and data.get("model_group_id"):
                    created_groups[data["model_group_id"]] = f"group-{n}"
                else:
                    problems.append(f"register group: {status} {data}")
            return job

        def get(path: str, field: str, want: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await client.call("GET", path)
                if status != 200 or data.get(field) != want:
                    problems.append(f"GET {path}: {status} {data}")
            return job

        def predict(model_id: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await client.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
                if status != 200 or data["inference_results"][0]["status_code"] != 200:
                    problems.append(f"predict {model_id}: {status} {data}")
            return job

        jobs = [register(g, i) for g in groups for i in range(REGISTERS_PER_GROUP)]
        jobs += [create_connector(i) for i in range(40)]
        jobs += [create_group(i) for i in range(30)]
        jobs += [get(f"{ML}/connectors/{connector_id}", "name", "OpenAI Chat Connector") for _ in range(15)]
        jobs += [get(f"{ML}/model_groups/{g}", "name", f"shared-{i}") for i, g in enumerate(groups) for _ in range(5)]
        jobs += [get(f"{ML}/models/{served}", "name", "served") for _ in range(10)]
        jobs += [predict(served) for _ in range(40)]
        rng.shuffle(jobs)
        await wave(jobs, "wave 1")
        assert problems == [], f"seed={seed}: {problems}"
        assert sum(conflicts.values()) > 0, f"seed={seed}: concurrent registers into one group never conflicted"

        for group_id in groups:
            wins = registered[group_id]
            assert len(wins) + conflicts[group_id] == REGISTERS_PER_GROUP
            group = await client.ok("GET", f"{ML}/model_groups/{group_id}")
            assert group["latest_version"] == len(wins), (seed, group_id, group, len(wins))
            found = await client.ok("POST", f"{ML}/models/_search",
                                    {"query": {"term": {"model_group_id": group_id}}, "size": 1000})
            hits = found["hits"]["hits"]
            assert sorted(h["_id"] for h in hits) == sorted(wins), (seed, group_id)
            assert sorted(int(h["_source"]["model_version"]) for h in hits) == list(range(1, len(wins) + 1)), (
                seed, group_id, [h["_source"]["model_version"] for h in hits])
        tasks = (await client.ok("POST", f"{ML}/tasks/_search", {"query": {"match_all": {}}, "size": 10000}))
        tasks = [h["_source"] for h in tasks["hits"]["hits"]]
        assert all(t["state"] in ("COMPLETED", "FAILED") for t in tasks), seed
        for group_id in groups:
            lost = [t for t in tasks if t["task_type"] == "REGISTER_MODEL" and t["state"] == "FAILED"
                    and t["error"].startswith(f"[{group_id}]: version conflict")]
            assert len(lost) == conflicts[group_id] and all("model_id" not in t for t in lost), (seed, group_id)
        completed = {t["model_id"] for t in tasks if t["task_type"] == "REGISTER_MODEL" and t["state"] == "COMPLETED"}
        assert completed == {m for wins in registered.values() for m in wins} | {served}, seed
        for connector, name in list(created_connectors.items())[:10]:
            assert (await client.ok("GET", f"{ML}/connectors/{connector}"))["name"] == name
        for group_id, name in list(created_groups.items())[:10]:
            assert (await client.ok("GET", f"{ML}/model_groups/{group_id}"))["name"] == name

        # wave 2: deploys (several of one model at once) and predicts -------------------
        models = [m for wins in registered.values() for m in wins]
        deployed: list[str] = []

        def deploy(model_id: str) -> Callable[[], Awaitable[None]]:
            async def job() -> None:
                status, data = await client.call("POST", f"{ML}/models/{model_id}/_deploy")
                if status == 200 and data.get("status") == "COMPLETED" and data.get("task_id"):
                    deployed.append(data["task_id"])
                else:
                    problems.append(f"deploy {model_id}: {status} {data}")
            return job

        jobs = [deploy(m) for m in models] + [deploy(served) for _ in range(8)]
        jobs += [predict(rng.choice(models)) for _ in range(60)] + [predict(served) for _ in range(30)]
        rng.shuffle(jobs)
        await wave(jobs, "wave 2")
        assert problems == [], f"seed={seed}: {problems}"
        for model_id in [served, *models]:
            model = await client.ok("GET", f"{ML}/models/{model_id}")
            assert model["model_state"] == "DEPLOYED", (seed, model_id, model)
        tasks = (await client.ok("POST", f"{ML}/tasks/_search", {"query": {"match_all": {}}, "size": 10000}))
        by_id = {h["_id"]: h["_source"] for h in tasks["hits"]["hits"]}
        assert all(by_id[t]["state"] == "COMPLETED" for t in deployed), seed
        assert all(t["state"] in ("COMPLETED", "FAILED") for t in by_id.values()), seed
        assert not [s for s in client.statuses if s >= 500], (seed, client.statuses)
        print(f"answers by status: {dict(client.statuses)}; conflicts per group: {dict(conflicts)}")

    assert load_server.stop() == 0, load_server.stderr()
    docs = await read_documents(load_server.database, load_server.schema)
    assert check_consistency(docs) == [], (seed, check_consistency(docs))
