"""Every response of the core flow validates against the official OpenSearch API specification.

The spec (``fixtures/opensearch-api-spec``, vendored, see its README) is resolved per request: the
operation is found by path template and method in ``namespaces/*.yaml``, its response for the
status code is followed through ``$ref``s across files, and the body is validated with JSON Schema
2020-12 (``tests/conformance/spec_support.py``).

What the spec declares, and therefore what is checked:
- Successful (2xx) responses: every covered operation declares a JSON schema for ``200`` and the
  body must validate against it.
- Error (4xx/5xx) responses: none of the covered operations (info, cluster settings, the ML
  operations) declares any error response -- ``ml.yaml`` declares only ``200`` for all of its
  operations (``test_covered_operations_declare_only_200`` pins this). So no per-operation error
  schema is asserted. Error bodies are checked against the spec's one shared error envelope,
  ``_common.yaml#/components/schemas/ErrorResponseBase``, which the spec attaches to core
  operations' 4xx responses and which describes what OpenSearch core renders for any exception a
  REST handler fails with, ML Commons' included. If a later spec declares an error schema for an
  operation, ``Spec.validate_error`` uses that one instead.
- Router-level errors (unknown path, wrong method, unsupported Content-Type) are answered by
  OpenSearch core with ``error`` as a string; the spec has no operation or schema for them and its
  envelope types ``error`` as an object, so they are checked against what the real cluster sends
  (``ROUTER_ERROR_SCHEMA``) and the gap is pinned.

Known disagreements between the spec and the real plugin are the named ``SPEC_OVERRIDES``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.providers.openai import FakeOpenAI
from tests.conformance.spec_support import (
    COVERED_OPERATIONS,
    ML,
    SPEC_OVERRIDES,
    SPEC_ROOT,
    VENDORED,
    SchemaLookupError,
    Spec,
    router_error_problems,
    sha256,
    spec,
)
from tests.seed import body
from tests.conftest import store_options

UNKNOWN = "AAAAAAAAAAAAAAAAAAAA"
SETTINGS = "/_cluster/settings"


class Conformance:
    """Sends REST calls to an emulator and validates every answer against the spec."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.spec = spec()
        #: (method, path template, status) of every validated response
        self.validated: set[tuple[str, str, int]] = set()

    @property
    def release(self):
        return self.emu.context.release

    async def call(self, method: str, path: str, payload: Any = None, *, status: int = 200,
                   headers: dict[str, str] | None = None) -> Any:
        r = await self.emu.request(method, path, payload, headers=headers)
        assert r.status == status, f"{method} {path}: expected {status}, got {r.status}: {r.body}"
        op = self.spec.operation(method, path)
        if r.status < 400:
            self.spec.validate_response(method, path, r)
        else:
            self.spec.validate_error(method, path, r)
        self.validated.add((op.method, op.template, r.status))
        return r

    async def router_error(self, method: str, path: str, payload: Any = None, *, status: int,
                           headers: dict[str, str] | None = None) -> Any:
        r = await self.emu.request(method, path, payload, headers=headers)
        assert r.status == status, f"{method} {path}: expected {status}, got {r.status}: {r.body}"
        assert router_error_problems(r) == [], r.body
        # The spec's envelope wants an ErrorCause object here; the real router sends a string.
        assert self.spec.errors(self.spec.error_envelope_uri, r.body), \
            "ErrorResponseBase now accepts router errors: drop ROUTER_ERROR_SCHEMA"
        return r

    async def settled_task(self, task_id: str) -> dict[str, Any]:
        for _ in range(500):
            r = await self.call("GET", f"{ML}/tasks/{task_id}")
            if r.body["state"] not in ("CREATED", "RUNNING"):
                return r.body
            await asyncio.sleep(0.01)
        raise AssertionError(f"task {task_id} never settled: {r.body}")

    # building blocks
    async def connector(self, **changes: Any) -> str:
        payload = body("openai_chat_connector")
        payload.update(changes)
        return (await self.call("POST", f"{ML}/connectors/_create", payload)).body["connector_id"]

    async def group(self, **fields: Any) -> str:
        payload = fields or body("model_group")
        return (await self.call("POST", f"{ML}/model_groups/_register", payload)).body["model_group_id"]

    async def model(self, connector_id: str | None = None, **fields: Any) -> str:
        connector_id = connector_id or await self.connector()
        payload = {"name": "m", "function_name": "remote", "connector_id": connector_id, **fields}
        r = await self.call("POST", f"{ML}/models/_register", payload)
        if "model_id" in r.body:
            return r.body["model_id"]
        return (await self.settled_task(r.body["task_id"]))["model_id"]  # 2.9-2.10

    async def deployed_model(self) -> str:
        model_id = await self.model()
        r = await self.call("POST", f"{ML}/models/{model_id}/_deploy")
        assert (await self.settled_task(r.body["task_id"]))["state"] == "COMPLETED"
        return model_id


@pytest.fixture
def conformance(emulator) -> Conformance:
    return Conformance(emulator)


# --------------------------------------------------------------------------- the vendored spec
def test_vendored_files_are_unmodified_upstream_copies():
    root = SPEC_ROOT.parent
    assert "Apache License" in (root / "LICENSE.txt").read_text()
    assert "OpenSearch" in (root / "NOTICE.txt").read_text()
    assert "fbe9edebac41d098c67e2d379667184368c4ab6c" in (root / "README.md").read_text()
    present = {p.relative_to(SPEC_ROOT).as_posix() for p in SPEC_ROOT.rglob("*") if p.is_file()}
    assert present == set(VENDORED)
    for name, digest in VENDORED.items():
        assert sha256(SPEC_ROOT / name) == digest, f"{name} differs from upstream"


def test_vendored_set_is_the_ref_closure_of_the_covered_operations():
    s = spec()
    starts = [(op.file, op.pointer) for op in (s.operation(m, t) for m, t in COVERED_OPERATIONS)]
    reached, missing = s.ref_closure(starts)
    assert missing == [], "the covered operations reference spec files that are not vendored"
    # ... and every vendored file is needed by them: the set is as small as the closure allows
    assert {file for file, _ in reached} == set(VENDORED)


@pytest.mark.parametrize("method,template", COVERED_OPERATIONS, ids=lambda v: v)
def test_covered_operation_resolves_to_its_own_template(method, template):
    s = spec()
    concrete = template.replace("{", "").replace("}", "_value_")
    op = s.operation(method, concrete)
    assert (op.method, op.template) == (method, template)
    assert s.response_schema_uri(op, 200) is not None


@pytest.mark.parametrize("method,template", COVERED_OPERATIONS, ids=lambda v: v)
def test_covered_operations_declare_only_200(method, template):
    # The spec declares no error response (4xx, 5xx, 4XX or default) for any of these operations:
    # their error bodies are checked against the shared ErrorResponseBase envelope instead (see
    # the module docstring). When a re-vendored spec declares some, this fails as a reminder.
    op = spec().operation(method, template)
    assert op.declared_statuses == ("200",), op.declared_statuses


def test_operation_lookup_prefers_literal_segments_and_refuses_unknowns():
    s = spec()
    assert s.operation("POST", f"{ML}/models/_register").template == f"{ML}/models/_register"
    assert s.operation("POST", f"{ML}/connectors/_create").template == f"{ML}/connectors/_create"
    assert s.operation("GET", f"{ML}/connectors/abc?x=1").template == f"{ML}/connectors/{{connector_id}}"
    with pytest.raises(SchemaLookupError):
        s.operation("PATCH", f"{ML}/tasks/abc")
    with pytest.raises(SchemaLookupError):
        s.operation("GET", f"{ML}/nothing_here")


def test_validation_is_not_vacuous():
    s = spec()
    task = s.response_schema_uri(s.operation("GET", f"{ML}/tasks/t"), 200)
    assert s.errors(task, {"state": "DONE", "worker_node": [1], "create_time": "now"})
    assert s.errors(task, {"task_type": "DEPLOY_MODEL"})  # state is required
    write = s.response_schema_uri(s.operation("DELETE", f"{ML}/models/m"), 200)
    assert s.errors(write, {"_index": ".plugins-ml-model", "_id": "m", "_version": 1, "result": "gone",
                            "_shards": {"total": 1, "successful": 1, "failed": 0}, "_seq_no": 0,
                            "_primary_term": 1})
    predict = s.response_schema_uri(s.operation("POST", f"{ML}/models/m/_predict"), 200)
    # the predict-output override accepts `data` or a named `dataAsMap`, nothing less
    assert s.errors(predict, {"inference_results": [{"output": [{"name": "response"}]}]})
    assert s.errors(predict, {"inference_results": [{"output": [{"dataAsMap": {}}]}]})
    assert s.errors(predict, {"inference_results": [{"output": [{"name": "r", "dataAsMap": {}, "data": ["x"]}]}]})
    assert not s.errors(predict, {"inference_results": [{"output": [{"name": "sentence_embedding",
                                                                      "data_type": "FLOAT32",
                                                                      "shape": [2], "data": [0.1, 0.2]}]}]})
    assert s.errors(s.error_envelope_uri, {"error": {"reason": "no type"}, "status": 400})


#: One body the real plugin returns, per override, that the upstream spec rejects.
OVERRIDE_EXAMPLES: dict[str, tuple[str, str, Any]] = {
    "remote-predict-output-has-dataAsMap-not-data": (
        "POST", f"{ML}/models/m/_predict",
        {"inference_results": [{"output": [{"name": "response", "dataAsMap": {"object": "chat.completion"}}],
                                "status_code": 200}]}),
    "model-group-description-is-optional": (
        "GET", f"{ML}/model_groups/g",
        {"name": "g", "latest_version": 0, "access": "public", "created_time": 1, "last_updated_time": 1}),
    "controller-create-status-is-the-index-result": (
        "POST", f"{ML}/controllers/m", {"model_id": "m", "status": "UPDATED"}),
    "load-response-task-type-is-optional": (
        "POST", f"{ML}/models/m/_load", {"task_id": "t", "status": "CREATED"}),
    "stored-connector-parameters-are-strings": (
        "GET", f"{ML}/connectors/c",
        {"name": "c", "version": "1", "protocol": "http",
         "parameters": {"messages": '[{"role":"system","content":"be brief"}]'}, "actions": []}),
}


@pytest.fixture(scope="module")
def upstream_spec() -> Spec:
    return Spec(overrides=())


@pytest.mark.parametrize("override", SPEC_OVERRIDES, ids=lambda o: o.name)
def test_each_override_is_needed_and_sufficient(override, upstream_spec):
    method, path, example = OVERRIDE_EXAMPLES[override.name]
    s = spec()
    uri = s.response_schema_uri(s.operation(method, path), 200)
    raw_uri = upstream_spec.response_schema_uri(upstream_spec.operation(method, path), 200)
    assert upstream_spec.errors(raw_uri, example), f"{override.name}: the upstream spec accepts it now"
    assert s.errors(uri, example) == []


def test_overrides_are_named_and_explained():
    assert set(OVERRIDE_EXAMPLES) == {o.name for o in SPEC_OVERRIDES}
    for override in SPEC_OVERRIDES:
        assert override.why and override.file in VENDORED


# --------------------------------------------------------------------------- the seed flow
async def seed_flow(c: Conformance) -> None:
    """The seed page's whole flow, each response validated; release differences as the plugin."""
    release = c.release
    r = await c.call("GET", "/")
    assert r.body["version"]["number"] == release.number

    await c.call("PUT", SETTINGS, body("trusted_endpoints"))
    await c.call("PUT", f"{SETTINGS}?flat_settings=true", body("connector_access_control"))
    await c.call("PUT", SETTINGS, body("only_run_on_ml_node"))
    r = await c.call("GET", SETTINGS)
    assert r.body["persistent"]["plugins"]["ml_commons"]["only_run_on_ml_node"] == "true"
    r = await c.call("GET", f"{SETTINGS}?flat_settings=true")
    assert "plugins.ml_commons.only_run_on_ml_node" in r.body["persistent"]
    r = await c.call("GET", f"{SETTINGS}?include_defaults=true")
    assert "defaults" in r.body
    r = await c.call("GET", f"{SETTINGS}?include_defaults=true&flat_settings=true")
    assert all("." in key for key in r.body["defaults"])

    r = await c.call("POST", f"{ML}/connectors/_create", body("openai_chat_connector"))
    connector_id = r.body["connector_id"]
    await c.call("GET", f"{ML}/connectors/{connector_id}")

    group_id = await c.group()
    if release >= (2, 12):
        await c.call("GET", f"{ML}/model_groups/{group_id}")
    else:  # the GET route arrives in 2.12
        await c.router_error("GET", f"{ML}/model_groups/{group_id}", status=405)

    r = await c.call("POST", f"{ML}/models/_register",
                     body("register_model", model_group_id=group_id, connector_id=connector_id))
    task = await c.settled_task(r.body["task_id"])
    assert task["state"] == "COMPLETED"
    model_id = task["model_id"]
    assert r.body.get("model_id", model_id) == model_id
    await c.call("GET", f"{ML}/models/{model_id}")

    for kind, method in (("connectors", "GET"), ("model_groups", "POST"), ("models", "GET"), ("tasks", "POST")):
        r = await c.call(method, f"{ML}/{kind}/_search", {"query": {"match_all": {}}})
        assert r.body["hits"]["total"]["value"] >= 1
        r = await c.call("POST" if method == "GET" else "GET", f"{ML}/{kind}/_search",
                         {"query": {"bool": {"must_not": [{"match_all": {}}]}}, "size": 1})
        assert r.body["hits"] == {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}

    r = await c.call("POST", f"{ML}/models/{model_id}/_deploy")
    deploy_task_id = r.body["task_id"]
    assert (await c.settled_task(deploy_task_id))["state"] == "COMPLETED"
    r = await c.call("GET", f"{ML}/models/{model_id}")
    assert r.body["model_state"] == "DEPLOYED"

    r = await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
    assert r.body["inference_results"][0]["output"][0]["dataAsMap"]["object"] == "chat.completion"

    r = await c.call("POST", f"{ML}/models/{model_id}/_undeploy")
    assert {model_id: "undeployed"} in [node["stats"] for node in r.body.values()]
    await c.call("GET", f"{ML}/models/{model_id}")

    r = await c.call("DELETE", f"{ML}/tasks/{deploy_task_id}")
    assert r.body["result"] == "deleted"
    r = await c.call("DELETE", f"{ML}/models/{model_id}")
    assert r.body["result"] == "deleted"
    r = await c.call("DELETE", f"{ML}/connectors/{connector_id}")
    assert r.body["result"] == "deleted"
    r = await c.call("DELETE", f"{ML}/model_groups/{group_id}")
    # 2.9-2.10 delete a group together with its last model
    assert r.body["result"] == ("not_found" if release < (2, 11) else "deleted")


async def test_seed_flow_validates(conformance):
    await seed_flow(conformance)
    covered = {(method, template) for method, template, status in conformance.validated if status == 200}
    assert covered == set(COVERED_OPERATIONS)


@pytest.mark.parametrize("version", ["2.9.0", "2.11.0", "2.12.0", "2.19.0", "3.2.0"])
async def test_seed_flow_validates_in_older_releases(database_url, version):
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version, seed=7) as emu:
        await seed_flow(Conformance(emu))


async def test_model_with_inline_connector_in_a_group_without_description(conformance):
    c = conformance
    group_id = await c.group(name="no-description")
    r = await c.call("GET", f"{ML}/model_groups/{group_id}")
    assert "description" not in r.body  # override model-group-description-is-optional
    r = await c.call("POST", f"{ML}/models/_register", body("register_internal_connector", model_group_id=group_id))
    model_id = r.body["model_id"]
    r = await c.call("GET", f"{ML}/models/{model_id}")
    assert "credential" not in r.body["connector"]
    r = await c.call("POST", f"{ML}/models/{model_id}/_predict", {"parameters": {"prompt": "Say hi"}})
    assert r.body["inference_results"][0]["output"][0]["dataAsMap"]["object"] == "text_completion"


async def test_auto_created_group_and_deploy_on_register(conformance):
    c = conformance
    connector_id = await c.connector()
    r = await c.call("POST", f"{ML}/models/_register?deploy=true",
                     {"name": "auto", "function_name": "remote", "connector_id": connector_id})
    model_id = r.body["model_id"]
    await c.settled_task(r.body["task_id"])
    r = await c.call("GET", f"{ML}/models/{model_id}")
    await c.call("GET", f"{ML}/model_groups/{r.body['model_group_id']}")
    # deploying a deployed model is accepted: a new task that completes at once
    r = await c.call("POST", f"{ML}/models/{model_id}/_deploy")
    await c.settled_task(r.body["task_id"])
    # undeploying twice: the second answer reports not_found per node
    await c.call("POST", f"{ML}/models/{model_id}/_undeploy")
    r = await c.call("POST", f"{ML}/models/{model_id}/_undeploy")
    assert {model_id: "not_found"} in [node["stats"] for node in r.body.values()]


async def test_connector_with_non_string_parameters(conformance):
    # override stored-connector-parameters-are-strings: 2.10+ stores them as JSON text
    c = conformance
    payload = body("openai_chat_connector")
    payload["parameters"].update(messages=[{"role": "system", "content": "be brief"}], max_tokens=7)
    connector_id = (await c.call("POST", f"{ML}/connectors/_create", payload)).body["connector_id"]
    r = await c.call("GET", f"{ML}/connectors/{connector_id}")
    assert r.body["parameters"]["max_tokens"] == "7"
    assert isinstance(r.body["parameters"]["messages"], str)


async def test_deletes_of_unknown_documents_validate(conformance):
    c = conformance
    await c.connector()
    await c.group()
    # the plugin answers these through RestToXContentListener: 200 with result not_found
    r = await c.call("DELETE", f"{ML}/connectors/{UNKNOWN}")
    assert r.body["result"] == "not_found"
    r = await c.call("DELETE", f"{ML}/model_groups/{UNKNOWN}")
    assert r.body["result"] == "not_found"


async def test_multi_node_cluster_validates(database_url):
    nodes = "manager:cluster_manager,d1:data,d2:data"
    async with Emulator(database=database_url, **store_options(database_url), nodes=nodes, seed=7) as emu:
        c = Conformance(emu)
        model_id = await c.deployed_model()
        r = await c.call("GET", f"{ML}/models/{model_id}")
        assert r.body["current_worker_node_count"] == 2
        for _ in range(3):
            await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"))
        r = await c.call("POST", f"{ML}/models/{model_id}/_undeploy")
        assert len(r.body) == 3


async def test_failed_tasks_validate(database_url):
    # 2.9 accepts an unknown connector id at register; the deploy task then FAILS with an error
    # string, and registering into an unknown group FAILS the register task after a CREATED reply.
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0", seed=7) as emu:
        c = Conformance(emu)
        model_id = await c.model(UNKNOWN)
        r = await c.call("POST", f"{ML}/models/{model_id}/_deploy")
        task = await c.settled_task(r.body["task_id"])
        assert task["state"] == "FAILED" and isinstance(task["error"], str)
        r = await c.call("GET", f"{ML}/models/{model_id}")
        assert r.body["model_state"] == "DEPLOY_FAILED"
        connector_id = await c.connector()
        r = await c.call("POST", f"{ML}/models/_register",
                         {"name": "x", "function_name": "remote", "connector_id": connector_id,
                          "model_group_id": UNKNOWN})
        task = await c.settled_task(r.body["task_id"])
        assert task["state"] == "FAILED" and task["error"] == "Model group not found"


async def test_update_responses_validate(conformance):
    c = conformance
    connector_id = await c.connector()
    r = await c.call("PUT", f"{ML}/connectors/{connector_id}", {"description": "updated"})
    assert r.body["result"] == "updated"
    model_id = await c.model(connector_id)
    r = await c.call("PUT", f"{ML}/models/{model_id}", {"description": "updated", "is_enabled": True})
    assert r.body["result"] == "updated"
    assert {("PUT", f"{ML}/connectors/{{connector_id}}", 200), ("PUT", f"{ML}/models/{{model_id}}", 200)} <= c.validated


async def test_update_responses_of_older_releases_validate(database_url):
    # 2.11: the gated connector update; 2.12: a noop answer (nothing written, no shard copies)
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.11.0", seed=7) as emu:
        c = Conformance(emu)
        connector_id = await c.connector()
        await c.call("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"}, status=500)
        await c.call("PUT", SETTINGS, {"persistent": {"plugins.ml_commons.update_connector.enabled": True}})
        await c.call("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"})
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.12.0", seed=7) as emu:
        c = Conformance(emu)
        connector_id = await c.connector()
        r = await c.call("PUT", f"{ML}/connectors/{connector_id}", {})
        assert r.body["result"] == "noop"
        model_id = await c.model(connector_id)
        r = await c.call("PUT", f"{ML}/models/{model_id}", {"name": "renamed"})
        assert r.body["forced_refresh"] is True


async def test_provider_errors_are_a_200_in_2_9(database_url):
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0", seed=7) as emu:
        c = Conformance(emu)
        model_id = await c.deployed_model()
        r = await c.call("POST", f"{ML}/models/{model_id}/_predict",
                         {"parameters": {"messages": [{"role": "nobody", "content": "x"}]}})
        assert "error" in r.body["inference_results"][0]["output"][0]["dataAsMap"]


# --------------------------------------------------------------------------- error responses
Scenario = Callable[[Conformance], Awaitable[Any]]
ERRORS: dict[str, Scenario] = {}


def scenario(fn: Scenario) -> Scenario:
    ERRORS[fn.__name__] = fn
    return fn


@scenario
async def settings_unknown_key(c):
    await c.call("PUT", SETTINGS, {"persistent": {"plugins.ml_commons.nope": 1}}, status=400)


@scenario
async def settings_wrong_boolean(c):
    r = await c.call("PUT", SETTINGS, {"persistent": {"plugins.ml_commons.only_run_on_ml_node": "maybe"}},
                     status=400)
    assert "caused_by" in r.body["error"]


@scenario
async def settings_trailing_comma_of_the_seed(c):
    raw = '{\n"persistent": {\n"plugins.ml_commons.only_run_on_ml_node": true,\n}\n}'
    await c.call("PUT", SETTINGS, raw, status=400)


@scenario
async def connector_missing_name(c):
    payload = body("openai_chat_connector")
    del payload["name"]
    await c.call("POST", f"{ML}/connectors/_create", payload, status=400)


@scenario
async def connector_untrusted_url(c):
    payload = body("openai_chat_connector")
    payload["parameters"]["endpoint"] = "api.example.com"
    await c.call("POST", f"{ML}/connectors/_create", payload, status=400)


@scenario
async def connector_empty_body(c):
    await c.call("POST", f"{ML}/connectors/_create", status=500)


@scenario
async def connector_index_missing(c):
    await c.call("GET", f"{ML}/connectors/{UNKNOWN}", status=404)
    await c.call("DELETE", f"{ML}/connectors/{UNKNOWN}", status=404)


@scenario
async def connector_unknown(c):
    await c.connector()
    await c.call("GET", f"{ML}/connectors/{UNKNOWN}", status=404)


@scenario
async def connector_in_use(c):
    connector_id = await c.connector()
    await c.model(connector_id)
    await c.call("DELETE", f"{ML}/connectors/{connector_id}", status=409)


@scenario
async def group_duplicate_name(c):
    await c.group(name="twice")
    await c.call("POST", f"{ML}/model_groups/_register", {"name": "twice"}, status=400)


@scenario
async def group_without_name(c):
    await c.call("POST", f"{ML}/model_groups/_register", {"description": "no name"}, status=500)


@scenario
async def group_unknown(c):
    await c.group()
    await c.call("GET", f"{ML}/model_groups/{UNKNOWN}", status=404)


@scenario
async def group_with_models(c):
    group_id = await c.group()
    await c.model(model_group_id=group_id)
    await c.call("DELETE", f"{ML}/model_groups/{group_id}", status=409)


@scenario
async def register_without_body(c):
    await c.call("POST", f"{ML}/models/_register", status=400)


@scenario
async def register_without_name(c):
    await c.call("POST", f"{ML}/models/_register", {"function_name": "remote"}, status=400)


@scenario
async def register_unknown_connector(c):
    await c.connector()
    await c.call("POST", f"{ML}/models/_register",
                 {"name": "x", "function_name": "remote", "connector_id": UNKNOWN}, status=404)


@scenario
async def register_into_unknown_group(c):
    connector_id = await c.connector()
    payload = {"name": "x", "function_name": "remote", "connector_id": connector_id, "model_group_id": UNKNOWN}
    await c.call("POST", f"{ML}/models/_register", payload, status=404)  # group index missing
    await c.group()
    await c.call("POST", f"{ML}/models/_register", payload, status=500)


@scenario
async def model_unknown(c):
    await c.model()
    await c.call("GET", f"{ML}/models/{UNKNOWN}", status=404)
    await c.call("DELETE", f"{ML}/models/{UNKNOWN}", status=404)
    await c.call("POST", f"{ML}/models/{UNKNOWN}/_deploy", status=404)
    await c.call("POST", f"{ML}/models/{UNKNOWN}/_undeploy", status=404)
    await c.call("POST", f"{ML}/models/{UNKNOWN}/_predict", body("predict_messages"), status=404)


@scenario
async def model_index_missing(c):
    await c.call("GET", f"{ML}/models/{UNKNOWN}", status=404)


@scenario
async def delete_deployed_model(c):
    model_id = await c.deployed_model()
    await c.call("DELETE", f"{ML}/models/{model_id}", status=400)


@scenario
async def deploy_with_custom_plan_not_allowed(c):
    model_id = await c.model()
    await c.call("POST", f"{ML}/models/{model_id}/_deploy", {"node_ids": ["x"]}, status=400)


@scenario
async def predict_with_auto_deploy_off(c):
    model_id = await c.model()
    await c.call("PUT", SETTINGS, {"persistent": {"plugins.ml_commons.model_auto_deploy.enable": False}})
    await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"), status=400)


@scenario
async def predict_unfilled_placeholder(c):
    model_id = await c.deployed_model()
    await c.call("POST", f"{ML}/models/{model_id}/_predict", {"parameters": {}}, status=400)


@scenario
async def predict_without_body(c):
    model_id = await c.deployed_model()
    await c.call("POST", f"{ML}/models/{model_id}/_predict", status=400)


@scenario
async def predict_provider_rejects_input(c):
    model_id = await c.deployed_model()
    await c.call("POST", f"{ML}/models/{model_id}/_predict",
                 {"parameters": {"messages": [{"role": "nobody", "content": "x"}]}}, status=400)


@scenario
async def predict_provider_server_error(c):
    model_id = await c.deployed_model()
    c.emu.providers["openai"].script.enqueue(FakeOpenAI.server_error_response())
    await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"), status=500)


@scenario
async def predict_provider_rate_limit(c):
    model_id = await c.deployed_model()
    c.emu.providers["openai"].script.enqueue(FakeOpenAI.rate_limit_response())
    await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"), status=429)


@scenario
async def predict_unreachable_provider(c):
    await c.call("PUT", SETTINGS, {"persistent": {
        "plugins.ml_commons.trusted_connector_endpoints_regex": ["^https://api\\.example\\.com/.*$"]}})
    payload = body("openai_chat_connector")
    payload["parameters"]["endpoint"] = "api.example.com"  # trusted, but no fake answers it
    model_id = await c.model(await c.connector(parameters=payload["parameters"]))
    await c.call("POST", f"{ML}/models/{model_id}/_predict", body("predict_messages"), status=500)


@scenario
async def task_unknown(c):
    await c.model()
    await c.call("GET", f"{ML}/tasks/{UNKNOWN}", status=404)
    await c.call("DELETE", f"{ML}/tasks/{UNKNOWN}", status=404)


@scenario
async def update_connector_errors(c):
    await c.call("PUT", f"{ML}/connectors/{UNKNOWN}", {"name": "x"}, status=404)
    connector_id = await c.connector()
    await c.call("PUT", f"{ML}/connectors/{connector_id}", status=400)
    model_id = await c.model(connector_id)
    r = await c.call("POST", f"{ML}/models/{model_id}/_deploy")
    await c.settled_task(r.body["task_id"])
    await c.call("PUT", f"{ML}/connectors/{connector_id}", {"name": "x"}, status=400)  # in use


@scenario
async def update_model_errors(c):
    await c.call("PUT", f"{ML}/models/{UNKNOWN}", {"name": "x"}, status=404)
    model_id = await c.model()
    await c.call("PUT", f"{ML}/models/{model_id}", status=400)
    await c.call("PUT", f"{ML}/models/{model_id}", {"connector_id": "a", "connector": {}}, status=400)
    await c.call("PUT", f"{ML}/models/{model_id}", {"model_group_id": UNKNOWN}, status=404)


@pytest.mark.parametrize("name", sorted(ERRORS))
async def test_error_response_validates(conformance, name):
    await ERRORS[name](conformance)
    assert any(status >= 400 for _, _, status in conformance.validated)


async def test_errors_of_2_9_validate(database_url):
    # 2.9 answered several of these with 500s from the plugin's own exception classes
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0", seed=7) as emu:
        c = Conformance(emu)
        await c.call("GET", f"{ML}/tasks/{UNKNOWN}", status=500)  # m_l_resource_not_found_exception
        await c.call("GET", f"{ML}/models/{UNKNOWN}", status=500)
        await c.call("GET", f"{ML}/connectors/{UNKNOWN}", status=500)
        connector_id = await c.connector()
        await c.call("GET", f"{ML}/connectors/{UNKNOWN}", status=400)
        model_id = await c.model(connector_id)
        await c.call("DELETE", f"{ML}/connectors/{connector_id}", status=500)
        r = await c.call("POST", f"{ML}/models/{model_id}/_deploy")
        await c.settled_task(r.body["task_id"])
        r = await c.call("DELETE", f"{ML}/models/{model_id}", status=500)
        assert r.body["error"]["type"] == "exception"
        await c.call("POST", f"{ML}/models/{model_id}/_predict", {"foo": 1}, status=400)


# --------------------------------------------------------------------------- router errors
async def test_unknown_path_is_a_router_error(conformance):
    with pytest.raises(SchemaLookupError):  # no operation in the spec, let alone a schema
        conformance.spec.operation("GET", f"{ML}/nothing_here")
    await conformance.router_error("GET", f"{ML}/nothing_here", status=400)


async def test_wrong_method_is_a_router_error(conformance):
    await conformance.router_error("PATCH", f"{ML}/tasks/abc", status=405)
    await conformance.router_error("PUT", "/", status=405)


async def test_unsupported_content_type_is_a_router_error(conformance):
    await conformance.router_error("POST", f"{ML}/model_groups/_register", '{"name": "x"}', status=406,
                                   headers={"Content-Type": "application/x-www-form-urlencoded"})
