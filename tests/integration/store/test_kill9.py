"""kill -9 of the real server under load, then a restart on the same database.

Each iteration drives concurrent create-connector / register-group / register-model /
deploy / predict traffic over HTTP, SIGKILLs the server at a random moment, reads the
database as the crash left it, restarts the server on it and checks:

* every acknowledged write (a 2xx answer carrying an id) is stored, and answered after the
  restart, with the acknowledged content;
* nothing is half written: every document parses, model versions are unique per group and
  ``latest_version`` is the highest of them, every model has its COMPLETED register task
  and every COMPLETED register task its model;
* tasks the crash caught CREATED/RUNNING stay exactly as they were (the plugin never repairs
  task documents), or, on restarts with ``--fail-inflight-tasks`` (every other iteration),
  are FAILED with the emulator's restart error; every other task is untouched;
* the restarted server answers normally (and the next iteration loads it again).

``MLCOMMONS_EMU_KILL9_ITERATIONS`` (default 5) sets the iterations, ``MLCOMMONS_EMU_KILL9_SEED``
the seed (printed, and named in every failure, so a failing mix can be replayed; the kill's
timing relative to the traffic stays up to the scheduler).
"""
from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import aiohttp
import attrs
import pytest

from mlcommons_emu.emulator import INFLIGHT_TASK_ERROR
from mlcommons_emu.store import rows
from tests.conftest import BACKENDS
from tests.integration.server_process import (
    ServerProcess,
    by_index,
    check_consistency,
    read_documents,
    server_database,
)
from tests.seed import body

ML = "/_plugins/_ml"
ITERATIONS = int(os.environ.get("MLCOMMONS_EMU_KILL9_ITERATIONS", "5"))
WORKERS = 12
SHARED_GROUPS = 3
IN_FLIGHT_STATES = ("CREATED", "RUNNING")
SETTLED_STATES = ("COMPLETED", "FAILED", "COMPLETED_WITH_ERROR", "CANCELLED")


@attrs.define
class Acked:
    """What the server acknowledged, by id, with the content it must keep."""

    connectors: dict[str, dict[str, Any]] = attrs.Factory(dict)
    groups: dict[str, dict[str, Any]] = attrs.Factory(dict)
    models: dict[str, dict[str, Any]] = attrs.Factory(dict)
    deploys: dict[str, str] = attrs.Factory(dict)  # task id -> model id
    group_order: list[str] = attrs.Factory(list)


class Traffic:
    """Workers sending a random mix until the server dies under them."""

    def __init__(self, session: aiohttp.ClientSession, url: str, rng: random.Random, acked: Acked,
                 tag: str) -> None:
        self.session, self.url, self.rng, self.acked, self.tag = session, url, rng, acked, tag
        self.killed = False
        self.counter = 0
        self.unexpected: list[str] = []
        self.answered = 0

    def _name(self, kind: str) -> str:
        self.counter += 1
        return f"{kind}-{self.tag}-{self.counter}"

    async def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, json=payload) as response:
            data = await response.json(content_type=None)
            self.answered += 1
            return response.status, data

    # operations ---------------------------------------------------------------------------
    async def create_connector(self) -> None:
        name = self._name("conn")
        payload = body("openai_chat_connector")
        payload.update(name=name, description=f"connector {name}")
        payload["parameters"] = {"endpoint": "api.openai.com", "model": f"gpt-{name}"}
        status, data = await self.call("POST", f"{ML}/connectors/_create", payload)
        if status == 200 and data.get("connector_id"):
            self.acked.connectors[data["connector_id"]] = {
                "name": name, "description": payload["description"], "parameters": payload["parameters"]}
        else:
            self.unexpected.append(f"create connector: {status} {data}")

    async def register_group(self) -> None:
        name = self._name("group")
        status, data = await self.call("POST", f"{ML}/model_groups/_register",
                                       {"name": name, "description": f"group {name}"})
        if status == 200 and data.get("model_group_id"):
            self.acked.groups[data["model_group_id"]] = {"name": name, "description": f"group {name}"}
            self.acked.group_order.append(data["model_group_id"])
        else:
            self.unexpected.append(f"register group: {status} {data}")

    async def register_model(self) -> None:
        if not self.acked.connectors or not self.acked.group_order:
            return
        order = self.acked.group_order
        shared = order[:SHARED_GROUPS]
        group_id = self.rng.choice(shared if self.rng.random() < 0.8 else order)
        connector_id = self.rng.choice(sorted(self.acked.connectors))
        name = self._name("model")
        payload = {"name": name, "function_name": "remote", "model_group_id": group_id,
                   "connector_id": connector_id, "description": f"model {name}"}
        status, data = await self.call("POST", f"{ML}/models/_register", payload)
        if status == 200 and data.get("model_id") and data.get("task_id"):
            self.acked.models[data["model_id"]] = {
                "name": name, "model_group_id": group_id, "connector_id": connector_id,
                "description": payload["description"], "task_id": data["task_id"]}
        elif not (status == 409 and data["error"]["type"] == "version_conflict_engine_exception"
                  and data["error"]["reason"].startswith(f"[{group_id}]: version conflict")):
            self.unexpected.append(f"register model: {status} {data}")

    async def deploy(self) -> None:
        if not self.acked.models:
            return
        model_id = self.rng.choice(sorted(self.acked.models))
        status, data = await self.call("POST", f"{ML}/models/{model_id}/_deploy")
        if status == 200 and data.get("task_id") and data.get("status") == "COMPLETED":
            self.acked.deploys[data["task_id"]] = model_id
        else:
            self.unexpected.append(f"deploy: {status} {data}")

    async def predict(self) -> None:
        if not self.acked.models:
            return
        model_id = self.rng.choice(sorted(self.acked.models))
        status, data = await self.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
        if status != 200 or "inference_results" not in data:
            self.unexpected.append(f"predict: {status} {data}")

    async def get(self) -> None:
        kind = self.rng.choice(["connectors", "model_groups", "models"])
        known = {"connectors": self.acked.connectors, "model_groups": self.acked.groups,
                 "models": self.acked.models}[kind]
        if not known:
            return
        doc_id = self.rng.choice(sorted(known))
        status, data = await self.call("GET", f"{ML}/{kind}/{doc_id}")
        if status != 200 or data.get("name") != known[doc_id]["name"]:
            self.unexpected.append(f"get {kind}/{doc_id}: {status} {data}")

    OPERATIONS = (("create_connector", 1), ("register_group", 1), ("register_model", 5),
                  ("deploy", 2), ("predict", 3), ("get", 2))

    async def worker(self) -> None:
        names = [name for name, _ in self.OPERATIONS]
        weights = [weight for _, weight in self.OPERATIONS]
        while not self.killed:
            operation = self.rng.choices(names, weights)[0]
            try:
                await getattr(self, operation)()
            except (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError) as exc:
                if not self.killed:
                    self.unexpected.append(f"{operation}: {exc!r}")
                return
            await asyncio.sleep(0)

    async def run_until_killed(self, server: ServerProcess, kill_after: float) -> None:
        workers = [asyncio.ensure_future(self.worker()) for _ in range(WORKERS)]
        await asyncio.sleep(kill_after)
        self.killed = True  # answers read from here on still count: the server sent them
        server.kill()
        await asyncio.wait_for(asyncio.gather(*workers), 60)


async def check_acknowledged_stored(docs: list, acked: Acked, where: str) -> None:
    """Every acknowledged id is in the database with the acknowledged content."""
    indices = by_index(docs)
    connectors = indices.get(rows.CONNECTOR_INDEX, {})
    groups = indices.get(rows.MODEL_GROUP_INDEX, {})
    models = indices.get(rows.MODEL_INDEX, {})
    tasks = indices.get(rows.TASK_INDEX, {})
    for connector_id, want in acked.connectors.items():
        assert connector_id in connectors, f"{where}: acknowledged connector {connector_id} lost"
        source = connectors[connector_id].source
        assert {k: source.get(k) for k in want} == want, f"{where}: connector {connector_id}: {source}"
    for group_id, want in acked.groups.items():
        assert group_id in groups, f"{where}: acknowledged model group {group_id} lost"
        assert {k: groups[group_id].source.get(k) for k in want} == want, f"{where}: group {group_id}"
    for model_id, want in acked.models.items():
        assert model_id in models, f"{where}: acknowledged model {model_id} lost"
        source = models[model_id].source
        for key in ("name", "model_group_id", "connector_id", "description"):
            assert source.get(key) == want[key], f"{where}: model {model_id} {key}: {source}"
        task = tasks.get(want["task_id"])
        assert task is not None, f"{where}: register task {want['task_id']} of model {model_id} lost"
        assert task.source["state"] == "COMPLETED" and task.source["model_id"] == model_id, f"{where}: {task}"
    for task_id, model_id in acked.deploys.items():
        task = tasks.get(task_id)
        assert task is not None, f"{where}: acknowledged deploy task {task_id} lost"
        assert (task.source["task_type"], task.source["model_id"], task.source["state"]) == (
            "DEPLOY_MODEL", model_id, "COMPLETED"), f"{where}: deploy task {task_id}: {task.source}"


async def check_acknowledged_answered(session: aiohttp.ClientSession, url: str, acked: Acked, where: str) -> None:
    """The restarted server answers every acknowledged id with the acknowledged content."""
    limit = asyncio.Semaphore(16)

    async def get(path: str) -> dict:
        async with limit, session.get(url + path) as response:
            data = await response.json(content_type=None)
            assert response.status == 200, f"{where}: GET {path}: {response.status} {data}"
            return data

    async def connector(connector_id: str, want: dict) -> None:
        data = await get(f"{ML}/connectors/{connector_id}")
        assert {k: data.get(k) for k in want} == want and "credential" not in data, f"{where}: {data}"

    async def group(group_id: str, want: dict) -> None:
        data = await get(f"{ML}/model_groups/{group_id}")
        assert {k: data.get(k) for k in want} == want, f"{where}: {data}"

    async def model(model_id: str, want: dict) -> None:
        data = await get(f"{ML}/models/{model_id}")
        for key in ("name", "model_group_id", "connector_id", "description"):
            assert data.get(key) == want[key], f"{where}: model {model_id}: {data}"
        task = await get(f"{ML}/tasks/{want['task_id']}")
        assert task["state"] == "COMPLETED" and task["model_id"] == model_id, f"{where}: {task}"

    async def deploy(task_id: str, model_id: str) -> None:
        task = await get(f"{ML}/tasks/{task_id}")
        assert (task["task_type"], task["model_id"], task["state"]) == ("DEPLOY_MODEL", model_id, "COMPLETED"), \
            f"{where}: {task}"

    await asyncio.gather(
        *(connector(i, w) for i, w in acked.connectors.items()),
        *(group(i, w) for i, w in acked.groups.items()),
        *(model(i, w) for i, w in acked.models.items()),
        *(deploy(t, m) for t, m in acked.deploys.items()))


def check_tasks_after_restart(before: list, after: list, fail_inflight: bool, where: str) -> None:
    """Tasks the crash left in flight: untouched, or FAILED with the restart error when the
    option is on; every other task document is exactly as it was."""
    tasks_before = by_index(before).get(rows.TASK_INDEX, {})
    tasks_after = by_index(after).get(rows.TASK_INDEX, {})
    for task_id, old in tasks_before.items():
        new = tasks_after.get(task_id)
        assert new is not None, f"{where}: task {task_id} vanished at restart"
        in_flight = (old.source["state"] in IN_FLIGHT_STATES
                     and old.source["task_type"] in ("REGISTER_MODEL", "DEPLOY_MODEL"))
        if in_flight and fail_inflight:
            assert new.source["state"] == "FAILED", f"{where}: in-flight task {task_id}: {new.source}"
            assert new.source["error"] == INFLIGHT_TASK_ERROR, f"{where}: {new.source}"
            rest = {k: v for k, v in new.source.items() if k not in ("state", "error", "last_update_time")}
            assert rest == {k: v for k, v in old.source.items() if k not in ("state", "error", "last_update_time")}, \
                f"{where}: task {task_id}: {old.source} -> {new.source}"
        else:
            assert new.source == old.source and new.version == old.version, (
                f"{where}: task {task_id} rewritten at restart: {old.source} -> {new.source}")
    for task_id, new in tasks_after.items():
        if task_id not in tasks_before:  # the restart's own redeploys: settled before it answered
            assert new.source["state"] in SETTLED_STATES, f"{where}: new task {task_id}: {new.source}"
        if new.source.get("error") == INFLIGHT_TASK_ERROR:
            assert fail_inflight or task_id in tasks_before, f"{where}: {task_id} failed without the option"


async def answers_normally(session: aiohttp.ClientSession, url: str, acked: Acked, where: str) -> None:
    async with session.get(url + "/") as response:
        assert response.status == 200, where
    traffic = Traffic(session, url, random.Random(0), acked, f"check{where.replace(' ', '')}")
    await traffic.create_connector()
    if not acked.group_order:
        await traffic.register_group()
    before = len(acked.models)
    await traffic.register_model()
    assert len(acked.models) == before + 1, f"{where}: {traffic.unexpected}"
    await traffic.deploy()
    await traffic.predict()
    assert traffic.unexpected == [], f"{where}: {traffic.unexpected}"


@pytest.fixture(params=BACKENDS)
async def crash_database(request, tmp_path):
    """(url, schema) of an empty database the servers of one test share."""
    async with server_database(request.param, tmp_path, "kill9") as database:
        yield database


async def test_kill9_loses_nothing_acknowledged(crash_database):
    database, schema = crash_database
    seed = int(os.environ.get("MLCOMMONS_EMU_KILL9_SEED") or random.randrange(2**32))
    print(f"kill -9 test: seed={seed} iterations={ITERATIONS} database={database} schema={schema}")
    rng = random.Random(seed)
    acked = Acked()
    server = await ServerProcess(database, schema=schema).start()
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        for iteration in range(ITERATIONS):
            where = f"seed={seed} iteration={iteration}"
            iteration_started = time.monotonic()
            async with aiohttp.ClientSession(timeout=timeout) as session:
                setup = Traffic(session, server.url, rng, acked, f"setup{iteration}")
                if not acked.connectors:
                    await setup.create_connector()
                while len(acked.group_order) < SHARED_GROUPS:
                    await setup.register_group()
                assert setup.unexpected == [], f"{where}: {setup.unexpected}"
                traffic = Traffic(session, server.url, rng, acked, f"i{iteration}")
                kill_after = rng.uniform(0.1, 2.0)
                await traffic.run_until_killed(server, kill_after=kill_after)
            assert traffic.unexpected == [], f"{where}: answers before the kill: {traffic.unexpected}"
            server.close()

            crashed = await read_documents(database, schema)
            assert check_consistency(crashed) == [], f"{where}: after the kill: {check_consistency(crashed)}"
            await check_acknowledged_stored(crashed, acked, f"{where} after the kill")

            fail_inflight = iteration % 2 == 1
            started = time.monotonic()
            server = await ServerProcess(
                database, schema=schema, extra=["--fail-inflight-tasks"] if fail_inflight else []).start()
            restart_took = time.monotonic() - started
            restarted = await read_documents(database, schema)
            assert check_consistency(restarted) == [], f"{where}: after the restart: {check_consistency(restarted)}"
            check_tasks_after_restart(crashed, restarted, fail_inflight, where)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                await check_acknowledged_answered(session, server.url, acked, f"{where} after the restart")
                await answers_normally(session, server.url, acked, f"{where} after the restart")
            in_flight = sum(1 for d in by_index(crashed).get(rows.TASK_INDEX, {}).values()
                            if d.source["state"] in IN_FLIGHT_STATES)
            print(f"{where}: killed after {kill_after:.2f}s and {traffic.answered} answers, {in_flight} task(s) "
                  f"left in flight; restart {restart_took:.2f}s; {len(acked.models)} models, {len(acked.deploys)} "
                  f"deploys acknowledged so far ({time.monotonic() - iteration_started:.1f}s)")
        assert server.stop() == 0, server.stderr()
    finally:
        server.close()
