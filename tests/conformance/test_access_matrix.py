"""Users x access modes x operations, each cell the outcome ML Commons gives.

The matrices below are the data; read them against ``ml-commons`` ModelAccessControlHelper,
ConnectorAccessControlHelper and the transport actions named in DENIALS.  Every cell runs
against a fresh emulator with the security plugin on and both access-control settings on:
``alice`` (backend roles IT, HR) owns the resource; a restricted resource is shared with IT.

Outcomes: ``ok`` (the operation succeeds; a search finds the resource), ``denied`` (ML
Commons' denial for that operation, from DENIALS), ``hidden`` (a search answers 200 but the
plugin's access filter leaves the resource out, and out of the count) and ``forbidden``
(the security plugin's own 403: the user's roles lack the action's cluster permission).
"""
from __future__ import annotations

from pathlib import Path

import base64
import json

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu import Emulator
from mlcommons_emu.api.app import create_app
from mlcommons_emu.api.messages import RestResponse
from mlcommons_emu.security import SecurityConfig

USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "security" / "users.json"
MODES = ("public", "private", "restricted")

#: users (see fixtures/security/users.json):
#:   admin     all_access                     bob       ml_full_access, IT
#:   alice     ml_full_access, IT + HR (owner) carol    ml_full_access, finance
#:   dave      ml_full_access, no roles       reader    ml_read_access, IT
#:   predictor custom role: predict + models/get, IT
MODEL_MATRIX = """
user       operation            public     private    restricted
admin      get_group            ok         ok         ok
admin      update_group         ok         ok         ok
admin      delete_group         ok         ok         ok
admin      register_into_group  ok         ok         ok
admin      get_model            ok         ok         ok
admin      deploy               ok         ok         ok
admin      predict              ok         ok         ok
admin      undeploy             ok         ok         ok
admin      delete_model         ok         ok         ok
alice      get_group            ok         ok         ok
alice      update_group         ok         ok         ok
alice      delete_group         ok         ok         ok
alice      register_into_group  ok         ok         ok
alice      get_model            ok         ok         ok
alice      deploy               ok         ok         ok
alice      predict              ok         ok         ok
alice      undeploy             ok         ok         ok
alice      delete_model         ok         ok         ok
bob        get_group            ok         denied     ok
bob        update_group         ok         denied     ok
bob        delete_group         ok         denied     ok
bob        register_into_group  ok         denied     ok
bob        get_model            ok         denied     ok
bob        deploy               ok         denied     ok
bob        predict              ok         denied     ok
bob        undeploy             ok         denied     ok
bob        delete_model         ok         denied     ok
carol      get_group            ok         denied     denied
carol      update_group         ok         denied     denied
carol      delete_group         ok         denied     denied
carol      register_into_group  ok         denied     denied
carol      get_model            ok         denied     denied
carol      deploy               ok         denied     denied
carol      predict              ok         denied     denied
carol      undeploy             ok         denied     denied
carol      delete_model         ok         denied     denied
dave       get_group            ok         denied     denied
dave       update_group         ok         denied     denied
dave       predict              ok         denied     denied
dave       delete_model         ok         denied     denied
reader     get_group            ok         denied     ok
reader     get_model            ok         denied     ok
reader     update_group         forbidden  forbidden  forbidden
reader     delete_group         forbidden  forbidden  forbidden
reader     register_into_group  forbidden  forbidden  forbidden
reader     deploy               forbidden  forbidden  forbidden
reader     predict              forbidden  forbidden  forbidden
reader     undeploy             forbidden  forbidden  forbidden
reader     delete_model         forbidden  forbidden  forbidden
predictor  predict              ok         denied     ok
predictor  get_model            ok         denied     ok
predictor  get_group            forbidden  forbidden  forbidden
predictor  deploy               forbidden  forbidden  forbidden
admin      search_group         ok         ok         ok
admin      search_model         ok         ok         ok
alice      search_group         ok         ok         ok
alice      search_model         ok         ok         ok
bob        search_group         ok         hidden     ok
bob        search_model         ok         hidden     ok
carol      search_group         ok         hidden     hidden
carol      search_model         ok         hidden     hidden
dave       search_group         ok         hidden     hidden
dave       search_model         ok         hidden     hidden
reader     search_group         ok         hidden     ok
reader     search_model         ok         hidden     ok
predictor  search_group         forbidden  forbidden  forbidden
predictor  search_model         forbidden  forbidden  forbidden
"""

CONNECTOR_MATRIX = """
user       operation            public     private    restricted
admin      get_connector        ok         ok         ok
admin      use_connector        ok         ok         ok
admin      delete_connector     ok         ok         ok
alice      get_connector        ok         ok         ok
alice      use_connector        ok         ok         ok
alice      delete_connector     ok         ok         ok
bob        get_connector        ok         denied     ok
bob        use_connector        ok         denied     ok
bob        delete_connector     ok         denied     ok
carol      get_connector        ok         denied     denied
carol      use_connector        ok         denied     denied
carol      delete_connector     ok         denied     denied
dave       get_connector        ok         denied     denied
dave       use_connector        ok         denied     denied
reader     get_connector        ok         denied     ok
reader     use_connector        forbidden  forbidden  forbidden
reader     delete_connector     forbidden  forbidden  forbidden
predictor  get_connector        forbidden  forbidden  forbidden
admin      search_connector     ok         ok         ok
alice      search_connector     ok         ok         ok
bob        search_connector     ok         hidden     ok
carol      search_connector     ok         hidden     hidden
dave       search_connector     ok         hidden     hidden
reader     search_connector     ok         hidden     ok
predictor  search_connector     forbidden  forbidden  forbidden
"""

#: operation -> (status, error type, reason) of ML Commons' denial in the newest release
DENIALS = {
    # GetModelGroupTransportAction
    "get_group": (403, "status_exception", "User doesn't have privilege to perform this operation on this model group"),
    # TransportUpdateModelGroupAction.validateRequestForAccessControl
    "update_group": (400, "illegal_argument_exception", "You don't have permission to update this model group."),
    # DeleteModelGroupTransportAction
    "delete_group": (500, "m_l_validation_exception", "User doesn't have privilege to delete this model group"),
    # TransportRegisterModelAction.checkUserAccess
    "register_into_group": (400, "illegal_argument_exception",
                            "You don't have permissions to perform this operation on this model."),
    # GetModelTransportAction, TransportDeployModelAction, TransportPredictionTaskAction,
    # TransportUndeployModelsAction, DeleteModelTransportAction
    **{op: (403, "status_exception", "User doesn't have privilege to perform this operation on this model")
       for op in ("get_model", "deploy", "predict", "undeploy", "delete_model")},
    # GetConnectorTransportAction
    "get_connector": (403, "status_exception", "You don't have permission to access this connector"),
    # DeleteConnectorTransportAction
    "delete_connector": (500, "m_l_validation_exception", "You are not allowed to delete this connector"),
    # TransportRegisterModelAction.doRegister
    "use_connector": (400, "illegal_argument_exception",
                      "You don't have permission to use the connector provided, connector id: {connector_id}"),
}

#: operation -> the transport action the security plugin checks
ACTIONS = {
    "get_group": "model_groups/get", "update_group": "update_model_group", "delete_group": "model_groups/delete",
    "register_into_group": "register_model", "get_model": "models/get", "deploy": "deploy_model",
    "predict": "predict", "undeploy": "undeploy_models", "delete_model": "models/delete",
    "get_connector": "connectors/get", "use_connector": "register_model", "delete_connector": "connectors/delete",
    "search_group": "model_groups/search", "search_model": "models/search", "search_connector": "connectors/search",
}


def cells(table: str) -> list[tuple[str, str, str, str]]:
    rows = [line.split() for line in table.strip().splitlines()[1:]]
    return [(user, op, mode, outcome) for user, op, *outcomes in rows for mode, outcome in zip(MODES, outcomes)]


CONNECTOR = {
    "name": "chat", "version": "1", "protocol": "http",
    "parameters": {"endpoint": "api.openai.com", "model": "gpt-3.5-turbo"},
    "credential": {"openAI_key": "sk-matrix-test"},
    "actions": [{
        "action_type": "predict", "method": "POST", "url": "https://${parameters.endpoint}/v1/chat/completions",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
        "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
    }],
}
PREDICT = {"parameters": {"messages": [{"role": "user", "content": "hello"}]}}
ML = "/_plugins/_ml"


def access(mode: str) -> dict:
    body: dict = {"access_mode": mode}
    if mode == "restricted":
        body["backend_roles"] = ["IT"]
    return body


async def start() -> Emulator:
    emu = await Emulator(security=USERS_FILE, seed=11).start()
    admin = emu.as_user("admin")
    r = await admin.request("PUT", "/_cluster/settings", {"persistent": {
        "plugins.ml_commons.model_access_control_enabled": True,
        "plugins.ml_commons.connector_access_control_enabled": True}})
    assert r.status == 200, r.body
    return emu


async def model_world(emu: Emulator, mode: str) -> dict[str, str]:
    """alice's group (in ``mode``) with a deployed and an undeployed model, an empty group
    in the same mode, and a public connector everyone may use."""
    alice = emu.as_user("alice")
    r = await alice.request("POST", f"{ML}/connectors/_create", {**CONNECTOR, "access_mode": "public"})
    assert r.status == 200, r.body
    connector_id = r.body["connector_id"]
    ids = {"connector_id": connector_id}
    for key in ("group_id", "empty_group_id"):
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": f"{key}-{mode}", **access(mode)})
        assert r.status == 200, r.body
        ids[key] = r.body["model_group_id"]
    for key, deploy in (("model_id", "true"), ("idle_model_id", "false")):
        r = await alice.request("POST", f"{ML}/models/_register?deploy={deploy}", {
            "name": key, "function_name": "remote", "model_group_id": ids["group_id"],
            "connector_id": connector_id})
        assert r.status == 200, r.body
        ids[key] = r.body["model_id"]
    return ids


async def run_model_operation(session, op: str, ids: dict[str, str]):
    group, model, idle = ids["group_id"], ids["model_id"], ids["idle_model_id"]
    calls = {
        "get_group": ("GET", f"{ML}/model_groups/{group}", None),
        "update_group": ("PUT", f"{ML}/model_groups/{group}", {"description": "changed"}),
        "delete_group": ("DELETE", f"{ML}/model_groups/{ids['empty_group_id']}", None),
        "register_into_group": ("POST", f"{ML}/models/_register", {
            "name": "another", "function_name": "remote", "model_group_id": group,
            "connector_id": ids["connector_id"]}),
        "get_model": ("GET", f"{ML}/models/{model}", None),
        "deploy": ("POST", f"{ML}/models/{model}/_deploy", None),
        "predict": ("POST", f"{ML}/models/{model}/_predict", PREDICT),
        "undeploy": ("POST", f"{ML}/models/{model}/_undeploy", None),
        "delete_model": ("DELETE", f"{ML}/models/{idle}", None),
        "search_group": ("POST", f"{ML}/model_groups/_search", {"query": {"ids": {"values": [group]}}}),
        "search_model": ("POST", f"{ML}/models/_search", {"query": {"ids": {"values": [model]}}}),
    }
    method, path, body = calls[op]
    return await session.request(method, path, body)


async def run_connector_operation(session, op: str, connector_id: str):
    if op == "get_connector":
        return await session.request("GET", f"{ML}/connectors/{connector_id}")
    if op == "delete_connector":
        return await session.request("DELETE", f"{ML}/connectors/{connector_id}")
    if op == "search_connector":
        return await session.request("POST", f"{ML}/connectors/_search", {"query": {"ids": {"values": [connector_id]}}})
    return await session.request("POST", f"{ML}/models/_register", {
        "name": f"uses-{connector_id}", "function_name": "remote", "connector_id": connector_id})


def check(response, user: str, op: str, outcome: str, **fmt: str) -> None:
    if outcome in ("ok", "hidden"):
        assert response.status == 200, response.body
        if op == "delete_group" or op == "delete_model" or op == "delete_connector":
            assert response.body["result"] == "deleted"
        if op.startswith("search_"):
            found = 1 if outcome == "ok" else 0
            assert response.body["hits"]["total"] == {"value": found, "relation": "eq"}, response.body
            assert len(response.body["hits"]["hits"]) == found
        return
    error = response.body["error"]
    if outcome == "forbidden":
        assert response.status == 403, response.body
        assert error["type"] == "security_exception"
        assert error["reason"].startswith(f"no permissions for [cluster:admin/opensearch/ml/{ACTIONS[op]}] and "
                                          f"User [name={user}, ")
        return
    status, kind, reason = DENIALS[op]
    assert (response.status, error["type"], error["reason"]) == (status, kind, reason.format(**fmt)), response.body


class HttpSession:
    """The same calls as ``Emulator.as_user`` but over the HTTP server, with Basic auth."""

    def __init__(self, client: TestClient, user: str) -> None:
        password = SecurityConfig.load(USERS_FILE).password(user)
        self.client = client
        self.headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}

    async def request(self, method: str, path: str, body=None) -> RestResponse:
        data = json.dumps(body) if body is not None else None
        headers = {**self.headers, **({"Content-Type": "application/json"} if data else {})}
        async with self.client.request(method, path, data=data, headers=headers) as r:
            return RestResponse(r.status, json.loads(await r.text()), dict(r.headers))


@pytest.mark.parametrize("user,op,mode,outcome", cells(MODEL_MATRIX))
async def test_model_access_matrix(user, op, mode, outcome):
    emu = await start()
    try:
        ids = await model_world(emu, mode)
        before = (await emu.as_user("admin").request("GET", f"{ML}/models/{ids['model_id']}")).body
        response = await run_model_operation(emu.as_user(user), op, ids)
        check(response, user, op, outcome)
        if outcome != "ok":
            # a refused operation changes nothing
            after = (await emu.as_user("admin").request("GET", f"{ML}/models/{ids['model_id']}")).body
            assert after == before
    finally:
        await emu.stop()


@pytest.mark.parametrize("user,op,mode,outcome", cells(CONNECTOR_MATRIX))
async def test_connector_access_matrix(user, op, mode, outcome):
    emu = await start()
    try:
        r = await emu.as_user("alice").request("POST", f"{ML}/connectors/_create", {**CONNECTOR, **access(mode)})
        assert r.status == 200, r.body
        connector_id = r.body["connector_id"]
        response = await run_connector_operation(emu.as_user(user), op, connector_id)
        check(response, user, op, outcome, connector_id=connector_id)
        exists = await emu.as_user("admin").request("GET", f"{ML}/connectors/{connector_id}")
        assert exists.status == (404 if op == "delete_connector" and outcome == "ok" else 200)
    finally:
        await emu.stop()


@pytest.mark.parametrize("user,op,mode,outcome",
                         [cell for cell in cells(MODEL_MATRIX) if cell[2] == "restricted"])
async def test_model_access_matrix_over_http(user, op, mode, outcome):
    """The restricted column again, through the HTTP server as a real client sends it."""
    emu = await start()
    try:
        ids = await model_world(emu, mode)
        async with TestClient(TestServer(create_app(emu))) as client:
            response = await run_model_operation(HttpSession(client, user), op, ids)
        check(response, user, op, outcome)
    finally:
        await emu.stop()
