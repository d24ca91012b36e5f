"""``GET /_plugins/_ml/profile[/models[/{model_id}]|/tasks[/{task_id}]]``: what the nodes hold.

Taken from the plugin source (RestMLProfileAction, MLProfileInput, MLProfileTransportAction,
MLProfileNodeResponse, MLProfileResponse, MLProfileModelResponse, MLModelProfile,
MLModelCacheHelper.getModelProfile, MLTask.toXContent) at 2.9.0.0 ... 3.8.0.0:

* Input: a request body, when there is one, is the whole input (``node_ids``,
  ``model_ids``, ``task_ids`` arrays, ``return_all_tasks``, ``return_all_models``;
  unknown members skipped) and the path is ignored.  Without a body, the path's
  comma-separated ``model_id`` / ``task_id`` are the ids; ``/profile/models`` returns all
  models, ``/profile/tasks`` all tasks (the raw URI is searched for ``models`` and
  ``tasks``), ``/profile`` both.  ``?view=node`` (default) or ``model``; another view
  answers ``{}``.
* No ``node_ids``: every node; otherwise the ids resolve like any node selector.
* Each node reports the tasks in its memory (``MLTaskManager``: deploy tasks while they
  run) and the models in its cache (``MLModelCacheHelper``): a node that serves a model
  reports ``model_state``, ``predictor`` (the Java object's ``toString``,
  ``org.opensearch.ml.engine.algorithms.remote.RemoteModel@<hash>``),
  ``target_worker_nodes``, ``worker_nodes`` and its latency windows; other nodes learn the
  routing table from the sync-up (``worker_nodes`` only, when the cluster has more than one
  node) and keep the ``predict_request_stats`` of calls they received.
* Nodes with nothing to report are left out of the decision: when no node has anything,
  the answer is ``{}``; otherwise (node view) every responding node is written, the empty
  ones as ``{}``.  Model view: per model ``target_worker_nodes`` and ``worker_nodes`` (of
  the first node reporting it), ``nodes`` (each node's profile without those two) and
  ``tasks``.
* 2.14+: the hidden-model search runs first; on a cluster without the model index it
  fails and the answer is ``{}``.
"""
from __future__ import annotations

from typing import Any, Mapping

import attrs

from mlcommons_emu.cluster import modelcache
from mlcommons_emu.cluster.nodes import NodeRuntime
from mlcommons_emu.errors import ParsingError
from mlcommons_emu.services import inputs
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.stats import node_cache, resolve_nodes, sync_caches
from mlcommons_emu.store import rows

PREDICTOR_CLASS = "org.opensearch.ml.engine.algorithms.remote.RemoteModel"


@attrs.define
class ProfileInput:
    """MLProfileInput."""

    model_ids: set[str] = attrs.field(factory=set)
    task_ids: set[str] = attrs.field(factory=set)
    node_ids: list[str] = attrs.field(factory=list)
    return_all_tasks: bool = False
    return_all_models: bool = False


def _array(value: Any) -> list[str]:
    """``parseArrayField``: an array (START_ARRAY expected); texts kept, nulls skipped."""
    if not isinstance(value, list):
        token = ("START_OBJECT" if isinstance(value, dict) else "VALUE_BOOLEAN" if isinstance(value, bool)
                 else "VALUE_STRING" if isinstance(value, str) else "VALUE_NULL" if value is None else "VALUE_NUMBER")
        raise ParsingError(f"Failed to parse object: expecting token of type [START_ARRAY] but found [{token}]")
    return [t for t in (inputs.text(v, "value") for v in value) if t is not None]


def parse_input(body: Mapping[str, Any]) -> ProfileInput:
    """``MLProfileInput.parse``."""
    result = ProfileInput()
    for key, value in body.items():
        if key == "model_ids":
            result.model_ids = set(_array(value))
        elif key == "task_ids":
            result.task_ids = set(_array(value))
        elif key == "node_ids":
            result.node_ids = _array(value)
        elif key == "return_all_tasks":
            result.return_all_tasks = bool(inputs.boolean(value, key))
        elif key == "return_all_models":
            result.return_all_models = bool(inputs.boolean(value, key))
    return result


def input_from_params(uri: str, model_id: str | None, task_id: str | None) -> ProfileInput:
    """``createMLProfileInputFromRequestParams``."""
    result = ProfileInput()
    profile_models = "models" in uri
    profile_tasks = "tasks" in uri
    if model_id is not None:
        result.model_ids = set(model_id.split(","))
    elif profile_models:
        result.return_all_models = True
    if task_id is not None:
        result.task_ids = set(task_id.split(","))
    elif profile_tasks:
        result.return_all_tasks = True
    if not profile_models and not profile_tasks:
        result.return_all_tasks = result.return_all_models = True
    return result


def predictor_name(deployed: Any) -> str:
    """``Object.toString`` of the node's predictor: class name and identity hash."""
    return f"{PREDICTOR_CLASS}@{id(deployed) & 0x7FFFFFFF:x}"


def _task(task: Any) -> dict[str, Any]:
    """``MLTask.toXContent`` of a cached task (``task_id`` first)."""
    return {"task_id": task.task_id, **rows.task_to_document(task)}


def _target_nodes(ctx: Context, entry: modelcache.ModelEntry) -> list[str]:
    """The cache's target worker nodes; for a deploy to all nodes the sync-up keeps them to
    the eligible nodes still in the cluster."""
    if entry.deploy_to_all_nodes:
        from mlcommons_emu.services import deployment

        eligible = set(deployment.eligible(ctx))
        kept = [n for n in entry.target_worker_nodes if n in eligible]
        return kept + [n for n in deployment.eligible(ctx) if n not in kept]
    return list(entry.target_worker_nodes)


def model_profile(ctx: Context, runtime: NodeRuntime, model_id: str) -> dict[str, Any] | None:
    """``MLModelCacheHelper.getModelProfile`` on one node (None: no cache entry)."""
    cache = node_cache(ctx, runtime.node_id)
    entry = cache.models.get(model_id)
    workers = [r.node_id for r in ctx.cluster.serving(model_id)]
    held = model_id in runtime.models
    multi_node = sum(1 for r in ctx.cluster.nodes if r.node.up) > 1
    if not held and entry is None and not (workers and multi_node):
        return None
    out: dict[str, Any] = {}
    deploying = not held and entry is not None and entry.deploying
    if held or deploying:
        out["model_state"] = "DEPLOYED" if held else "DEPLOYING"
        if held:
            out["predictor"] = predictor_name(runtime.models[model_id])
        if entry is not None:
            targets = _target_nodes(ctx, entry)
            if targets:
                out["target_worker_nodes"] = targets
    if workers and (held or multi_node):
        out["worker_nodes"] = workers
    if entry is not None:
        inference = entry.inference.stats()
        if inference is not None:
            out["model_inference_stats"] = inference
        requests = entry.requests.stats()
        if requests is not None:
            out["predict_request_stats"] = requests
    return out


def _node_profile(ctx: Context, runtime: NodeRuntime, inp: ProfileInput) -> tuple[dict[str, Any], dict[str, Any]]:
    cache = node_cache(ctx, runtime.node_id)
    tasks = {tid: _task(t) for tid, t in cache.tasks.items() if inp.return_all_tasks or tid in inp.task_ids}
    candidates = list(runtime.models)
    for model_id in [m for r in ctx.cluster.nodes if r.node.up for m in r.models] + list(cache.models):
        if model_id not in candidates:
            candidates.append(model_id)
    models: dict[str, Any] = {}
    for model_id in candidates:
        if inp.return_all_models or model_id in inp.model_ids:
            profile = model_profile(ctx, runtime, model_id)
            if profile is not None:
                models[model_id] = profile
    return tasks, models


async def get(ctx: Context, *, uri: str, model_id: str | None, task_id: str | None,
              body: Mapping[str, Any] | None, view: str | None) -> dict[str, Any]:
    inp = parse_input(body) if body is not None else input_from_params(uri, model_id, task_id)
    view = view or "node"
    if ctx.release >= (2, 14):
        async with ctx.transaction() as repos:
            if not await repos.models.exists():
                return {}
    sync_caches(ctx)
    nodes = resolve_nodes(ctx, inp.node_ids)
    profiles = [(r, *_node_profile(ctx, r, inp)) for r in nodes]
    reporting = [(r, tasks, models) for r, tasks, models in profiles if tasks or models]
    if not reporting:
        return {}
    if view == "node":
        out: dict[str, Any] = {}
        for runtime, tasks, models in profiles:
            entry: dict[str, Any] = {}
            if tasks:
                entry["tasks"] = tasks
            if models:
                entry["models"] = models
            out[runtime.node_id] = entry
        return {"nodes": out}
    if view == "model":
        return {"models": _model_view(reporting)}
    return {}


def _model_view(reporting: list[tuple[NodeRuntime, dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """``RestMLProfileAction.buildModelCentricResult``."""
    merged: dict[Any, dict[str, Any]] = {}
    for runtime, tasks, models in reporting:
        for model_id, profile in models.items():
            item = merged.setdefault(model_id, {"target_worker_nodes": profile.get("target_worker_nodes"),
                                                "worker_nodes": profile.get("worker_nodes"),
                                                "nodes": {}, "tasks": {}})
            if item["target_worker_nodes"] is None or item["worker_nodes"] is None:
                item["target_worker_nodes"] = profile.get("target_worker_nodes")
                item["worker_nodes"] = profile.get("worker_nodes")
            item["nodes"][runtime.node_id] = {k: v for k, v in profile.items()
                                              if k not in ("target_worker_nodes", "worker_nodes")}
        for task_id, task in tasks.items():
            item = merged.setdefault(task.get("model_id"), {"target_worker_nodes": None, "worker_nodes": None,
                                                             "nodes": {}, "tasks": {}})
            item["tasks"][task_id] = task
    out: dict[Any, Any] = {}
    for model_id, item in merged.items():
        rendered: dict[str, Any] = {}
        if item["target_worker_nodes"] is not None:
            rendered["target_worker_nodes"] = item["target_worker_nodes"]
        if item["worker_nodes"] is not None:
            rendered["worker_nodes"] = item["worker_nodes"]
        if item["nodes"]:
            rendered["nodes"] = item["nodes"]
        if item["tasks"]:
            rendered["tasks"] = item["tasks"]
        out["null" if model_id is None else model_id] = rendered
    return out
