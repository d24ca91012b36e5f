"""Predict on a remote model: resolve, auto-deploy when allowed, dispatch to a node."""
from __future__ import annotations

from typing import Any, Mapping

from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.states import ModelState
from mlcommons_emu.errors import (
    ActionRequestValidationError,
    IllegalArgumentError,
    MLResourceNotFoundError,
    ParseError,
    ParsingError,
    StatusError,
)
from mlcommons_emu.services import deployment
from mlcommons_emu.services.connectors import check_remote_inference_enabled
from mlcommons_emu.services.context import Context


def _predict_not_found(ctx: Context, model_id: str, *, index_missing: bool) -> Exception:
    """RestMLPredictionAction answers every lookup failure with an explicit 404."""
    if ctx.release >= (2, 19):
        if index_missing:
            return StatusError("Failed to get data object from index .plugins-ml-model", 404)
        return StatusError("Failed to find model", 404)
    if index_missing:
        return MLResourceNotFoundError("Fail to find model", status=404)
    return StatusError(f"Failed to find model with the provided model id: {model_id}", 404)


async def predict(ctx: Context, model_id: str, body: Mapping[str, Any] | None,
                  *, algorithm: str | None = None) -> dict[str, Any]:
    release = ctx.release
    serving = ctx.cluster.serving(model_id)
    if serving and serving[0].models[model_id].model is not None:
        # a node holding the model answers from its in-memory copy, as the plugin's model
        # cache does; no index read on the hot path
        model = serving[0].models[model_id].model
    else:
        async with ctx.transaction() as repos:
            exists = await repos.models.exists()
            model = await repos.models.get(model_id) if exists else None
        if model is None:
            raise _predict_not_found(ctx, model_id, index_missing=not exists)
    if body is None:
        # RestMLPredictionAction sends failures for a model not cached on the node
        # through its not-found handler, so a missing body is 404 there, 400 otherwise
        status = 400 if ctx.cluster.serving(model_id) else 404
        raise ParseError("request body is required", status=status)
    check_remote_inference_enabled(ctx)
    parameters = body.get("parameters")
    if algorithm is not None and algorithm.upper() == "TEXT_EMBEDDING" and "text_docs" in body:
        # text_docs reach a remote model only through the algorithm-in-path route, and
        # only through a connector pre-process function
        action = _predict_action(ctx, model_id)
        if action is None or not action.pre_process_function:
            raise IllegalArgumentError(
                "Must provide pre_process_function for predict action to process text docs input.")
        raise IllegalArgumentError(
            "Pre-process functions for text_docs input are not supported by mlcommons-emu yet")
    if parameters is not None and not isinstance(parameters, dict):
        raise ParsingError(f"[parameters] Can't get text on a {'START_ARRAY' if isinstance(parameters, list) else 'VALUE'}")
    if parameters is None:
        if release < (2, 16):
            raise ActionRequestValidationError("input data can't be null")
        # RemoteInferenceMLInput builds a dataset without parameters from 2.16: the
        # payload is rendered from the connector's own parameters only
        parameters = {}
    if model.is_enabled is False:
        raise StatusError("Model is disabled.", 403)

    if not serving:
        await _auto_deploy(ctx, model)
        serving = ctx.cluster.serving(model_id)
        if not serving:
            raise IllegalArgumentError("no eligible node to run predict request")
    node = ctx.cluster.pick(serving)
    runtime = node.models[model_id]
    element = await runtime.predict(parameters, ctx.transport, ctx.runtime_options())
    return {"inference_results": [element]}


def _predict_action(ctx: Context, model_id: str) -> Any:
    for node in ctx.cluster.nodes:
        if model_id in node.models:
            return node.models[model_id].connector.action("PREDICT")
    return None


async def _auto_deploy(ctx: Context, model: Any) -> None:
    release = ctx.release
    not_ready_old = f"Model not ready yet. Please run this first: POST /_plugins/_ml/models/{model.model_id}/_deploy"
    if release < (2, 13):
        raise IllegalArgumentError(not_ready_old)
    if not model.is_auto_deploy_enabled:
        raise IllegalArgumentError(
            f"Auto deployment disabled for this model, please deploy model first Model ID: {model.model_id}")
    if not ctx.setting(s.MODEL_AUTO_DEPLOY):
        if release >= (2, 14):
            raise IllegalArgumentError("Model not ready yet. Please deploy the model first.")
        raise IllegalArgumentError(not_ready_old)
    plan = None
    if not model.deploy_to_all_nodes and model.planning_worker_nodes and ctx.setting(s.ALLOW_CUSTOM_DEPLOYMENT_PLAN):
        plan = list(model.planning_worker_nodes)
    await deployment.start(ctx, model, plan)
    await ctx.executor.drain()
    if model.model_state is ModelState.DEPLOYING:
        return
