"""The sync-up job: what the live nodes hold, back into the task caches and model documents.

``MLSyncUpCron`` runs every ``sync_up_job_interval_in_seconds`` (0: never) on the cluster
manager, skipped while the model index does not exist.  Read from the plugin source
(2.9.0.0 ... 3.8.0.0; ``MLSyncUpCron``, ``TransportSyncUpOnNodeAction``, ``MLTaskManager``):

1. Every node reports the models it has deployed (``getLocalDeployedModels``) and the
   deploy tasks in its memory that are not CREATED (``getLocalRunningDeployModelTasks``:
   a worker's copy is RUNNING from ``checkAndAddRunningTask``).
2. Every node takes the new routing table (which nodes hold which model) and cleans its
   task cache (``cleanUpLocalCache``): a task cached longer than
   ``ml_task_timeout_in_seconds`` after its creation is written FAILED with
   ``timeout after <n> seconds`` and dropped, unless it is a deploy task still CREATED in
   this node's memory that some node reports running.  This is the only task write of the
   job: finished tasks are not in any memory, so their documents are never touched.
3. The model documents are refreshed (``mlcommons_emu.domain.syncup``).

The emulator runs the job when asked (``emu.sync_up()``) and, while it is enabled, when a
node leaves or joins (``services.membership``), where the plugin would run it within its
interval.  Model TTL expiry (2.14+ ``model_ttl_minutes``) is not emulated.
"""
from __future__ import annotations

import attrs

from mlcommons_emu.cluster import modelcache
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain import syncup as rules
from mlcommons_emu.domain.states import TaskState, TaskType
from mlcommons_emu.services import deployment
from mlcommons_emu.services.context import Context

INTERVAL = s.PREFIX + "sync_up_job_interval_in_seconds"
TASK_TIMEOUT = s.PREFIX + "ml_task_timeout_in_seconds"


@attrs.frozen
class SyncUpReport:
    """What one run rewrote: model ids (their documents) and task ids (timed out)."""

    models: tuple[str, ...] = ()
    timed_out: tuple[str, ...] = ()


def enabled(ctx: Context) -> bool:
    """The job is scheduled (``sync_up_job_interval_in_seconds`` > 0)."""
    return int(ctx.setting(INTERVAL)) > 0


async def run(ctx: Context) -> SyncUpReport:
    async with ctx.transaction() as repos:
        if not await repos.models.exists():
            return SyncUpReport()
    live = [r for r in ctx.cluster.nodes if r.node.up]
    workers: dict[str, int] = {}
    deploying: set[str] = set()
    running_tasks: set[str] = set()
    for runtime in live:
        for model_id in runtime.models:
            workers[model_id] = workers.get(model_id, 0) + 1
        for task in runtime.cache.tasks.values():
            if task.task_type is TaskType.DEPLOY_MODEL and task.state is not TaskState.CREATED:
                deploying.add(task.model_id or "")
                running_tasks.add(task.task_id)
    modelcache.sync(ctx.cluster)  # the routing table reaches every node
    timed_out = await _clean_task_caches(ctx, running_tasks)
    models = await _refresh_models(ctx, workers, deploying)
    return SyncUpReport(models=models, timed_out=timed_out)


async def _clean_task_caches(ctx: Context, running_tasks: set[str]) -> tuple[str, ...]:
    """``cleanUpLocalCache`` on every live node."""
    timeout = int(ctx.setting(TASK_TIMEOUT))
    error = f"timeout after {timeout} seconds"
    now = ctx.now()
    expired: list[str] = []
    for runtime in [r for r in ctx.cluster.nodes if r.node.up]:
        for task_id, task in list(runtime.cache.tasks.items()):
            # the cached task's lastUpdateTime is the one it was created with
            if now <= task.create_time + timeout * 1000:
                continue
            if task.task_type is TaskType.DEPLOY_MODEL and task.state is TaskState.CREATED and task_id in running_tasks:
                continue
            del runtime.cache.tasks[task_id]
            if task_id in expired:
                continue
            expired.append(task_id)
            async with ctx.transaction() as repos:
                stored = await repos.tasks.get(task_id)
                if stored is not None:  # updateMLTask: a partial update, whatever the state
                    await repos.tasks.put(attrs.evolve(stored, state=TaskState.FAILED, error=error,
                                                       last_update_time=now))
            ctx.tasks.expire(task_id, error)
    return tuple(expired)


async def _refresh_models(ctx: Context, workers: dict[str, int], deploying: set[str]) -> tuple[str, ...]:
    """``refreshModelState`` and ``bulkUpdateModelState``."""
    eligible = deployment.eligible(ctx)
    now = ctx.now()
    rewritten: list[str] = []
    async with ctx.transaction() as repos:
        for model in await repos.models.find():
            if not model.model_state.is_deploy_family:
                continue
            updated = rules.refresh(model, workers=workers.get(model.model_id, 0),
                                    deploying=model.model_id in deploying, eligible=eligible, now=now)
            if updated is not None:
                await repos.models.put(updated)
                rewritten.append(model.model_id)
    return tuple(rewritten)
