"""The ``/_emu`` REST namespace: the emulator's own controls, kept apart from the real API.

Answers use OpenSearch's conventions (JSON bodies, the error envelope, the router's 400/405)
so the same clients can call them.  With the security plugin on, only a user whose roles
grant every action (``all_access``) may call them.  See docs/admin-api.md.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlcommons_emu.admin import Admin, AdminError
from mlcommons_emu.api import body as bodies
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.api.routes import Handler, Route
from mlcommons_emu.errors import IllegalArgumentError, StatusError
from mlcommons_emu.services.context import Context

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator

EMU = "/_emu"


def _object(request: RestRequest) -> dict[str, Any]:
    return bodies.parse_object(request) or {}


def _checked(call: Any) -> Any:
    """Admin failures as OpenSearch errors: an unknown node or task 404, a bad argument 400."""
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await call(*args, **kwargs)
        except KeyError as exc:
            raise StatusError(str(exc.args[0]) if exc.args else "not found", 404) from None
        except (AdminError, ValueError) as exc:
            raise IllegalArgumentError(str(exc)) from None
    return run


def admin_routes(emulator: "Emulator") -> tuple[Route, ...]:
    admin = Admin(emulator)

    def handler(fn: Any) -> Handler:
        @_checked
        async def wrapped(ctx: Context, request: RestRequest, params: dict[str, str]) -> RestResponse:
            return RestResponse(200, await fn(request, params))
        wrapped.__name__ = fn.__name__
        return wrapped

    async def config(request: RestRequest, _: dict[str, str]) -> Any:
        return admin.config()

    async def reset(request: RestRequest, _: dict[str, str]) -> Any:
        kinds = _object(request).get("kinds")
        if kinds is not None and (not isinstance(kinds, list) or not all(isinstance(k, str) for k in kinds)):
            raise AdminError("[kinds] must be an array of names")
        return {"acknowledged": True, "reset": await admin.reset(kinds)}

    async def seed(request: RestRequest, _: dict[str, str]) -> Any:
        value = _object(request).get("seed")
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise AdminError("[seed] must be an integer or null")
        admin.reseed(value)
        return {"acknowledged": True, "seed": value}

    async def journal(request: RestRequest, params: dict[str, str]) -> Any:
        limit = request.query.get("limit")
        if limit is not None and not limit.isdigit():
            raise AdminError("[limit] must be a non-negative integer")
        return admin.journal(params.get("provider"), int(limit) if limit else None)

    async def save(request: RestRequest, _: dict[str, str]) -> Any:
        path = _object(request).get("path")
        if not isinstance(path, str) or not path:
            raise AdminError("[path] is required: the file the snapshot is written to")
        return {"acknowledged": True, "path": path, "documents": await admin.save(path)}

    async def restore(request: RestRequest, _: dict[str, str]) -> Any:
        path = _object(request).get("path")
        if not isinstance(path, str) or not path:
            raise AdminError("[path] is required: the snapshot file to restore")
        return {"acknowledged": True, "path": path, "documents": await admin.load(path)}

    # nodes and the sync-up job -------------------------------------------------------
    def node_view(runtime: Any) -> dict[str, Any]:
        return {"name": runtime.node.name, "node_id": runtime.node_id, "roles": list(runtime.node.roles),
                "up": runtime.node.up, "models": sorted(runtime.models)}

    async def nodes(request: RestRequest, _: dict[str, str]) -> Any:
        return {"nodes": [node_view(r) for r in emulator.context.cluster.nodes]}

    async def add_node(request: RestRequest, _: dict[str, str]) -> Any:
        spec = _object(request)
        name, roles = spec.get("name"), spec.get("roles")
        if not isinstance(name, str) or not name:
            raise AdminError("[name] is required")
        if roles is not None and (not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)):
            raise AdminError("[roles] must be an array of role names")
        node_id = await emulator.add_node(name, roles=tuple(roles) if roles is not None else None)
        return {"acknowledged": True, "node_id": node_id}

    def node_action(action: str) -> Any:
        async def act(request: RestRequest, params: dict[str, str]) -> Any:
            await getattr(emulator, f"{action}_node")(params["node"])
            return {"acknowledged": True}
        act.__name__ = f"{action}_node"
        return act

    async def sync_up(request: RestRequest, _: dict[str, str]) -> Any:
        report = await emulator.sync_up()
        return {"models": list(report.models), "timed_out": list(report.timed_out)}

    # task progression ------------------------------------------------------------------
    async def pending(request: RestRequest, _: dict[str, str]) -> Any:
        control = emulator.tasks
        return {"holds": {kind: list(control.holds(kind)) for kind in ("register", "deploy")},
                "pending": [{"task_id": t.task_id, "kind": t.kind, "state": t.state, "model_id": t.model_id,
                             "nodes": list(t.nodes)} for t in control.pending()]}

    async def hold(request: RestRequest, _: dict[str, str]) -> Any:
        spec = _object(request)
        emulator.tasks.hold(spec.get("kind"), at=spec.get("at"))
        return await pending(request, _)

    async def unhold(request: RestRequest, _: dict[str, str]) -> Any:
        emulator.tasks.unhold(_object(request).get("kind"))
        return await pending(request, _)

    async def release(request: RestRequest, params: dict[str, str]) -> Any:
        return {"released": await emulator.tasks.release(params.get("task_id"))}

    async def fail(request: RestRequest, params: dict[str, str]) -> Any:
        spec = _object(request)
        error = spec.get("error", "Failed by the test")
        if not isinstance(error, str):
            raise AdminError("[error] must be a string")
        await emulator.tasks.fail(params["task_id"], error, nodes=spec.get("nodes"))
        return {"acknowledged": True}

    return (
        Route(("GET",), f"{EMU}/nodes", handler(nodes)),
        Route(("POST",), f"{EMU}/nodes", handler(add_node)),
        Route(("POST",), f"{EMU}/nodes/{{node}}/_stop", handler(node_action("stop"))),
        Route(("POST",), f"{EMU}/nodes/{{node}}/_start", handler(node_action("start"))),
        Route(("DELETE",), f"{EMU}/nodes/{{node}}", handler(node_action("remove"))),
        Route(("POST",), f"{EMU}/_sync_up", handler(sync_up)),
        Route(("GET",), f"{EMU}/tasks", handler(pending)),
        Route(("POST",), f"{EMU}/tasks/_hold", handler(hold)),
        Route(("POST",), f"{EMU}/tasks/_unhold", handler(unhold)),
        Route(("POST",), f"{EMU}/tasks/_release", handler(release)),
        Route(("POST",), f"{EMU}/tasks/{{task_id}}/_release", handler(release)),
        Route(("POST",), f"{EMU}/tasks/{{task_id}}/_fail", handler(fail)),
        Route(("GET",), f"{EMU}/config", handler(config)),
        Route(("POST",), f"{EMU}/_reset", handler(reset)),
        Route(("POST",), f"{EMU}/_seed", handler(seed)),
        Route(("GET",), f"{EMU}/journal", handler(journal)),
        Route(("GET",), f"{EMU}/journal/{{provider}}", handler(journal)),
        Route(("POST",), f"{EMU}/_snapshot", handler(save)),
        Route(("POST",), f"{EMU}/_restore", handler(restore)),
    )
