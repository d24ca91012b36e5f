"""The REST routes of the emulated cluster and OpenSearch's router semantics over them."""
from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable, Iterable
from urllib.parse import unquote

import attrs

from mlcommons_emu.api import body as bodies
from mlcommons_emu.api import errors as error_rendering
from mlcommons_emu.api import response_params
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import EmulatorError, RouterError
from mlcommons_emu.security import Unauthorized
from mlcommons_emu.services import (
    cluster_settings,
    connectors,
    deployment,
    identity,
    model_groups,
    models,
    predict,
    tasks,
)
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult

Handler = Callable[[Context, RestRequest, dict[str, str]], Awaitable[RestResponse]]
ML = "/_plugins/_ml"
BUILD_HASH = "mlcommons-emu"

_LUCENE = {(2, 9): "9.7.0", (2, 10): "9.7.0", (2, 11): "9.7.0", (2, 12): "9.9.2", (2, 13): "9.10.0",
           (2, 14): "9.10.0", (2, 15): "9.10.0", (2, 16): "9.11.1", (2, 17): "9.11.1", (2, 18): "9.12.0",
           (2, 19): "9.12.1", (3, 0): "10.1.0", (3, 1): "10.2.1", (3, 2): "10.2.2"}


@attrs.frozen
class Route:
    methods: tuple[str, ...]
    pattern: str
    handler: Handler
    since: tuple[int, int] = (2, 9)
    #: a ReplacedRoute's old path answers with a deprecation warning naming the new one
    replaced_by: str | None = None

    @property
    def deprecated(self) -> bool:
        return self.replaced_by is not None

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)

    @property
    def literal_weight(self) -> int:
        return sum(1 for part in self.pattern.split("/") if part and not part.startswith("{"))


_CACHE: dict[str, re.Pattern[str]] = {}


def _compile(pattern: str) -> re.Pattern[str]:
    compiled = _CACHE.get(pattern)
    if compiled is None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        compiled = _CACHE[pattern] = re.compile(f"^{regex}$")
    return compiled


def ok(body: Any, status: int = 200) -> RestResponse:
    return RestResponse(status, body)


def write_response(ctx: Context, result: WriteResult) -> RestResponse:
    """An OpenSearch document-write response.

    The plugin answers through RestToXContentListener, so the status is 200 even when
    ``result`` is ``not_found``.  From 2.19 it writes through the remote-metadata SDK with
    refresh IMMEDIATE, which adds ``forced_refresh``.
    """
    data_nodes = sum(1 for r in ctx.cluster.nodes if r.node.up and r.node.is_data) or 1
    release = ctx.release
    # 2.9 and 2.12 create system indices with one replica (counted even when unassigned);
    # the other releases auto-expand replicas 0-1, so one node reports a single copy.
    if (release.major, release.minor) in ((2, 9), (2, 12)):
        total = 2
    else:
        total = min(2, data_nodes)
    successful = min(total, data_nodes)
    body: dict[str, Any] = {"_index": result.index, "_id": result.doc_id, "_version": result.version,
                            "result": result.result}
    if release >= (2, 19):
        body["forced_refresh"] = True
    body["_shards"] = {"total": total, "successful": successful, "failed": 0}
    body["_seq_no"] = result.seq_no
    body["_primary_term"] = 1
    return RestResponse(200, body)


def _flag(request: RestRequest, name: str) -> bool:
    value = request.query.get(name)
    return value is not None and value.lower() in ("", "true")


# handlers -------------------------------------------------------------------------------
async def root(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    if request.method == "HEAD":
        return RestResponse(200, None)
    release = ctx.release
    lucene = _LUCENE.get((release.major, release.minor), "10.3.1")
    return ok({
        "name": ctx.cluster.coordinator.node.name,
        "cluster_name": ctx.cluster_name,
        "cluster_uuid": ctx.cluster_uuid,
        "version": {
            "distribution": "opensearch",
            "number": release.number,
            "build_type": "tar",
            "build_hash": BUILD_HASH,
            "build_date": "2026-01-01T00:00:00.000000Z",
            "build_snapshot": False,
            "lucene_version": lucene,
            "minimum_wire_compatibility_version": "2.19.0" if release.major >= 3 else "7.10.0",
            "minimum_index_compatibility_version": "2.0.0" if release.major >= 3 else "7.0.0",
        },
        "tagline": "The OpenSearch Project: https://opensearch.org/",
    })


async def get_settings(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    return ok(cluster_settings.get(ctx, flat=_flag(request, "flat_settings"),
                                   include_defaults=_flag(request, "include_defaults")))


async def put_settings(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    result = await cluster_settings.update(ctx, bodies.parse_object(request))
    if _flag(request, "flat_settings"):
        from mlcommons_emu.domain.settings import flatten

        result = {**result, "persistent": flatten(result["persistent"]), "transient": flatten(result["transient"])}
    return ok(result)


async def create_connector(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    connectors.check_remote_inference_enabled(ctx)
    if not bodies.has_content(request):
        from mlcommons_emu.errors import IOError_

        raise IOError_("Create Connector request has empty body")
    return ok(await connectors.create(ctx, bodies.parse_object(request) or {}))


async def get_connector(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await connectors.get(ctx, p["connector_id"]))


async def delete_connector(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return write_response(ctx, await connectors.delete(ctx, p["connector_id"]))


def update_response(ctx: Context, result: WriteResult, *, forced_refresh: bool) -> RestResponse:
    """An OpenSearch update response (``UpdateResponse``).

    ``forced_refresh`` appears only when the update asked for an immediate refresh.  A
    ``noop`` (nothing changed) wrote nothing: the stored version and sequence number, and
    no shard copies.
    """
    written = write_response(ctx, result).body
    body: dict[str, Any] = {}
    for key in ("_index", "_id", "_version", "result"):
        body[key] = written[key]
    noop = result.result == "noop"
    if forced_refresh and not noop:
        body["forced_refresh"] = True
    body["_shards"] = {"total": 0, "successful": 0, "failed": 0} if noop else written["_shards"]
    body["_seq_no"] = written["_seq_no"]
    body["_primary_term"] = written["_primary_term"]
    return RestResponse(200, body)


async def update_connector(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    connectors.check_update_enabled(ctx)
    result = await connectors.update(ctx, p["connector_id"], bodies.parse_object(request))
    return update_response(ctx, result, forced_refresh=connectors.forces_refresh_on_update(ctx.release))


async def register_group(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    return ok(await model_groups.register(ctx, bodies.parse_object(request)))


async def get_group(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await model_groups.get(ctx, p["model_group_id"]))


async def update_group(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await model_groups.update(ctx, p["model_group_id"], bodies.parse_object(request)))


async def delete_group(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return write_response(ctx, await model_groups.delete(ctx, p["model_group_id"]))


async def register_model(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
    deploy = _flag(request, "deploy")
    return ok(await models.register(ctx, bodies.parse_object(request), deploy=deploy))


async def get_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await models.get(ctx, p["model_id"]))


async def delete_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return write_response(ctx, await models.delete(ctx, p["model_id"]))


async def update_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    result = await models.update(ctx, p["model_id"], bodies.parse_object(request))
    return update_response(ctx, result, forced_refresh=models.forces_refresh_on_update(ctx.release))


async def deploy_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await deployment.deploy(ctx, p["model_id"], bodies.parse_object(request)))


async def undeploy_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    body = bodies.parse_object(request) or {}
    from mlcommons_emu.services import inputs

    model_ids = inputs.string_list(body.get("model_ids"), "model_ids") or None
    node_ids = inputs.string_list(body.get("node_ids"), "node_ids") or None
    if "model_id" in p and not model_ids:
        model_ids = [p["model_id"]]
    return ok(await deployment.undeploy(ctx, model_ids, node_ids, single="model_id" in p))


async def predict_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    # RestMLPredictionAction reads ``algorithm`` from the request params, so the query
    # string can pick the input parser here too (``?algorithm=text_embedding`` + text_docs)
    if request.query.get("algorithm"):
        return await predict_algorithm(ctx, request, {**p, "algorithm": request.query["algorithm"]})
    return ok(await predict.predict(ctx, p["model_id"], bodies.parse_object(request)))


async def predict_algorithm(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    from mlcommons_emu.services import inputs

    # FunctionName.from: a name the release does not have yet is as wrong as an unknown one
    algorithm = inputs.function_name(p["algorithm"], ctx.release).name
    return ok(await predict.predict(ctx, p["model_id"], bodies.parse_object(request), algorithm=algorithm))


async def predict_stream(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """RestMLPredictionStreamAction (3.3+): refused while ``stream_enabled`` is off (its
    default); a model that does not exist is 404 before the stream opens."""
    return ok(await predict.predict_stream(ctx, p["model_id"], bodies.parse_object(request)))


async def local_model_upload(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """RestMLRegisterModelMetaAction / RestMLUploadModelChunkAction: uploading a local
    model's files, refused while ``allow_registering_model_via_local_file`` is off."""
    raise models.local_upload_error(ctx, chunk="chunk_number" in p, has_body=bodies.has_content(request))


async def batch_predict_model(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    from mlcommons_emu.services import batch

    return ok(await batch.batch_predict(ctx, p["model_id"], bodies.parse_object(request)))


async def cancel_batch_task(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    from mlcommons_emu.services import batch

    return ok(await batch.cancel_task(ctx, p["task_id"]))


def _search(kind: str) -> Handler:
    async def handler(ctx: Context, request: RestRequest, _: dict[str, str]) -> RestResponse:
        from mlcommons_emu.services import search

        return ok(await search.search(ctx, kind, request))

    handler.__name__ = f"search_{kind}"
    return handler


async def get_task(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return ok(await tasks.get(ctx, p["task_id"]))


async def delete_task(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    return write_response(ctx, await tasks.delete(ctx, p["task_id"]))


async def ml_profile(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """RestMLProfileAction: a body is the whole input; else the path and the raw URI."""
    from mlcommons_emu.services import profile

    return ok(await profile.get(ctx, uri=request.uri, model_id=p.get("model_id"), task_id=p.get("task_id"),
                                body=bodies.parse_object(request), view=request.query.get("view")))


async def ml_stats(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """RestMLStatsAction: a body (MLStatsInput) wins over ``{node_id}`` and ``{stat}``."""
    from mlcommons_emu.services import stats

    return ok(await stats.get(ctx, node_id=p.get("node_id"), stat=p.get("stat"), body=bodies.parse_object(request)))


async def create_controller(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    from mlcommons_emu.services import controllers

    return ok(await controllers.create(ctx, p["model_id"], bodies.parse_object(request)))


async def get_controller(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    from mlcommons_emu.services import controllers

    return ok(await controllers.get(ctx, p["model_id"]))


async def update_controller(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """An UpdateRequest with refresh IMMEDIATE (``forced_refresh`` unless a noop)."""
    from mlcommons_emu.services import controllers

    result = await controllers.update(ctx, p["model_id"], bodies.parse_object(request))
    return update_response(ctx, result, forced_refresh=True)


async def delete_controller(ctx: Context, request: RestRequest, p: dict[str, str]) -> RestResponse:
    """A DeleteRequest with refresh IMMEDIATE: ``forced_refresh`` follows ``result``."""
    from mlcommons_emu.services import controllers

    written = write_response(ctx, await controllers.delete(ctx, p["model_id"])).body
    body: dict[str, Any] = {}
    for key, value in written.items():
        if key != "forced_refresh":
            body[key] = value
        if key == "result":
            body["forced_refresh"] = True
    return RestResponse(200, body)


ROUTES: tuple[Route, ...] = (
    Route(("GET", "HEAD"), "/", root),
    Route(("GET",), "/_cluster/settings", get_settings),
    Route(("PUT",), "/_cluster/settings", put_settings),
    Route(("POST",), f"{ML}/connectors/_create", create_connector),
    Route(("GET", "POST"), f"{ML}/connectors/_search", _search("connectors")),
    Route(("GET",), f"{ML}/connectors/{{connector_id}}", get_connector),
    Route(("PUT",), f"{ML}/connectors/{{connector_id}}", update_connector, since=(2, 11)),
    Route(("DELETE",), f"{ML}/connectors/{{connector_id}}", delete_connector),
    Route(("POST",), f"{ML}/model_groups/_register", register_group),
    Route(("GET", "POST"), f"{ML}/model_groups/_search", _search("model_groups")),
    Route(("GET",), f"{ML}/model_groups/{{model_group_id}}", get_group, since=(2, 12)),
    Route(("PUT",), f"{ML}/model_groups/{{model_group_id}}", update_group),
    Route(("DELETE",), f"{ML}/model_groups/{{model_group_id}}", delete_group),
    Route(("POST",), f"{ML}/models/_register", register_model),
    Route(("POST",), f"{ML}/models/{{model_id}}/{{version}}/_register", register_model),
    Route(("POST",), f"{ML}/models/_upload", register_model, replaced_by=f"{ML}/models/_register"),
    Route(("POST",), f"{ML}/models/{{model_id}}/{{version}}/_upload", register_model,
          replaced_by=f"{ML}/models/{{model_id}}/{{version}}/_register"),
    Route(("POST",), f"{ML}/models/_register_meta", local_model_upload),
    Route(("POST",), f"{ML}/models/meta", local_model_upload, replaced_by=f"{ML}/models/_register_meta"),
    Route(("POST",), f"{ML}/models/{{model_id}}/upload_chunk/{{chunk_number}}", local_model_upload),
    Route(("POST",), f"{ML}/models/{{model_id}}/chunk/{{chunk_number}}", local_model_upload,
          replaced_by=f"{ML}/models/{{model_id}}/upload_chunk/{{chunk_number}}"),
    Route(("GET", "POST"), f"{ML}/models/_search", _search("models")),
    Route(("GET",), f"{ML}/models/{{model_id}}", get_model),
    Route(("PUT",), f"{ML}/models/{{model_id}}", update_model, since=(2, 12)),
    Route(("DELETE",), f"{ML}/models/{{model_id}}", delete_model),
    Route(("POST",), f"{ML}/models/{{model_id}}/_deploy", deploy_model),
    Route(("POST",), f"{ML}/models/{{model_id}}/_load", deploy_model, replaced_by=f"{ML}/models/{{model_id}}/_deploy"),
    Route(("POST",), f"{ML}/models/{{model_id}}/_undeploy", undeploy_model),
    Route(("POST",), f"{ML}/models/{{model_id}}/_unload", undeploy_model,
          replaced_by=f"{ML}/models/{{model_id}}/_undeploy"),
    Route(("POST",), f"{ML}/models/_undeploy", undeploy_model),
    Route(("POST",), f"{ML}/models/_unload", undeploy_model, replaced_by=f"{ML}/models/_undeploy"),
    Route(("POST",), f"{ML}/models/{{model_id}}/_predict", predict_model),
    Route(("POST",), f"{ML}/models/{{model_id}}/_predict/stream", predict_stream, since=(3, 3)),
    Route(("POST",), f"{ML}/_predict/{{algorithm}}/{{model_id}}", predict_algorithm),
    Route(("POST",), f"{ML}/models/{{model_id}}/_batch_predict", batch_predict_model, since=(2, 16)),
    Route(("POST",), f"{ML}/tasks/{{task_id}}/_cancel", cancel_batch_task, since=(2, 17)),
    Route(("GET", "POST"), f"{ML}/tasks/_search", _search("tasks")),
    Route(("GET",), f"{ML}/tasks/{{task_id}}", get_task),
    Route(("DELETE",), f"{ML}/tasks/{{task_id}}", delete_task),
    Route(("POST",), f"{ML}/controllers/{{model_id}}", create_controller, since=(2, 12)),
    Route(("GET",), f"{ML}/controllers/{{model_id}}", get_controller, since=(2, 12)),
    Route(("PUT",), f"{ML}/controllers/{{model_id}}", update_controller, since=(2, 12)),
    Route(("DELETE",), f"{ML}/controllers/{{model_id}}", delete_controller, since=(2, 12)),
    Route(("GET",), f"{ML}/profile/models/{{model_id}}", ml_profile),
    Route(("GET",), f"{ML}/profile/models", ml_profile),
    Route(("GET",), f"{ML}/profile/tasks/{{task_id}}", ml_profile),
    Route(("GET",), f"{ML}/profile/tasks", ml_profile),
    Route(("GET",), f"{ML}/profile", ml_profile),
    Route(("GET",), f"{ML}/stats/{{stat}}", ml_stats),
    Route(("GET",), f"{ML}/stats", ml_stats),
    Route(("GET",), f"{ML}/{{node_id}}/stats/{{stat}}", ml_stats),
    Route(("GET",), f"{ML}/{{node_id}}/stats", ml_stats),
)


def _normalise(path: str) -> str:
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/") or "/"
    return path


class _RouteTable:
    """The routes a release serves, as a tree of path segments.

    A path is matched segment by segment, literal children and ``{param}`` children both
    followed, so a lookup costs the path's depth rather than one regex per route.  The
    matches come back most literal first, as the route list is searched (``/models/_search``
    before ``/models/{model_id}``); parameter values are percent-decoded.
    """

    def __init__(self, routes: Iterable[Route]) -> None:
        self._root: dict[str, Any] = {}
        for order, route in enumerate(routes):
            node = self._root
            names: list[str] = []
            for part in route.pattern.split("/")[1:]:
                if part.startswith("{") and part.endswith("}"):
                    names.append(part[1:-1])
                    part = _PARAM
                node = node.setdefault(part, {})
            node.setdefault(_LEAF, []).append((-route.literal_weight, order, route, tuple(names)))

    def match(self, path: str) -> list[tuple[Route, dict[str, str]]]:
        found: list[tuple[int, int, Route, dict[str, str]]] = []
        self._walk(self._root, path.split("/")[1:], 0, [], found)
        found.sort(key=lambda m: (m[0], m[1]))
        return [(route, params) for _, _, route, params in found]

    def _walk(self, node: dict[str, Any], parts: list[str], depth: int, values: list[str],
              found: list[tuple[int, int, Route, dict[str, str]]]) -> None:
        if depth == len(parts):
            for weight, order, route, names in node.get(_LEAF, ()):
                found.append((weight, order, route, {n: unquote(v) for n, v in zip(names, values)}))
            return
        part = parts[depth]
        child = node.get(part)
        if child is not None:
            self._walk(child, parts, depth + 1, values, found)
        child = node.get(_PARAM)
        if child is not None and part:  # a parameter is one non-empty segment
            values.append(part)
            self._walk(child, parts, depth + 1, values, found)
            values.pop()


_PARAM, _LEAF = object(), object()
_TABLES: dict[Release, _RouteTable] = {}


def _table(routes: tuple[Route, ...], release: Release) -> _RouteTable:
    """The route table of ``routes`` as served by ``release``: built once per release for
    the REST API, on each call for other route sets (the admin API's, per emulator)."""
    if routes is not ROUTES:
        return _RouteTable(r for r in routes if not release < r.since)
    table = _TABLES.get(release)
    if table is None:
        table = _TABLES[release] = _RouteTable(r for r in routes if not release < r.since)
    return table


async def dispatch(ctx: Context, request: RestRequest, routes: tuple[Route, ...] = ROUTES) -> RestResponse:
    """Route one request; every failure becomes an OpenSearch error body; the response
    parameters (``filter_path``, ``error_trace``) shape the body."""
    response = await _route(ctx, request, routes)
    if request.query and isinstance(response.body, (dict, list)):
        shaped = response_params.apply(response.body, response.status, dict(request.query))
        if shaped is not response.body:
            response = attrs.evolve(response, body=shaped)
    return response


async def _route(ctx: Context, request: RestRequest, routes: tuple[Route, ...]) -> RestResponse:
    try:
        path = _normalise(request.path)
        # the security plugin authenticates before the router runs: unknown paths get 401 too
        user = ctx.security.authenticate(request.header("Authorization")) if ctx.security else None
        matches = _table(routes, ctx.release).match(path)
        if not matches:
            raise RouterError(f"no handler found for uri [{request.uri}] and method [{request.method}]", 400)
        for route, params in matches:
            if request.method in route.methods:
                bodies.check_content_type(request)
                if user is not None:
                    ctx.security.authorize(user, request.method, path)
                token = identity.CALLER.set(user)
                try:
                    response = await _handle(ctx, request, route, params)
                finally:
                    identity.CALLER.reset(token)
                if route.deprecated:
                    # DeprecationRestHandler warns before the handler runs: errors carry it too.
                    # RestController.registerAsReplacedHandler's text, HeaderWarning's warn-agent
                    method = request.method
                    response = attrs.evolve(response, headers={
                        **response.headers, "Warning": f'299 OpenSearch-{ctx.release.number}-{BUILD_HASH} "[{method} '
                        f'{route.pattern}] is deprecated! Use [{method} {route.replaced_by}] instead."'})
                return response
        allowed: list[str] = []
        for route, _ in matches:
            for method in route.methods:
                if method not in allowed:
                    allowed.append(method)
        if request.method == "OPTIONS":
            return RestResponse(200, None, {"Allow": ",".join(allowed)})
        raise RouterError(
            f"Incorrect HTTP method for uri [{request.uri}] and method [{request.method}], "
            f"allowed: [{', '.join(allowed)}]", 405)
    except Unauthorized:
        return RestResponse(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="OpenSearch Security"'})
    except EmulatorError as exc:
        return error_rendering.render(exc)
    except Exception as exc:  # noqa: BLE001 - a bug must never leak a traceback
        return error_rendering.render_unexpected(exc)


async def _handle(ctx: Context, request: RestRequest, route: Route, params: dict[str, str]) -> RestResponse:
    """The handler's answer; a failure it raises is rendered here, so the route's
    response headers still apply."""
    try:
        return await route.handler(ctx, request, params)
    except EmulatorError as exc:
        return error_rendering.render(exc)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(response: RestResponse, *, pretty: bool = False) -> bytes:
    """The body as OpenSearch writes it: UTF-8 JSON (or the given text).

    A lone surrogate (a Java string can hold one, e.g. read from a ``"\\ud800"`` escape)
    has no UTF-8 form; Jackson's UTF-8 generator writes it as a ``\\uD800`` escape.
    """
    if response.body is None:
        return b""
    if isinstance(response.body, str):
        return response.body.encode("utf-8")
    if pretty:
        text = json.dumps(response.body, indent=2, ensure_ascii=False) + "\n"
    else:
        text = json.dumps(response.body, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: rare, so looked for only then
        return _LONE_SURROGATE.sub(lambda m: "\\u%04X" % ord(m.group()), text).encode("utf-8")
