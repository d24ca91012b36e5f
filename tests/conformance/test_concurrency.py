"""Concurrent registers into one model group (fidelity-notes.md "Tasks and states";
ml-commons-semantics.md §7.2; ml-commons-rest.md §10.1).

The group's latest_version is bumped with an optimistic-concurrency update and no retry, so of two
registers racing on one group the loser fails with a version conflict (409), its task is FAILED
with that error, no model document is written for it and the group's version is bumped once.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from mlcommons_emu import Emulator
from tests.seed import body
from tests.conftest import store_options

ML = "/_plugins/_ml"


@contextlib.asynccontextmanager
async def started(database_url: str, version: str) -> AsyncIterator[Emulator]:
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version, seed=5) as emu:
        yield emu


async def connector_and_group(emu: Emulator, group_name: str = "racing-group") -> tuple[str, str]:
    r = await emu.request("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    r = await emu.request("POST", f"{ML}/model_groups/_register", {"name": group_name})
    assert r.status == 200, r.body
    return connector_id, r.body["model_group_id"]


def register_body(connector_id: str, group_id: str, name: str) -> dict:
    return {"name": name, "function_name": "remote", "model_group_id": group_id, "connector_id": connector_id}


async def race(emu: Emulator, *payloads: dict):
    return await asyncio.gather(*(emu.request("POST", f"{ML}/models/_register", p) for p in payloads))


async def register_tasks(emu: Emulator) -> list[dict]:
    """Every REGISTER_MODEL task, as GET /tasks/{id} shows it."""
    async with emu.context.transaction() as repos:
        task_ids = [t.task_id for t in await repos.tasks.find() if t.task_type.value == "REGISTER_MODEL"]
    tasks = []
    for task_id in task_ids:
        r = await emu.request("GET", f"{ML}/tasks/{task_id}")
        assert r.status == 200, r.body
        tasks.append({"task_id": task_id, **r.body})
    return tasks


async def models_in(emu: Emulator, group_id: str) -> list:
    async with emu.context.transaction() as repos:
        return await repos.models.find(model_group_id=group_id)


async def group_latest_version(emu: Emulator, group_id: str) -> int:
    async with emu.context.transaction() as repos:
        doc = await repos.model_groups.get_document(group_id)
    return doc.source["latest_version"]


async def test_3_8_two_concurrent_registers_into_one_group_one_loses_with_409(database_url):
    async with started(database_url, "3.8.0") as emu:
        connector_id, group_id = await connector_and_group(emu)
        first, second = await race(emu, register_body(connector_id, group_id, "first"),
                                   register_body(connector_id, group_id, "second"))

        assert sorted([first.status, second.status]) == [200, 409], (first.body, second.body)
        winner, loser = (first, second) if first.status == 200 else (second, first)
        error = loser.body["error"]
        assert loser.body["status"] == 409
        assert error["type"] == "version_conflict_engine_exception"
        assert error["reason"].startswith(f"[{group_id}]: version conflict")
        assert error["root_cause"][0]["type"] == "version_conflict_engine_exception"
        assert error["root_cause"][0]["reason"] == error["reason"]

        assert winner.body["status"] == "CREATED"
        winner_model = (await emu.request("GET", f"{ML}/models/{winner.body['model_id']}")).body
        assert winner_model["model_version"] == "1"
        assert winner_model["model_group_id"] == group_id

        tasks = {t["task_id"]: t for t in await register_tasks(emu)}
        assert len(tasks) == 2
        won = tasks.pop(winner.body["task_id"])
        assert won["state"] == "COMPLETED" and won["model_id"] == winner.body["model_id"]
        [lost] = tasks.values()
        assert lost["state"] == "FAILED"
        assert "version conflict" in lost["error"]
        assert lost["error"] == error["reason"]
        assert "model_id" not in lost

        assert await group_latest_version(emu, group_id) == 1
        r = await emu.request("GET", f"{ML}/model_groups/{group_id}")
        assert r.status == 200 and r.body["latest_version"] == 1
        assert [m.model_id for m in await models_in(emu, group_id)] == [winner.body["model_id"]]


async def test_group_keeps_working_after_a_lost_race(database_url):
    async with started(database_url, "3.8.0") as emu:
        connector_id, group_id = await connector_and_group(emu)
        await race(emu, register_body(connector_id, group_id, "a"), register_body(connector_id, group_id, "b"))
        r = await emu.request("POST", f"{ML}/models/_register", register_body(connector_id, group_id, "c"))
        assert r.status == 200, r.body
        model = (await emu.request("GET", f"{ML}/models/{r.body['model_id']}")).body
        assert model["model_version"] == "2"
        assert await group_latest_version(emu, group_id) == 2
        assert len(await models_in(emu, group_id)) == 2


async def test_concurrent_registers_into_different_groups_both_succeed(database_url):
    async with started(database_url, "3.8.0") as emu:
        connector_id, group_a = await connector_and_group(emu, "group-a")
        _, group_b = await connector_and_group(emu, "group-b")
        first, second = await race(emu, register_body(connector_id, group_a, "a"),
                                   register_body(connector_id, group_b, "b"))
        assert (first.status, second.status) == (200, 200), (first.body, second.body)
        assert await group_latest_version(emu, group_a) == 1
        assert await group_latest_version(emu, group_b) == 1
        assert all(t["state"] == "COMPLETED" for t in await register_tasks(emu))


async def test_2_9_lost_race_answers_created_and_fails_the_task(database_url):
    # 2.9 replies CREATED before the group is bumped; the failure only shows in the task
    async with started(database_url, "2.9.0") as emu:
        connector_id, group_id = await connector_and_group(emu)
        first, second = await race(emu, register_body(connector_id, group_id, "first"),
                                   register_body(connector_id, group_id, "second"))
        assert (first.status, second.status) == (200, 200), (first.body, second.body)
        assert first.body["status"] == second.body["status"] == "CREATED"
        assert "model_id" not in first.body and "model_id" not in second.body

        states = sorted(t["state"] for t in await register_tasks(emu))
        assert states == ["COMPLETED", "FAILED"]
        [lost] = [t for t in await register_tasks(emu) if t["state"] == "FAILED"]
        assert lost["error"].startswith(f"[{group_id}]: version conflict")
        assert "model_id" not in lost
        assert await group_latest_version(emu, group_id) == 1
        assert len(await models_in(emu, group_id)) == 1
