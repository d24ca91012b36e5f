"""Several emulator processes on one PostgreSQL database acting as one cluster.

With ``Config.shared`` (``mlcommons-emu serve --shared``), any process answers any request.
What a real cluster keeps in one place the processes share through the store:

* Documents, versions and sequence numbers already live in the database; concurrent writes
  from different processes conflict on ``_seq_no`` exactly as concurrent requests in one
  process do (the losing register's task fails with a version conflict).
* Persistent cluster settings are read from the store at the start of every request, so a
  ``PUT _cluster/settings`` on one process holds on all of them.  Transient settings stay
  with the process that set them.
* Which models are deployed is what their documents say.  Each process keeps its own
  copy of the emulated nodes' memory and lines it up with the model document whenever a
  model is used: a model another process deployed is loaded here (on the eligible nodes,
  with the node's own decrypt and predictor build, no task), a model undeployed or
  deleted elsewhere is dropped here, and a model updated elsewhere is rebuilt.
* A task runs in the process that created it, once; its document is written only there.
  Steering calls that act on held tasks (``/_emu/tasks/...``) go to that process.
* Start-up reconciliation (redeploy after a restart) is not run by a process joining a
  running group: the models' documents already say what is deployed, and each process
  loads them on use.

Per-process, and so not shared: node counters and profile data, provider journals and
scripted faults, held tasks.
"""
from __future__ import annotations

from typing import Any

from mlcommons_emu.domain.states import ModelState
from mlcommons_emu.errors import EmulatorError
from mlcommons_emu.services.context import Context

_SERVING = (ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED)


async def refresh_settings(ctx: Context) -> None:
    """The persistent settings as the store has them now."""
    async with ctx.store.transaction() as tx:
        values = await tx.load_settings()
    if values != ctx.settings.persistent:
        ctx.settings.persistent.clear()
        ctx.settings.persistent.update(values)


async def align_model(ctx: Context, model: Any) -> None:
    """Make this process's node memory agree with the model document ``model``."""
    from mlcommons_emu.services import deployment

    held = [r for r in ctx.cluster.nodes if model.model_id in r.models]
    serving = model.model_state in _SERVING
    if not serving:
        for runtime in held:
            runtime.models.pop(model.model_id, None)
        return
    stale = [r for r in held if _older(r.models[model.model_id], model)]
    for runtime in stale:
        runtime.models.pop(model.model_id, None)
    if held and not stale:
        return
    for node_id in deployment.eligible(ctx):
        runtime = ctx.cluster.get(node_id)
        if runtime is None or model.model_id in runtime.models:
            continue
        try:
            await deployment.deploy_on_node(ctx, runtime, model.model_id)
        except EmulatorError:
            continue  # this node cannot hold it (e.g. a credential that does not decrypt)


def _older(deployed: Any, model: Any) -> bool:
    copy = getattr(deployed, "model", None)
    if copy is None:
        return False
    return (getattr(copy, "last_updated_time", None) or 0) < (getattr(model, "last_updated_time", None) or 0)


async def align_models(ctx: Context, model_ids: list[str]) -> None:
    """``align_model`` for each id, read from the store (a missing one is dropped here)."""
    async with ctx.transaction() as repos:
        exists = await repos.models.exists()
        models = {m: (await repos.models.get(m) if exists else None) for m in model_ids}
    for model_id, model in models.items():
        if model is None:
            for runtime in ctx.cluster.nodes:
                runtime.models.pop(model_id, None)
        else:
            await align_model(ctx, model)
