"""The aiohttp front door: every request goes through the same dispatcher as in-process calls.

Before dispatching, the server applies OpenSearch's HTTP limits the way its Netty pipeline
does (see ``mlcommons_emu.api.limits``): an oversized request line or header block is a 400
error envelope, an oversized body a 413 with an empty body, checked against
``Content-Length`` before the body is read (also for ``Expect: 100-continue``) and while a
chunked body streams in.  A compressed body that does not inflate closes the connection
without an answer, as OpenSearch's transport does when its decompressor throws.

Bytes aiohttp's HTTP/1.1 parser refuses outright (a control character in a header, a
repeated ``Host``/``Content-Type``/``User-Agent`` ...) never reach this module: aiohttp
answers a plain-text 400 and closes the connection, where OpenSearch's Netty codec answers
a 400 error envelope.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from mlcommons_emu.api import limits
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.api.routes import encode

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator

EMULATOR_KEY: web.AppKey["Emulator"] = web.AppKey("emulator")
LIMITS_KEY: web.AppKey[limits.HttpLimits] = web.AppKey("http_limits")
CONTENT_TYPE = "application/json; charset=UTF-8"
#: aiohttp's own parser limits sit well above OpenSearch's, so a request slightly over an
#: OpenSearch limit still reaches the handler and gets OpenSearch's answer
_PARSER_HEADROOM = 8
_PARSER_FLOOR = 64 * 1024


def _head_refusal(request: web.BaseRequest, http_limits: limits.HttpLimits) -> RestResponse | None:
    version = f"HTTP/{request.version.major}.{request.version.minor}"
    line = limits.initial_line_size(request.method, request.raw_path, version)
    return limits.head_refusal(line, limits.header_block_size(request.raw_headers), http_limits)


def _body_is_inflated(request: web.BaseRequest) -> bool:
    """A compressed body is inflated before the aggregator counts it: Content-Length says nothing."""
    return request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")


def _declared_too_large(request: web.BaseRequest, http_limits: limits.HttpLimits) -> bool:
    length = request.content_length
    return length is not None and not _body_is_inflated(request) and length > http_limits.max_content_length


def _too_large(*, close: bool) -> web.Response:
    """HttpObjectAggregator's TOO_LARGE / TOO_LARGE_CLOSE: 413, ``content-length: 0``, no body."""
    response = web.Response(status=413)
    if close:
        response.force_close()  # written as ``Connection: close``, then the connection is closed
    return response


def _to_web(response: RestResponse, request: web.BaseRequest) -> web.Response:
    pretty = "pretty" in request.query and request.query.get("pretty", "") in ("", "true")
    headers = dict(response.headers)
    if response.status == 413 and response.body is None:
        return _too_large(close=not request.keep_alive)
    if request.method == "HEAD":
        return web.Response(status=response.status, headers={**headers, "content-type": CONTENT_TYPE})
    if response.body is None:
        return web.Response(status=response.status, headers=headers)
    payload = encode(response, pretty=pretty)
    if isinstance(response.body, str):  # the security plugin's plain-text 401
        return web.Response(status=response.status, body=payload,
                            headers={**headers, "content-type": "text/plain; charset=UTF-8"})
    return web.Response(status=response.status, body=payload, headers={**headers, "content-type": CONTENT_TYPE})


class _UndecodableBody(Exception):
    """A Content-Encoding body that does not inflate."""


async def _read_within(request: web.BaseRequest, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past ``limit`` bytes."""
    body = bytearray()
    while True:
        try:
            chunk = await request.content.readany()
        except RequestPayloadError as exc:
            raise _UndecodableBody() from exc
        if not chunk:
            return bytes(body)
        body += chunk
        if len(body) > limit:
            return None


async def _expect(request: web.Request) -> web.StreamResponse | None:
    """HttpObjectAggregator's answer to ``Expect``: 100 Continue, 413 or 417, never a handler."""
    http_limits = request.app[LIMITS_KEY]
    refused = _head_refusal(request, http_limits)
    if refused is not None:
        return _to_web(refused, request)
    if request.version < (1, 1):
        return None
    if request.headers.get("Expect", "").strip().lower() != "100-continue":
        return web.Response(status=417)
    if _declared_too_large(request, http_limits):
        return _too_large(close=False)
    await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    request.writer.output_size = 0
    return None


async def _handle(request: web.Request) -> web.StreamResponse:
    emulator = request.app[EMULATOR_KEY]
    http_limits = request.app[LIMITS_KEY]
    refused = _head_refusal(request, http_limits)
    if refused is not None:
        return _to_web(refused, request)
    if _declared_too_large(request, http_limits):
        return _too_large(close=not request.keep_alive)
    try:
        body = await _read_within(request, http_limits.max_content_length)
    except _UndecodableBody:
        # Netty's HttpContentDecompressor throws; OpenSearch's transport logs the exception
        # and closes the connection without answering
        request.protocol.force_close()
        return web.Response(status=400)
    if body is None:
        return _too_large(close=True)
    rest = RestRequest(
        method=request.method, path=request.rel_url.raw_path, query=dict(request.query),
        headers=dict(request.headers), body=body, raw_uri=request.raw_path,
    )
    return _to_web(await emulator.handle(rest), request)


def _parser_limits(http_limits: limits.HttpLimits) -> dict[str, Any]:
    line = max(_PARSER_FLOOR, _PARSER_HEADROOM * http_limits.max_initial_line_length)
    field = max(_PARSER_FLOOR, _PARSER_HEADROOM * http_limits.max_header_size)
    # Netty limits the header block's size, not the number of headers; "a:" is the shortest line
    return {"max_line_size": line, "max_field_size": field,
            "max_headers": max(128, http_limits.max_header_size // 2 + 1)}


def create_app(emulator: "Emulator") -> web.Application:
    http_limits = emulator.http_limits
    app = web.Application(client_max_size=http_limits.max_content_length,
                          handler_args=_parser_limits(http_limits))
    app[EMULATOR_KEY] = emulator
    app[LIMITS_KEY] = http_limits
    # every path reaches the router, also one whose decoded form holds a newline (%0A)
    app.router.add_route("*", r"/{tail:[\s\S]*}", _handle, expect_handler=_expect)
    return app
