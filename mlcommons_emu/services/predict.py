"""Predict on a remote model: resolve, auto-deploy when allowed, dispatch to a node."""
from __future__ import annotations

import json
from typing import Any, Mapping

from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.states import ModelState
from mlcommons_emu.errors import (
    ActionRequestValidationError,
    IllegalArgumentError,
    IllegalStateError,
    MLError,
    MLResourceNotFoundError,
    ParseError,
    ParsingError,
    StatusError,
)
from mlcommons_emu.connectors.crypto import CredentialDecryptError
from mlcommons_emu.services import deployment, model_groups
from mlcommons_emu.services import stats as node_stats
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


STREAM_DISABLED = ('Streaming is currently disabled. To enable it, update the setting '
                   '"plugins.ml_commons.stream_enabled" to true.')


async def predict_stream(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """``POST /models/{id}/_predict/stream`` (3.3+): refused (IllegalStateException, 500)
    while ``stream_enabled`` is off, its default; with it on, a model neither cached nor
    indexed is 404 before the stream opens.  The emulator serves no server-sent events:
    past those checks it answers 400 and points at ``_predict``."""
    if not ctx.setting(s.PREFIX + "stream_enabled"):
        raise IllegalStateError(STREAM_DISABLED)
    if not ctx.cluster.serving(model_id):
        async with ctx.transaction() as repos:
            model = await repos.models.get(model_id) if await repos.models.exists() else None
        if model is None:
            raise StatusError("Failed to find model", 404)
    raise IllegalArgumentError("mlcommons-emu does not stream predict responses (server-sent events); "
                               "use POST /_plugins/_ml/models/{model_id}/_predict")


async def predict(ctx: Context, model_id: str, body: Mapping[str, Any] | None,
                  *, algorithm: str | None = None) -> dict[str, Any]:
    release = ctx.release
    serving = [] if ctx.shared else ctx.cluster.serving(model_id)
    if serving and serving[0].models[model_id].model is not None:
        # a node holding the model answers from its in-memory copy, as the plugin's model
        # cache does; no index read on the hot path
        model = serving[0].models[model_id].model
    else:
        async with ctx.transaction() as repos:
            exists = await repos.models.exists()
            model = await repos.models.get(model_id) if exists else None
        if model is None:
            if ctx.shared:
                for runtime in ctx.cluster.nodes:
                    runtime.models.pop(model_id, None)
            raise _predict_not_found(ctx, model_id, index_missing=not exists)
        if ctx.shared:
            from mlcommons_emu.services import shared

            await shared.align_model(ctx, model)
    await model_groups.require_model_access(ctx, model.model_group_id, "predict", model_id)
    if body is None:
        # RestMLPredictionAction sends failures for a model not cached on the node
        # through its not-found handler, so a missing body is 404 there, 400 otherwise
        status = 400 if ctx.cluster.serving(model_id) else 404
        raise ParseError("request body is required", status=status)
    check_remote_inference_enabled(ctx)
    parameters = body.get("parameters")
    documents = None
    query_text = None
    if algorithm in ("TEXT_EMBEDDING", "SPARSE_ENCODING", "SPARSE_TOKENIZE", "TEXT_SIMILARITY"):
        # the algorithm-in-path route parses the body as that algorithm's input: text_docs
        # (plus query_text for similarity) reach a remote model only this way
        documents, query_text = _documents(body, algorithm)
    if documents is not None:
        if model.is_enabled is False:
            raise StatusError("Model is disabled.", 403)
        with node_stats.predict_call(ctx, model.model_id, algorithm) as call:  # counters, latencies
            runtime = call.on(await _serving_runtime(ctx, model))
            results = await runtime.predict_documents(
                documents, parameters if isinstance(parameters, dict) else {}, ctx.transport,
                ctx.runtime_options(), query_text=query_text)
        return {"inference_results": results}
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

    with node_stats.predict_call(ctx, model.model_id, algorithm) as call:  # counters, latencies
        runtime = call.on(await _serving_runtime(ctx, model))
        element = await runtime.predict(parameters, ctx.transport, ctx.runtime_options())
    return {"inference_results": [element]}


async def _serving_runtime(ctx: Context, model: Any) -> Any:
    """The node that serves this call (round robin), deploying first when allowed."""
    serving = ctx.cluster.serving(model.model_id)
    if not serving:
        await _auto_deploy(ctx, model)
        serving = ctx.cluster.serving(model.model_id)
        if not serving:
            serving = [await _deploy_where_dispatched(ctx, model)]
    return ctx.cluster.pick(serving).models[model.model_id]


async def _deploy_where_dispatched(ctx: Context, model: Any) -> Any:
    """The auto-deploy left no node serving: MLPredictTaskRunner still dispatches the call
    to an eligible node, which finds no ready predictor and deploys locally before
    predicting.  That local deploy's failure is the predict's answer; for a credential
    that does not decrypt, the MLException around the Encryption SDK's error (500)."""
    nodes = [ctx.cluster.get(node_id) for node_id in deployment.eligible(ctx)]
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise IllegalArgumentError("no eligible node to run predict request")
    runtime = ctx.cluster.pick(nodes)
    try:
        await deployment.deploy_on_node(ctx, runtime, model.model_id)
    except CredentialDecryptError as exc:
        raise MLError(exc.java_reason) from None
    return runtime


def _documents(body: Mapping[str, Any], algorithm: str) -> tuple[list[Any] | None, str | None]:
    docs = body.get("text_docs")
    if docs is None:
        return None, None
    if not isinstance(docs, list):
        raise ParsingError(f"[text_docs] expected an array, found {type(docs).__name__}")
    documents = [d if d is None or isinstance(d, str) else json.dumps(d, separators=(",", ":")) for d in docs]
    query = body.get("query_text")
    if algorithm == "TEXT_SIMILARITY":
        if query is None:
            raise ActionRequestValidationError("input data can't be null")
        return documents, str(query)
    return documents, None


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
    # MLPredictTaskRunner triggers the deploy and dispatches the predict without waiting for it
    await deployment.start(ctx, model, plan, background=True)
    if ctx.tasks.immediate:
        await ctx.executor.drain()
    if model.model_state is ModelState.DEPLOYING:
        return
