"""Two ``serve --shared`` processes on one PostgreSQL database act as one cluster: any process
answers any request, settings and deployments hold on both, each task runs once, and
concurrent registers across processes keep model versions unique.  PostgreSQL only: the
mode refuses any other store."""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.conftest import POSTGRES_URL
from tests.integration.server_process import (
    ServerProcess,
    by_index,
    check_consistency,
    read_documents,
    server_database,
)
from tests.seed import body

ML = "/_plugins/_ml"
needs_postgres = pytest.mark.skipif(POSTGRES_URL is None, reason="needs MLCOMMONS_EMU_TEST_POSTGRES_URL (PostgreSQL)")


class Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session, self.url = session, url

    async def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.url + path, json=payload) as r:
            return r.status, await r.json(content_type=None)

    async def ok(self, method: str, path: str, payload: Any = None) -> Any:
        status, answer = await self.call(method, path, payload)
        assert status == 200, (method, path, status, answer)
        return answer


@needs_postgres
async def test_two_processes_are_one_cluster(tmp_path):
    async with server_database("postgresql", tmp_path, "shared") as (url, schema):
        first = await ServerProcess(url, schema=schema, extra=["--shared"]).start()
        second = await ServerProcess(url, schema=schema, extra=["--shared"]).start()
        try:
            async with aiohttp.ClientSession() as session:
                a, b = Client(session, first.url), Client(session, second.url)
                # a setting put through one process holds on the other
                await a.ok("PUT", "/_cluster/settings", {"persistent": {
                    "plugins.ml_commons.only_run_on_ml_node": False}})
                settings = await b.ok("GET", "/_cluster/settings")
                assert settings["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "false"

                connector_id = (await a.ok("POST", f"{ML}/connectors/_create", body("openai_chat_connector")))["connector_id"]
                registered = await b.ok("POST", f"{ML}/models/_register",
                                        {"name": "shared", "function_name": "remote", "connector_id": connector_id})
                model_id = registered["model_id"]
                deploy = await a.ok("POST", f"{ML}/models/{model_id}/_deploy")
                assert (await b.ok("GET", f"{ML}/tasks/{deploy['task_id']}"))["state"] == "COMPLETED"
                # deployed through one process, predicted through the other: no new task
                answer = await b.ok("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
                assert answer["inference_results"][0]["output"][0]["dataAsMap"]["object"] == "chat.completion"
                # undeployed through the second: the first, which deployed it, no longer serves
                # it from memory; its predict auto-deploys (3.8), one new task
                undeployed = await b.ok("POST", f"{ML}/models/{model_id}/_undeploy")
                assert {model_id: "undeployed"} in [node["stats"] for node in undeployed.values()]
                assert (await a.ok("GET", f"{ML}/models/{model_id}"))["model_state"] == "UNDEPLOYED"
                await a.ok("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
                assert (await b.ok("GET", f"{ML}/models/{model_id}"))["model_state"] == "DEPLOYED"

                # registers into one group from both processes at once: versions stay unique
                group_id = (await a.ok("POST", f"{ML}/model_groups/_register", {"name": "together"}))["model_group_id"]

                async def register(client: Client, n: int) -> tuple[int, Any]:
                    return await client.call("POST", f"{ML}/models/_register", {
                        "name": f"m{n}", "function_name": "remote", "connector_id": connector_id,
                        "model_group_id": group_id})

                answers = await asyncio.gather(*(register(a if n % 2 else b, n) for n in range(16)))
                assert {status for status, _ in answers} <= {200, 409}, answers
                assert any(status == 200 for status, _ in answers)

                # every task is written by one process only, and ends
                tasks = await a.ok("POST", f"{ML}/tasks/_search", {"size": 100})
                states = [hit["_source"]["state"] for hit in tasks["hits"]["hits"]]
                assert states and set(states) <= {"COMPLETED", "FAILED"}, states
                deploys = [h for h in tasks["hits"]["hits"] if h["_source"]["task_type"] == "DEPLOY_MODEL"]
                assert len(deploys) == 2 and deploy["task_id"] in [h["_id"] for h in deploys]
        finally:
            first.close()
            second.close()
        docs = await read_documents(url, schema)
        assert check_consistency(docs) == []
        models = [d for d in by_index(docs).get(".plugins-ml-model", {}).values()
                  if d.source.get("model_group_id") == group_id]
        versions = [m.source["model_version"] for m in models]
        assert len(versions) == len(set(versions))
        group = by_index(docs)[".plugins-ml-model-group"][group_id]
        assert group.source["latest_version"] == max(int(v) for v in versions)


async def test_shared_refuses_sqlite(tmp_path):
    process = ServerProcess(f"sqlite:///{tmp_path / 'x.sqlite3'}", extra=["--shared"])
    with pytest.raises(AssertionError, match="PostgreSQL"):
        await process.start(timeout=30)
    process.close()
