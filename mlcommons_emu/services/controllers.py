"""Model controllers (2.12+): per-user rate limits of a model, ``/_plugins/_ml/controllers``.

A controller is one document of ``.plugins-ml-controller`` whose id is the model id
(``MLController.toXContent``: ``model_id``, then ``user_rate_limiter`` mapping a user name
to an ``MLRateLimiter`` with ``limit`` and ``unit``).  Taken from the plugin source
(RestMLCreate/Get/Update/DeleteControllerAction and the transport actions of the same
names, MLController, MLRateLimiter, MLModelManager) at 2.12.0.0 ... 3.8.0.0:

* The REST layer refuses first: 2.18+ with ``plugins.ml_commons.controller_enabled`` off,
  500 ``illegal_state_exception`` ``Controller is currently disabled...``; create and update
  without a body, 400 ``parse_exception`` ``Create|Update model controller request has
  empty body``; then the body is parsed (a user's limiter must be an object, or a string
  holding one; ``limit`` must be a non-negative number from 2.13, ``unit`` a TimeUnit
  name; a limiter with neither is dropped).
* Create: the model (404 ``Failed to find model to create the corresponding model
  controller with the provided model ID``), access to its group (403), not DEPLOYING
  (409); the document is indexed with refresh (overwriting one that exists: status
  ``UPDATED`` instead of ``CREATED``); on CREATED the model gets ``is_controller_enabled:
  true``.  When the model is deployed, every node serving it installs the user buckets
  (N = the number of worker nodes) and rebuilds its predictor.
* Get: the controller document first (index missing: 404 ``Failed to find model
  controller``; document missing: 404 ``Failed to find model controller with the provided
  model ID``), then the model (404 ``Failed to find model to get the corresponding model
  controller with the provided model ID``) and access (403).
* Update: the model (the create wording of the 404), access, then the stored controller:
  missing while the model's ``is_controller_enabled`` is not true, 409 ``Model controller
  haven't been created for the model. Consider calling create model controller api
  instead.``; otherwise its error.  Users are merged in (``MLController.update``: a known
  user's limit and unit are overwritten field by field) and written as a partial update
  (``noop`` when nothing changed).  When the model is deployed and a limiter changed in a
  way that builds a bucket (``isDeployRequiredAfterUpdate``), the serving nodes install
  the new buckets.
* Delete: the model (when missing the controller is deleted alone), access, the stored
  controller (its lookup's error otherwise: ``no such index`` / ``Failed to find model
  controller``), the user buckets are removed from every node, the document is deleted
  with refresh, and the model gets ``is_controller_enabled: false``.
* Deleting a model deletes its controller too (DeleteModelTransportAction).
* 2.12-2.13 name the model in the 403 (``..., model ID: <id>``) and 404 (``...: <id>``)
  messages; from 2.14 (``StringUtils.getErrorMessage``) the 403 and 409 messages end
  ``Model ID: <id>`` (hidden models excepted) and the 404s carry no id.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from mlcommons_emu.cluster import modelcache
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.states import ModelState
from mlcommons_emu.errors import (
    EmulatorError,
    IllegalStateError,
    ParseError,
    ParsingError,
    StatusError,
)
from mlcommons_emu.services import inputs, model_groups, partial_update, stats
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows
from mlcommons_emu.store.repositories import Repositories

log = logging.getLogger("mlcommons_emu.controllers")

CONTROLLER_INDEX = stats.CONTROLLER_INDEX
CONTROLLER_ENABLED = s.PREFIX + "controller_enabled"
CONTROLLER_DISABLED = ('Controller is currently disabled. To enable it, update the setting '
                       '"plugins.ml_commons.controller_enabled" to true.')


class RuntimeException(EmulatorError):
    """A java.lang.RuntimeException (MLController.parse wraps the IOException of a user
    limiter given as a string that is not JSON)."""

    type = "runtime_exception"
    status = 500


# parsing ----------------------------------------------------------------------------------
def parse_controller(ctx: Context, body: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``MLController.parse``: the ``user_rate_limiter`` members (``model_id`` in the body is
    read and then replaced by the path's)."""
    limiters: dict[str, dict[str, str]] = {}
    if "model_id" in body:
        inputs.text(body["model_id"], "model_id")
    raw = body.get("user_rate_limiter")
    if raw is None:
        return limiters
    if not isinstance(raw, dict):
        raise ParsingError(f"Failed to parse object: expecting token of type [START_OBJECT] but found [{inputs.token_name(raw)}]")
    for user, value in raw.items():
        if isinstance(value, str):
            # getParameterMap keeps a string as it is; it is then parsed as JSON
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise RuntimeException(f"com.fasterxml.jackson.core.JsonParseException: {exc}") from None
        if not isinstance(value, dict):
            raise ParsingError("Failed to parse object: expecting token of type [START_OBJECT] but found "
                               f"[{inputs.token_name(value)}]")
        limiter = inputs.rate_limiter(value, ctx.release)
        if limiter:
            limiters[str(user)] = limiter
    return limiters


# messages ---------------------------------------------------------------------------------
def _with_id(ctx: Context, message: str, model_id: str) -> str:
    """The 409 texts end with `` Model ID: <id>``: built inline in 2.12-2.13, by
    ``getErrorMessage`` from 2.14 (which would leave the id out for a hidden model; the
    emulator has no hidden models)."""
    return f"{message} Model ID: {model_id}"


def _forbidden(ctx: Context, model_id: str) -> StatusError:
    if ctx.release < (2, 14):
        return StatusError("User doesn't have privilege to perform this operation on this model controller, "
                           f"model ID: {model_id}", 403)
    return StatusError(_with_id(ctx, "User doesn't have privilege to perform this operation on this model "
                                     "controller.", model_id), 403)


def _not_found(ctx: Context, message: str, model_id: str) -> StatusError:
    return StatusError(f"{message}: {model_id}" if ctx.release < (2, 14) else message, 404)


def check_enabled(ctx: Context) -> None:
    """``mlFeatureEnabledSetting.isControllerEnabled()`` (the REST handlers, 2.18+)."""
    if ctx.release < (2, 18):
        return
    try:
        enabled = ctx.setting(CONTROLLER_ENABLED)
    except KeyError:
        enabled = True
    if enabled is False:
        raise IllegalStateError(CONTROLLER_DISABLED)


# storage ----------------------------------------------------------------------------------
async def _model(ctx: Context, model_id: str) -> Model | None:
    async with ctx.transaction() as repos:
        if not await repos.models.exists():
            return None
        return await repos.models.get(model_id)


async def _require_access(ctx: Context, model: Model, model_id: str) -> None:
    async with ctx.transaction() as repos:
        granted = await model_groups.check_access(ctx, repos, model.model_group_id)
    if not granted:
        raise _forbidden(ctx, model_id)


async def _stored(ctx: Context, model_id: str) -> dict[str, Any]:
    """``MLModelManager.getController``: the index must exist (``IndexNotFoundException``)
    and hold the document (404 ``Failed to find model controller``)."""
    from mlcommons_emu.errors import IndexNotFoundError

    async with ctx.transaction() as repos:
        if not await repos.tx.index_exists(CONTROLLER_INDEX):
            raise IndexNotFoundError(CONTROLLER_INDEX)
        doc = await repos.tx.get(CONTROLLER_INDEX, model_id)
    if doc is None:
        raise StatusError("Failed to find model controller", 404)
    return dict(doc.source)


async def stored_user_limiters(ctx: Context, model_id: str) -> dict[str, dict[str, str]]:
    """The stored controller's user limiters (for a deploy of a controller-enabled model)."""
    return dict((await _stored(ctx, model_id)).get("user_rate_limiter") or {})


async def _set_controller_enabled(ctx: Context, repos: Repositories, model_id: str, enabled: bool) -> None:
    """``mlModelManager.updateModel(modelId, {is_controller_enabled})``: a partial update that
    also sets ``last_updated_time``; failures (no such model) are only logged."""
    current = await repos.models.get_document(model_id) if await repos.models.exists() else None
    if current is None:
        log.info("model %s not updated with is_controller_enabled=%s: not found", model_id, enabled)
        return
    await partial_update.write(
        repos, current, {"is_controller_enabled": enabled, "last_updated_time": ctx.now()}, now=ctx.now(),
        lookups=lambda merged: rows.model_lookups(rows.model_from_document(merged, model_id)))


# node caches ------------------------------------------------------------------------------
async def _deploy_on_nodes(ctx: Context, model_id: str, limiters: Mapping[str, Mapping[str, str]]) -> None:
    """``MLDeployControllerAction`` on the worker nodes: ``deployControllerWithDeployedModel``
    installs the user buckets (N = the worker node count) and rebuilds the predictor; a
    node's failure is only logged (the node still answers ``received``)."""
    from mlcommons_emu.services import deployment

    serving = ctx.cluster.serving(model_id)
    for runtime in serving:
        entry = stats.node_cache(ctx, runtime.node_id).model(model_id)
        try:
            entry.user_rate_limiters = modelcache.user_buckets(limiters, len(serving))
            previous = runtime.models[model_id].model
            await deployment.deploy_on_node(ctx, runtime, model_id)
            if previous is not None:
                runtime.models[model_id].model = previous
        except EmulatorError as exc:
            log.error("failed to deploy the model controller of %s on %s: %s", model_id, runtime.node_id, exc.reason)


async def _undeploy_from_nodes(ctx: Context, model_id: str) -> None:
    """``MLUndeployControllerAction`` on every node: the user buckets go, the predictor is
    rebuilt without them."""
    from mlcommons_emu.services import deployment

    for runtime in ctx.cluster.serving(model_id):
        entry = stats.node_cache(ctx, runtime.node_id).model(model_id)
        entry.user_rate_limiters = None
        try:
            previous = runtime.models[model_id].model
            await deployment.deploy_on_node(ctx, runtime, model_id)
            if previous is not None:
                runtime.models[model_id].model = previous
        except EmulatorError as exc:
            log.error("failed to undeploy the model controller of %s on %s: %s", model_id, runtime.node_id, exc.reason)


# use cases --------------------------------------------------------------------------------
async def _accepted(ctx: Context, model_id: str, body: Mapping[str, Any] | None,
                    verb: str) -> tuple[dict[str, dict[str, str]], Model]:
    """What create and update check first, in the plugin's order: the switch, the body, its
    parsing, the model (both name "create" in the not-found text), the caller's access."""
    check_enabled(ctx)
    if body is None:
        raise ParseError(f"{verb} model controller request has empty body")
    limiters = parse_controller(ctx, body)
    model = await _model(ctx, model_id)
    if model is None:
        raise _not_found(ctx, "Failed to find model to create the corresponding model controller with the "
                              "provided model ID", model_id)
    await _require_access(ctx, model, model_id)
    return limiters, model


async def create(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    limiters, model = await _accepted(ctx, model_id, body, "Create")
    if model.model_state is ModelState.DEPLOYING:
        raise StatusError(_with_id(ctx, "Creating a model controller during its corresponding model in DEPLOYING "
                                        "state is not allowed, please either create the model controller after it "
                                        "is deployed or before deploying it.", model_id), 409)
    document = {"model_id": model_id, "user_rate_limiter": limiters}
    async with ctx.transaction() as repos:
        written = await repos.tx.put(CONTROLLER_INDEX, model_id, document, now=ctx.now(),
                                     lookups={"model_id": model_id})
        created = written.version == 1
        if created:
            await _set_controller_enabled(ctx, repos, model_id, True)
    if ctx.cluster.serving(model_id):
        await _deploy_on_nodes(ctx, model_id, limiters)
    return {"model_id": model_id, "status": "CREATED" if created else "UPDATED"}


async def get(ctx: Context, model_id: str) -> dict[str, Any]:
    check_enabled(ctx)
    async with ctx.transaction() as repos:
        exists = await repos.tx.index_exists(CONTROLLER_INDEX)
        doc = await repos.tx.get(CONTROLLER_INDEX, model_id) if exists else None
    if not exists:
        raise StatusError("Failed to find model controller", 404)
    if doc is None:
        raise _not_found(ctx, "Failed to find model controller with the provided model ID", model_id)
    model = await _model(ctx, model_id)
    if model is None:
        raise _not_found(ctx, "Failed to find model to get the corresponding model controller with the "
                              "provided model ID", model_id)
    await _require_access(ctx, model, model_id)
    source = doc.source
    return {"model_id": source.get("model_id"), "user_rate_limiter": dict(source.get("user_rate_limiter") or {})}


def _deploy_required(stored: Mapping[str, Mapping[str, str]], change: Mapping[str, Mapping[str, str]]) -> bool:
    """``MLController.isDeployRequiredAfterUpdate`` / ``MLRateLimiter.isDeployRequiredAfterUpdate``."""
    for user, new in change.items():
        old = stored.get(user)
        if old is None:
            if new.get("limit") is not None and new.get("unit") is not None:
                return True
            continue
        differs = any(new.get(k) is not None and new.get(k) != old.get(k) for k in ("limit", "unit"))
        if not differs:
            continue
        if (new.get("limit") is not None and new.get("unit") is not None) or (
                old.get("unit") is not None and new.get("limit") is not None) or (
                old.get("limit") is not None and new.get("unit") is not None):
            return True
    return False


async def update(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> WriteResult:
    change, model = await _accepted(ctx, model_id, body, "Update")
    try:
        stored = await _stored(ctx, model_id)
    except EmulatorError:
        if model.is_controller_enabled is not True:
            raise StatusError(_with_id(ctx, "Model controller haven't been created for the model. Consider calling "
                                            "create model controller api instead.", model_id), 409) from None
        raise
    users: dict[str, dict[str, str]] = {u: dict(v) for u, v in (stored.get("user_rate_limiter") or {}).items()}
    deploy = _deploy_required(users, change)
    for user, limiter in change.items():
        users[user] = {**users.get(user, {}), **limiter}
        users[user] = {k: users[user][k] for k in ("limit", "unit") if k in users[user]}
    document = {"model_id": stored.get("model_id", model_id), "user_rate_limiter": users}
    async with ctx.transaction() as repos:
        current = await repos.tx.get(CONTROLLER_INDEX, model_id)
        if current is None:
            raise StatusError("Failed to find model controller", 404)
        result = await partial_update.write(repos, current, document, now=ctx.now(),
                                            lookups=lambda merged: {"model_id": model_id})
    if result.result == "updated" and deploy and ctx.cluster.serving(model_id):
        await _deploy_on_nodes(ctx, model_id, users)
    return result


async def delete(ctx: Context, model_id: str) -> WriteResult:
    check_enabled(ctx)
    model = await _model(ctx, model_id)
    if model is not None:
        await _require_access(ctx, model, model_id)
    await _stored(ctx, model_id)
    if ctx.cluster.serving(model_id):
        await _undeploy_from_nodes(ctx, model_id)
    async with ctx.transaction() as repos:
        found, version, seq_no = await repos.tx.delete(CONTROLLER_INDEX, model_id, now=ctx.now())
        if model is not None:
            await _set_controller_enabled(ctx, repos, model_id, False)
    return WriteResult(CONTROLLER_INDEX, model_id, version, seq_no, "deleted" if found else "not_found")


async def delete_with_model(ctx: Context, repos: Repositories, model_id: str) -> None:
    """DeleteModelTransportAction.deleteController: the model's controller document goes
    with it (nothing is created when there is none)."""
    if not await repos.tx.index_exists(CONTROLLER_INDEX):
        return
    if await repos.tx.get(CONTROLLER_INDEX, model_id) is not None:
        await repos.tx.delete(CONTROLLER_INDEX, model_id, now=ctx.now())
