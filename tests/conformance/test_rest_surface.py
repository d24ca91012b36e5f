"""Every remote-inference operation of the official specification is answered, and each one's
success and error responses validate against it, in the newest release and in 2.9.

The operations are taken from the vendored ``namespaces/ml.yaml`` itself: every path under
connectors, model groups, models, tasks, predict, controllers, profile and stats.  The local-model
uploads (``_register_meta``, ``upload_chunk`` and their old paths) and the streaming predict have
no success on a cluster with default settings: they are answered with the plugin's refusal, which
is what is validated.  An operation the emulated release does not have yet gets OpenSearch's
router answer (400 no handler, or 405 when another method serves the path), checked against what
the real router sends.
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from mlcommons_emu import Emulator
from tests.conformance.spec_support import ML, spec
from tests.conformance.test_openapi_spec import Conformance
from tests.conftest import store_options
from tests.seed import body

UNKNOWN = "AAAAAAAAAAAAAAAAAAAA"
FAMILY = re.compile(rf"^{ML}/(connectors|model_groups|models|tasks|_predict|controllers|profile|stats|\{{node_id\}}/stats)")
#: refused by the plugin under default settings: no success to validate
REFUSED_BY_DEFAULT = {
    ("POST", f"{ML}/models/meta"), ("POST", f"{ML}/models/_register_meta"),
    ("POST", f"{ML}/models/{{model_id}}/chunk/{{chunk_number}}"),
    ("POST", f"{ML}/models/{{model_id}}/upload_chunk/{{chunk_number}}"),
    ("POST", f"{ML}/models/{{model_id}}/_predict/stream"),
}
#: routes and the release that brings them (before it the router answers)
SINCE = {
    ("PUT", f"{ML}/connectors/{{connector_id}}"): (2, 11),
    ("GET", f"{ML}/model_groups/{{model_group_id}}"): (2, 12),
    ("PUT", f"{ML}/models/{{model_id}}"): (2, 12),
    **{(m, f"{ML}/controllers/{{model_id}}"): (2, 12) for m in ("GET", "POST", "PUT", "DELETE")},
    ("POST", f"{ML}/models/{{model_id}}/_predict/stream"): (3, 3),
}


def family_operations() -> set[tuple[str, str]]:
    return {(op.method, op.template) for op in spec().operations
            if op.file == "namespaces/ml.yaml" and FAMILY.match(op.template)}


def test_the_family_is_what_the_issue_names():
    ops = family_operations()
    assert len(ops) == 49, sorted(ops)
    assert ("POST", f"{ML}/_train/{{algorithm_name}}") not in ops  # local training is not remote inference


class Surface:
    """Calls each operation once for success and once for an error, validating both."""

    def __init__(self, emu: Emulator) -> None:
        self.c = Conformance(emu)
        self.release = emu.context.release
        self.routed: set[tuple[str, str]] = set()

    def available(self, method: str, template: str) -> bool:
        return self.release >= SINCE.get((method, template), (2, 9))

    async def ok(self, template: str, method: str, path: str, payload: Any = None) -> Any:
        if not self.available(method, template):
            return await self.absent(template, method, path, payload)
        return await self.c.call(method, path, payload)

    async def fail(self, template: str, method: str, path: str, payload: Any, status: int,
                   reason: str | None = None) -> Any:
        if not self.available(method, template):
            return await self.absent(template, method, path, payload)
        r = await self.c.call(method, path, payload, status=status)
        if reason is not None:
            assert r.body["error"]["reason"] == reason, r.body
        return r

    async def absent(self, template: str, method: str, path: str, payload: Any) -> Any:
        r = await self.c.emu.request(method, path, payload)
        status = 405 if r.status == 405 else 400
        r = await self.c.router_error(method, path, payload, status=status)
        self.routed.add((method, template))
        return r

    def covered(self, status_range: range) -> set[tuple[str, str]]:
        return {(m, t) for m, t, status in self.c.validated if status in status_range}


async def walk(s: Surface) -> None:  # noqa: PLR0915 - one flow, every operation in order
    old = s.release < (2, 12)
    await s.c.call("PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})

    # connectors
    connector_id = (await s.c.call("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))).body["connector_id"]
    spare = (await s.c.call("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))).body["connector_id"]
    await s.fail(f"{ML}/connectors/_create", "POST", f"{ML}/connectors/_create", {}, 400, "Connector name is null")
    await s.ok(f"{ML}/connectors/{{connector_id}}", "GET", f"{ML}/connectors/{connector_id}")
    await s.fail(f"{ML}/connectors/{{connector_id}}", "GET", f"{ML}/connectors/{UNKNOWN}", None, 400 if old else 404)
    await s.ok(f"{ML}/connectors/{{connector_id}}", "PUT", f"{ML}/connectors/{spare}", {"description": "d"})
    await s.fail(f"{ML}/connectors/{{connector_id}}", "PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"}, 404)
    for method in ("GET", "POST"):
        await s.ok(f"{ML}/connectors/_search", method, f"{ML}/connectors/_search", {"query": {"match_all": {}}})
        await s.fail(f"{ML}/connectors/_search", method, f"{ML}/connectors/_search", {"query": {"nope": {}}}, 400)

    # model groups
    group_id = (await s.c.call("POST", f"{ML}/model_groups/_register", {"name": "surface"})).body["model_group_id"]
    empty = (await s.c.call("POST", f"{ML}/model_groups/_register", {"name": "empty"})).body["model_group_id"]
    if old:
        await s.fail(f"{ML}/model_groups/_register", "POST", f"{ML}/model_groups/_register", {}, 400)
    else:  # from 2.12 Objects.requireNonNull: reproduced on purpose
        await s.fail(f"{ML}/model_groups/_register", "POST", f"{ML}/model_groups/_register", {}, 500)
    await s.ok(f"{ML}/model_groups/{{model_group_id}}", "GET", f"{ML}/model_groups/{group_id}")
    await s.fail(f"{ML}/model_groups/{{model_group_id}}", "GET", f"{ML}/model_groups/{UNKNOWN}", None, 404)
    await s.ok(f"{ML}/model_groups/{{model_group_id}}", "PUT", f"{ML}/model_groups/{group_id}", {"description": "d"})
    await s.fail(f"{ML}/model_groups/{{model_group_id}}", "PUT", f"{ML}/model_groups/{UNKNOWN}", {"name": "x"},
                 500 if s.release < (2, 11) else 404)
    for method in ("GET", "POST"):
        await s.ok(f"{ML}/model_groups/_search", method, f"{ML}/model_groups/_search", {})
        await s.fail(f"{ML}/model_groups/_search", method, f"{ML}/model_groups/_search", {"size": -1}, 400)

    # models
    async def register(path: str, name: str) -> str:
        r = await s.c.call("POST", path, {"name": name, "function_name": "remote", "connector_id": connector_id,
                                           "model_group_id": group_id})
        return r.body.get("model_id") or (await s.c.settled_task(r.body["task_id"]))["model_id"]

    model_id = await register(f"{ML}/models/_register", "surface")
    idle = await register(f"{ML}/models/_upload", "idle")
    wrong = {"name": "x", "function_name": "nope"}
    for template in (f"{ML}/models/_register", f"{ML}/models/_upload"):
        await s.fail(template, "POST", template, wrong, 400, "Wrong function name")
    await s.ok(f"{ML}/models/{{model_id}}", "GET", f"{ML}/models/{model_id}")
    await s.fail(f"{ML}/models/{{model_id}}", "GET", f"{ML}/models/{UNKNOWN}", None, 404)
    await s.ok(f"{ML}/models/{{model_id}}", "PUT", f"{ML}/models/{idle}", {"description": "d"})
    await s.fail(f"{ML}/models/{{model_id}}", "PUT", f"{ML}/models/{UNKNOWN}", {"name": "x"}, 404)
    deploy = (await s.ok(f"{ML}/models/{{model_id}}/_deploy", "POST", f"{ML}/models/{model_id}/_deploy")).body
    assert (await s.c.settled_task(deploy["task_id"]))["state"] == "COMPLETED"
    await s.fail(f"{ML}/models/{{model_id}}/_deploy", "POST", f"{ML}/models/{UNKNOWN}/_deploy", None, 404)
    await s.ok(f"{ML}/models/{{model_id}}/_load", "POST", f"{ML}/models/{idle}/_load")
    await s.fail(f"{ML}/models/{{model_id}}/_load", "POST", f"{ML}/models/{UNKNOWN}/_load", None, 404)
    for template, path in ((f"{ML}/models/{{model_id}}/_predict", f"{ML}/models/{model_id}/_predict"),
                           (f"{ML}/_predict/{{algorithm_name}}/{{model_id}}", f"{ML}/_predict/remote/{model_id}")):
        r = await s.ok(template, "POST", path, body("predict_messages"))
        assert r.body["inference_results"][0]["output"][0]["dataAsMap"]["object"] == "chat.completion"
    await s.fail(f"{ML}/models/{{model_id}}/_predict", "POST", f"{ML}/models/{UNKNOWN}/_predict",
                 body("predict_messages"), 404)
    await s.fail(f"{ML}/_predict/{{algorithm_name}}/{{model_id}}", "POST", f"{ML}/_predict/nope/{model_id}",
                 body("predict_messages"), 400, "Wrong function name")
    await s.fail(f"{ML}/models/{{model_id}}/_predict/stream", "POST", f"{ML}/models/{model_id}/_predict/stream",
                 body("predict_messages"), 500,
                 'Streaming is currently disabled. To enable it, update the setting "plugins.ml_commons.stream_enabled" '
                 'to true.')
    # a deployed model cannot be deleted; a connector in use cannot be deleted; a group with models neither
    await s.fail(f"{ML}/models/{{model_id}}", "DELETE", f"{ML}/models/{model_id}", None, 500 if old else 400)
    await s.fail(f"{ML}/connectors/{{connector_id}}", "DELETE", f"{ML}/connectors/{connector_id}", None,
                 500 if old else 409)
    await s.fail(f"{ML}/model_groups/{{model_group_id}}", "DELETE", f"{ML}/model_groups/{group_id}", None,
                 409 if s.release >= (2, 19) else 500)
    for method in ("GET", "POST"):
        await s.ok(f"{ML}/models/_search", method, f"{ML}/models/_search", {"query": {"term": {"name.keyword": "idle"}}})
        await s.fail(f"{ML}/models/_search", method, f"{ML}/models/_search", {"query": {"nope": {}}}, 400)

    # controllers (2.12+)
    template = f"{ML}/controllers/{{model_id}}"
    limiter = {"user_rate_limiter": {"alice": {"limit": "4", "unit": "MINUTES"}}}
    await s.fail(template, "GET", f"{ML}/controllers/{UNKNOWN}", None, 404)
    await s.fail(template, "DELETE", f"{ML}/controllers/{UNKNOWN}", None, 404)
    await s.ok(template, "POST", f"{ML}/controllers/{model_id}", limiter)
    await s.fail(template, "POST", f"{ML}/controllers/{UNKNOWN}", limiter, 404)
    await s.ok(template, "GET", f"{ML}/controllers/{model_id}")
    await s.ok(template, "PUT", f"{ML}/controllers/{model_id}", {"user_rate_limiter": {"bob": {"limit": "2"}}})
    await s.fail(template, "PUT", f"{ML}/controllers/{UNKNOWN}", limiter, 404)
    await s.ok(template, "DELETE", f"{ML}/controllers/{model_id}")

    # profile and stats
    task_id = deploy["task_id"]
    node_id = next(iter((await s.c.call("GET", f"{ML}/stats")).body["nodes"]))
    stat = "ml_request_count" if s.release >= (2, 10) else "ml_node_total_request_count"
    for template, path in ((f"{ML}/profile", f"{ML}/profile"), (f"{ML}/profile/models", f"{ML}/profile/models"),
                           (f"{ML}/profile/models/{{model_id}}", f"{ML}/profile/models/{model_id}"),
                           (f"{ML}/profile/tasks", f"{ML}/profile/tasks"),
                           (f"{ML}/profile/tasks/{{task_id}}", f"{ML}/profile/tasks/{task_id}")):
        await s.ok(template, "GET", path)
        await s.fail(template, "GET", path, {"node_ids": "not-an-array"}, 400)
    for template, path in ((f"{ML}/stats", f"{ML}/stats"), (f"{ML}/stats/{{stat}}", f"{ML}/stats/{stat}"),
                           (f"{ML}/{{node_id}}/stats", f"{ML}/{node_id}/stats"),
                           (f"{ML}/{{node_id}}/stats/{{stat}}", f"{ML}/{node_id}/stats/{stat}")):
        await s.ok(template, "GET", path)
        await s.fail(template, "GET", path, {"target_stat_levels": ["nope"]}, 400, "Wrong ML stat level")

    # local-model uploads: refused while allow_registering_model_via_local_file is off (the default)
    for template, path in ((f"{ML}/models/_register_meta", f"{ML}/models/_register_meta"),
                           (f"{ML}/models/meta", f"{ML}/models/meta"),
                           (f"{ML}/models/{{model_id}}/upload_chunk/{{chunk_number}}", f"{ML}/models/{model_id}/upload_chunk/0"),
                           (f"{ML}/models/{{model_id}}/chunk/{{chunk_number}}", f"{ML}/models/{model_id}/chunk/0")):
        await s.fail(template, "POST", path, {"name": "local", "version": "1"}, 400)

    # undeploy, then the deletes
    await s.ok(f"{ML}/models/{{model_id}}/_undeploy", "POST", f"{ML}/models/{idle}/_undeploy")
    await s.ok(f"{ML}/models/{{model_id}}/_unload", "POST", f"{ML}/models/{idle}/_unload")
    await s.ok(f"{ML}/models/_undeploy", "POST", f"{ML}/models/_undeploy", {"model_ids": [model_id]})
    await s.ok(f"{ML}/models/_unload", "POST", f"{ML}/models/_unload", {"model_ids": [model_id]})
    for template in (f"{ML}/models/{{model_id}}/_undeploy", f"{ML}/models/{{model_id}}/_unload"):
        path = template.replace("{model_id}", model_id)
        await s.fail(template, "POST", path, {"node_ids": ["someone-else"]}, 400, "Don't allow custom deployment plan")
    for template in (f"{ML}/models/_undeploy", f"{ML}/models/_unload"):
        await s.fail(template, "POST", template, {"model_ids": "not-an-array"}, 400)
    for method in ("GET", "POST"):
        await s.ok(f"{ML}/tasks/_search", method, f"{ML}/tasks/_search", {"query": {"term": {"task_type": "DEPLOY_MODEL"}}})
        await s.fail(f"{ML}/tasks/_search", method, f"{ML}/tasks/_search", {"from": -1}, 400)
    await s.ok(f"{ML}/tasks/{{task_id}}", "GET", f"{ML}/tasks/{task_id}")
    await s.fail(f"{ML}/tasks/{{task_id}}", "GET", f"{ML}/tasks/{UNKNOWN}", None, 404)
    await s.ok(f"{ML}/tasks/{{task_id}}", "DELETE", f"{ML}/tasks/{task_id}")
    await s.fail(f"{ML}/tasks/{{task_id}}", "DELETE", f"{ML}/tasks/{UNKNOWN}", None, 404 if s.release >= (2, 19) else 500)
    await s.ok(f"{ML}/models/{{model_id}}", "DELETE", f"{ML}/models/{idle}")
    await s.ok(f"{ML}/connectors/{{connector_id}}", "DELETE", f"{ML}/connectors/{spare}")
    await s.ok(f"{ML}/model_groups/{{model_group_id}}", "DELETE", f"{ML}/model_groups/{empty}")


@pytest.mark.parametrize("version", ["3.8.0", "2.9.0"])
async def test_every_remote_inference_operation_answers_and_validates(database_url, version):
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version, seed=5) as emu:
        s = Surface(emu)
        await walk(s)
    family = family_operations()
    present = {op for op in family if s.available(*op)}
    succeeded = s.covered(range(200, 300))
    failed = s.covered(range(400, 600))
    assert present - REFUSED_BY_DEFAULT <= succeeded, sorted(present - REFUSED_BY_DEFAULT - succeeded)
    assert present <= failed, sorted(present - failed)
    assert family - present == s.routed, sorted((family - present) ^ s.routed)
