"""The aiohttp front door: every request goes through the same dispatcher as in-process calls."""
from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from mlcommons_emu.api.messages import RestRequest
from mlcommons_emu.api.routes import encode

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator

EMULATOR_KEY: web.AppKey["Emulator"] = web.AppKey("emulator")
CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_BODY = 100 * 1024 * 1024  # http.max_content_length


async def _handle(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR_KEY]
    body = await request.read()
    rest = RestRequest(
        method=request.method, path=request.path, query=dict(request.query),
        headers=dict(request.headers), body=body, raw_uri=request.raw_path,
    )
    response = await emulator.handle(rest)
    pretty = "pretty" in request.query and request.query.get("pretty", "") in ("", "true")
    payload = encode(response, pretty=pretty)
    headers = dict(response.headers)
    if request.method == "HEAD":
        return web.Response(status=response.status, headers={**headers, "content-type": CONTENT_TYPE})
    if response.body is None:
        return web.Response(status=response.status, headers=headers)
    if isinstance(response.body, dict) and isinstance(response.body.get("error"), str):
        pass  # router errors are JSON too
    if isinstance(response.body, str):  # the security plugin's plain-text 401
        return web.Response(status=response.status, body=payload,
                            headers={**headers, "content-type": "text/plain; charset=UTF-8"})
    return web.Response(status=response.status, body=payload, headers={**headers, "content-type": CONTENT_TYPE})


def create_app(emulator: "Emulator") -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[EMULATOR_KEY] = emulator
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app
