"""Connector use cases: create, get, update, delete (standalone connectors)."""
from __future__ import annotations

from typing import Any, Mapping

import attrs

from mlcommons_emu.connectors import templating
from mlcommons_emu.connectors.runtime import check_trusted_url
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.access import connector_allowed, resolve_connector_access
from mlcommons_emu.domain.connector import Connector, ConnectorAction
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import (
    IllegalArgumentError,
    IllegalStateError,
    IndexNotFoundError,
    IOError_,
    MLResourceNotFoundError,
    MLValidationError,
    ParseError,
    StatusError,
)
from mlcommons_emu.services import identity, inputs, partial_update
from mlcommons_emu.services.context import Context
from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store import rows
from mlcommons_emu.store.repositories import Repositories

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


# update (UpdateConnectorTransportAction, 2.11+) ------------------------------------------
UPDATE_CONNECTOR_ENABLED = s.PREFIX + "update_connector.enabled"
UPDATE_CONNECTOR_DISABLED = (
    'Update connector API is currently disabled. To enable it, update the setting '
    '"plugins.ml_commons.update_connector.enabled" to true.'
)


@attrs.frozen
class ConnectorChange:
    """``MLCreateConnectorInput.parse(parser, true)``: the create body with every member optional.

    ``add_all_backend_roles`` and ``dry_run`` are read (a wrong type still fails) but an
    update never uses them.
    """

    name: str | None = None
    description: str | None = None
    version: str | None = None
    protocol: str | None = None
    parameters: dict[str, str] = attrs.field(factory=dict)
    credential: dict[str, str] = attrs.field(factory=dict)
    actions: tuple[ConnectorAction, ...] | None = None
    backend_roles: tuple[str, ...] | None = None
    access: str | None = None
    client_config: dict[str, Any] | None = None


def parse_change(body: Mapping[str, Any], release: Release) -> ConnectorChange:
    """The update body, read with the same helpers (and errors) as a create body."""
    inputs.boolean(body.get("add_all_backend_roles"), "add_all_backend_roles")
    inputs.boolean(body.get("dry_run"), "dry_run")
    credential = inputs.string_map(body.get("credential"), "credential") or {}
    roles = inputs.string_list(body.get("backend_roles"), "backend_roles")
    return ConnectorChange(
        name=inputs.text(body.get("name"), "name"),
        description=inputs.text(body.get("description"), "description"),
        version=inputs.text(body.get("version"), "version"),
        protocol=inputs.text(body.get("protocol"), "protocol"),
        parameters=inputs.connector_parameters(body.get("parameters"), release),
        credential={k: v for k, v in credential.items() if v is not None},
        actions=inputs.connector_actions(body.get("actions"), release),
        backend_roles=tuple(roles) if roles is not None else None,
        access=inputs.access_mode(body.get("access_mode"), lower=False),
        client_config=inputs.client_config(body.get("client_config"), release),
    )


def apply_change(ctx: Context, connector: Connector, change: ConnectorChange, *,
                 encrypt_credential: bool = True) -> Connector:
    """``HttpConnector.update``: given members replace the connector's, in memory.

    ``parameters`` replace the whole map in 2.11-2.15 and are merged into it from 2.16
    (``getParameters().putAll``); either way only a non-empty map counts.  A non-empty
    ``credential`` replaces the stored one; ``encrypt_credential`` encrypts it here, as
    ``update`` itself does before 3.6 (callers following 3.6+'s separate
    ``Connector.encrypt`` pass False).  ``backend_roles`` and ``access_mode`` overwrite the
    stored values without any access-control validation or owner check.
    """
    changes: dict[str, Any] = {}
    for member in ("name", "description", "version", "protocol", "actions", "backend_roles",
                   "access", "client_config"):
        value = getattr(change, member)
        if value is not None:
            changes[member] = value
    if change.parameters:
        merged = ctx.release >= (2, 16)
        changes["parameters"] = {**connector.parameters, **change.parameters} if merged else dict(change.parameters)
    if change.credential:
        changes["credential"] = (ctx.cipher().encrypt_map(change.credential) if encrypt_credential
                                 else dict(change.credential))
    return attrs.evolve(connector, **changes)


def validate_change(ctx: Context, connector: Connector, change: ConnectorChange) -> None:
    """Header rules (3.7+, only when ``actions`` were sent), then ``validateConnectorURL``.

    The URL of every action is filled from the connector's parameters as they stand after
    the update, so in 2.11-2.15 a ``parameters`` update that leaves out a key the URL uses
    fails the trusted-endpoint check.
    """
    if ctx.release >= (3, 7) and change.actions is not None:
        for action in connector.actions:
            templating.validate_header_templates(action.headers or {}, protocol=connector.protocol)
    regexes = ctx.setting(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX)
    for action in connector.actions:
        check_trusted_url(templating.render_url(action.url, connector.parameters), regexes, ctx.release)


def update_document(connector: Connector, change: ConnectorChange) -> dict[str, Any]:
    """``Connector.toXContent`` of the updated connector: the ``doc`` of the update request.

    ``backend_roles`` is written whenever it is set, an empty list included.
    """
    doc = rows.connector_to_document(connector)
    if change.backend_roles is not None:
        doc["backend_roles"] = list(change.backend_roles)
    return doc


def check_update_enabled(ctx: Context) -> None:
    """RestMLUpdateConnectorAction: remote inference on, and in 2.11 the update gate on."""
    check_remote_inference_enabled(ctx)
    if ctx.release < (2, 12) and not ctx.setting(UPDATE_CONNECTOR_ENABLED):
        raise IllegalStateError(UPDATE_CONNECTOR_DISABLED)


def lookup_missing(release: Release, connector_id: str, *, index_missing: bool) -> Exception:
    """``ConnectorAccessControlHelper.getConnector`` failures as the update actions see them."""
    if release >= (2, 19):
        # the remote-metadata SDK variant
        if index_missing:
            return StatusError("Failed to find connector", 404)
        return StatusError(f"Failed to find connector with the provided connector id: {connector_id}", 404)
    if release >= (2, 12):
        if index_missing:
            return StatusError(f"Failed to get connector:{connector_id}", 404)
        return StatusError(f"Failed to find connector:{connector_id}", 404)
    if index_missing:
        return IllegalStateError(f"Fail to get connector:{connector_id}")
    return MLResourceNotFoundError(f"Fail to find connector:{connector_id}")


def forces_refresh_on_update(release: Release) -> bool:
    """Whether the update response carries ``forced_refresh``: the remote-metadata SDK asks
    for an immediate refresh from 3.3; before that the update request set no policy."""
    return release >= (3, 3)


async def update(ctx: Context, connector_id: str, body: Mapping[str, Any] | None) -> WriteResult:
    """UpdateConnectorTransportAction, after RestMLUpdateConnectorAction's checks.

    Order: read the connector, check the caller may update it, apply the change in memory,
    validate it, refuse while a deployed model uses the connector, then write the change as
    a partial document update (so keys of ``parameters`` and ``credential`` the update does
    not name stay stored, see :mod:`partial_update`).  From 2.18 ``last_updated_time`` is
    refreshed.  Connectors with deployed models are never rewritten, so no node copy needs
    refreshing.
    """
    release = ctx.release
    if body is None:
        reason = "Failed to update connector: Request body is empty"
        if release >= (2, 12):
            raise ParseError(reason)
        raise IOError_(reason)
    change = parse_change(body, release)
    async with ctx.transaction() as repos:
        exists = await repos.connectors.exists()
        doc = await repos.connectors.get_document(connector_id) if exists else None
    if doc is None:
        raise lookup_missing(release, connector_id, index_missing=not exists)
    if not check_permission(ctx, doc.source):
        raise IllegalArgumentError(f"You don't have permission to update the connector, connector id: {connector_id}")
    current = rows.connector_from_document(doc.source, connector_id)
    # only a new credential is encrypted: before 3.6 inside HttpConnector.update, from 3.6 by
    # Connector.encrypt over a connector whose stored credential was removed at read
    updated = apply_change(ctx, current, change)
    validate_change(ctx, updated, change)
    if release >= (2, 18):
        updated = attrs.evolve(updated, last_updated_time=ctx.now())
    document = update_document(updated, change)
    async with ctx.transaction() as repos:
        await _refuse_while_deployed(ctx, repos, connector_id)
        stored = await repos.connectors.get_document(connector_id)
        if stored is None:
            raise lookup_missing(release, connector_id, index_missing=False)
        return await partial_update.write(
            repos, stored, document, now=ctx.now(),
            lookups=lambda merged: rows.connector_lookups(rows.connector_from_document(merged)))


async def _refuse_while_deployed(ctx: Context, repos: Repositories, connector_id: str) -> None:
    """Models using the connector (``connector_id``) that are in the cluster's model cache
    (``MLModelManager.getAllModelIds``: deployed on some node) block the update."""
    if not await repos.models.exists():
        return
    deployed = {model_id for runtime in ctx.cluster.nodes if runtime.node.up for model_id in runtime.models}
    users = [d.doc_id for d in await repos.models.find_documents(connector_id=connector_id) if d.doc_id in deployed]
    if not users:
        return
    reason = (f"{len(users)} models are still using this connector, please undeploy the models first: "
              f"[{', '.join(users)}]")
    if ctx.release >= (2, 12):
        raise StatusError(reason, 400)
    raise MLValidationError(reason)
