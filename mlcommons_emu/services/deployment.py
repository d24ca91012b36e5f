"""Deploy and undeploy remote models over the simulated cluster, and restore after restart."""
from __future__ import annotations

import logging
from typing import Any, Iterable, Mapping

import attrs

from mlcommons_emu.cluster import progression
from mlcommons_emu.cluster.modelcache import ThrottledRemoteModel
from mlcommons_emu.cluster.nodes import NodeRuntime
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain import transitions
from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.placement import eligible_nodes_for_remote
from mlcommons_emu.domain.states import ModelState, TaskState, TaskType
from mlcommons_emu.domain.task import Task
from mlcommons_emu.errors import (
    EmulatorError,
    IllegalArgumentError,
    IndexNotFoundError,
    MLError,
    StatusError,
)
from mlcommons_emu.services import identity, inputs, model_groups
from mlcommons_emu.services import stats as node_stats
from mlcommons_emu.services.connectors import check_remote_inference_enabled
from mlcommons_emu.services.context import Context
from mlcommons_emu.store import rows

log = logging.getLogger("mlcommons_emu.deploy")

CUSTOM_PLAN_REFUSED = "Don't allow custom deployment plan"


def eligible(ctx: Context) -> list[str]:
    nodes = eligible_nodes_for_remote(
        ctx.cluster.live(), ctx.release,
        only_run_on_ml_node=bool(ctx.setting(s.ONLY_RUN_ON_ML_NODE)),
        remote_roles=ctx.setting(s.ELIGIBLE_NODE_ROLE_REMOTE) if ctx.release >= (2, 10) else (),
        exclude_names=str(ctx.setting(s.EXCLUDE_NODES)).split(","),
    )
    return [n.node_id for n in nodes]


async def _load_model(ctx: Context, model_id: str) -> Model:
    async with ctx.transaction() as repos:
        if not await repos.models.exists():
            if ctx.release >= (2, 19):
                # the remote-metadata SDK's wrapper leaks through MLModelManager.getModel
                raise StatusError(f"Failed to get data object from index {rows.MODEL_INDEX}", 500)
            raise IndexNotFoundError(rows.MODEL_INDEX)
        model = await repos.models.get(model_id)
    if model is None:
        raise StatusError("Failed to find model", 404)
    return model


async def deploy(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    node_ids = inputs.string_list((body or {}).get("node_ids"), "node_ids") if body else None
    model = await _load_model(ctx, model_id)
    await model_groups.require_model_access(ctx, model.model_group_id, "deploy", model_id)
    check_remote_inference_enabled(ctx)
    task = await start(ctx, model, node_ids or None)
    if ctx.release >= (2, 11):
        return {"task_id": task.task_id, "task_type": TaskType.DEPLOY_MODEL.value, "status": "COMPLETED"}
    return {"task_id": task.task_id, "status": "CREATED"}


async def deploy_quietly(ctx: Context, model_id: str, node_ids: list[str] | None) -> None:
    """The deploy that ``?deploy=true`` and auto-redeploy start; failures go to the task."""
    try:
        model = await _load_model(ctx, model_id)
        await start(ctx, model, node_ids, background=True)
    except EmulatorError as exc:
        log.warning("background deploy of %s refused: %s", model_id, exc.reason)


async def start(ctx: Context, model: Model, node_ids: list[str] | None, *, background: bool = False) -> Task:
    """TransportDeployModelAction: plan, index the task, mark DEPLOYING, dispatch.

    Returns when the REST reply would go (``cluster.progression``): after the whole work
    when tasks progress immediately, otherwise once the task is indexed (2.9-2.10) or the
    nodes have acknowledged it, RUNNING (2.11+); ``background`` (a deploy no caller waits
    for: auto-deploy, auto-redeploy) returns once the task is indexed.
    """
    candidates = eligible(ctx)
    if node_ids:
        if not ctx.setting(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN):
            raise IllegalArgumentError(CUSTOM_PLAN_REFUSED)
        targets = [n for n in candidates if n in set(node_ids)]
        already = [r.node_id for r in ctx.cluster.serving(model.model_id) if r.node_id not in set(targets)]
        if already:
            raise IllegalArgumentError(
                f"Model already deployed to these nodes: [{', '.join(already)}], but they are not included "
                "in target node ids. Undeploy model from these nodes if don't need them any more."
                "Undeploy from old nodes before try to deploy model on new nodes. Or include all old nodes "
                "on your target nodes.")
    else:
        targets = candidates
    if not targets:
        raise IllegalArgumentError("no eligible node found")
    now = ctx.now()
    task = Task(
        task_id=ctx.ids.document_id(), task_type=TaskType.DEPLOY_MODEL, function_name=model.algorithm,
        state=TaskState.CREATED, worker_node=tuple(targets), create_time=now, last_update_time=now,
        is_async=True, model_id=model.model_id,
    )
    async with ctx.transaction() as repos:
        await repos.tasks.put(task)
        current = await repos.models.get(model.model_id) or model
        deploying = transitions.start_deploy(current, targets, deploy_to_all_nodes=not node_ids, now=ctx.now())
        await repos.models.put(deploying)
    run = ctx.tasks.track(task.task_id, progression.DEPLOY, model_id=model.model_id, nodes=targets)
    work = ctx.executor.spawn(_run(ctx, task, targets, run), name=f"deploy-{task.task_id}")
    replied_at = progression.RUNNING if ctx.release >= (2, 11) else progression.CREATED
    refused = await run.reply(work, at=replied_at, background=background)
    if refused is not None and ctx.release >= (2, 11) and not background:
        raise refused  # the fan-out failed before the nodes acknowledged: the listener's failure
    return task


async def _run(ctx: Context, task: Task, targets: list[str], run: progression.TaskRun) -> EmulatorError | None:
    """The deploy's background work: fan-out, each target node's share, the outcome.

    The coordinating node keeps the task in its memory (``MLTaskManager.add``) until the
    outcome is written.  Returns the error of a fan-out that failed (``TaskControl.fail``
    on a deploy waiting CREATED), which 2.11+ answers the REST call with.
    """
    coordinator = ctx.cluster.coordinator
    generation = coordinator.generation
    coordinator.cache.tasks[task.task_id] = task
    try:
        failure = await run.reach(progression.CREATED)
        if failure is not None and failure.recorded:
            return None  # timed out by the sync-up, which wrote the task
        if failure is not None and failure.nodes is None:
            await _fan_out_failed(ctx, task, failure.error)
            coordinator.cache.tasks.pop(task.task_id, None)
            return MLError(failure.error)
        async with ctx.transaction() as repos:
            task = transitions.move_task(task, TaskState.RUNNING, ctx.now())
            await repos.tasks.put(task)
        accepted: dict[str, int] = {}
        for node_id in targets:
            runtime = ctx.cluster.get(node_id)
            if runtime is not None and runtime.node.up:
                node_stats.node_accepted(ctx, runtime, task, targets)
                accepted[node_id] = runtime.generation
        failure = await run.reach(progression.RUNNING)
        if failure is not None and failure.recorded:
            for node_id in accepted:  # the nodes' shares stop with the task
                runtime = ctx.cluster.get(node_id)
                if runtime is not None and task.model_id not in runtime.models:
                    runtime.cache.remove(task.model_id or "")
            return None
        failing = set() if failure is None else set(targets if failure.nodes is None else failure.nodes)
        errors: dict[str, str] = {}
        reported: list[str] = []
        for node_id in targets:
            runtime = ctx.cluster.get(node_id)
            if runtime is None or not runtime.node.up or runtime.generation != accepted.get(node_id):
                continue  # the node left (or restarted) since it took the request: it never reports
            share = _failing(failure.error) if failure is not None and node_id in failing else deploy_on_node
            try:
                # counters, the node's model cache and task cache (services.stats.node_deploy)
                await node_stats.node_deploy(ctx, runtime, task, targets, share,
                                             coordinating_node=coordinator.node_id)
            except EmulatorError as exc:
                errors[node_id] = _node_error(exc)
            if runtime.generation != accepted[node_id]:
                # it left while building its predictor: nothing lands in its new memory
                runtime.models.pop(task.model_id or "", None)
                runtime.cache.remove(task.model_id or "")
                errors.pop(node_id, None)
                continue
            reported.append(node_id)
        if coordinator.generation != generation or not coordinator.node.up:
            return None  # the coordinating node left: the task's cache and its outcome went with it
        gone = _gone(ctx, targets, reported)
        if gone is None:
            return None  # the coordinating node keeps waiting for a report (see _gone)
        await _record_outcome(ctx, task, len(targets) - len(gone), errors, len(reported) - len(errors))
        coordinator.cache.tasks.pop(task.task_id, None)
        return None
    finally:
        run.finish()


def _gone(ctx: Context, targets: list[str], reported: list[str]) -> list[str] | None:
    """The target nodes that never reported and are no longer in the cluster, which the
    coordinating node drops from the task, or None when the task can never end.

    ``TransportForwardAction`` ends a deploy when the last expected node reports.  From
    2.18 it then drops expected nodes that have left the cluster (nothing is recorded for
    them in the task ``error``; the worker count shrinks); before 2.18 it waits for them
    for ever.  A node that never reports but is in the cluster (it restarted) is waited
    for in every release, as is a deploy whose target nodes all left (no report comes at
    all).  Such a task stays RUNNING in the coordinating node's memory until the sync-up
    times it out (``ml_task_timeout_in_seconds``); the sync-up settles the model.
    """
    missing = [n for n in targets if n not in reported]
    gone = [n for n in missing if (r := ctx.cluster.get(n)) is None or not r.node.up]
    if not reported or len(gone) < len(missing) or (gone and ctx.release < (2, 18)):
        return None
    return gone


async def _record_outcome(ctx: Context, task: Task, expected: int, errors: dict[str, str], succeeded: int) -> None:
    """The last report settles the task and the model (``TransportForwardAction``)."""
    async with ctx.transaction() as repos:
        model = await repos.models.get(task.model_id or "")
        if model is None:
            done = transitions.move_task(task, TaskState.FAILED, ctx.now(), error="Failed to find model")
            await repos.tasks.put(done)
            return
        if model.model_state is not ModelState.DEPLOYING:
            model = attrs.evolve(model, model_state=ModelState.DEPLOYING)
        # 2.9 defines the ratio setting without registering it: its default (0.8) applies
        ratio = float(ctx.setting(s.PREFIX + "model_auto_redeploy_success_ratio")) if ctx.release >= (2, 10) else 0.8
        reset = bool(ctx.setting(s.MODEL_AUTO_REDEPLOY)) and succeeded / (expected or 1) >= ratio
        model, done = transitions.finish_deploy(model, task, errors, succeeded, ctx.now(),
                                                reset_redeploy_retries=reset and succeeded > 0)
        await repos.models.put(model)
        await repos.tasks.put(done)


async def _fan_out_failed(ctx: Context, task: Task, error: str) -> None:
    """The node fan-out itself failed (the deploy listeners' ``onFailure``): the task FAILED
    with the root cause message as it is, the model DEPLOY_FAILED (``updateModel`` also
    writes ``last_updated_time``)."""
    async with ctx.transaction() as repos:
        await repos.tasks.put(transitions.move_task(task, TaskState.FAILED, ctx.now(), error=error))
        model = await repos.models.get(task.model_id or "")
        if model is not None:
            await repos.models.put(attrs.evolve(model, model_state=ModelState.DEPLOY_FAILED,
                                                last_updated_time=ctx.now()))


def _failing(error: str) -> Any:
    """A node's share that fails with ``error`` (``TaskControl.fail``)."""
    async def share(_ctx: Context, _runtime: NodeRuntime, _model_id: str) -> None:
        raise MLError(error)
    return share


def _node_error(exc: EmulatorError) -> str:
    """What a node reports to the coordinator for its failed share of a deploy.

    TransportDeployModelOnNodeAction sends MLExceptionUtils.getRootCauseMessage(e): the
    message of the deepest cause.  For a credential that does not decrypt that is the
    JVM's text (``Tag mismatch`` under a wrong master key), kept on the error as
    ``root_cause``; other errors carry it as their reason.
    """
    return str(getattr(exc, "root_cause", None) or exc.reason)


async def deploy_on_node(ctx: Context, runtime: NodeRuntime, model_id: str) -> None:
    """Read the model and its connector, decrypt credentials, build the predictor."""
    async with ctx.transaction() as repos:
        model = await repos.models.get(model_id)
        if model is None:
            raise StatusError("Failed to find model", 404)
        connector = model.connector
        if connector is None and model.connector_id:
            connector = await repos.connectors.get(model.connector_id)
            if connector is None:
                raise StatusError(f"Failed to find connector:{model.connector_id}", 404)
    if connector is None:
        raise IllegalArgumentError("Connector is null for remote model")
    credentials = ctx.cipher().decrypt_map(connector.credential)
    deployed = ThrottledRemoteModel(model_id, connector, credentials, ctx.release, model)
    # the rate limiters live in the node's model cache and outlive a rebuilt predictor
    deployed.entry = node_stats.node_cache(ctx, runtime.node_id).model(model_id)
    runtime.models[model_id] = deployed


async def undeploy(ctx: Context, model_ids: list[str] | None, node_ids: list[str] | None,
                   *, single: bool) -> dict[str, Any]:
    """TransportUndeployModelsAction: synchronous, answered per node, no task."""
    release = ctx.release
    if node_ids and not ctx.setting(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN):
        raise IllegalArgumentError(CUSTOM_PLAN_REFUSED)
    every_model = not model_ids
    if every_model:
        if release >= (2, 12):
            raise IllegalArgumentError("Must set specific model ids to undeploy")
        # 2.9-2.11: each node undeploys and reports only the models it holds
        model_ids = sorted({m for r in ctx.cluster.nodes for m in r.models})
    if single and release >= (2, 12):
        await _load_model(ctx, model_ids[0])
    if identity.model_access_user(ctx) is not None:
        for model_id in model_ids:
            model = await _load_model(ctx, model_id)
            await model_groups.require_model_access(ctx, model.model_group_id, "undeploy", model_id)
    if ctx.shared and not every_model:
        from mlcommons_emu.services import shared

        await shared.align_models(ctx, model_ids)
    targets = [r for r in ctx.cluster.nodes if r.node.up and (not node_ids or r.node_id in node_ids)]
    response: dict[str, Any] = {}
    held_somewhere: set[str] = set()
    for runtime in targets:
        stats = {}
        for model_id in model_ids:
            if every_model and model_id not in runtime.models:
                continue
            held = runtime.models.pop(model_id, None) is not None
            stats[model_id] = "undeployed" if held else "not_found"
            if held:
                held_somewhere.add(model_id)
                node_stats.undeployed(ctx, runtime, model_id, every_model=every_model)
        if stats:
            response[runtime.node_id] = {"stats": stats}
    await _record_undeploy(ctx, model_ids, held_somewhere)
    return response


async def _record_undeploy(ctx: Context, model_ids: Iterable[str], held: set[str]) -> None:
    """TransportUndeployModelAction: rewrite the documents of the models touched."""
    async with ctx.transaction() as repos:
        for model_id in model_ids:
            model = await repos.models.get(model_id)
            if model is None:
                continue
            remaining = [r.node_id for r in ctx.cluster.serving(model_id)]
            if remaining:
                await repos.models.put(transitions.undeploy_some(model, remaining))
            elif model_id in held:
                await repos.models.put(transitions.undeploy_all(model))
            else:
                # no node held it: the bulk fallback still marks it UNDEPLOYED
                await repos.models.put(transitions.undeploy_all(model, now=ctx.now()))


async def undeploy_from_nodes(ctx: Context, node_ids: set[str]) -> None:
    """Drop every model from these nodes (e.g. only_run_on_ml_node switched on)."""
    touched: set[str] = set()
    for runtime in ctx.cluster.nodes:
        if runtime.node_id in node_ids and runtime.models:
            touched.update(runtime.models)
            for model_id in list(runtime.models):
                node_stats.undeployed(ctx, runtime, model_id)
            runtime.models.clear()
    if touched:
        await _record_undeploy(ctx, sorted(touched), touched)


async def restore_after_restart(ctx: Context) -> None:
    """A full restart empties every node's memory; the plugin then reconciles models.

    2.12+ auto-redeploys models that were deployed (every node joined: ``auto_redeploy``);
    before that the sync-up job lets them drift to DEPLOY_FAILED.  Task documents are
    never repaired.
    """
    async with ctx.transaction() as repos:
        models = await repos.models.find() if await repos.models.exists() else []
    live = [m for m in models if m.model_state in _REDEPLOYED]
    if not live:
        return
    if ctx.setting(s.MODEL_AUTO_REDEPLOY):
        await auto_redeploy(ctx, [r.node_id for r in ctx.cluster.nodes], live)
        return
    async with ctx.transaction() as repos:
        for model in live:
            failed = attrs.evolve(model, model_state=ModelState.DEPLOY_FAILED,
                                  current_worker_node_count=0, last_updated_time=ctx.now())
            await repos.models.put(failed)


#: the states MLModelAutoReDeployer.queryRunningModels looks for (remote models)
_REDEPLOYED = (ModelState.DEPLOYING, ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED)


async def auto_redeploy(ctx: Context, added: Iterable[str], models: list[Model] | None = None) -> None:
    """``MLModelAutoReDeployer.buildAutoReloadArrangement``: nodes joined (2.12+ default).

    The models DEPLOYING, DEPLOYED or PARTIALLY_DEPLOYED whose ``auto_redeploy_retry_times``
    is below ``model_auto_redeploy.lifetime_retry_times``, oldest ``last_deployed_time``
    first, are redeployed one at a time (the next when the previous deploy ends): to every
    eligible node when deployed to all nodes or custom plans are not allowed, else to its
    ``planning_worker_nodes`` when an added node is among them (otherwise skipped).  Each
    gets ``auto_redeploy_retry_times`` + 1 and a new deploy task.
    """
    if not ctx.setting(s.MODEL_AUTO_REDEPLOY):
        return
    if models is None:
        async with ctx.transaction() as repos:
            models = await repos.models.find() if await repos.models.exists() else []
    limit = int(ctx.setting(s.PREFIX + "model_auto_redeploy.lifetime_retry_times"))
    queue = sorted((m for m in models if m.model_state in _REDEPLOYED and (m.auto_redeploy_retry_times or 0) < limit),
                   key=lambda m: m.last_deployed_time or 0)
    chain = _redeploy_one_by_one(ctx, queue, set(added))
    if ctx.tasks.paces(progression.DEPLOY):
        ctx.executor.spawn(chain, name="auto-redeploy")
    else:
        await chain


async def _redeploy_one_by_one(ctx: Context, queue: list[Model], added: set[str]) -> None:
    custom_allowed = bool(ctx.setting(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN))
    for model in queue:
        if model.deploy_to_all_nodes or not custom_allowed:
            plan = None
        elif added & set(model.planning_worker_nodes):
            plan = list(model.planning_worker_nodes)
        else:
            continue  # a custom plan none of the added nodes belongs to
        async with ctx.transaction() as repos:
            bumped = attrs.evolve(model, auto_redeploy_retry_times=(model.auto_redeploy_retry_times or 0) + 1)
            await repos.models.put(bumped)
        try:
            task = await start(ctx, bumped, plan, background=True)
        except EmulatorError as exc:
            log.warning("auto redeploy of %s failed: %s", model.model_id, exc.reason)
            continue
        await ctx.tasks.finished(task.task_id)
