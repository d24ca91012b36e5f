"""PUT/GET _cluster/settings over the emulated release's setting definitions."""
from __future__ import annotations

from typing import Any, Mapping

from mlcommons_emu.domain import settings as s
from mlcommons_emu.errors import ActionRequestValidationError, IllegalArgumentError, ParseError
from mlcommons_emu.services import deployment
from mlcommons_emu.services.context import Context


async def update(ctx: Context, body: Mapping[str, Any] | None) -> dict[str, Any]:
    if body is None:
        raise ParseError("request body is required")
    unknown = [k for k in body if k not in ("persistent", "transient")]
    if unknown:
        raise IllegalArgumentError(f"[cluster_update_settings_request] unknown field [{unknown[0]}]")
    parsed: dict[str, dict[str, Any]] = {}
    for scope in ("persistent", "transient"):
        section = body.get(scope) or {}
        if not isinstance(section, dict):
            raise IllegalArgumentError(f"[{scope}] expected an object")
        parsed[scope] = ctx.settings.validate(scope, s.flatten(section))
    if not any(s.flatten(body.get(scope) or {}) for scope in ("persistent", "transient")):
        # ClusterUpdateSettingsRequest.validate
        raise ActionRequestValidationError("no settings to update")
    before = bool(ctx.setting(s.ONLY_RUN_ON_ML_NODE))
    applied = {scope: ctx.settings.apply(scope, values) for scope, values in parsed.items()}
    async with ctx.transaction() as repos:
        await repos.tx.save_settings(dict(ctx.settings.persistent))
    after = bool(ctx.setting(s.ONLY_RUN_ON_ML_NODE))
    if not before and after and ctx.release >= (2, 10):
        # MLCommonsClusterEventListener: switching it on undeploys from every data node
        data_nodes = {r.node_id for r in ctx.cluster.nodes if r.node.is_data}
        await deployment.undeploy_from_nodes(ctx, data_nodes)
    return {
        "acknowledged": True,
        "persistent": s.nest({k: s.render_value(v) for k, v in applied["persistent"].items()}),
        "transient": s.nest({k: s.render_value(v) for k, v in applied["transient"].items()}),
    }


def get(ctx: Context, *, flat: bool, include_defaults: bool) -> dict[str, Any]:
    def shape(values: Mapping[str, Any]) -> dict[str, Any]:
        rendered = {k: s.render_value(v) for k, v in values.items()}
        return dict(sorted(rendered.items())) if flat else s.nest(rendered)

    out = {"persistent": shape(ctx.settings.persistent), "transient": shape(ctx.settings.transient)}
    if include_defaults:
        out["defaults"] = shape(ctx.settings.defaults())
    return out
