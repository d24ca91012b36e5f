"""``_search`` on connectors, model groups, models and tasks, in process.

What is pinned here comes from AbstractMLSearchAction, RestActionUtils.getSourceContext,
SearchConnectorTransportAction, SearchModelGroupTransportAction, MLSearchHandler and
SearchTaskTransportAction across the release tags, and from OpenSearch's query DSL
(SearchSourceBuilder, the query builders, Lucene's BM25) for the rest.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.store import rows
from tests.conftest import fresh_store, store_options
from tests.seed import body

ML = "/_plugins/_ml"
USERS_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "security" / "users.json"
ACCESS_ON = {"persistent": {"plugins.ml_commons.model_access_control_enabled": True,
                            "plugins.ml_commons.connector_access_control_enabled": True,
                            "plugins.ml_commons.only_run_on_ml_node": False}}


@contextlib.asynccontextmanager
async def release(database_url: str, version: str, **config: Any) -> AsyncIterator[Emulator]:
    await fresh_store(database_url)
    async with Emulator(database=database_url, **store_options(database_url), opensearch_version=version,
                        seed=11, **config) as emu:
        yield emu


def error(r: Any) -> tuple[int, str, str]:
    return r.status, r.body["error"]["type"], r.body["error"]["reason"]


async def connector(emu: Any, name: str, **fields: Any) -> str:
    r = await emu.request("POST", f"{ML}/connectors/_create", {**body("openai_chat_connector"), "name": name, **fields})
    assert r.status == 200, r.body
    return r.body["connector_id"]


async def model(emu: Any, name: str, connector_id: str, **fields: Any) -> str:
    r = await emu.request("POST", f"{ML}/models/_register",
                          {"name": name, "function_name": "remote", "connector_id": connector_id, **fields})
    assert r.status == 200, r.body
    if "model_id" in r.body:
        return r.body["model_id"]
    task = await emu.request("GET", f"{ML}/tasks/{r.body['task_id']}")  # 2.9: the task names it
    assert task.body["state"] == "COMPLETED", task.body
    return task.body["model_id"]


async def search(emu: Any, kind: str, query: Any, method: str = "POST", **kwargs: Any) -> Any:
    return await emu.request(method, f"{ML}/{kind}/_search", query, **kwargs)


def ids(r: Any) -> list[str]:
    assert r.status == 200, r.body
    return [hit["_id"] for hit in r.body["hits"]["hits"]]


def names(r: Any) -> list[str]:
    assert r.status == 200, r.body
    return [hit["_source"]["name"] for hit in r.body["hits"]["hits"]]


@pytest.fixture
async def fleet(emulator):
    """Three connectors and four models with varied names, states and versions."""
    chat = await connector(emulator, "OpenAI Chat connector", description="chat with GPT")
    embed = await connector(emulator, "Cohere embed connector", description="embeddings from Cohere")
    spare = await connector(emulator, "spare", parameters={"endpoint": "api.cohere.ai", "model": "embed"})
    models = {}
    for name, conn in (("gpt-3.5 chat", chat), ("gpt-4 chat", chat), ("cohere embed v3", embed),
                       ("cohere embed light", embed)):
        models[name] = await model(emulator, name, conn)
    r = await emulator.request("PUT", "/_cluster/settings",
                               {"persistent": {"plugins.ml_commons.only_run_on_ml_node": False}})
    assert r.status == 200
    r = await emulator.request("POST", f"{ML}/models/{models['gpt-4 chat']}/_deploy")
    assert r.status == 200, r.body
    return {"connectors": {"chat": chat, "embed": embed, "spare": spare}, "models": models}


# ===================================================================== the envelope
class TestEnvelope:
    async def test_hits_carry_versions_and_sources(self, emulator, fleet):
        r = await search(emulator, "connectors", {"query": {"match_all": {}}})
        assert r.status == 200
        assert list(r.body) == ["took", "timed_out", "_shards", "hits"]
        assert r.body["timed_out"] is False and isinstance(r.body["took"], int)
        assert r.body["_shards"] == {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        assert r.body["hits"]["total"] == {"value": 3, "relation": "eq"}
        assert r.body["hits"]["max_score"] == 1.0
        hit = r.body["hits"]["hits"][0]
        assert list(hit) == ["_index", "_id", "_version", "_seq_no", "_primary_term", "_score", "_source"]
        assert (hit["_index"], hit["_version"], hit["_primary_term"], hit["_score"]) == (
            ".plugins-ml-connector", 1, 1, 1.0)
        # match_all ties keep index order
        assert ids(r) == [fleet["connectors"][k] for k in ("chat", "embed", "spare")]

    async def test_get_with_a_body_and_the_source_parameter(self, emulator, fleet):
        r = await search(emulator, "models", {"query": {"term": {"name.keyword": "gpt-4 chat"}}}, method="GET")
        assert names(r) == ["gpt-4 chat"]
        source = json.dumps({"query": {"term": {"name.keyword": "gpt-4 chat"}}})
        r = await emulator.request("GET", f"{ML}/models/_search", None,
                                   query={"source": source, "source_content_type": "application/json"})
        assert names(r) == ["gpt-4 chat"]

    async def test_a_body_is_required(self, emulator, fleet):
        r = await emulator.request("POST", f"{ML}/connectors/_search")
        assert error(r) == (400, "parse_exception", "request body or source parameter is required")

    async def test_an_empty_body_searches_everything(self, emulator, fleet):
        r = await search(emulator, "tasks", {})
        assert r.body["hits"]["total"]["value"] == 5  # four registers, one deploy
        assert {hit["_source"]["task_type"] for hit in r.body["hits"]["hits"]} == {"REGISTER_MODEL", "DEPLOY_MODEL"}


# ===================================================================== what never leaves
class TestSourceFiltering:
    async def test_connector_credentials_are_never_in_hits(self, emulator, fleet):
        for query in ({}, {"_source": ["credential*", "name"]}, {"_source": {"includes": ["*"]}},
                      {"query": {"exists": {"field": "credential"}}}):
            r = await search(emulator, "connectors", query)
            assert r.status == 200, r.body
            assert r.body["hits"]["hits"], query
            for hit in r.body["hits"]["hits"]:
                assert "credential" not in hit["_source"], query

    async def test_inline_connector_credentials_are_never_in_model_hits(self, emulator):
        r = await emulator.request("POST", f"{ML}/models/_register", {
            "name": "inline", "function_name": "remote", "connector": {
                **{k: v for k, v in body("openai_chat_connector").items() if k != "name"}, "name": "inline"}})
        assert r.status == 200, r.body
        r = await search(emulator, "models", {"query": {"match": {"name": "inline"}}})
        (hit,) = r.body["hits"]["hits"]
        assert hit["_source"]["connector"]["name"] == "inline"
        assert "credential" not in hit["_source"]["connector"]
        assert "sk-" not in json.dumps(r.body)

    async def test_includes_excludes_and_false_source(self, emulator, fleet):
        r = await search(emulator, "models", {"_source": ["name", "model_state"], "query": {"match_all": {}}})
        assert all(set(hit["_source"]) <= {"name", "model_state"} for hit in r.body["hits"]["hits"])
        r = await search(emulator, "models", {"_source": {"excludes": ["connector*", "*_time"]}})
        for hit in r.body["hits"]["hits"]:
            assert not any(k.endswith("_time") for k in hit["_source"]) and "name" in hit["_source"]
        # the plugin rebuilds the fetch context with fetchSource=true: _source false is ignored
        r = await search(emulator, "models", {"_source": False, "size": 1})
        assert "name" in r.body["hits"]["hits"][0]["_source"]

    async def test_ui_metadata_only_for_dashboards(self, emulator, fleet):
        model_id = fleet["models"]["gpt-4 chat"]
        async with emulator.context.transaction() as repos:
            doc = await repos.tx.get(rows.MODEL_INDEX, model_id)
            await repos.tx.put(rows.MODEL_INDEX, model_id, {**doc.source, "ui_metadata": {"color": "blue"}},
                               now=emulator.context.now())
        query = {"query": {"ids": {"values": [model_id]}}}
        r = await search(emulator, "models", query)
        assert "ui_metadata" not in r.body["hits"]["hits"][0]["_source"]
        r = await search(emulator, "models", query, headers={"User-Agent": "OpenSearch Dashboards/3.0"})
        assert r.body["hits"]["hits"][0]["_source"]["ui_metadata"] == {"color": "blue"}


# ===================================================================== the query DSL
class TestQueries:
    async def test_term_on_keyword_text_and_flat_object(self, emulator, fleet):
        assert names(await search(emulator, "models", {"query": {"term": {"model_state": "DEPLOYED"}}})) == [
            "gpt-4 chat"]
        # a term is not analysed: the text field holds lower-cased tokens
        assert names(await search(emulator, "connectors", {"query": {"term": {"name": "openai"}}})) == [
            "OpenAI Chat connector"]
        assert ids(await search(emulator, "connectors", {"query": {"term": {"name": "OpenAI"}}})) == []
        # parameters is a flat_object: dotted paths and the root both match leaf values
        assert names(await search(emulator, "connectors",
                                  {"query": {"term": {"parameters.endpoint": "api.cohere.ai"}}})) == ["spare"]
        assert names(await search(emulator, "connectors", {"query": {"term": {"parameters": "embed"}}})) == ["spare"]

    async def test_terms_ids_exists_prefix_wildcard(self, emulator, fleet):
        m = fleet["models"]
        r = await search(emulator, "models", {"query": {"terms": {"name.keyword": ["gpt-4 chat", "cohere embed v3"]}}})
        assert sorted(names(r)) == ["cohere embed v3", "gpt-4 chat"]
        r = await search(emulator, "models", {"query": {"ids": {"values": [m["gpt-3.5 chat"], "nope"]}}})
        assert names(r) == ["gpt-3.5 chat"]
        r = await search(emulator, "models", {"query": {"exists": {"field": "last_deployed_time"}}})
        assert names(r) == ["gpt-4 chat"]
        r = await search(emulator, "models", {"query": {"prefix": {"name.keyword": "cohere"}}})
        assert sorted(names(r)) == ["cohere embed light", "cohere embed v3"]
        r = await search(emulator, "models", {"query": {"wildcard": {"name.keyword": {"value": "GPT-?.*",
                                                                                     "case_insensitive": True}}}})
        assert names(r) == ["gpt-3.5 chat"]

    async def test_match_is_analysed_and_scored(self, emulator, fleet):
        r = await search(emulator, "models", {"query": {"match": {"name": "GPT chat"}}})
        assert sorted(names(r)) == ["gpt-3.5 chat", "gpt-4 chat"]
        scores = [hit["_score"] for hit in r.body["hits"]["hits"]]
        assert r.body["hits"]["max_score"] == max(scores) > 0
        r = await search(emulator, "models", {"query": {"match": {"name": {"query": "cohere light",
                                                                          "operator": "and"}}}})
        assert names(r) == ["cohere embed light"]
        # the rarer term weighs more: "light" appears once, "embed" twice
        r = await search(emulator, "models", {"query": {"match": {"name": "embed light"}}})
        assert names(r)[0] == "cohere embed light"

    async def test_range_on_dates_numbers_and_date_math(self, emulator, fleet):
        r = await search(emulator, "models", {"query": {"range": {"created_time": {"gte": "now-1h", "lte": "now"}}}})
        assert len(ids(r)) == 4
        r = await search(emulator, "models", {"query": {"range": {"created_time": {"lt": 1_000}}}})
        assert ids(r) == []
        # every model registered without a group got its own, at version 1
        r = await search(emulator, "model_groups", {"query": {"range": {"latest_version": {"gte": 1, "lt": 2}}}})
        assert len(ids(r)) == 4
        r = await search(emulator, "model_groups", {"query": {"range": {"latest_version": {"gt": 1}}}})
        assert ids(r) == []

    async def test_bool_with_should_and_minimum_should_match(self, emulator, fleet):
        query = {"bool": {"must": [{"term": {"algorithm": "REMOTE"}}],
                          "must_not": [{"term": {"model_state": "DEPLOYED"}}],
                          "should": [{"match": {"name": "cohere"}}, {"match": {"name": "light"}}],
                          "minimum_should_match": 1}}
        r = await search(emulator, "models", {"query": query})
        assert names(r) == ["cohere embed light", "cohere embed v3"]
        # should clauses alone: at least one must match
        r = await search(emulator, "models", {"query": {"bool": {"should": [{"term": {"name.keyword": "nope"}}]}}})
        assert ids(r) == []
        # ... but they are optional next to a filter
        r = await search(emulator, "models", {"query": {"bool": {"filter": [{"term": {"algorithm": "REMOTE"}}],
                                                                 "should": [{"term": {"name.keyword": "nope"}}]}}})
        assert len(ids(r)) == 4 and r.body["hits"]["max_score"] == 0.0

    async def test_nested_owner_fields_need_a_nested_query(self, database_url):
        async with release(database_url, "3.8.0", security=USERS_FILE) as emu:
            r = await emu.as_user("admin").request("PUT", "/_cluster/settings", ACCESS_ON)
            assert r.status == 200, r.body
            await connector(emu.as_user("alice"), "alice's", access_mode="private")
            admin = emu.as_user("admin")
            r = await search(admin, "connectors", {"query": {"term": {"owner.name.keyword": "alice"}}})
            assert ids(r) == []
            r = await search(admin, "connectors", {"query": {"nested": {
                "path": "owner", "query": {"term": {"owner.name.keyword": "alice"}}}}})
            assert names(r) == ["alice's"]


class TestPagingSortingTotals:
    async def test_from_size_and_field_sort(self, emulator, fleet):
        r = await search(emulator, "models", {"sort": [{"name.keyword": "asc"}], "size": 2, "from": 1})
        assert names(r) == ["cohere embed v3", "gpt-3.5 chat"]
        assert r.body["hits"]["total"]["value"] == 4
        assert r.body["hits"]["max_score"] is None
        assert [hit["_score"] for hit in r.body["hits"]["hits"]] == [None, None]
        assert [hit["sort"] for hit in r.body["hits"]["hits"]] == [["cohere embed v3"], ["gpt-3.5 chat"]]
        r = await search(emulator, "models", {"sort": [{"created_time": {"order": "desc"}}], "track_scores": True})
        times = [hit["sort"][0] for hit in r.body["hits"]["hits"]]
        assert times == sorted(times, reverse=True)
        # from 2.12 the plugin wraps the (absent) query in a bool whose only clause is the
        # hidden-model filter: every score is 0.0
        assert r.body["hits"]["max_score"] == 0.0
        # a missing value sorts last, shown as Long.MAX_VALUE in ascending order
        r = await search(emulator, "models", {"sort": [{"last_deployed_time": "asc"}]})
        assert names(r)[0] == "gpt-4 chat"
        assert r.body["hits"]["hits"][-1]["sort"] == [9223372036854775807]

    async def test_track_total_hits(self, emulator, fleet):
        r = await search(emulator, "models", {"track_total_hits": 2, "size": 0})
        assert r.body["hits"]["total"] == {"value": 2, "relation": "gte"} and r.body["hits"]["hits"] == []
        r = await search(emulator, "models", {"track_total_hits": False})
        assert "total" not in r.body["hits"]
        r = await search(emulator, "models", {"track_total_hits": True})
        assert r.body["hits"]["total"] == {"value": 4, "relation": "eq"}


# ===================================================================== errors
class TestErrors:
    async def test_unknown_query_is_a_parsing_exception_with_its_location(self, emulator, fleet):
        r = await emulator.request("POST", f"{ML}/models/_search", b'{"query": {"query_string": {"query": "x"}}}',
                                   headers={"Content-Type": "application/json"})
        assert error(r) == (400, "parsing_exception", "unknown query [query_string]")
        assert (r.body["error"]["line"], r.body["error"]["col"]) == (1, 28)
        assert r.body["error"]["caused_by"] == {"type": "named_object_not_found_exception",
                                                "reason": "[1:28] unknown field [query_string]"}

    async def test_unknown_body_key(self, emulator, fleet):
        r = await search(emulator, "connectors", {"size": 1, "querry": {}})
        assert error(r)[:2] == (400, "parsing_exception")
        assert error(r)[2] == "Unknown key for a START_OBJECT in [querry]."

    async def test_negative_size_and_result_window(self, emulator, fleet):
        r = await search(emulator, "tasks", {"size": -1})
        assert error(r) == (400, "illegal_argument_exception", "[size] parameter cannot be negative, found [-1]")
        r = await search(emulator, "tasks", {"from": 9_995, "size": 10})
        assert r.status == 400 and r.body["error"]["type"] == "search_phase_execution_exception"
        assert r.body["error"]["root_cause"][0]["reason"].startswith(
            "Result window is too large, from + size must be less than or equal to: [10000] but was [10005].")
        # models wrap it: the root cause's message in a 400 status_exception
        r = await search(emulator, "models", {"from": 9_995, "size": 10})
        assert error(r)[:2] == (400, "status_exception") and error(r)[2].startswith("Result window is too large")

    async def test_sort_on_text_or_unmapped_fields(self, emulator, fleet):
        r = await search(emulator, "connectors", {"sort": ["description"]})
        assert r.status == 400 and r.body["error"]["type"] == "search_phase_execution_exception"
        assert r.body["error"]["failed_shards"][0]["reason"]["reason"].startswith("Text fields are not optimised")
        r = await search(emulator, "connectors", {"sort": ["no_such_field"]})
        assert r.body["error"]["root_cause"][0]["type"] == "query_shard_exception"
        assert r.body["error"]["root_cause"][0]["reason"] == "No mapping found for [no_such_field] in order to sort on"
        # unmapped_type: no error, missing values
        r = await search(emulator, "connectors", {"sort": [{"no_such_field": {"unmapped_type": "keyword"}}]})
        assert len(ids(r)) == 3
        # models: not a bad request at its root, so the general 500 of wrapRestActionListener
        r = await search(emulator, "models", {"sort": ["no_such_field"]})
        assert error(r) == (500, "status_exception", "Fail to search model version")

    async def test_errors_change_nothing(self, emulator, fleet):
        before = await search(emulator, "models", {})
        await search(emulator, "models", {"query": {"nope": {}}})
        await search(emulator, "models", {"sort": ["description"]})
        after = await search(emulator, "models", {})
        assert before.body["hits"] == after.body["hits"]

    @pytest.mark.parametrize("version,expected", [("2.9.0", 404), ("2.11.0", 404), ("2.12.0", 200), ("3.8.0", 200)])
    async def test_missing_index(self, database_url, version, expected):
        async with release(database_url, version) as emu:
            for kind, index in (("connectors", ".plugins-ml-connector"), ("models", ".plugins-ml-model"),
                                ("model_groups", ".plugins-ml-model-group"), ("tasks", ".plugins-ml-task")):
                r = await search(emu, kind, {"query": {"match_all": {}}})
                assert r.status == expected, (kind, r.body)
                if expected == 404:
                    assert r.body["error"]["type"] == "index_not_found_exception"
                    assert r.body["error"]["reason"] == f"no such index [{index}]"
                    assert r.body["error"]["index"] == index
                else:
                    assert r.body["_shards"]["total"] == 0 and r.body["hits"]["hits"] == []
                    assert r.body["hits"]["max_score"] is None


# ===================================================================== who sees what
class TestAccessFiltering:
    @pytest.fixture
    async def secured(self, database_url):
        async with release(database_url, "3.8.0", security=USERS_FILE) as emu:
            r = await emu.as_user("admin").request("PUT", "/_cluster/settings", ACCESS_ON)
            assert r.status == 200, r.body
            yield emu

    async def test_connectors_are_filtered_before_counting(self, secured):
        alice, bob, carol = secured.as_user("alice"), secured.as_user("bob"), secured.as_user("carol")
        await connector(alice, "alice private", access_mode="private")
        await connector(alice, "alice IT", backend_roles=["IT"])
        await connector(carol, "carol public", access_mode="public")
        r = await search(bob, "connectors", {"query": {"match_all": {}}, "size": 1})
        assert r.body["hits"]["total"]["value"] == 2  # IT-shared + public, not alice's private one
        r = await search(bob, "connectors", {"sort": [{"name.keyword": "asc"}]})
        assert names(r) == ["alice IT", "carol public"]
        r = await search(alice, "connectors", {"sort": [{"name.keyword": "asc"}]})
        assert names(r) == ["alice IT", "alice private", "carol public"]
        r = await search(secured.as_user("admin"), "connectors", {})
        assert r.body["hits"]["total"]["value"] == 3
        # the plugin adds its filter to the user's own bool: next to a filter, should clauses
        # turn optional, so a should-only query stops restricting (as on a real cluster)
        r = await search(carol, "connectors", {"query": {"bool": {"should": [{"match": {"name": "alice"}}]}}})
        assert names(r) == ["carol public"]
        r = await search(carol, "connectors", {"query": {"bool": {"should": [{"match": {"name": "alice"}}],
                                                                  "minimum_should_match": 1}}})
        assert names(r) == []

    async def test_model_groups_and_models_follow_group_visibility(self, secured):
        alice, carol = secured.as_user("alice"), secured.as_user("carol")
        conn = await connector(alice, "shared", access_mode="public")
        r = await alice.request("POST", f"{ML}/model_groups/_register", {"name": "alice group", "access_mode": "private"})
        private_group = r.body["model_group_id"]
        r = await carol.request("POST", f"{ML}/model_groups/_register", {"name": "carol group", "access_mode": "public"})
        public_group = r.body["model_group_id"]
        await model(alice, "alice model", conn, model_group_id=private_group)
        await model(carol, "carol model", conn, model_group_id=public_group)
        r = await search(carol, "model_groups", {"query": {"match_all": {}}})
        assert names(r) == ["carol group"]
        r = await search(carol, "models", {"query": {"bool": {"must": [{"match_all": {}}]}}})
        assert names(r) == ["carol model"]
        r = await search(alice, "models", {"query": {"match_all": {}}, "sort": [{"name.keyword": "asc"}]})
        assert names(r) == ["alice model", "carol model"]

    async def test_2_9_non_bool_model_queries_keep_only_models_without_a_group(self, database_url):
        """MLSearchHandler.rewriteQueryBuilder (2.9-2.11): a non-bool query is combined
        with "model_group_id does not exist", so group members drop out."""
        async with release(database_url, "2.9.0", security=USERS_FILE) as emu:
            r = await emu.as_user("admin").request("PUT", "/_cluster/settings", ACCESS_ON)
            assert r.status == 200, r.body
            alice = emu.as_user("alice")
            conn = await connector(alice, "c", access_mode="public")
            await model(alice, "mine", conn)
            assert names(await search(alice, "models", {"query": {"bool": {"must": [{"match_all": {}}]}}})) == ["mine"]
            assert names(await search(alice, "models", {"query": {"match_all": {}}})) == []


class TestHiddenModels:
    async def test_hidden_models_are_left_out_from_2_12(self, emulator, fleet):
        model_id = fleet["models"]["gpt-3.5 chat"]
        async with emulator.context.transaction() as repos:
            doc = await repos.tx.get(rows.MODEL_INDEX, model_id)
            await repos.tx.put(rows.MODEL_INDEX, model_id, {**doc.source, "is_hidden": True}, now=emulator.context.now())
        r = await search(emulator, "models", {"query": {"match": {"name": "gpt"}}})
        assert names(r) == ["gpt-4 chat"]
