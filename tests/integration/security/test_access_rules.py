"""The security plugin's front door and ML Commons' access-control validation rules."""
from __future__ import annotations

import base64
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu import Emulator
from mlcommons_emu.api.app import create_app

USERS_FILE = Path(__file__).resolve().parents[3] / "fixtures" / "security" / "users.json"
ML = "/_plugins/_ml"
CONNECTOR = {
    "name": "chat", "version": "1", "protocol": "http",
    "parameters": {"model": "gpt-3.5-turbo"},
    "credential": {"openAI_key": "sk-rules-test"},
    "actions": [{
        "action_type": "predict", "method": "POST", "url": "https://api.openai.com/v1/chat/completions",
        "headers": {"Authorization": "Bearer ${credential.openAI_key}"},
        "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages} }',
    }],
}
PREDICT = {"parameters": {"messages": [{"role": "user", "content": "hello"}]}}
SETTINGS_ON = {"persistent": {"plugins.ml_commons.model_access_control_enabled": True,
                              "plugins.ml_commons.connector_access_control_enabled": True}}
SETTINGS_OFF = {"persistent": {"plugins.ml_commons.model_access_control_enabled": False,
                               "plugins.ml_commons.connector_access_control_enabled": False}}


@pytest.fixture
async def secured():
    async with Emulator(security=USERS_FILE, seed=3) as emu:
        r = await emu.as_user("admin").request("PUT", "/_cluster/settings", SETTINGS_ON)
        assert r.status == 200, r.body
        yield emu


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# authentication ---------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [
    {}, basic("alice", "wrong"), basic("nobody", "x"), {"Authorization": "Basic !!!"},
    {"Authorization": "Bearer abc"},
])
async def test_unauthenticated_calls_get_the_basic_challenge(secured, headers):
    for method, path in (("GET", "/"), ("GET", f"{ML}/models/abc"), ("POST", "/no/such/path")):
        r = await secured.request(method, path, headers=headers)
        assert r.status == 401
        assert r.body == "Unauthorized"
        assert r.headers["WWW-Authenticate"] == 'Basic realm="OpenSearch Security"'


async def test_401_over_http_is_plain_text_with_the_challenge():
    async with Emulator(security=USERS_FILE) as emu:
        async with TestClient(TestServer(create_app(emu))) as client:
            r = await client.get("/")
            assert r.status == 401
            assert r.headers["WWW-Authenticate"] == 'Basic realm="OpenSearch Security"'
            assert r.headers["Content-Type"].startswith("text/plain")
            assert await r.text() == "Unauthorized"
            r = await client.get("/", headers=basic("alice", "alice-pass"))
            assert r.status == 200
            assert (await r.json())["version"]["distribution"] == "opensearch"


async def test_missing_cluster_permission_is_the_security_plugins_403(secured):
    r = await secured.as_user("reader").request("POST", f"{ML}/connectors/_create", CONNECTOR)
    assert r.status == 403
    assert r.body["error"]["type"] == "security_exception"
    assert r.body["error"]["reason"] == (
        "no permissions for [cluster:admin/opensearch/ml/create_connector] and "
        "User [name=reader, backend_roles=[IT], requestedTenant=null]")


async def test_without_security_there_is_no_user_so_access_fields_are_refused():
    async with Emulator() as emu:
        await emu.request("PUT", "/_cluster/settings", SETTINGS_ON)
        r = await emu.request("POST", f"{ML}/model_groups/_register", {"name": "g", "access_mode": "public"})
        assert r.status == 400
        assert "Security plugin or model access control is disabled" in r.body["error"]["reason"]
        r = await emu.request("POST", f"{ML}/connectors/_create", {**CONNECTOR, "backend_roles": ["IT"]})
        assert r.status == 400
        assert "Security plugin or connector access control is disabled" in r.body["error"]["reason"]
        with pytest.raises(RuntimeError):
            emu.as_user("admin")


# what is stored -----------------------------------------------------------------------------
async def test_owner_access_and_roles_are_stored_with_the_resource(secured):
    alice = secured.as_user("alice")
    r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "g", "backend_roles": ["IT"]})
    assert r.status == 200, r.body
    group = (await alice.request("GET", f"{ML}/model_groups/{r.body['model_group_id']}")).body
    assert group["access"] == "restricted"
    assert group["backend_roles"] == ["IT"]
    assert group["owner"] == {"name": "alice", "backend_roles": ["IT", "HR"], "roles": ["ml_full_access"],
                              "custom_attribute_names": [], "user_requested_tenant": None,
                              "user_requested_tenant_access": "WRITE"}
    r = await alice.request("POST", f"{ML}/connectors/_create", {**CONNECTOR, "add_all_backend_roles": True})
    assert r.status == 200, r.body
    connector = (await alice.request("GET", f"{ML}/connectors/{r.body['connector_id']}")).body
    assert (connector["access"], connector["backend_roles"]) == ("restricted", ["IT", "HR"])
    assert connector["owner"]["name"] == "alice"
    assert "credential" not in connector


# creation rules --------------------------------------------------------------------------
CONNECTOR_RULES = [
    ("admin", {"add_all_backend_roles": True}, "Admin can't add all backend roles"),
    ("alice", {}, ("private", None)),
    ("alice", {"backend_roles": ["IT"]}, ("restricted", ["IT"])),
    ("alice", {"access_mode": "public", "backend_roles": ["IT"]},
     "You can specify backend roles only for a connector with the restricted access mode."),
    ("alice", {"access_mode": "private", "add_all_backend_roles": True},
     "You can specify backend roles only for a connector with the restricted access mode."),
    ("alice", {"access_mode": "restricted", "backend_roles": ["IT"], "add_all_backend_roles": True},
     "You can't specify backend roles and add all backend roles to true at same time."),
    ("dave", {"access_mode": "restricted", "add_all_backend_roles": True},
     "You must have at least one backend role to create a connector."),
    ("alice", {"access_mode": "restricted"},
     "You must specify at least one backend role or make the connector public/private for registering it."),
    ("bob", {"access_mode": "restricted", "backend_roles": ["HR"]}, "You don't have the backend roles specified."),
    ("admin", {"access_mode": "restricted", "backend_roles": ["anything"]}, ("restricted", ["anything"])),
]


@pytest.mark.parametrize("user,fields,expected", CONNECTOR_RULES)
async def test_connector_create_rules(secured, user, fields, expected):
    r = await secured.as_user(user).request("POST", f"{ML}/connectors/_create", {**CONNECTOR, **fields})
    if isinstance(expected, str):
        assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
            400, "illegal_argument_exception", expected)
        return
    assert r.status == 200, r.body
    doc = (await secured.as_user("admin").request("GET", f"{ML}/connectors/{r.body['connector_id']}")).body
    assert (doc["access"], doc.get("backend_roles")) == expected


GROUP_RULES = [
    ("alice", {"backend_roles": ["IT"], "add_all_backend_roles": True},
     "You cannot specify backend roles and add all backend roles at the same time."),
    ("alice", {}, ("private", None)),
    ("alice", {"add_all_backend_roles": True}, ("restricted", ["IT", "HR"])),
    ("alice", {"access_mode": "public", "backend_roles": ["IT"]},
     "You can specify backend roles only for a model group with the restricted access mode."),
    ("admin", {"access_mode": "restricted", "add_all_backend_roles": True},
     "Admin users cannot add all backend roles to a model group."),
    ("dave", {"access_mode": "restricted", "backend_roles": ["IT"]},
     "You must have at least one backend role to register a restricted model group."),
    ("alice", {"access_mode": "restricted"},
     "You must specify one or more backend roles or add all backend roles to register a restricted model group."),
    ("alice", {"access_mode": "restricted", "backend_roles": ["IT"], "add_all_backend_roles": True},
     "You cannot specify backend roles and add all backend roles at the same time."),
    ("bob", {"access_mode": "restricted", "backend_roles": ["HR"]}, "You don't have the backend roles specified."),
]


@pytest.mark.parametrize("user,fields,expected", GROUP_RULES)
async def test_model_group_register_rules(secured, user, fields, expected):
    r = await secured.as_user(user).request("POST", f"{ML}/model_groups/_register", {"name": "g", **fields})
    if isinstance(expected, str):
        assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
            400, "illegal_argument_exception", expected)
        return
    assert r.status == 200, r.body
    doc = (await secured.as_user("admin").request("GET", f"{ML}/model_groups/{r.body['model_group_id']}")).body
    assert (doc["access"], doc.get("backend_roles")) == expected


UPDATE_RULES = [
    # (group mode of alice's group, user, update body, expected error or (access, roles))
    ("public", "bob", {"access_mode": "private"}, "Only owner or admin can update access control data."),
    ("private", "carol", {"description": "x"}, "You don't have permission to update this model group."),
    ("public", "alice", {"access_mode": "public", "backend_roles": ["IT"]},
     "You can specify backend roles only for a model group with the restricted access mode."),
    ("public", "admin", {"add_all_backend_roles": True}, "Admin users cannot add all backend roles to a model group."),
    ("public", "alice", {"add_all_backend_roles": False},
     "You have to specify backend roles when add all backend roles is set to false."),
    ("public", "alice", {"access_mode": "restricted"},
     "You must specify one or more backend roles or add all backend roles to register a restricted model group."),
    ("public", "alice", {"backend_roles": ["finance"]}, "You don't have the backend roles specified."),
    ("public", "alice", {"backend_roles": ["HR"]}, ("restricted", ["HR"])),
    ("restricted", "alice", {"access_mode": "private"}, ("private", None)),
    ("restricted", "bob", {"description": "shared role"}, ("restricted", ["IT"])),
    ("private", "admin", {"access_mode": "public"}, ("public", None)),
]


@pytest.mark.parametrize("mode,user,update,expected", UPDATE_RULES)
async def test_model_group_update_rules(secured, mode, user, update, expected):
    fields = {"access_mode": mode, **({"backend_roles": ["IT"]} if mode == "restricted" else {})}
    r = await secured.as_user("alice").request("POST", f"{ML}/model_groups/_register", {"name": "g", **fields})
    group_id = r.body["model_group_id"]
    r = await secured.as_user(user).request("PUT", f"{ML}/model_groups/{group_id}", update)
    doc = (await secured.as_user("admin").request("GET", f"{ML}/model_groups/{group_id}")).body
    if isinstance(expected, str):
        assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
            400, "illegal_argument_exception", expected)
        assert doc["access"] == mode
        return
    assert r.status == 200, r.body
    assert (doc["access"], doc.get("backend_roles") or None) == expected


async def test_owner_of_a_restricted_group_has_no_ownership_bypass(secured):
    alice = secured.as_user("alice")
    r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "g", "backend_roles": ["IT"]})
    group_id = r.body["model_group_id"]
    # the admin moves the group to a role alice does not hold
    r = await secured.as_user("admin").request("PUT", f"{ML}/model_groups/{group_id}", {"backend_roles": ["finance"]})
    assert r.status == 200, r.body
    r = await alice.request("GET", f"{ML}/model_groups/{group_id}")
    assert r.status == 403
    r = await alice.request("PUT", f"{ML}/model_groups/{group_id}", {"description": "mine"})
    assert r.body["error"]["reason"] == (
        "You don't have the specified backend role to update this model group. For more information, "
        "contact your administrator.")
    r = await secured.as_user("carol").request("GET", f"{ML}/model_groups/{group_id}")
    assert r.status == 200


async def test_register_without_group_into_a_name_held_by_an_inaccessible_group(secured):
    r = await secured.as_user("alice").request("POST", f"{ML}/connectors/_create",
                                                {**CONNECTOR, "access_mode": "public"})
    connector_id = r.body["connector_id"]
    r = await secured.as_user("alice").request("POST", f"{ML}/model_groups/_register", {"name": "shared-name"})
    group_id = r.body["model_group_id"]
    r = await secured.as_user("carol").request("POST", f"{ML}/models/_register", {
        "name": "shared-name", "function_name": "remote", "connector_id": connector_id})
    assert r.status == 400
    assert r.body["error"]["reason"] == (
        f"The name {{shared-name}} you provided is unavailable because it is used by another model group with id "
        f"{{{group_id}}} to which you do not have access. Please provide a different name.")
    # alice joins her own group by name
    r = await secured.as_user("alice").request("POST", f"{ML}/models/_register", {
        "name": "shared-name", "function_name": "remote", "connector_id": connector_id})
    assert r.status == 200, r.body
    model = (await secured.as_user("alice").request("GET", f"{ML}/models/{r.body['model_id']}")).body
    assert model["model_group_id"] == group_id


# settings switched on and off --------------------------------------------------------------
async def test_switching_access_control_never_rewrites_stored_resources():
    async with Emulator(security=USERS_FILE) as emu:
        admin, alice, carol = emu.as_user("admin"), emu.as_user("alice"), emu.as_user("carol")
        # created while off: no owner, public, reachable by everyone after switching on
        r = await alice.request("POST", f"{ML}/connectors/_create", CONNECTOR)
        legacy_connector = r.body["connector_id"]
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "legacy"})
        legacy_group = r.body["model_group_id"]
        doc = (await alice.request("GET", f"{ML}/model_groups/{legacy_group}")).body
        assert doc["access"] == "public" and "owner" not in doc
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "x", "access_mode": "private"})
        assert r.status == 400  # security on, setting off: still refused
        await admin.request("PUT", "/_cluster/settings", SETTINGS_ON)
        assert (await carol.request("GET", f"{ML}/connectors/{legacy_connector}")).status == 200
        assert (await carol.request("GET", f"{ML}/model_groups/{legacy_group}")).status == 200
        # created while on: private to alice
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "mine", "access_mode": "private"})
        mine = r.body["model_group_id"]
        assert (await carol.request("GET", f"{ML}/model_groups/{mine}")).status == 403
        await admin.request("PUT", "/_cluster/settings", SETTINGS_OFF)
        assert (await carol.request("GET", f"{ML}/model_groups/{mine}")).status == 200
        await admin.request("PUT", "/_cluster/settings", SETTINGS_ON)
        assert (await carol.request("GET", f"{ML}/model_groups/{mine}")).status == 403


# the emulated 2.9 -------------------------------------------------------------------------
async def test_2_9_answers_model_denials_with_500_validation_errors():
    async with Emulator(security=USERS_FILE, opensearch_version="2.9.0") as emu:
        await emu.as_user("admin").request("PUT", "/_cluster/settings", SETTINGS_ON)
        alice, carol = emu.as_user("alice"), emu.as_user("carol")
        r = await alice.request("POST", f"{ML}/connectors/_create", {**CONNECTOR, "access_mode": "public"})
        connector_id = r.body["connector_id"]
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "g", "access_mode": "private"})
        group_id = r.body["model_group_id"]
        r = await alice.request("POST", f"{ML}/models/_register", {
            "name": "m", "function_name": "remote", "model_group_id": group_id, "connector_id": connector_id})
        task = (await alice.request("GET", f"{ML}/tasks/{r.body['task_id']}")).body
        model_id = task["model_id"]
        for method, path, body, reason in (
            ("GET", f"{ML}/models/{model_id}", None,
             "User Doesn't have privilege to perform this operation on this model"),
            ("POST", f"{ML}/models/{model_id}/_deploy", None,
             "User Doesn't have privilege to perform this operation on this model"),
            ("POST", f"{ML}/models/{model_id}/_predict", PREDICT,
             "User Doesn't have privilege to perform this operation on this model"),
            ("DELETE", f"{ML}/models/{model_id}", None,
             "User doesn't have privilege to perform this operation on this model"),
        ):
            r = await carol.request(method, path, body)
            assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
                500, "m_l_validation_exception", reason), (path, r.body)
        r = await carol.request("GET", f"{ML}/connectors/{connector_id}")
        assert r.status == 200
