"""Connector use cases: create, get, delete (standalone connectors)."""
from __future__ import annotations

from typing import Any, Mapping

import attrs

from mlcommons_emu.connectors import templating
from mlcommons_emu.connectors.runtime import check_trusted_url
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.access import connector_allowed, resolve_connector_access
from mlcommons_emu.domain.connector import Connector
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import (
    IllegalArgumentError,
    IndexNotFoundError,
    MLResourceNotFoundError,
    MLValidationError,
    StatusError,
)
from mlcommons_emu.services import identity, inputs
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows

CONNECTOR_ACCESS_DISABLED = (
    "You cannot specify connector access control parameters because the Security plugin or "
    "connector access control is disabled on your cluster."
)


def validate_connector(ctx: Context, connector: Connector, access: Mapping[str, Any]) -> None:
    """Checks Connector.validateConnectorURL and the header rules run before storing."""
    release = ctx.release
    if release >= (3, 7):
        for action in connector.actions:
            templating.validate_header_templates(action.headers or {})
    if access.get("no_actions"):
        raise IllegalArgumentError("No actions configured for this connector")
    regexes = ctx.setting(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX)
    for action in connector.actions:
        # only the connector's own parameters fill the URL here (StringSubstitutor)
        url = templating.render_url(action.url, connector.parameters)
        check_trusted_url(url, regexes, release)


def check_remote_inference_enabled(ctx: Context) -> None:
    if ctx.release >= (2, 10) and not ctx.setting(s.REMOTE_INFERENCE_ENABLED):
        message = ('Remote Inference is currently disabled. To enable it, update the setting '
                   '"plugins.ml_commons.remote_inference_enabled" to true.')
        if ctx.release >= (3, 5):
            raise StatusError(message, 400)
        from mlcommons_emu.errors import IllegalStateError

        raise IllegalStateError(message)


def encrypt(ctx: Context, connector: Connector) -> Connector:
    cipher = ctx.cipher()
    return attrs.evolve(connector, credential=cipher.encrypt_map(connector.credential))


async def create(ctx: Context, body: Mapping[str, Any]) -> dict[str, Any]:
    check_remote_inference_enabled(ctx)
    if body.get("dry_run") is True:
        return {"connector_id": "dryRunConnector"}
    connector, access = inputs.parse_connector(body, ctx.release)
    validate_connector(ctx, connector, access)
    connector = grant_access(ctx, connector, access)
    now = ctx.now()
    connector = encrypt(ctx, connector)
    if ctx.release >= (2, 18):
        connector = attrs.evolve(connector, created_time=now, last_updated_time=now)
    connector = attrs.evolve(connector, connector_id=ctx.ids.document_id())
    async with ctx.transaction() as repos:
        await repos.connectors.put(connector, create_only=True)
    return {"connector_id": connector.connector_id}


def grant_access(ctx: Context, connector: Connector, access: Mapping[str, Any]) -> Connector:
    """Owner, mode and roles when connector access control is in effect; refusal otherwise."""
    user = identity.connector_access_user(ctx)
    if user is None:
        # no user (no security plugin) or the setting off: access fields are refused
        if inputs.access_fields_given(access):
            raise IllegalArgumentError(CONNECTOR_ACCESS_DISABLED)
        return connector
    grant = resolve_connector_access(user, access.get("access_mode"), access.get("backend_roles"),
                                     access.get("add_all_backend_roles"))
    return attrs.evolve(connector, owner=user.owner_document(ctx.release), access=grant.access,
                        backend_roles=grant.backend_roles or None)


def check_permission(ctx: Context, doc: Mapping[str, Any]) -> bool:
    """ConnectorAccessControlHelper.hasPermission for the current caller."""
    user = identity.connector_access_user(ctx)
    return user is None or connector_allowed(user, doc)


def public_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The connector as GET returns it: ``credential`` removed entirely."""
    return {k: v for k, v in doc.items() if k != "credential"}


async def get(ctx: Context, connector_id: str) -> dict[str, Any]:
    async with ctx.transaction() as repos:
        exists = await repos.connectors.exists()
        doc = await repos.connectors.get_document(connector_id) if exists else None
    if doc is None:
        raise not_found(ctx.release, connector_id, index_missing=not exists)
    if not check_permission(ctx, doc.source):
        reason = "You don't have permission to access this connector"
        if ctx.release >= (2, 12):
            raise StatusError(reason, 403)
        raise MLValidationError(reason)
    return public_document(doc.source)


def not_found(release: Release, connector_id: str, *, index_missing: bool) -> Exception:
    if index_missing:
        if release >= (2, 12):
            return StatusError("Failed to find connector", 404)
        return MLResourceNotFoundError("Fail to find connector")
    reason = f"Failed to find connector with the provided connector id: {connector_id}"
    if release >= (2, 12):
        return StatusError(reason, 404)
    return IllegalArgumentError(reason)


async def delete(ctx: Context, connector_id: str) -> WriteResult:
    release = ctx.release
    async with ctx.transaction() as repos:
        if not await repos.connectors.exists():
            if release >= (3, 2):
                raise StatusError("Failed to find connector", 404)
            raise IndexNotFoundError(rows.CONNECTOR_INDEX)
        if identity.connector_access_user(ctx) is not None:
            doc = await repos.connectors.get_document(connector_id)
            if doc is None:
                raise StatusError(f"Failed to find connector with the provided connector id: {connector_id}", 404)
            if not check_permission(ctx, doc.source):
                raise MLValidationError("You are not allowed to delete this connector")
        if await repos.models.exists():
            users = await repos.models.find_documents(connector_id=connector_id)
            if users:
                ids = ", ".join(d.doc_id for d in users)
                if release >= (2, 11):
                    reason = (f"{len(users)} models are still using this connector, please delete or "
                              f"update the models first: [{ids}]")
                else:
                    reason = (f"{len(users)} models are still using this connector, please delete or "
                              "update the models first!")
                if release >= (2, 12):
                    raise StatusError(reason, 409)
                raise MLValidationError(reason)
        found, version, seq_no = await repos.connectors.delete(connector_id)
    return WriteResult(rows.CONNECTOR_INDEX, connector_id, version, seq_no, "deleted" if found else "not_found")
