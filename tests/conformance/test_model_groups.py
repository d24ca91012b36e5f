"""Model groups: register, get, update, delete, as each release answers them."""
from __future__ import annotations

from mlcommons_emu import Emulator
from tests.conformance.test_errors import assert_error
from tests.conftest import store_options


async def register(emu, name: str, **extra) -> str:
    r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", {"name": name, **extra})
    assert r.status == 200, r.body
    return r.body["model_group_id"]


async def test_group_document_without_access_control(emulator):
    group_id = await register(emulator, "g", description="first")
    r = await emulator.request("GET", f"/_plugins/_ml/model_groups/{group_id}")
    assert r.body["name"] == "g" and r.body["description"] == "first"
    assert r.body["latest_version"] == 0
    assert r.body["access"] == "public"
    assert r.body["created_time"] == r.body["last_updated_time"]
    assert "owner" not in r.body and "backend_roles" not in r.body


async def test_duplicate_name_is_refused(emulator):
    group_id = await register(emulator, "same")
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", {"name": "same"})
    assert_error(r, 400, "illegal_argument_exception",
                 f"The name you provided is already being used by a model group with ID: {group_id}.")
    # uniqueness is on the exact keyword value
    await register(emulator, "Same")


async def test_access_fields_are_refused_without_security(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register",
                               {"name": "x", "backend_roles": ["a"]})
    assert_error(r, 400, "illegal_argument_exception",
                 "You cannot specify model access control parameters because the Security plugin or model "
                 "access control is disabled on your cluster.")
    # an unrecognised access_mode counts as not specified
    await register(emulator, "y", access_mode="everyone")


async def test_update_changes_name_and_description(emulator):
    group_id = await register(emulator, "old")
    r = await emulator.request("PUT", f"/_plugins/_ml/model_groups/{group_id}", {"name": "new", "description": "d"})
    assert r.status == 200 and r.body == {"status": "Updated"}
    r = await emulator.request("GET", f"/_plugins/_ml/model_groups/{group_id}")
    assert (r.body["name"], r.body["description"]) == ("new", "d")
    assert r.body["last_updated_time"] >= r.body["created_time"]
    # renaming to its own name is fine from 2.11
    r = await emulator.request("PUT", f"/_plugins/_ml/model_groups/{group_id}", {"name": "new"})
    assert r.status == 200


async def test_update_to_a_taken_name(emulator):
    taken = await register(emulator, "taken")
    group_id = await register(emulator, "mine")
    r = await emulator.request("PUT", f"/_plugins/_ml/model_groups/{group_id}", {"name": "taken"})
    assert_error(r, 400, "illegal_argument_exception",
                 f"The name you provided is already being used by another model with ID: {taken}. "
                 "Please provide a different name")


async def test_update_unknown_group(emulator):
    await register(emulator, "any")
    r = await emulator.request("PUT", "/_plugins/_ml/model_groups/AAAAAAAAAAAAAAAAAAAA", {"name": "z"})
    assert_error(r, 404, "status_exception",
                 "Failed to find model group with the provided model group id: AAAAAAAAAAAAAAAAAAAA")


async def test_get_unknown_group_and_missing_index(emulator):
    r = await emulator.request("GET", "/_plugins/_ml/model_groups/AAAAAAAAAAAAAAAAAAAA")
    assert_error(r, 404, "status_exception", "Failed to find model group index")
    await register(emulator, "any")
    r = await emulator.request("GET", "/_plugins/_ml/model_groups/AAAAAAAAAAAAAAAAAAAA")
    assert_error(r, 404, "status_exception",
                 "Failed to find model group with the provided model group id: AAAAAAAAAAAAAAAAAAAA")


async def test_group_with_models_cannot_be_deleted(emulator):
    from tests.seed import body

    connector_id = (await emulator.request("POST", "/_plugins/_ml/connectors/_create",
                                           body("openai_chat_connector"))).body["connector_id"]
    group_id = await register(emulator, "busy")
    await emulator.request("POST", "/_plugins/_ml/models/_register", {
        "name": "m", "function_name": "remote", "model_group_id": group_id, "connector_id": connector_id})
    r = await emulator.request("DELETE", f"/_plugins/_ml/model_groups/{group_id}")
    assert_error(r, 409, "status_exception", "Cannot delete the model group when it has associated model versions")


async def test_delete_group(emulator):
    group_id = await register(emulator, "short-lived")
    r = await emulator.request("DELETE", f"/_plugins/_ml/model_groups/{group_id}")
    assert r.status == 200
    assert r.body["result"] == "deleted" and r.body["_index"] == ".plugins-ml-model-group"
    r = await emulator.request("GET", f"/_plugins/_ml/model_groups/{group_id}")
    assert r.status == 404


async def test_register_without_name_reproduces_the_plugins_500(emulator):
    r = await emulator.request("POST", "/_plugins/_ml/model_groups/_register", {"description": "x"})
    assert_error(r, 500, "null_pointer_exception", "model group name must not be null")


class TestRelease29:
    async def test_no_get_route_and_self_rename_quirk(self, database_url):
        async with Emulator(database=database_url, **store_options(database_url), opensearch_version="2.9.0") as emu:
            group_id = await register(emu, "g")
            r = await emu.request("GET", f"/_plugins/_ml/model_groups/{group_id}")
            assert r.status == 405
            assert r.body["error"].endswith("allowed: [PUT, DELETE]")
            r = await emu.request("PUT", f"/_plugins/_ml/model_groups/{group_id}", {"name": "g"})
            assert_error(r, 400, "illegal_argument_exception",
                         f"The name you provided is already being used by another model with ID: {group_id}. "
                         "Please provide a different name")
            r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", {"name": "g"})
            assert_error(r, 400, "illegal_argument_exception",
                         f"The name you provided is already being used by another model with ID: {group_id}. "
                         "Please provide a different name")
            r = await emu.request("POST", "/_plugins/_ml/model_groups/_register", {})
            assert_error(r, 400, "illegal_argument_exception", "model group name is null")
