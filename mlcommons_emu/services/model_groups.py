"""Model group use cases: register, get, delete, and the implicit group of a register."""
from __future__ import annotations

from typing import Any, Mapping

import attrs

from mlcommons_emu.domain.access import (
    EmptyRestrictedGroup,
    apply_group_update,
    group_allowed,
    resolve_group_access,
    validate_group_update,
)
from mlcommons_emu.domain.model_group import ModelGroup
from mlcommons_emu.errors import (
    EmulatorError,
    IllegalArgumentError,
    IllegalStateError,
    IndexNotFoundError,
    IOError_,
    MLResourceNotFoundError,
    MLValidationError,
    NullPointerError,
    ParseError,
    StatusError,
)
from mlcommons_emu.services import identity, inputs
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows
from mlcommons_emu.store.repositories import Repositories

MODEL_ACCESS_DISABLED = (
    "You cannot specify model access control parameters because the Security plugin or model "
    "access control is disabled on your cluster."
)


def duplicate_name(ctx: Context, group_id: str) -> IllegalArgumentError:
    if ctx.release >= (2, 10):
        return IllegalArgumentError(
            f"The name you provided is already being used by a model group with ID: {group_id}.")
    return IllegalArgumentError(
        f"The name you provided is already being used by another model with ID: {group_id}. "
        "Please provide a different name")


def parse_access(body: Mapping[str, Any], *, lower: bool) -> dict[str, Any]:
    return {
        "access_mode": inputs.access_mode(body.get("access_mode"), lower=lower),
        "backend_roles": inputs.string_list(body.get("backend_roles"), "backend_roles"),
        "add_all_backend_roles": inputs.boolean(body.get("add_all_backend_roles"), "add_all_backend_roles"),
    }


def resolve_access(ctx: Context, access: Mapping[str, Any]) -> dict[str, Any]:
    """The access fields a new group is stored with (MLModelGroupManager.createModelGroup)."""
    user = identity.model_access_user(ctx)
    if user is None:
        if inputs.access_fields_given(access):
            raise IllegalArgumentError(MODEL_ACCESS_DISABLED)
        return {"access": "public"}
    grant = resolve_group_access(user, access.get("access_mode"), access.get("backend_roles"),
                                 access.get("add_all_backend_roles"))
    return {"access": grant.access, "backend_roles": grant.backend_roles or None,
            "owner": user.owner_document(ctx.release)}


async def create_in(ctx: Context, repos: Repositories, name: str, description: str | None,
                    access: Mapping[str, Any] | None = None) -> ModelGroup:
    """Index a new group; the name must be unique on its exact (keyword) value."""
    if await repos.model_groups.exists():
        same = await repos.model_groups.find(name=name)
        if same:
            raise duplicate_name(ctx, same[0].model_group_id)
    now = ctx.now()
    group = ModelGroup(
        model_group_id=ctx.ids.document_id(), name=name, latest_version=0, description=description,
        created_time=now, last_updated_time=now, **(access or {"access": "public"}),
    )
    await repos.model_groups.put(group, create_only=True)
    return group


async def register(ctx: Context, body: Mapping[str, Any] | None) -> dict[str, Any]:
    if body is None:
        if ctx.release >= (2, 12):
            raise ParseError("Model group request has empty body")
        raise IOError_("Model group request has empty body")
    name = inputs.text(body.get("name"), "name")
    description = inputs.text(body.get("description"), "description")
    access = parse_access(body, lower=True)
    if name is None:
        if ctx.release >= (2, 12):
            # MLRegisterModelGroupInput uses Objects.requireNonNull from 2.12: the
            # NullPointerException escapes as a 500, reproduced on purpose
            raise NullPointerError("model group name must not be null")
        raise IllegalArgumentError("model group name is null")
    stored_access = resolve_access(ctx, access)
    async with ctx.transaction() as repos:
        group = await create_in(ctx, repos, name, description, stored_access)
    return {"model_group_id": group.model_group_id, "status": "CREATED"}


async def get(ctx: Context, group_id: str) -> dict[str, Any]:
    async with ctx.transaction() as repos:
        exists = await repos.model_groups.exists()
        doc = await repos.model_groups.get_document(group_id) if exists else None
    if not exists:
        if ctx.release >= (2, 19):
            raise StatusError("Failed to find model group index", 404)
        raise MLResourceNotFoundError("Fail to find model group index")
    if doc is None:
        raise StatusError(f"Failed to find model group with the provided model group id: {group_id}", 404)
    if not allowed(ctx, doc.source):
        raise StatusError("User doesn't have privilege to perform this operation on this model group", 403)
    return dict(doc.source)


def allowed(ctx: Context, source: Mapping[str, Any]) -> bool:
    """ModelAccessControlHelper.checkModelGroupPermission for the current caller.

    A restricted group stored without backend roles makes the helper throw
    ``IllegalStateException("Backend roles shouldn't be null")``: a 500 unless the caller
    wraps it (predict does, see services.predict).
    """
    user = identity.model_access_user(ctx)
    if user is None:
        return True
    try:
        return group_allowed(user, source)
    except EmptyRestrictedGroup:
        raise IllegalStateError("Backend roles shouldn't be null") from None


async def check_access(ctx: Context, repos: Repositories, group_id: str | None) -> bool:
    """ModelAccessControlHelper.validateModelGroupAccess: read the group, then the predicate."""
    user = identity.model_access_user(ctx)
    if user is None or user.is_admin or group_id is None:
        return True
    doc = await repos.model_groups.get_document(group_id) if await repos.model_groups.exists() else None
    if doc is None:
        raise MLResourceNotFoundError("Fail to find model group")
    return allowed(ctx, doc.source)


def _model_denial(ctx: Context, operation: str) -> EmulatorError:
    """The denial each model operation answers (GetModelTransportAction & co.)."""
    release = ctx.release
    capital = operation in ("get", "deploy", "predict") and release < (2, 12) or (
        operation == "predict" and release < (3, 3))
    reason = f"User {'Doesn' if capital else 'doesn'}'t have privilege to perform this operation on this model"
    if release >= (2, 12):
        return StatusError(reason, 403)
    return MLValidationError(reason)


async def require_model_access(ctx: Context, group_id: str | None, operation: str, model_id: str) -> None:
    """The model-group check get/delete/deploy/undeploy/predict of a model run first."""
    if identity.model_access_user(ctx) is None:
        return
    if operation == "undeploy" and ctx.release < (2, 12):
        return  # 2.9-2.11 undeploy checks no access
    async with ctx.transaction() as repos:
        try:
            granted = await check_access(ctx, repos, group_id)
        except IllegalStateError:
            if operation == "predict" and ctx.release >= (2, 12):
                raise StatusError(f"Failed to Validate Access for ModelId {model_id}", 403) from None
            raise
    if not granted:
        if operation == "update":
            # UpdateModelTransportAction (2.12+) names the model in its denial
            raise StatusError(
                f"User doesn't have privilege to perform this operation on this model, model ID {model_id}", 403)
        raise _model_denial(ctx, operation)


async def delete(ctx: Context, group_id: str) -> WriteResult:
    release = ctx.release
    async with ctx.transaction() as repos:
        if not await check_access(ctx, repos, group_id):
            raise MLValidationError("User doesn't have privilege to delete this model group")
        if await repos.models.exists():
            if await repos.models.count(model_group_id=group_id):
                reason = "Cannot delete the model group when it has associated model versions"
                if release >= (2, 19):
                    raise StatusError(reason, 409)
                raise MLValidationError(reason)
        elif release < (2, 11):
            raise MLResourceNotFoundError("Fail to find model group")
        if not await repos.model_groups.exists():
            if release >= (2, 19):
                raise StatusError("Failed to find model group", 404)
            raise IndexNotFoundError(rows.MODEL_GROUP_INDEX)
        found, version, seq_no = await repos.model_groups.delete(group_id)
    return WriteResult(rows.MODEL_GROUP_INDEX, group_id, version, seq_no, "deleted" if found else "not_found")


async def update(ctx: Context, group_id: str, body: Mapping[str, Any] | None) -> dict[str, Any]:
    """TransportUpdateModelGroupAction with access control not in effect."""
    release = ctx.release
    if body is None:
        if release >= (2, 12):
            raise ParseError("Update model group request has empty body")
        raise IOError_("Update model group request has empty body")
    name = inputs.text(body.get("name"), "name")
    description = inputs.text(body.get("description"), "description")
    access = parse_access(body, lower=True)
    async with ctx.transaction() as repos:
        exists = await repos.model_groups.exists()
        group = await repos.model_groups.get(group_id) if exists else None
        if release >= (2, 11):
            # from 2.11 the group is read first
            if not exists:
                if release >= (2, 19):
                    raise StatusError("Failed to find model group", 404)
                raise MLResourceNotFoundError("Fail to find model group")
            if group is None:
                if release >= (2, 19):
                    raise StatusError(
                        f"Failed to find model group with the provided model group id: {group_id}", 404)
                raise StatusError("Failed to find model group", 404)
        user = identity.model_access_user(ctx)
        if user is None:
            if inputs.access_fields_given(access):
                raise IllegalArgumentError(MODEL_ACCESS_DISABLED)
        elif group is not None:
            validate_group_update(user, rows.group_to_document(group), access["access_mode"],
                                  access["backend_roles"], access["add_all_backend_roles"])
        if name is not None and name.strip():
            same = await repos.model_groups.find(name=name) if exists else []
            # 2.9-2.10 never read the current name, so renaming a group to its own name
            # fails as a duplicate of itself
            clash = [g for g in same if release < (2, 11) or g.model_group_id != group_id]
            if clash:
                raise IllegalArgumentError(
                    f"The name you provided is already being used by another model with ID: "
                    f"{clash[0].model_group_id}. Please provide a different name")
        if group is None:
            if not exists:
                raise MLResourceNotFoundError("Fail to find model group")
            raise MLValidationError("Failed to update Model Group")
        changes: dict[str, Any] = {"last_updated_time": ctx.now()}
        if name is not None and name.strip():
            changes["name"] = name
        if description is not None and description.strip():
            changes["description"] = description
        if user is not None:
            fields: dict[str, Any] = {"access": group.access, "backend_roles": list(group.backend_roles or ())}
            apply_group_update(fields, user, access["access_mode"], access["backend_roles"],
                               access["add_all_backend_roles"])
            changes["access"] = fields["access"]
            changes["backend_roles"] = tuple(fields["backend_roles"]) or None
        await repos.model_groups.put(attrs.evolve(group, **changes))
    return {"status": "Updated"}
