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
from mlcommons_emu.errors import IllegalArgumentError
from mlcommons_emu.services.context import Context

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator

EMU = "/_emu"


def _object(request: RestRequest) -> dict[str, Any]:
    return bodies.parse_object(request) or {}


def _checked(call: Any) -> Any:
    async def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return await call(*args, **kwargs)
        except AdminError as exc:
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

    return (
        Route(("GET",), f"{EMU}/config", handler(config)),
        Route(("POST",), f"{EMU}/_reset", handler(reset)),
        Route(("POST",), f"{EMU}/_seed", handler(seed)),
        Route(("GET",), f"{EMU}/journal", handler(journal)),
        Route(("GET",), f"{EMU}/journal/{{provider}}", handler(journal)),
        Route(("POST",), f"{EMU}/_snapshot", handler(save)),
        Route(("POST",), f"{EMU}/_restore", handler(restore)),
    )
