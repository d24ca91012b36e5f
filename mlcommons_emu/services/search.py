"""``_search`` over connectors, model groups, models and tasks, as the plugin runs them.

The REST layer (AbstractMLSearchAction) parses the body with SearchSourceBuilder, then
rebuilds the fetch-source context (RestActionUtils.getSourceContext): ``ui_metadata`` is
excluded unless the User-Agent is OpenSearch Dashboards, and the rebuilt context always
fetches the source, so ``"_source": false`` still returns it.  When the caller gave no
``_source``, ``model_content`` and ``content`` are excluded too; when it did, they are not
(the plugin drops the result of ``ArrayUtils.add``).  Every hit carries ``_version``,
``_seq_no`` and ``_primary_term``.

Then each transport action adds its own parts:

- connectors (SearchConnectorTransportAction): ``credential`` excluded; with connector
  access control in effect for a non-admin, the user's filter is added (public, a shared
  backend role, or private and owned); errors pass through unwrapped.
- model groups (SearchModelGroupTransportAction): the same filter under model access
  control; errors wrapped as ``Fail to search``.
- models (MLSearchHandler): ``connector.credential`` excluded; from 2.12 hidden models are
  filtered out; under model access control the visible group ids (up to 10,000) gate the
  models by ``model_group_id``, through the plugin's own rewrite, whose non-bool branch only
  keeps models without a group (2.9–2.11, where the query reaching it is not yet wrapped in
  the hidden-model bool); errors wrapped as ``Fail to search model version``.
- tasks (SearchTaskTransportAction): nothing added.

A missing index is a 404 ``index_not_found_exception`` before 2.12 and an empty result
from 2.12 on.  Credentials are never in a hit: connectors' ``credential`` and models'
``connector.credential`` are excluded whatever the request asks.
"""
from __future__ import annotations

import weakref
from typing import Any

from mlcommons_emu.api import body as bodies
from mlcommons_emu.api.messages import RestRequest
from mlcommons_emu.domain import access
from mlcommons_emu.errors import (EmulatorError, IllegalArgumentError, IndexNotFoundError, ParseError,
                                  SearchPhaseError, StatusError)
from mlcommons_emu.search import dsl, execute
from mlcommons_emu.search import query as q
from mlcommons_emu.services import identity
from mlcommons_emu.services.context import Context
from mlcommons_emu.store import rows

DASHBOARDS_USER_AGENT = "OpenSearch Dashboards"
INDICES = {"connectors": rows.CONNECTOR_INDEX, "model_groups": rows.MODEL_GROUP_INDEX, "models": rows.MODEL_INDEX,
           "tasks": rows.TASK_INDEX}
#: the general message wrapRestActionListener answers with (None: errors unwrapped)
_WRAPPED = {"models": "Fail to search model version", "model_groups": "Fail to search"}


def parse_request(request: RestRequest) -> dsl.SearchSource:
    """RestRequest.contentOrSourceParamParser, then SearchSourceBuilder.parseXContent."""
    if not bodies.has_content(request):
        source_param = request.query.get("source")
        if not source_param:
            raise ParseError("request body or source parameter is required")
        request = RestRequest(request.method, request.path, request.query, request.headers,
                              source_param.encode("utf-8"), request.raw_uri)
    body = bodies.parse_object(request) or {}
    return dsl.parse_source(body, request.body.decode("utf-8", "replace"))


def fetch_context(source: dsl.SearchSource, user_agent: str | None) -> tuple[list[str], list[str]]:
    """(includes, excludes) after RestActionUtils.getSourceContext."""
    dashboards = DASHBOARDS_USER_AGENT in (user_agent or "")
    if source.source_given:
        excludes = list(source.excludes)
    else:
        excludes = ["content", "model_content"]
    if not dashboards:
        excludes.append("ui_metadata")
    return list(source.includes), excludes


async def search(ctx: Context, kind: str, request: RestRequest) -> dict[str, Any]:
    source = parse_request(request)
    index = INDICES[kind]
    includes, excludes = fetch_context(source, request.header("User-Agent"))
    if kind == "connectors":
        excludes.append("credential")
    elif kind == "models":
        excludes.append("connector.credential")
    source.fetch_source = True
    source.includes, source.excludes = includes, excludes
    async with ctx.transaction() as repos:
        if not await repos.tx.index_exists(index):
            if ctx.release >= (2, 12):
                return execute.empty_response()
            raise IndexNotFoundError(index)
        query = await _effective_query(ctx, kind, source.query, repos)
        snapshot = await _snapshot(ctx, repos, index)
    try:
        return execute.run(source, query, snapshot, ctx.now())
    except q.ShardError as failure:
        raise _search_failure(ctx, kind, index, failure.error) from None


#: (store, index) -> (signature, snapshot): repeated searches of an unchanged index reuse
#: its parsed documents and term statistics
_SNAPSHOTS: "weakref.WeakKeyDictionary[Any, dict[str, tuple[Any, q.Snapshot]]]" = weakref.WeakKeyDictionary()


async def _snapshot(ctx: Context, repos: Any, index: str) -> q.Snapshot:
    signature = await repos.tx.index_signature(index)
    per_store = _SNAPSHOTS.setdefault(ctx.store, {})
    cached = per_store.get(index)
    if cached is not None and cached[0] == signature:
        return cached[1]
    stored = await repos.tx.find(index)
    # a stored document has what a search reads of it: id, source, version, seq_no
    snapshot = q.Snapshot(index, stored)
    per_store[index] = (signature, snapshot)
    return snapshot


def _search_failure(ctx: Context, kind: str, index: str, error: EmulatorError) -> EmulatorError:
    general = _WRAPPED.get(kind)
    if general is None:
        return SearchPhaseError(error, index=index, node_id=_data_node(ctx))
    # wrapRestActionListener: the root cause's message when it is a bad request
    # (IllegalArgumentException), otherwise the general message with 500
    root = error
    while root.caused_by is not None:
        root = root.caused_by
    if isinstance(root, IllegalArgumentError):
        return StatusError(root.reason, 400)
    return StatusError(general, 500)


def _data_node(ctx: Context) -> str:
    for runtime in ctx.cluster.nodes:
        if runtime.node.up and runtime.node.is_data:
            return runtime.node_id
    return ctx.cluster.coordinator.node_id


# access and visibility filters --------------------------------------------------------------
def _owner_filter(user: access.User) -> q.Query:
    """add UserBackendRolesFilter: public, a shared backend role, or private and owned."""
    return q.Bool(should=[
        q.Term("access", access.PUBLIC),
        q.Terms("backend_roles.keyword", list(user.backend_roles)),
        q.Bool(must=[q.Nested("owner", q.Term("owner.name.keyword", user.name), "none"),
                     q.Term("access", access.PRIVATE)]),
    ])


def _with_filter(query: q.Query | None, gate: q.Query) -> q.Query:
    if query is None:
        return gate
    if isinstance(query, q.Bool):
        query.filter.append(gate)
        return query
    return q.Bool(must=[query], filter=[gate])


async def _effective_query(ctx: Context, kind: str, query: q.Query | None, repos: Any) -> q.Query | None:
    if kind == "connectors":
        user = identity.connector_access_user(ctx)
        if user is not None and not user.is_admin:
            return _with_filter(query, _owner_filter(user))
        return query
    if kind == "model_groups":
        user = identity.model_access_user(ctx)
        if user is not None and not user.is_admin:
            return _with_filter(query, _owner_filter(user))
        return query
    if kind != "models":
        return query
    if ctx.release >= (2, 12):
        hidden_gate = q.Bool(should=[q.Term("is_hidden", False), q.Bool(must_not=[q.Exists("is_hidden")])],
                             minimum_should_match=1)
        query = q.Bool(must=[query] if query is not None else [], filter=[hidden_gate])
    user = identity.model_access_user(ctx)
    if user is None or user.is_admin or not await repos.tx.index_exists(rows.MODEL_GROUP_INDEX):
        return query
    groups = await _snapshot(ctx, repos, rows.MODEL_GROUP_INDEX)
    group_search = dsl.SearchSource(size=dsl.MAX_RESULT_WINDOW)
    visible = execute.run(group_search, _owner_filter(user), groups, ctx.now())
    ids = [hit["_id"] for hit in visible["hits"]["hits"]]
    return _gate_models(query, ids)


def _gate_models(query: q.Query | None, group_ids: list[str]) -> q.Query:
    """MLSearchHandler.rewriteQueryBuilder, its non-bool branch included."""
    no_group = q.Bool(must_not=[q.Exists("model_group_id")])
    gate = q.Bool(should=([q.Terms("model_group_id", group_ids)] if group_ids else []) + [no_group])
    if query is None:
        return gate
    if isinstance(query, q.Bool):
        query.must.append(gate)
        return query
    return q.Bool(must=[query, no_group])

