"""Offline batch inference on remote models: ``_batch_predict``, the status refresh a GET of a
BATCH_PREDICTION task makes, and ``POST /tasks/{task_id}/_cancel``.

What the plugin does, by release (RestMLPredictionAction, MLPredictTaskRunner,
GetTaskTransportAction, CancelBatchJobTransportAction, ConnectorUtils.createConnectorAction):

* 2.16: ``_batch_predict`` runs the connector's ``batch_predict`` action through the deployed
  model and answers like predict (``inference_results``); no task is written.
* 2.17: the provider's answer must carry a job id (``id`` or ``TransformJobArn``); a
  BATCH_PREDICTION task is indexed with that answer as ``remote_job`` and the call answers
  ``{"task_id", "status": "CREATED"}``.  GET of the task calls the connector's
  ``batch_predict_status`` action, merges its answer into ``remote_job`` and maps ``status``
  ``completed``/``cancelled`` to the task state; ``POST /tasks/{id}/_cancel`` calls
  ``cancel_batch_predict``.  Both actions must be configured.
* 2.18: the answer also carries ``remote_job``; a 2xx status is required instead of a job id;
  ``offline_batch_inference_enabled`` is checked; at most ``max_batch_inference_tasks``
  CREATED/RUNNING batch tasks (counted over one default-size search page, so never more than
  10); status and cancel actions default from the ``batch_predict`` URL for OpenAI, Cohere,
  Bedrock and SageMaker; the state follows the ``remote_job.status_regex.*`` defaults.
* 2.19: ``dlq`` is read from the request and kept in ``remote_job``; a ``failed`` status makes
  the task FAILED; the status call carries the headers of the connector's predict action.

The task is indexed with state RUNNING (the runner marks its in-memory task running before
the remote call) while the response says CREATED.  The plugin's one-minute polling job
(BATCH_TASK_UPDATE) is not emulated: a task changes only when it is read.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import attrs

from mlcommons_emu.connectors import templating
from mlcommons_emu.connectors.runtime import DeployedRemoteModel
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.connector import Connector, ConnectorAction
from mlcommons_emu.domain.states import TaskType
from mlcommons_emu.errors import (
    EmulatorError,
    GenericError,
    IllegalArgumentError,
    IllegalStateError,
    IndexNotFoundError,
    MLResourceNotFoundError,
    ParseError,
    ParsingError,
    ResourceNotFoundError,
    StatusError,
)
from mlcommons_emu.services import inputs, predict
from mlcommons_emu.services.connectors import check_remote_inference_enabled
from mlcommons_emu.services.context import Context
from mlcommons_emu.store import rows

OFFLINE_BATCH_INFERENCE_ENABLED = s.PREFIX + "offline_batch_inference_enabled"
MAX_BATCH_INFERENCE_TASKS = s.PREFIX + "max_batch_inference_tasks"

BATCH_INFERENCE_DISABLED = (
    "Offline Batch Inference is currently disabled. To enable it, update the setting "
    '"plugins.ml_commons.offline_batch_inference_enabled" to true.')
TOO_MANY_BATCH_TASKS = (
    "Exceeded maximum limit for BATCH_PREDICTION tasks. To increase the limit, update the "
    "plugins.ml_commons.max_batch_inference_tasks setting.")
UNABLE_TO_CREATE_JOB = "Unable to create batch transform job"
STATUS_UNAVAILABLE = "Couldn't fetch status of the transform job"
MODEL_OF_TASK_MISSING = "Failed to retrieve the ML model for the given task ID"
NOT_A_BATCH_TASK = "The task ID you provided does not have any associated batch job"
CANCEL_FAILED = "Couldn't cancel the transform job. Please try again"

BATCH_PREDICT = "BATCH_PREDICT"
BATCH_PREDICT_STATUS = "BATCH_PREDICT_STATUS"
CANCEL_BATCH_PREDICT = "CANCEL_BATCH_PREDICT"

#: plugins.ml_commons.remote_job.status_field (2.18+ default)
STATUS_FIELDS = ("status", "Status", "TransformJobStatus")
#: remote_job.status_regex.* defaults in the order GetTaskTransportAction tries them
_STATE_PATTERNS: tuple[tuple[str, re.Pattern[str], tuple[int, int]], ...] = (
    ("CANCELLING", re.compile("(stopping|cancelling)", re.IGNORECASE), (2, 18)),
    ("CANCELLED", re.compile("(stopped|cancelled)", re.IGNORECASE), (2, 18)),
    ("COMPLETED", re.compile("(complete|completed|partiallyCompleted)", re.IGNORECASE), (2, 18)),
    ("EXPIRED", re.compile("(expired|timeout)", re.IGNORECASE), (2, 18)),
    ("FAILED", re.compile("(failed)", re.IGNORECASE), (2, 19)),
)
#: ConnectorAction.SUPPORTED_REMOTE_SERVERS_FOR_DEFAULT_ACTION_TYPES, in lookup order
_DEFAULT_ACTION_SERVERS = ("sagemaker", "openai", "bedrock", "cohere")
#: checkMaxBatchJobTask counts the hits of one search with the default page size
_SEARCH_PAGE_SIZE = 10


class UnsupportedOperationError(EmulatorError):
    """java.lang.UnsupportedOperationException (no default batch action for the provider)."""

    type = "unsupported_operation_exception"
    status = 500


class NoSuchElementError(EmulatorError):
    """java.util.NoSuchElementException (an Optional read while empty)."""

    type = "no_such_element_exception"
    status = 500


@attrs.frozen
class BatchInput:
    """RemoteInferenceMLInput as ``_batch_predict`` reads it."""

    parameters: dict[str, Any]
    action_type: str
    dlq: dict[str, str | None] | None = None


# ------------------------------------------------------------------------ batch predict
async def batch_predict(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """``POST /_plugins/_ml/models/{model_id}/_batch_predict`` (2.16+)."""
    model = await _resolve_model(ctx, model_id)
    request = _read_request(ctx, body, cached=bool(ctx.cluster.serving(model_id)))
    if request.action_type == "PREDICT":
        # an explicit "action_type" in the body wins over the one the path implies
        return await predict.predict(ctx, model_id, body)
    if model.is_enabled is False:
        raise StatusError("Model is disabled.", 403)
    _check_dlq(request.dlq)
    node, runtime = await _dispatch(ctx, model)
    if request.action_type != BATCH_PREDICT or ctx.release < (2, 17):
        element = await _execute(ctx, runtime, request.action_type, request.parameters)
        return {"inference_results": [element]}
    if ctx.release >= (2, 18):
        await _check_task_limit(ctx)
    started = ctx.now()
    element = await _execute(ctx, runtime, BATCH_PREDICT, request.parameters)
    remote_job = _remote_job(ctx, element, request.dlq)
    task_id = await _index_task(ctx, model_id, node.node_id, started, remote_job)
    response: dict[str, Any] = {"task_id": task_id, "status": "CREATED"}
    if ctx.release >= (2, 18):
        response["remote_job"] = remote_job
    return response


async def _resolve_model(ctx: Context, model_id: str) -> Any:
    """The node's cached copy when the model is served, else the model index (as predict)."""
    serving = ctx.cluster.serving(model_id)
    if serving and serving[0].models[model_id].model is not None:
        return serving[0].models[model_id].model
    async with ctx.transaction() as repos:
        exists = await repos.models.exists()
        model = await repos.models.get(model_id) if exists else None
    if model is None:
        raise predict._predict_not_found(ctx, model_id, index_missing=not exists)
    return model


def _read_request(ctx: Context, body: Mapping[str, Any] | None, *, cached: bool) -> BatchInput:
    """RestMLPredictionAction.getRequest.  For a model not cached on the coordinating node it
    runs inside the model-lookup listener, whose failure handler answers 404 for any error."""
    try:
        check_remote_inference_enabled(ctx)
        if ctx.release >= (2, 18) and not ctx.setting(OFFLINE_BATCH_INFERENCE_ENABLED):
            raise IllegalStateError(BATCH_INFERENCE_DISABLED)
        if body is None:
            raise ParseError("request body is required")
        return _parse_input(body, ctx)
    except EmulatorError as exc:
        if not cached:
            exc.status = 404
        raise


def _parse_input(body: Mapping[str, Any], ctx: Context) -> BatchInput:
    parameters = body.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        token = "START_ARRAY" if isinstance(parameters, list) else "VALUE"
        raise ParsingError(f"[parameters] Can't get text on a {token}")
    raw_type = inputs.text(body.get("action_type"), "action_type")
    action_type = _action_type(raw_type, ctx) if raw_type is not None else BATCH_PREDICT
    dlq = inputs.string_map(body.get("dlq"), "dlq") if ctx.release >= (2, 19) else None
    return BatchInput(dict(parameters or {}), action_type, dlq)


def _action_type(raw: str, ctx: Context) -> str:
    """ConnectorAction.ActionType.from: case-insensitive, else ``Wrong Action Type of <raw>``."""
    known = ["PREDICT", "EXECUTE", BATCH_PREDICT]
    if ctx.release >= (2, 17):
        known += [CANCEL_BATCH_PREDICT, BATCH_PREDICT_STATUS]
    if raw.upper() not in known:
        raise IllegalArgumentError(f"Wrong Action Type of {raw}")
    return raw.upper()


def _check_dlq(dlq: Mapping[str, str | None] | None) -> None:
    """MLPredictTaskRunner.dispatchTask: a dead-letter queue needs a bucket and a region."""
    if dlq is not None and (dlq.get("bucket") is None or dlq.get("region") is None):
        raise IllegalArgumentError("DLQ bucketName or region cannot be null")


async def _dispatch(ctx: Context, model: Any) -> tuple[Any, DeployedRemoteModel]:
    """The worker node (round robin over the serving nodes), auto-deploying as predict does."""
    serving = ctx.cluster.serving(model.model_id)
    if not serving:
        await predict._auto_deploy(ctx, model)
        serving = ctx.cluster.serving(model.model_id)
        if not serving:
            raise IllegalArgumentError("no eligible node to run predict request")
    node = ctx.cluster.pick(serving)
    return node, node.models[model.model_id]


async def _execute(ctx: Context, runtime: DeployedRemoteModel, action_type: str,
                   parameters: Mapping[str, Any]) -> dict[str, Any]:
    action = runtime.connector.action(action_type)
    if action is None:
        raise IllegalArgumentError(f"no {action_type} action found")
    return await runtime.execute_action(action, parameters, ctx.transport, ctx.runtime_options())


async def _check_task_limit(ctx: Context) -> None:
    """MLTaskManager.checkMaxBatchJobTask: CREATED or RUNNING batch tasks against the limit."""
    async with ctx.transaction() as repos:
        if not await repos.tasks.exists():
            raise IndexNotFoundError(rows.TASK_INDEX)
        running = 0
        for state in ("CREATED", "RUNNING"):
            documents = await repos.tasks.find_documents(state=state)
            running += sum(1 for d in documents if d.source.get("task_type") == TaskType.BATCH_PREDICTION.value)
    if min(running, _SEARCH_PAGE_SIZE) >= ctx.setting(MAX_BATCH_INFERENCE_TASKS):
        raise StatusError(TOO_MANY_BATCH_TASKS, 429)


def _first_data(element: Mapping[str, Any]) -> Any:
    """``dataAsMap`` of the first tensor of the first output, or None."""
    tensors = element.get("output") or []
    return tensors[0].get("dataAsMap") if tensors else None


def _remote_job(ctx: Context, element: Mapping[str, Any], dlq: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the provider answered, kept as the task's ``remote_job``."""
    data = _first_data(element)
    status = element.get("status_code")
    if ctx.release >= (2, 18):
        accepted = isinstance(data, dict) and status is not None and 200 <= status < 300
    else:
        accepted = isinstance(data, dict) and ("TransformJobArn" in data or "id" in data)
    if not accepted:
        raise ResourceNotFoundError(UNABLE_TO_CREATE_JOB)
    job = dict(data)
    if ctx.release >= (2, 19):
        job["dlq"] = dict(dlq) if dlq is not None else None
    return job


async def _index_task(ctx: Context, model_id: str, node_id: str, started: int,
                      remote_job: Mapping[str, Any]) -> str:
    """The BATCH_PREDICTION task document, in MLTask.toXContent's field order."""
    source = {
        "model_id": model_id,
        "task_type": TaskType.BATCH_PREDICTION.value,
        "function_name": "REMOTE",
        "state": "RUNNING",
        "input_type": "REMOTE",
        "worker_node": [node_id],
        "create_time": started,
        "last_update_time": started,
        "is_async": False,
        "remote_job": dict(remote_job),
    }
    task_id = ctx.ids.document_id()
    async with ctx.transaction() as repos:
        await repos.tx.put(rows.TASK_INDEX, task_id, source, now=ctx.now(),
                           lookups={"model_id": model_id, "state": "RUNNING"})
    return task_id


# --------------------------------------------------------------------- task status
def is_batch_task(source: Mapping[str, Any]) -> bool:
    return source.get("task_type") == TaskType.BATCH_PREDICTION.value


async def get_task(ctx: Context, task_id: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """GET of a BATCH_PREDICTION task: the remote job's status is fetched, merged into
    ``remote_job`` and mapped to the task state; the document is updated (with a new
    ``last_update_time``) and the task is answered as read, with the new job and state."""
    if ctx.release >= (2, 18) and not ctx.setting(OFFLINE_BATCH_INFERENCE_ENABLED):
        raise IllegalStateError(BATCH_INFERENCE_DISABLED)
    if source.get("function_name") != "REMOTE":
        return dict(source)
    remote_job = dict(source.get("remote_job") or {})
    header_action = "PREDICT" if ctx.release >= (2, 19) else BATCH_PREDICT_STATUS
    runtime, action = await _job_executor(ctx, source, BATCH_PREDICT_STATUS, header_action)
    element = await runtime.execute_action(action, _job_parameters(remote_job), ctx.transport,
                                           ctx.runtime_options())
    status = _first_data(element)
    if not isinstance(status, dict):
        raise ResourceNotFoundError(STATUS_UNAVAILABLE)
    remote_job.update(status)
    answer = {**source, "state": _task_state(ctx, remote_job, source.get("state")), "remote_job": remote_job}
    await _update_task(ctx, task_id, answer)
    return answer


def _task_state(ctx: Context, remote_job: Mapping[str, Any], current: Any) -> Any:
    if ctx.release < (2, 18):
        if remote_job.get("status") == "completed" or remote_job.get("TransformJobStatus") == "Completed":
            return "COMPLETED"
        if remote_job.get("status") == "cancelled" or remote_job.get("TransformJobStatus") == "Stopped":
            return "CANCELLED"
        return current
    state = current
    for field in STATUS_FIELDS:
        if field not in remote_job:
            continue
        value = "null" if remote_job[field] is None else str(remote_job[field])
        for name, pattern, since in _STATE_PATTERNS:
            if ctx.release >= since and pattern.search(value):
                state = name
                break
    return state


async def _update_task(ctx: Context, task_id: str, answer: Mapping[str, Any]) -> None:
    """MLTaskManager.updateMLTaskDirectly: ``remote_job``, ``state``, ``last_update_time``."""
    async with ctx.transaction() as repos:
        current = await repos.tasks.get_document(task_id)
        base = dict(current.source) if current is not None else {}
        updated = {**base, "state": answer["state"], "remote_job": answer["remote_job"],
                   "last_update_time": ctx.now()}
        await repos.tx.put(rows.TASK_INDEX, task_id, updated, now=ctx.now(),
                           lookups={"model_id": updated.get("model_id"), "state": updated.get("state")})


# ---------------------------------------------------------------------- task cancel
async def cancel_task(ctx: Context, task_id: str) -> dict[str, Any]:
    """``POST /_plugins/_ml/tasks/{task_id}/_cancel`` (2.17+): the connector's cancel action
    for the task's remote job; ``{"status": "OK"}`` when the provider answers 200.  The task
    itself is not changed (the next GET reads the job's new status)."""
    async with ctx.transaction() as repos:
        exists = await repos.tasks.exists()
        document = await repos.tasks.get_document(task_id) if exists else None
    if not exists:
        raise MLResourceNotFoundError("Fail to find task")
    if document is None:
        raise StatusError("Fail to find task", 404)
    source = document.source
    if is_batch_task(source) and ctx.release >= (2, 18) and not ctx.setting(OFFLINE_BATCH_INFERENCE_ENABLED):
        raise IllegalStateError(BATCH_INFERENCE_DISABLED)
    if not is_batch_task(source) or source.get("function_name") != "REMOTE":
        raise IllegalArgumentError(NOT_A_BATCH_TASK)
    runtime, action = await _job_executor(ctx, source, CANCEL_BATCH_PREDICT, CANCEL_BATCH_PREDICT)
    element = await runtime.execute_action(action, _job_parameters(dict(source.get("remote_job") or {})),
                                           ctx.transport, ctx.runtime_options())
    if element.get("status_code") != 200:
        raise GenericError(CANCEL_FAILED)
    return {"status": "OK"}


# ------------------------------------------------------------- job action executors
def _job_parameters(remote_job: Mapping[str, Any]) -> dict[str, str]:
    """The string members of ``remote_job`` (plus TransformJobName from a SageMaker ARN)."""
    parameters = {k: v for k, v in remote_job.items() if isinstance(v, str)}
    arn = parameters.get("TransformJobArn")
    if "TransformJobName" not in parameters and arn is not None:
        parameters["TransformJobName"] = arn[arn.rfind("/") + 1:]
    return parameters


async def _job_executor(ctx: Context, source: Mapping[str, Any], action_type: str,
                        header_action: str) -> tuple[DeployedRemoteModel, ConnectorAction]:
    """A fresh executor over the model's connector (not the deployed one), with the
    action to run: the connector's own, else (2.18+) the default derived from batch_predict."""
    model_id = source.get("model_id")
    async with ctx.transaction() as repos:
        model = await repos.models.get(model_id) if model_id and await repos.models.exists() else None
        if model is None:
            raise StatusError(MODEL_OF_TASK_MISSING, 404)
        connector = model.connector
        if connector is None and model.connector_id:
            if not await repos.connectors.exists():
                raise ResourceNotFoundError(f"Can't find connector {model.connector_id}")
            connector = await repos.connectors.get(model.connector_id)
            if connector is None:
                raise StatusError(f"Failed to find connector:{model.connector_id}", 404)
    if connector is None:
        raise IllegalArgumentError("Connector is null for remote model")
    connector = _with_default_action(ctx, connector, action_type)
    action = connector.action(action_type)
    if action is None:
        raise IllegalArgumentError(f"no {action_type} action found")
    credentials = ctx.cipher().decrypt_map(connector.credential)
    runtime = DeployedRemoteModel(model.model_id, connector, credentials, ctx.release, model,
                                  header_action=header_action)
    return runtime, action


def _with_default_action(ctx: Context, connector: Connector, action_type: str) -> Connector:
    """2.18+: an action missing (or without a request body) gets a default appended.  The
    connector's own action, if any, still comes first, so lookups keep finding it."""
    if ctx.release < (2, 18):
        return connector
    own = connector.action(action_type)
    if own is not None and own.request_body is not None:
        return connector
    return attrs.evolve(connector, actions=connector.actions + (default_action(connector, action_type),))


def default_action(connector: Connector, action_type: str) -> ConnectorAction:
    """ConnectorUtils.createConnectorAction: the status or cancel call of a known provider,
    derived from the batch_predict URL (with the connector's parameters filled in) and
    carrying that action's headers."""
    batch = connector.action(BATCH_PREDICT)
    if batch is None:
        raise NoSuchElementError("No value present")
    endpoint = templating.render_url(batch.url, connector.parameters)
    server = next((name for name in _DEFAULT_ACTION_SERVERS if name in endpoint), "")
    cancel = action_type == CANCEL_BATCH_PREDICT
    method, body = "POST", None
    if server == "sagemaker":
        url = endpoint.replace("CreateTransformJob", "StopTransformJob" if cancel else "DescribeTransformJob")
        body = '{ "TransformJobName" : "${parameters.TransformJobName}"}'
    elif server in ("openai", "cohere"):
        url = endpoint + ("/${parameters.id}/cancel" if cancel else "/${parameters.id}")
        method = "POST" if cancel else "GET"
    elif server == "bedrock":
        url = endpoint + ("/${parameters.processedJobArn}/stop" if cancel else "/${parameters.processedJobArn}")
        method = "POST" if cancel else "GET"
    else:
        raise UnsupportedOperationError(
            "Please configure the action type to cancel the batch job in the connector" if cancel
            else "Please configure the action type to get the batch job details in the connector")
    return ConnectorAction(action_type=action_type, method=method, url=url, headers=batch.headers,
                           request_body=body)
