"""Remote model use cases: register, get, update, delete."""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Mapping

import attrs

from mlcommons_emu.cluster import progression
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.model_group import ModelGroup
from mlcommons_emu.domain.release import Release
from mlcommons_emu.domain.states import FunctionName, ModelState, TaskState, TaskType
from mlcommons_emu.domain.task import Task
from mlcommons_emu.domain.transitions import move_task
from mlcommons_emu.errors import (
    EmulatorError,
    GenericError,
    IOError_,
    IllegalArgumentError,
    IndexNotFoundError,
    MLError,
    MLResourceNotFoundError,
    NullPointerError,
    ParseError,
    StatusError,
)
from mlcommons_emu.services import connectors as connector_service
from mlcommons_emu.services import inputs, partial_update
from mlcommons_emu.services.context import Context
from mlcommons_emu.services import identity, model_groups
from mlcommons_emu.services import stats as node_stats
from mlcommons_emu.services.model_groups import create_in, parse_access
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows
from mlcommons_emu.store.repositories import Repositories


_LOCAL_FILE = ("To upload custom model from local file, user needs to enable allow_registering_model_via_local_file "
               "settings. Otherwise please use opensearch pre-trained models")


def local_upload_error(ctx: Context, *, chunk: bool, has_body: bool) -> EmulatorError:
    """Why a local model's meta or chunk upload is refused.

    The plugin checks ``allow_registering_model_via_local_file`` first (the chunk message
    ends with a period, the meta one does not), then a meta request's body.  Past those
    checks the emulator stops: it runs remote models only.
    """
    if not ctx.setting(s.PREFIX + "allow_registering_model_via_local_file"):
        return IllegalArgumentError(_LOCAL_FILE + ("." if chunk else ""))
    if not chunk and not has_body:
        return IOError_("Model meta request has empty body")
    return IllegalArgumentError("Only remote models (function_name \"remote\") can be registered on mlcommons-emu")


def function_name(raw: Any, ctx: Context) -> FunctionName:
    value = inputs.text(raw, "function_name")
    if value is None:
        return FunctionName.TEXT_EMBEDDING
    return inputs.function_name(value, ctx.release)


@attrs.frozen
class RegisterInput:
    name: str
    function_name: FunctionName
    model_group_id: str | None
    description: str | None
    connector_id: str | None
    connector_body: dict[str, Any] | None
    access: dict[str, Any]
    node_ids: tuple[str, ...]
    extras: dict[str, Any]


def parse_register(ctx: Context, body: Mapping[str, Any]) -> RegisterInput:
    fn = function_name(body.get("function_name"), ctx)
    name = inputs.text(body.get("name"), "name")
    if name is None:
        raise IllegalArgumentError("model name is null")
    if fn is not FunctionName.REMOTE:
        if body.get("model_format") is None:
            raise IllegalArgumentError("model format is null")
        if body.get("url") is not None:
            raise IllegalArgumentError(
                "To upload custom model user needs to enable allow_registering_model_via_url settings. "
                "Otherwise please use opensearch pre-trained models.")
        raise IllegalArgumentError(
            "Only remote models (function_name \"remote\") can be registered on mlcommons-emu")
    extras: dict[str, Any] = {}
    if ctx.release >= (2, 12):
        if "is_enabled" in body:
            extras["is_enabled"] = inputs.boolean(body.get("is_enabled"), "is_enabled")
        if body.get("rate_limiter") is not None:
            extras["rate_limiter"] = _rate_limiter(body.get("rate_limiter"), ctx.release)
    if ctx.release >= (2, 13):
        if body.get("deploy_setting") is not None:
            extras["deploy_setting"] = inputs.obj(body.get("deploy_setting"), "deploy_setting")
        if body.get("guardrails") is not None:
            extras["guardrails"] = inputs.obj(body.get("guardrails"), "guardrails")
    if ctx.release >= (2, 14) and body.get("interface") is not None:
        extras["interface"] = inputs.obj(body.get("interface"), "interface")
    if body.get("model_config") is not None:
        extras["model_config"] = inputs.obj(body.get("model_config"), "model_config")
    connector_body = body.get("connector")
    if connector_body is not None and not isinstance(connector_body, dict):
        connector_body = inputs.obj(connector_body, "connector")
    return RegisterInput(
        name=name, function_name=fn,
        model_group_id=inputs.text(body.get("model_group_id"), "model_group_id"),
        description=inputs.text(body.get("description"), "description"),
        connector_id=inputs.text(body.get("connector_id"), "connector_id"),
        connector_body=connector_body,
        access=parse_access(body, lower=False),
        node_ids=tuple(inputs.string_list(body.get("model_node_ids"), "model_node_ids") or ()),
        extras=extras,
    )


def _rate_limiter(value: Any, release: Any) -> dict[str, Any]:
    return inputs.rate_limiter(inputs.obj(value, "rate_limiter") or {}, release)


class _GroupReader:
    """Counts a register as in flight, per target group, from its first step until it has
    read that group, so registers into one group that arrive together all read before any
    of them bumps the version (registers into other groups do not wait for them)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.key: tuple[str, str] | None = None

    def start(self, request: "RegisterInput") -> None:
        """The group the register targets: its id, or the name a new group would take."""
        self.key = ("id", request.model_group_id) if request.model_group_id else ("name", request.name)
        readers = self.ctx.registers_reading
        readers[self.key] = readers.get(self.key, 0) + 1

    def done(self) -> None:
        if self.key is not None:
            readers = self.ctx.registers_reading
            readers[self.key] -= 1
            if not readers[self.key]:
                del readers[self.key]
            self.key = None

    async def wait_for_others(self, key: tuple[str, str] | None, limit: float = 0.25) -> None:
        """Until every register into the same group that has started has read it (bounded)."""
        if key is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while self.ctx.registers_reading.get(key, 0) > 0 and loop.time() < deadline:
            await asyncio.sleep(0.001)


async def register(ctx: Context, body: Mapping[str, Any] | None, *, deploy: bool = False) -> dict[str, Any]:
    reader = _GroupReader(ctx)
    try:
        return await _register(ctx, body, deploy, reader)
    finally:
        reader.done()


async def _register(ctx: Context, body: Mapping[str, Any] | None, deploy: bool, reader: _GroupReader) -> dict[str, Any]:
    connector_service.check_remote_inference_enabled(ctx)
    if body is None:
        raise ParseError("request body is required")
    request = parse_register(ctx, body)
    reader.start(request)  # no await since the call began: concurrent registers overlap here
    # The plugin hands the request to its transport action before anything is read: one
    # turn of the loop, so registers that arrived together have all started by now, even
    # when the store answers without suspending (SQLite runs on the loop's thread).
    await asyncio.sleep(0)
    release = ctx.release
    await _check_register_access(ctx, request)
    inline = None
    if request.connector_id is None:
        if request.connector_body is None:
            raise IllegalArgumentError(
                "You must provide connector content when creating a remote model without connector id!")
        inline, access = inputs.parse_connector(request.connector_body, release)
        predict = inline.action("PREDICT")
        if predict is None or not predict.url:
            raise IllegalArgumentError(
                "Connector endpoint is required when creating a remote model without connector id!")
        connector_service.validate_connector(ctx, inline, access)
        if inputs.access_fields_given(access):
            raise IllegalArgumentError(connector_service.CONNECTOR_ACCESS_DISABLED)
        inline = connector_service.encrypt(ctx, inline)
    elif identity.connector_access_user(ctx) is not None:
        async with ctx.transaction() as repos:
            exists = await repos.connectors.exists()
            found = await repos.connectors.get_document(request.connector_id) if exists else None
        if found is None:
            raise connector_service.not_found(release, request.connector_id, index_missing=not exists)
        if not connector_service.check_permission(ctx, found.source):
            raise IllegalArgumentError(
                f"You don't have permission to use the connector provided, connector id: {request.connector_id}")
    elif release >= (2, 16):
        async with ctx.transaction() as repos:
            exists = await repos.connectors.exists()
            found = await repos.connectors.get_document(request.connector_id) if exists else None
        if found is None:
            if not exists:
                raise StatusError("Failed to find connector", 404)
            raise StatusError(f"Failed to find connector:{request.connector_id}", 404)

    coordinator = ctx.cluster.coordinator.node_id
    now = ctx.now()
    # The task is indexed first; the group's version is bumped in a separate write with
    # an optimistic-concurrency check (MLModelManager.registerMLRemoteModel), so two
    # registers racing on one group make the loser's task FAILED with a version conflict.
    try:
        async with ctx.transaction() as repos:
            # a group named after the model is created (or reused) before the task exists
            # (TransportRegisterModelAction.createModelGroup); a given group id is only
            # read afterwards, so an unknown one fails the task
            group_id = request.model_group_id
            if group_id is None:
                group_id = (await _resolve_group(ctx, repos, request)).model_group_id
            task = Task(
                task_id=ctx.ids.document_id(), task_type=TaskType.REGISTER_MODEL,
                function_name=FunctionName.REMOTE.value, state=TaskState.CREATED,
                worker_node=(coordinator,), create_time=now, last_update_time=now, is_async=False,
            )
            await repos.tasks.put(task)
            group_doc = (await repos.model_groups.get_document(group_id)
                         if await repos.model_groups.exists() else None)
    finally:
        key = reader.key
        reader.done()
    node_stats.registered(ctx)  # registerMLRemoteModel counts the request on this node
    # In the plugin the group is read, then bumped after several asynchronous steps, so
    # registers that arrive together all read the same version and all but one lose.
    # Requests in flight together must overlap the same way here, whatever the store's
    # timing: wait (briefly) until every register into this group that has started has
    # read it.
    await reader.wait_for_others(key)
    run = ctx.tasks.track(task.task_id, progression.REGISTER)
    job = _complete_register(ctx, run, request, task, group_id, group_doc, inline, deploy)
    try:
        if not run.paced:
            model = await job  # the background part done before the reply, as the tasks progress at once
        elif release >= (2, 11):
            model = await ctx.executor.spawn(job, name=f"register-{task.task_id}")  # replies with the model id
        else:
            ctx.executor.spawn(_ended_in_task(job), name=f"register-{task.task_id}")
            return {"task_id": task.task_id, "status": "CREATED"}
    except EmulatorError:
        if release >= (2, 11):
            raise
        return {"task_id": task.task_id, "status": "CREATED"}
    response: dict[str, Any] = {"task_id": task.task_id, "status": "CREATED"}
    if release >= (2, 11):
        response["model_id"] = model.model_id
    return response


async def _complete_register(ctx: Context, run: progression.TaskRun, request: RegisterInput, task: Task,
                             group_id: str, group_doc: Any, inline: Any, deploy: bool) -> Model:
    """What ``registerMLRemoteModel`` does once the task is indexed and the group read: bump
    the group's ``latest_version`` (conditional on that read), index the model, complete
    the task (2.9: ``registerMLModel`` then ``indexRemoteModel``).  A failure FAILs the task
    and is raised.  Meanwhile the coordinating node keeps the task in its memory, RUNNING
    (``checkAndAddRunningTask``)."""
    release = ctx.release
    coordinator = ctx.cluster.coordinator
    coordinator.cache.tasks[task.task_id] = attrs.evolve(task, state=TaskState.RUNNING)
    try:
        failure = await run.reach(progression.CREATED)
        if failure is not None:
            exc = MLError(failure.error)
            if not failure.recorded:  # not already timed out by the sync-up
                await _register_failed(ctx, task, exc, failure.error)
            raise exc
        try:
            async with ctx.transaction() as repos:
                if not await repos.model_groups.exists():
                    if release >= (2, 19):
                        raise StatusError("Model group not found", 404)
                    raise IndexNotFoundError(rows.MODEL_GROUP_INDEX)
                current = await repos.model_groups.get_document(group_id)
                if current is None:
                    raise _group_missing(ctx, group_id)
                seq_no = group_doc.seq_no if group_doc is not None else current.seq_no
                group = rows.group_from_document(current.source, group_id)
                bumped = group.next_version(ctx.now())
                await repos.model_groups.put(bumped, if_seq_no=seq_no)
                model = _new_model(ctx, request, bumped, inline)
                await repos.models.put(model)
                done = move_task(task, TaskState.COMPLETED, ctx.now(), model_id=model.model_id)
                await repos.tasks.put(done)
        except EmulatorError as exc:
            reason = "Model group not found" if release < (2, 11) and isinstance(exc, MLResourceNotFoundError) else exc.reason
            await _register_failed(ctx, task, exc, reason)
            raise
    finally:
        coordinator.cache.tasks.pop(task.task_id, None)
        run.finish()
    node_stats.register_indexed(ctx)
    if deploy:
        from mlcommons_emu.services import deployment

        node_ids = list(request.node_ids) or None
        ctx.executor.spawn(deployment.deploy_quietly(ctx, model.model_id, node_ids), name="register-deploy")
        if ctx.tasks.immediate:
            await ctx.executor.drain()
    return model


async def _register_failed(ctx: Context, task: Task, exc: EmulatorError, reason: str) -> None:
    """``handleException``: the failure counted, the task FAILED with ``reason``."""
    node_stats.register_failed(ctx, exc)
    async with ctx.transaction() as repos:
        await repos.tasks.put(move_task(task, TaskState.FAILED, ctx.now(), error=reason))


async def _ended_in_task(job: Any) -> None:
    """2.9-2.10 answered already: a failure is in the task document, nowhere else."""
    try:
        await job
    except EmulatorError:
        pass


async def _check_register_access(ctx: Context, request: RegisterInput) -> None:
    """TransportRegisterModelAction.checkUserAccess: the group named or given must be usable."""
    if identity.model_access_user(ctx) is None:
        return
    async with ctx.transaction() as repos:
        group_id = request.model_group_id
        if group_id is None:
            if ctx.release < (2, 11) or not await repos.model_groups.exists():
                return
            same = await repos.model_groups.find(name=request.name)
            if not same:
                return
            if not await model_groups.check_access(ctx, repos, same[0].model_group_id):
                raise IllegalArgumentError(
                    f"The name {{{request.name}}} you provided is unavailable because it is used by another model "
                    f"group with id {{{same[0].model_group_id}}} to which you do not have access. Please provide a "
                    "different name.")
        elif not await model_groups.check_access(ctx, repos, group_id):
            raise IllegalArgumentError("You don't have permissions to perform this operation on this model.")


def _group_missing(ctx: Context, group_id: str) -> EmulatorError:
    if ctx.release >= (2, 11):
        return MLResourceNotFoundError(f"Model Group Response is empty for {group_id}")
    return MLResourceNotFoundError("Model group not found")


async def _resolve_group(ctx: Context, repos: Repositories, request: RegisterInput) -> ModelGroup:
    """No group id given: 2.11+ joins the group named after the model, else creates one."""
    if ctx.release >= (2, 11) and await repos.model_groups.exists():
        same = await repos.model_groups.find(name=request.name)
        if same:
            return same[0]
    access = model_groups.resolve_access(ctx, request.access)
    return await create_in(ctx, repos, request.name, request.description, access)


def _new_model(ctx: Context, request: RegisterInput, group: ModelGroup, inline: Any) -> Model:
    now = ctx.now()
    extras = dict(request.extras)
    if ctx.release >= (2, 12):
        extras.setdefault("is_hidden", False)
    return Model(
        model_id=ctx.ids.document_id(), name=request.name, model_group_id=group.model_group_id,
        algorithm=FunctionName.REMOTE.value, model_version=str(group.latest_version),
        model_state=ModelState.REGISTERED, created_time=now, last_updated_time=now,
        description=request.description, connector_id=request.connector_id,
        connector=inline if request.connector_id is None else None,
        **extras,
    )


def public_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """GET strips the inline connector's credential; the document id is never added."""
    out = {k: v for k, v in doc.items() if k not in ("model_content", "content")}
    if isinstance(out.get("connector"), dict):
        out["connector"] = connector_service.public_document(out["connector"])
    return out


def model_not_found(ctx: Context, model_id: str, *, index_missing: bool) -> EmulatorError:
    if index_missing:
        if ctx.release >= (2, 19):
            return StatusError("Fail to find model", 404)
        return MLResourceNotFoundError("Fail to find model")
    return StatusError(f"Failed to find model with the provided model id: {model_id}", 404)


async def get(ctx: Context, model_id: str) -> dict[str, Any]:
    async with ctx.transaction() as repos:
        exists = await repos.models.exists()
        doc = await repos.models.get_document(model_id) if exists else None
    if doc is None:
        raise model_not_found(ctx, model_id, index_missing=not exists)
    await model_groups.require_model_access(ctx, doc.source.get("model_group_id"), "get", model_id)
    return public_document(doc.source)


async def delete(ctx: Context, model_id: str) -> WriteResult:
    release = ctx.release
    async with ctx.transaction() as repos:
        if not await repos.models.exists():
            if release >= (2, 12):
                raise StatusError("Failed to find model", 404)
            raise IndexNotFoundError(rows.MODEL_INDEX)
        model = await repos.models.get(model_id)
        if model is None:
            raise StatusError("Failed to find model", 404)
    await model_groups.require_model_access(ctx, model.model_group_id, "delete", model_id)
    async with ctx.transaction() as repos:
        if model.model_state.blocks_delete:
            reason = ("Model cannot be deleted in deploying or deployed state. "
                      "Try undeploy model first then delete")
            if release >= (2, 12):
                raise StatusError(reason, 400)
            raise GenericError(reason)
        found, version, seq_no = await repos.models.delete(model_id)
        if release >= (2, 12):
            # DeleteModelTransportAction deletes the model's controller with it
            from mlcommons_emu.services import controllers

            await controllers.delete_with_model(ctx, repos, model_id)
        if release < (2, 11) and not await repos.models.count(model_group_id=model.model_group_id):
            # 2.9-2.10 deleted a group together with its last model
            await repos.model_groups.delete(model.model_group_id)
    return WriteResult(rows.MODEL_INDEX, model_id, version, seq_no, "deleted" if found else "not_found")


# update (UpdateModelTransportAction, 2.12+) ------------------------------------------------
log = logging.getLogger("mlcommons_emu.models")

_NO_INLINE_CONNECTOR = ("Cannot update connector settings for this model. The model was created with a "
                        "connector_id and does not have an inline connector.")
#: the JVM's message for the NullPointerException of Connector.update on a model without an
#: inline connector (2.12-3.0); the second argument's type changed in 2.19
_NPE_CONNECTOR_UPDATE = ('Cannot invoke "org.opensearch.ml.common.connector.Connector.update('
                         'org.opensearch.ml.common.transport.connector.MLCreateConnectorInput, '
                         'java.util.function.{kind})" because "connector" is null')


@attrs.frozen
class ModelChange:
    """``MLUpdateModelInput.parse``: every member optional, later members only where they exist
    (``deploy_setting`` and ``guardrails`` 2.13, ``interface`` 2.14); others are skipped."""

    name: str | None = None
    description: str | None = None
    model_group_id: str | None = None
    is_enabled: bool | None = None
    rate_limiter: dict[str, Any] | None = None
    model_config: dict[str, Any] | None = None
    deploy_setting: dict[str, Any] | None = None
    connector_id: str | None = None
    connector: connector_service.ConnectorChange | None = None
    guardrails: dict[str, Any] | None = None
    interface: dict[str, Any] | None = None


def parse_change(ctx: Context, body: Mapping[str, Any]) -> ModelChange:
    release = ctx.release
    connector = inputs.obj(body.get("connector"), "connector")
    limiter = body.get("rate_limiter")
    return ModelChange(
        name=inputs.text(body.get("name"), "name"),
        description=inputs.text(body.get("description"), "description"),
        model_group_id=inputs.text(body.get("model_group_id"), "model_group_id"),
        is_enabled=inputs.boolean(body.get("is_enabled"), "is_enabled"),
        rate_limiter=_rate_limiter(limiter, release) if limiter is not None else None,
        model_config=inputs.obj(body.get("model_config"), "model_config"),
        deploy_setting=inputs.obj(body.get("deploy_setting"), "deploy_setting") if release >= (2, 13) else None,
        connector_id=inputs.text(body.get("connector_id"), "connector_id"),
        connector=connector_service.parse_change(connector, release) if connector is not None else None,
        guardrails=inputs.obj(body.get("guardrails"), "guardrails") if release >= (2, 13) else None,
        interface=inputs.obj(body.get("interface"), "interface") if release >= (2, 14) else None,
    )


def forces_refresh_on_update(release: Release) -> bool:
    """Whether the update response carries ``forced_refresh``: 2.12-2.18 index with refresh
    IMMEDIATE; 2.19-3.2 write through the remote-metadata SDK without a refresh policy, which
    defaults to IMMEDIATE from 3.3."""
    return (2, 12) <= release < (2, 19) or release >= (3, 3)


async def update(ctx: Context, model_id: str, body: Mapping[str, Any] | None) -> WriteResult:
    """RestMLUpdateModelAction and UpdateModelTransportAction.

    Order: empty body, both connector kinds, the model (404 for any failure to read it), the
    DEPLOYING refusal, the ``model_config`` rules (3.2+), access to the model's group, then
    the connector (a new ``connector_id`` or a partial inline-connector update), the move to
    another group (access to it, its read, its ``latest_version`` bump, which becomes the
    model's ``model_version``), and the write: a partial document update that also writes
    ``model_id`` and ``last_updated_time``.  A deployed model is updated too; when a
    predictor setting changed, the nodes holding it rebuild their copy
    (MLUpdateModelCacheAction).
    """
    if body is None:
        raise ParseError("Update model request has empty body")
    change = parse_change(ctx, body)
    if change.connector_id is not None and change.connector is not None:
        raise StatusError("Model cannot have both stand-alone connector and internal connector. "
                          "Please check your update input body.", 400)
    model = await _model_to_update(ctx, model_id)
    if model.model_state is ModelState.DEPLOYING:
        raise StatusError(
            f"Model is deploying. Please wait for the model to complete deployment. model ID {model_id}", 409)
    if ctx.release >= (3, 2) and change.model_config is not None:
        _validate_model_config(change.model_config, model.model_config)
    await model_groups.require_model_access(ctx, model.model_group_id, "update", model_id)
    connector_doc = None
    if change.connector_id:
        await _check_new_connector(ctx, model, change.connector_id)
    elif change.connector is not None:
        connector_doc = _updated_inline_connector(ctx, model, change.connector)
    new_group = change.model_group_id if change.model_group_id and change.model_group_id != model.model_group_id else None
    async with ctx.transaction() as repos:
        version = await _join_group(ctx, repos, new_group) if new_group else None
        stored = await repos.models.get_document(model_id)
        if stored is None:
            raise _update_not_found(model_id)
        document = _update_document(model_id, change, connector_doc, version, ctx.now())
        result = await partial_update.write(
            repos, stored, document, now=ctx.now(),
            lookups=lambda merged: rows.model_lookups(rows.model_from_document(merged, model_id)))
    if result.result == "updated" and _refreshes_node_copies(ctx, model, change):
        await _refresh_node_copies(ctx, model_id)
    return result


def _update_not_found(model_id: str) -> StatusError:
    return StatusError(f"Failed to find model to update with the provided model id: {model_id}", 404)


async def _model_to_update(ctx: Context, model_id: str) -> Model:
    async with ctx.transaction() as repos:
        model = await repos.models.get(model_id) if await repos.models.exists() else None
    if model is None:
        raise _update_not_found(model_id)
    return model


def _validate_model_config(config: Mapping[str, Any], existing: Mapping[str, Any] | None) -> None:
    """``validateModelConfig`` (3.2+): a remote model configured as ``text_embedding`` needs an
    embedding dimension, a framework type and ``additional_config.space_type``, from the new
    or the stored ``model_config``."""
    if str(config.get("model_type") or "").lower() != "text_embedding":
        return
    stored = existing or {}
    suffix = " must be provided for remote text embedding model"
    if config.get("embedding_dimension") is None and stored.get("embedding_dimension") is None:
        raise StatusError("Embedding dimension" + suffix, 400)
    if config.get("framework_type") is None and stored.get("framework_type") is None:
        raise StatusError("Framework type" + suffix, 400)
    new_extra = config.get("additional_config")
    old_extra = stored.get("additional_config")
    if not (isinstance(new_extra, dict) and "space_type" in new_extra) and not (
            isinstance(old_extra, dict) and "space_type" in old_extra):
        raise StatusError("Space type must be provided in additional_config for remote text embedding model", 400)


async def _check_new_connector(ctx: Context, model: Model, connector_id: str) -> None:
    """A new standalone connector: only for a model that has one; "use" access when connector
    access control is in effect for a non-admin (the connector is not read otherwise)."""
    if not model.connector_id:
        raise StatusError("This remote does not have a connector_id field, maybe it uses an internal connector.", 400)
    user = identity.connector_access_user(ctx)
    if user is None or user.is_admin:
        return
    async with ctx.transaction() as repos:
        exists = await repos.connectors.exists()
        doc = await repos.connectors.get_document(connector_id) if exists else None
    if doc is None:
        raise connector_service.lookup_missing(ctx.release, connector_id, index_missing=not exists)
    if not connector_service.check_permission(ctx, doc.source):
        raise StatusError(f"You don't have permission to update the connector, connector id: {connector_id}", 403)


def _updated_inline_connector(ctx: Context, model: Model, change: connector_service.ConnectorChange) -> dict[str, Any]:
    """The model's inline connector after ``Connector.update``, as the update writes it.

    From 3.6 the credential is encrypted by ``Connector.encrypt`` over whatever the update
    left, and the model's connector is read with its stored (encrypted) credential: values
    the update does not replace are encrypted a second time.
    """
    release = ctx.release
    connector = model.connector
    if connector is None:
        if release >= (3, 1):
            raise StatusError(_NO_INLINE_CONNECTOR, 400)
        raise NullPointerError(_NPE_CONNECTOR_UPDATE.format(kind="BiFunction" if release >= (2, 19) else "Function"))
    updated = connector_service.apply_change(ctx, connector, change, encrypt_credential=release < (3, 6))
    if release >= (3, 6):
        updated = attrs.evolve(updated, credential=ctx.cipher().encrypt_map(updated.credential))
    connector_service.validate_change(ctx, updated, change)
    return connector_service.update_document(updated, change)


async def _join_group(ctx: Context, repos: Repositories, group_id: str) -> str:
    """Moving to another group: access to it, its read, then its ``latest_version`` + 1
    (written with the read's sequence number); the new version is the model's."""
    if not await model_groups.check_access(ctx, repos, group_id):
        raise StatusError(
            "User Doesn't have privilege to re-link this model to the target model group due to no access to the "
            f"target model group with model group ID {group_id}", 403)
    doc = await repos.model_groups.get_document(group_id) if await repos.model_groups.exists() else None
    if doc is None:
        raise StatusError("Failed to find the model group with the provided model group id in the update model "
                          f"input, MODEL_GROUP_ID: {group_id}", 404)
    bumped = rows.group_from_document(doc.source, group_id).next_version(ctx.now())
    await repos.model_groups.put(bumped, if_seq_no=doc.seq_no)
    return str(bumped.latest_version)


def _update_document(model_id: str, change: ModelChange, connector: dict[str, Any] | None,
                     version: str | None, now: int) -> dict[str, Any]:
    """``MLUpdateModelInput.toXContent``: the members set, in its order (``model_id`` always)."""
    members = (
        ("model_id", model_id), ("name", change.name), ("description", change.description),
        ("model_version", version), ("model_group_id", change.model_group_id),
        ("is_enabled", change.is_enabled), ("rate_limiter", change.rate_limiter),
        ("model_config", change.model_config), ("deploy_setting", change.deploy_setting),
        ("connector", connector), ("connector_id", change.connector_id), ("last_updated_time", now),
        ("guardrails", change.guardrails), ("interface", change.interface),
    )
    return {key: value for key, value in members if value is not None}


def _rate_limiter_redeploys(stored: Mapping[str, Any] | None, given: Mapping[str, Any] | None) -> bool:
    """``MLRateLimiter.updateValidityPreCheck`` and the validity of the merged limiter."""
    if given is None:
        return False
    if stored is not None:
        if not given:
            return False
        changed = any(given.get(k) is not None and given.get(k) != stored.get(k) for k in ("limit", "unit"))
        if not changed:
            return False
    merged = {**(stored or {}), **given}
    return merged.get("limit") is not None and merged.get("unit") is not None


def _refreshes_node_copies(ctx: Context, model: Model, change: ModelChange) -> bool:
    """``isPredictorUpdate`` (connector, connector id, ``is_enabled`` differing from the
    stored value, guardrails, interface, a valid rate limiter change) on a deployed model.
    From 3.6 an update without connector changes asks every node regardless of the state."""
    predictor = (change.connector is not None or bool(change.connector_id)
                 or change.is_enabled != model.is_enabled or change.guardrails is not None
                 or change.interface is not None or _rate_limiter_redeploys(model.rate_limiter, change.rate_limiter))
    if ctx.release >= (3, 6) and change.connector is None and not change.connector_id:
        return predictor
    return predictor and model.model_state in (ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED)


async def _refresh_node_copies(ctx: Context, model_id: str) -> None:
    """``MLModelManager.updateModelCache`` on each node holding the model: the predictor is
    rebuilt from the stored model (its connector read and decrypted again) and the enabled
    flag refreshed.  The cached model info is not re-read, so the copy keeps the group it
    was deployed with.  A node that cannot rebuild keeps its old predictor (the plugin only
    logs it)."""
    from mlcommons_emu.services import deployment

    async with ctx.transaction() as repos:
        fresh = await repos.models.get(model_id)
    if fresh is None:
        return
    for runtime in ctx.cluster.serving(model_id):
        previous = runtime.models[model_id]
        group = previous.model.model_group_id if previous.model is not None else fresh.model_group_id
        try:
            await deployment.deploy_on_node(ctx, runtime, model_id)
            node_stats.refreshed(ctx, runtime, fresh)  # updateModelCache: the model-level bucket again
        except EmulatorError as exc:
            log.warning("refreshing %s on %s failed: %s", model_id, runtime.node_id, exc.reason)
        runtime.models[model_id].model = attrs.evolve(fresh, model_group_id=group)
