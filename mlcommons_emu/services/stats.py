"""``GET /_plugins/_ml/stats``, and the counting the plugin does as models are used.

The counters themselves are per node (``mlcommons_emu.cluster.stats``).  The functions in
the first half of this module are called by the other services at the points where the
plugin increments them; which counter moves when was read from the plugin source at each
release tag (2.9.0.0 ... 3.8.0.0):

* register (``MLModelManager.registerMLRemoteModel``, the coordinating node): the node's
  request count and ``algorithms.remote.register.ml_action_request_count``; the executing
  task count goes up and back down.  In 2.9 a remote register passed through
  ``registerMLModel`` and, once the group was bumped, ``indexRemoteModel``; each counts the
  request once and adds to the executing count twice (its ``finally`` increments instead of
  decrementing): a successful register counts +2, +2 and +4.
  A failed register (``handleException``) adds a register failure, and from 2.10 a node
  failure, except for ``MLLimitExceededException``, ``MLResourceNotFoundException`` (the
  group index is missing) and ``IllegalArgumentException``; 2.9 counts every failure and
  has no node failure count there.
* deploy (``MLModelManager.deployModel``, on every target node): the deploy action count
  always; the node's request count from 2.10; ``models.<id>.deploy`` from 2.11; the
  deployed-model count when the node had not deployed the model already.  A failure counts
  (``handleDeployModelException``) only where the predictor was built synchronously inside
  the model lookup, i.e. an inline connector, before 3.3 (from 3.3 remote models
  initialise asynchronously and the failure goes straight to the listener).
* undeploy (``MLModelManager.undeployModel``, on every node that held it): the deployed
  count down, the undeploy action count, ``models.<id>.undeploy`` from 2.11, and the node's
  request count from 2.10 when model ids were given (not for 2.9-2.11's undeploy-all).
* predict (``MLPredictTaskRunner.predict``, on the node that runs it): the node's request
  count, ``algorithms.<function>.predict`` and, from 2.11, ``models.<id>.predict``.  A
  failure of a deployed remote model is not counted before 3.5; from 3.5
  (``shouldTrackRemoteFailure``) it is, unless it is an ``IllegalArgumentException`` or a
  4xx.  The model's failure counter is only created, never incremented
  (``createModelCounterStatIfAbsent`` without ``increment()``).  The function name is the
  model's (``remote``) from 2.11; before, the algorithm of ``/_predict/<algorithm>/...``.

The REST half (``RestMLStatsAction``, ``MLStatsNodesTransportAction``) is :func:`get`.
"""
from __future__ import annotations

import fnmatch
import logging
import time
from typing import Any, Awaitable, Callable, Iterable, Mapping

import attrs

from mlcommons_emu.cluster import modelcache
from mlcommons_emu.cluster import stats as counters
from mlcommons_emu.cluster.nodes import NodeRuntime
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.states import FunctionName
from mlcommons_emu.errors import (
    EmulatorError,
    IllegalArgumentError,
    IndexNotFoundError,
    MLLimitExceededError,
    MLResourceNotFoundError,
    ParsingError,
    StatusError,
)
from mlcommons_emu.services import inputs
from mlcommons_emu.services.context import Context
from mlcommons_emu.store import rows

log = logging.getLogger("mlcommons_emu.stats")

MONITORING_REQUEST_COUNT = s.PREFIX + "monitoring_request_count"
#: the model controllers' index (2.12+)
CONTROLLER_INDEX = ".plugins-ml-controller"
#: the emulated JVM's heap use in percent (JvmService.stats().getMem().getHeapUsedPercent())
JVM_HEAP_USED_PERCENT = 25
REMOTE = FunctionName.REMOTE.value


# nodes ------------------------------------------------------------------------------------
def node_counters(ctx: Context, node_id: str) -> counters.NodeStats:
    """One node's MLStats."""
    return _runtime(ctx, node_id).stats


def node_cache(ctx: Context, node_id: str) -> modelcache.NodeCache:
    """One node's model and task caches."""
    return _runtime(ctx, node_id).cache


def _runtime(ctx: Context, node_id: str) -> NodeRuntime:
    runtime = ctx.cluster.get(node_id)
    if runtime is None:
        raise KeyError(f"no node {node_id} in the cluster")
    return runtime


def sync_caches(ctx: Context) -> None:
    modelcache.sync(ctx.cluster)


def resolve_nodes(ctx: Context, ids: Iterable[str] | None) -> list[NodeRuntime]:
    """``DiscoveryNodes.resolveNodes`` over the live nodes: none given means all; ``_all``,
    ``_local``, ``_cluster_manager`` (``_master``), a node id, a node name (``*``
    wildcards), ``<role>:true|false``.  What matches nothing is dropped silently."""
    live = [r for r in ctx.cluster.nodes if r.node.up]
    wanted = [i for i in (ids or ()) if i]
    if not wanted:
        return live
    chosen: set[str] = set()
    coordinator = ctx.cluster.coordinator.node_id
    for item in wanted:
        if item in ("_local", "_cluster_manager", "_master"):
            chosen.add(coordinator)
            continue
        if any(r.node_id == item for r in live):
            chosen.add(item)
            continue
        role, sep, flag = item.partition(":")
        for runtime in live:
            if item == "_all" or fnmatch.fnmatchcase(runtime.node.name, item):
                chosen.add(runtime.node_id)
            elif sep and flag in ("true", "false") and (role in runtime.node.roles) == (flag == "true"):
                chosen.add(runtime.node_id)
    return [r for r in live if r.node_id in chosen]


def _split(value: str | None) -> list[str] | None:
    """``RestActionUtils.splitCommaSeparatedParam``."""
    if value is None:
        return None
    return value.split(",")


# recording: register ----------------------------------------------------------------------
def registered(ctx: Context) -> None:
    """A remote register reached ``registerMLRemoteModel`` (2.9: ``registerMLModel``) on the
    coordinating node."""
    node = node_counters(ctx, ctx.cluster.coordinator.node_id)
    node.add(counters.REQUEST)
    node.algorithm(REMOTE, "register", counters.ACTION_REQUEST)
    if ctx.release < (2, 10):
        node.add(counters.EXECUTING_TASK, 2)  # incremented at the start and again in "finally"


def register_indexed(ctx: Context) -> None:
    """2.9: the group was bumped and ``indexRemoteModel`` ran, counting the request again."""
    if ctx.release < (2, 10):
        registered(ctx)


def register_failed(ctx: Context, exc: BaseException) -> None:
    """``handleException`` for a register whose task FAILED."""
    node = node_counters(ctx, ctx.cluster.coordinator.node_id)
    if ctx.release < (2, 10):
        node.algorithm(REMOTE, "register", counters.ACTION_FAILURE)
        return
    index_missing = isinstance(exc, IndexNotFoundError) or (
        isinstance(exc, StatusError) and exc.reason == "Model group not found")
    if index_missing or isinstance(exc, (MLLimitExceededError, IllegalArgumentError)):
        return
    # a missing group document reaches handleException as MLValidationException: counted
    node.algorithm(REMOTE, "register", counters.ACTION_FAILURE)
    node.add(counters.FAILURE)


# recording: deploy / undeploy -------------------------------------------------------------
def node_accepted(ctx: Context, runtime: NodeRuntime, task: Any, targets: list[str]) -> modelcache.ModelEntry | None:
    """A node takes on its share of a deploy (the first steps of ``MLModelManager.deployModel``):
    the task in its task cache, RUNNING (``checkAndAddRunningTask``) and, unless it holds the
    model already, a fresh model-cache entry DEPLOYING with the deploy's target nodes
    (``initModelState``).  Returns that entry."""
    model_id = task.model_id or ""
    cache = node_cache(ctx, runtime.node_id)
    cache.tasks[task.task_id] = task
    if model_id in runtime.models:
        return None
    cache.remove(model_id)
    entry = cache.model(model_id)
    entry.target_worker_nodes = tuple(targets)
    entry.deploying = True
    return entry


async def node_deploy(ctx: Context, runtime: NodeRuntime, task: Any, targets: list[str],
                      deploy: Callable[[Context, NodeRuntime, str], Awaitable[None]], *,
                      coordinating_node: str | None = None) -> None:
    """One node's share of a deploy (``TransportDeployModelOnNodeAction`` ->
    ``MLModelManager.deployModel``): the counters, the node's model cache (a fresh entry
    with the deploy's target nodes, unless the node had the model deployed already, when
    the plugin returns at once and keeps its cache), the buckets of the model's
    ``rate_limiter`` and, for a model whose ``is_controller_enabled`` is true, of its
    controller's ``user_rate_limiter`` (both with N = the number of target nodes; an
    invalid user limiter is only logged), and the task in the node's task cache while the
    node works on it (the coordinating node keeps it until the task ends: the plugin
    removes it only ``if (!coordinatingNodeId.equals(localNodeId))``)."""
    model_id = task.model_id or ""
    release = ctx.release
    node = node_counters(ctx, runtime.node_id)
    node.algorithm(REMOTE, "deploy", counters.ACTION_REQUEST)
    if release >= (2, 10):
        node.add(counters.REQUEST)
    if release >= (2, 11):
        node.model(model_id, "deploy", counters.ACTION_REQUEST)
    cache = node_cache(ctx, runtime.node_id)
    entry = node_accepted(ctx, runtime, task, targets)
    try:
        try:
            await deploy(ctx, runtime, model_id)
            if entry is not None:
                model = runtime.models[model_id].model
                entry.deploy_to_all_nodes = bool(getattr(model, "deploy_to_all_nodes", False))
                if getattr(model, "is_controller_enabled", None) is True:
                    entry.user_rate_limiters = await _controller_buckets(ctx, model_id, len(targets))
                try:
                    entry.rate_limiter = modelcache.token_bucket(getattr(model, "rate_limiter", None), len(targets))
                except EmulatorError:
                    runtime.models.pop(model_id, None)
                    raise
                entry.held = True
                entry.deploying = False
                node.add(counters.DEPLOYED_MODEL)
        except EmulatorError as exc:
            if entry is not None:
                cache.remove(model_id)
            await _deploy_failed(ctx, node, model_id, exc)
            raise
    finally:
        if runtime.node_id != coordinating_node:
            cache.tasks.pop(task.task_id, None)


async def _controller_buckets(ctx: Context, model_id: str, node_count: int) -> dict[str, Any] | None:
    from mlcommons_emu.services import controllers

    try:
        limiters = await controllers.stored_user_limiters(ctx, model_id)
        return modelcache.user_buckets(limiters, node_count)
    except EmulatorError as exc:
        log.warning("model controller of %s not deployed with the model: %s", model_id, exc.reason)
        return None


async def _deploy_failed(ctx: Context, node: counters.NodeStats, model_id: str, exc: EmulatorError) -> None:
    release = ctx.release
    if release >= (3, 3):
        return
    async with ctx.transaction() as repos:
        model = await repos.models.get(model_id) if await repos.models.exists() else None
    if model is None or model.connector is None:
        return  # a standalone connector's predictor is built in the connector lookup's listener
    if release >= (2, 10) and isinstance(exc, (MLLimitExceededError, MLResourceNotFoundError, IllegalArgumentError)):
        return
    node.algorithm(REMOTE, "deploy", counters.ACTION_FAILURE)
    if release >= (2, 10):
        node.add(counters.FAILURE)


def undeployed(ctx: Context, runtime: NodeRuntime, model_id: str, *, every_model: bool = False) -> None:
    """``MLModelManager.undeployModel`` on a node that held the model (``removeModel``
    drops its cache entry)."""
    release = ctx.release
    node = node_counters(ctx, runtime.node_id)
    node.add(counters.DEPLOYED_MODEL, -1)
    if release >= (2, 10) and not every_model:
        node.add(counters.REQUEST)
    node.algorithm(REMOTE, "undeploy", counters.ACTION_REQUEST)
    if release >= (2, 11):
        node.model(model_id, "undeploy", counters.ACTION_REQUEST)
    node_cache(ctx, runtime.node_id).remove(model_id)


def refreshed(ctx: Context, runtime: NodeRuntime, model: Any) -> None:
    """``MLModelManager.updateModelCache`` after a model update: the model-level bucket is
    built again from the updated ``rate_limiter`` with N = the model's worker node count
    (the user-level buckets stay).  A limiter that cannot be built is only logged."""
    entry = node_cache(ctx, runtime.node_id).model(model.model_id)
    entry.held = True
    count = len(ctx.cluster.serving(model.model_id)) or 1
    try:
        entry.rate_limiter = modelcache.token_bucket(model.rate_limiter, count)
    except EmulatorError as exc:
        log.warning("rate limiter of %s not updated on %s: %s", model.model_id, runtime.node_id, exc.reason)


# recording: predict -----------------------------------------------------------------------
class PredictCall:
    """One predict as the plugin measures and counts it; use as a context manager around
    the dispatch and the call, and hand it the predictor that serves the call (:meth:`on`).

    ``predict_request_stats`` (``TransportPredictionTaskAction.executePredict``, on the node
    that received the call) time the whole dispatch, failed or not;
    ``model_inference_stats`` (``MLModelManager.trackPredictDuration``, on the node that ran
    it) time a successful call of the predictor.
    """

    def __init__(self, ctx: Context, model_id: str, algorithm: str | None) -> None:
        self.ctx = ctx
        self.model_id = model_id
        self.function = REMOTE if (ctx.release >= (2, 11) or not algorithm) else algorithm.upper()
        self.worker: NodeRuntime | None = None
        self.started = 0.0
        self.running = 0.0

    def __enter__(self) -> "PredictCall":
        self.started = time.perf_counter()
        return self

    def on(self, deployed: Any) -> Any:
        """The node holding ``deployed`` runs the call: count it there."""
        for runtime in self.ctx.cluster.nodes:
            if runtime.models.get(self.model_id) is deployed:
                self.worker = runtime
                break
        if self.worker is not None:
            self.ctx.cluster.served[self.model_id] = self.worker.node_id
            node = node_counters(self.ctx, self.worker.node_id)
            node.add(counters.REQUEST)
            node.algorithm(self.function, "predict", counters.ACTION_REQUEST)
            if self.ctx.release >= (2, 11):
                node.model(self.model_id, "predict", counters.ACTION_REQUEST)
        self.running = time.perf_counter()
        return deployed

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> bool:
        ctx = self.ctx
        now = time.perf_counter()
        limit = int(ctx.setting(MONITORING_REQUEST_COUNT))
        if self.worker is not None:
            if exc is None:
                entry = node_cache(ctx, self.worker.node_id).model(self.model_id)
                entry.inference.add((now - self.running) * 1000.0, limit)
            elif self._tracked(exc):
                node = node_counters(ctx, self.worker.node_id)
                node.algorithm(self.function, "predict", counters.ACTION_FAILURE)
                if ctx.release >= (2, 11):
                    node.model(self.model_id, "predict", counters.ACTION_FAILURE, 0)
                node.add(counters.FAILURE)
        coordinator = node_cache(ctx, ctx.cluster.coordinator.node_id).model(self.model_id)
        coordinator.requests.add((now - self.started) * 1000.0, limit)
        return False

    def _tracked(self, exc: BaseException) -> bool:
        if self.ctx.release < (3, 5):
            return False
        if isinstance(exc, IllegalArgumentError):
            return False
        status = getattr(exc, "status", 500)
        return not 400 <= int(status) < 500


def predict_call(ctx: Context, model_id: str, algorithm: str | None = None) -> PredictCall:
    return PredictCall(ctx, model_id, algorithm)


# GET stats --------------------------------------------------------------------------------
_CLUSTER_STATS = ("ml_model_index_status", "ml_connector_index_status", "ml_config_index_status",
                  "ml_task_index_status", "ml_controller_index_status", "ml_model_count", "ml_connector_count")
_CLUSTER_INDEX = {"ml_model_index_status": rows.MODEL_INDEX, "ml_connector_index_status": rows.CONNECTOR_INDEX,
                  "ml_config_index_status": rows.CONFIG_INDEX, "ml_task_index_status": rows.TASK_INDEX,
                  "ml_controller_index_status": CONTROLLER_INDEX}
#: MLNodeLevelStat in declaration order: (2.10+ name, 2.9 name, counter)
_NODE_STATS = (
    ("ml_jvm_heap_usage", "ml_node_jvm_heap_usage", None),
    ("ml_executing_task_count", "ml_node_executing_task_count", counters.EXECUTING_TASK),
    ("ml_request_count", "ml_node_total_request_count", counters.REQUEST),
    ("ml_failure_count", "ml_node_total_failure_count", counters.FAILURE),
    ("ml_deployed_model_count", "ml_node_total_model_count", counters.DEPLOYED_MODEL),
    ("ml_circuit_breaker_trigger_count", "ml_node_total_circuit_breaker_trigger_count", counters.CIRCUIT_BREAKER),
)
_ACTIONS = ("TRAIN", "PREDICT", "TRAIN_PREDICT", "EXECUTE", "REGISTER", "DEPLOY", "UNDEPLOY", "BATCH_PREDICT")
_ACTION_STATS = ("ML_ACTION_REQUEST_COUNT", "ML_ACTION_FAILURE_COUNT")


def cluster_stat_names(release: Any) -> tuple[str, ...]:
    """MLClusterLevelStat: 2.9 has model/task index status and the model count; 2.10 adds
    the connector and config index status and the connector count; 2.12 the controller
    index status."""
    if release < (2, 10):
        return ("ml_model_index_status", "ml_task_index_status", "ml_model_count")
    names = [n for n in _CLUSTER_STATS if n != "ml_controller_index_status" or release >= (2, 12)]
    return tuple(names)


def node_stat_names(release: Any) -> tuple[str, ...]:
    """MLNodeLevelStat: renamed in 2.10 (``ml_node_total_request_count`` -> ``ml_request_count``...)."""
    return tuple(old if release < (2, 10) else new for new, old, _ in _NODE_STATS)


def _levels(release: Any) -> tuple[str, ...]:
    """MLStatLevel (MODEL from 2.11)."""
    return ("CLUSTER", "NODE", "ALGORITHM", "MODEL", "ACTION") if release >= (2, 11) else (
        "CLUSTER", "NODE", "ALGORITHM", "ACTION")


@attrs.define
class StatsInput:
    """MLStatsInput."""

    target_levels: set[str] = attrs.field(factory=set)
    cluster_stats: set[str] = attrs.field(factory=set)
    node_stats: set[str] = attrs.field(factory=set)
    action_stats: set[str] = attrs.field(factory=set)
    node_ids: list[str] = attrs.field(factory=list)
    algorithms: set[str] = attrs.field(factory=set)
    models: set[str] = attrs.field(factory=set)
    actions: set[str] = attrs.field(factory=set)

    def retrieve_cluster(self, name: str) -> bool:
        return not self.cluster_stats or name in self.cluster_stats

    def retrieve_node(self, name: str) -> bool:
        return not self.node_stats or name in self.node_stats

    def only_cluster(self) -> bool:
        return bool(self.target_levels) and not (self.target_levels & {"NODE", "ALGORITHM", "MODEL", "ACTION"})

    def include_algorithms(self) -> bool:
        return bool(self.target_levels & {"ALGORITHM", "ACTION"})

    def include_models(self) -> bool:
        return bool(self.target_levels & {"MODEL", "ACTION"})


def _enum(value: str, allowed: Iterable[str], error: str) -> str:
    upper = value.upper()
    if upper not in set(allowed):
        raise IllegalArgumentError(error)
    return upper


def _array(value: Any) -> list[str]:
    """``MLNodeUtils.parseField``: an array of texts (ensureExpectedToken START_ARRAY)."""
    if not isinstance(value, list):
        raise ParsingError("Failed to parse object: expecting token of type [START_ARRAY] but found "
                           f"[{inputs.token_name(value)}]")
    return [t for t in (inputs.text(v, "value") for v in value) if t is not None]


def parse_input(ctx: Context, body: Mapping[str, Any]) -> StatsInput:
    """``MLStatsInput.parse``: unknown members are skipped; names are case-insensitive."""
    release = ctx.release
    result = StatsInput()
    actions = _ACTIONS if release >= (2, 16) else _ACTIONS[:-1]
    for key, value in body.items():
        if key == "target_stat_levels":
            result.target_levels = {_enum(v, _levels(release), "Wrong ML stat level") for v in _array(value)}
        elif key == "cluster_level_stats":
            names = [n.upper() for n in cluster_stat_names(release)]
            result.cluster_stats = {_enum(v, names, "Wrong ML cluster level stat").lower() for v in _array(value)}
        elif key == "node_level_stats":
            names = [n.upper() for n in node_stat_names(release)]
            result.node_stats = {_enum(v, names, "Wrong ML node level stat").lower() for v in _array(value)}
        elif key == "action_level_stats":
            result.action_stats = {_enum(v, _ACTION_STATS, "Wrong ML action level stat") for v in _array(value)}
        elif key == "node_ids":
            result.node_ids = _array(value)
        elif key == "algorithms":
            result.algorithms = {inputs.function_name(v, release).value for v in _array(value)}
        elif key == "models" and release >= (2, 11):
            result.models = set(_array(value))
        elif key == "actions":
            result.actions = {_enum(v, actions, "Wrong action name") for v in _array(value)}
    return result


def input_from_params(ctx: Context, node_id: str | None, stat: str | None) -> StatsInput:
    """``createMlStatsInputFromRequestParams``: a stat name that is a node-level stat is one
    (2.9: any name starting ``ML_NODE``), anything else must be a cluster-level stat."""
    release = ctx.release
    result = StatsInput(node_ids=[n for n in (_split(node_id) or []) if n])
    stats = _split(stat)
    if stats is None:
        result.target_levels = set(_levels(release))
        return result
    node_names = {n.upper() for n in node_stat_names(release)}
    cluster_names = {n.upper() for n in cluster_stat_names(release)}
    for name in stats:
        upper = name.upper()
        is_node = upper.startswith("ML_NODE") if release < (2, 10) else upper in node_names
        if is_node:
            result.node_stats.add(_enum(upper, node_names, "Wrong ML node level stat").lower())
        else:
            result.cluster_stats.add(_enum(upper, cluster_names, "Wrong ML cluster level stat").lower())
    if result.cluster_stats:
        result.target_levels.add("CLUSTER")
    if result.node_stats:
        result.target_levels.add("NODE")
    return result


def index_status(ctx: Context, exists: bool) -> str:
    """``IndexUtils.getIndexHealthStatus``: ``non-existent``, or the index health: yellow when
    a configured replica cannot be assigned (one replica in 2.9 and 2.12, as the emulator's
    write responses count it; later releases auto-expand replicas 0-1)."""
    if not exists:
        return "non-existent"
    release = ctx.release
    data_nodes = sum(1 for r in ctx.cluster.nodes if r.node.up and r.node.is_data) or 1
    if (release.major, release.minor) in ((2, 9), (2, 12)) and data_nodes < 2:
        return "yellow"
    return "green"


async def _cluster_stats(ctx: Context, inp: StatsInput) -> dict[str, Any]:
    release = ctx.release
    values: dict[str, Any] = {}
    if "CLUSTER" not in inp.target_levels:
        return values
    async with ctx.transaction() as repos:
        for name in cluster_stat_names(release):
            if not inp.retrieve_cluster(name):
                continue
            if name in _CLUSTER_INDEX:
                values[name] = index_status(ctx, await repos.tx.index_exists(_CLUSTER_INDEX[name]))
            else:
                values[name] = 0  # the CounterSupplier registered for it, never incremented
        # 2.14+: the hidden-model search on a missing model index fails, and the counts
        # are skipped (the registered zero stays)
        hidden_search_ok = release < (2, 14) or await repos.models.exists()
        if hidden_search_ok and (not inp.cluster_stats or "ml_model_count" in inp.cluster_stats):
            models = await repos.models.count() if await repos.models.exists() else 0
            values["ml_model_count"] = models
            if release >= (2, 10):
                connectors = await repos.connectors.count() if await repos.connectors.exists() else 0
                values["ml_connector_count"] = connectors
    return {name: values[name] for name in cluster_stat_names(release) if name in values}


def _node_entry(ctx: Context, runtime: NodeRuntime, inp: StatsInput) -> dict[str, Any]:
    """``MLStatsNodesTransportAction.createMLStatsNodeResponse`` and
    ``MLStatsNodeResponse.toXContent``: node stats, then ``algorithms`` (always written,
    possibly empty) and, from 2.11, ``models`` (2.11-2.13 only for the MODEL/ACTION levels;
    from 2.14 always)."""
    release = ctx.release
    node = node_counters(ctx, runtime.node_id)
    out: dict[str, Any] = {}
    if "NODE" in inp.target_levels:
        for (new, old, counter) in _NODE_STATS:
            name = old if release < (2, 10) else new
            if not inp.retrieve_node(name):
                continue
            out[name] = JVM_HEAP_USED_PERCENT if counter is None else node.node[counter]
    algorithms: dict[str, Any] = {}
    if inp.include_algorithms():
        for function, actions in node.algorithms.items():
            if inp.algorithms and function not in inp.algorithms:
                continue
            algorithms[function.lower()] = _actions(actions, inp)
    out["algorithms"] = algorithms
    if release >= (2, 11):
        models: dict[str, Any] = {}
        if release >= (2, 14) or inp.include_models():
            for model_id, actions in node.models.items():
                if inp.models and model_id not in inp.models:
                    continue
                models[model_id] = _actions(actions, inp)
        out["models"] = models
    return out


def _actions(actions: Mapping[str, Mapping[str, int]], inp: StatsInput) -> dict[str, Any]:
    return {action: dict(values) for action, values in actions.items()
            if not inp.actions or action.upper() in inp.actions}


def _empty(entry: Mapping[str, Any]) -> bool:
    """``MLStatsNodeResponse.isEmpty``: no node stat, no algorithm, no model."""
    return all(not value if key in ("algorithms", "models") else False for key, value in entry.items())


async def get(ctx: Context, *, node_id: str | None, stat: str | None,
              body: Mapping[str, Any] | None) -> dict[str, Any]:
    """``RestMLStatsAction``: a body (an MLStatsInput) wins over the path parameters."""
    inp = parse_input(ctx, body) if body is not None else input_from_params(ctx, node_id, stat)
    response = await _cluster_stats(ctx, inp)
    if inp.only_cluster():
        return response
    entries = {r.node_id: _node_entry(ctx, r, inp) for r in resolve_nodes(ctx, inp.node_ids)}
    if any(not _empty(e) for e in entries.values()):
        # every responding node is written once one of them has something to say
        response["nodes"] = entries
    return response
