"""opensearch-py connections that talk to an emulator with no socket at all.

    from opensearchpy import OpenSearch, AsyncOpenSearch
    from mlcommons_emu.testing.opensearch import EmulatorConnection, AsyncEmulatorConnection

    client = OpenSearch(connection_class=EmulatorConnection, emulator=emulator_thread)
    aclient = AsyncOpenSearch(connection_class=AsyncEmulatorConnection, emulator=emulator)

The sync connection needs an :class:`~mlcommons_emu.testing.EmulatorThread` (sync code has
no loop to run the emulator on); the async one takes either that or an ``Emulator`` started
on the client's own loop.  Each request goes through the same dispatcher as the HTTP server,
so status, headers and body are the ones a socket would carry.
"""
from __future__ import annotations

import base64
import time
from typing import Any, Collection, Mapping
from urllib.parse import urlencode

from opensearchpy.connection.base import Connection

from mlcommons_emu.api.messages import RestResponse
from mlcommons_emu.api.routes import encode


def _auth_header(http_auth: Any) -> dict[str, str]:
    if http_auth is None:
        return {}
    if isinstance(http_auth, (tuple, list)):
        http_auth = ":".join(http_auth)
    if isinstance(http_auth, str):
        return {"authorization": "Basic " + base64.b64encode(http_auth.encode("utf-8")).decode("ascii")}
    raise TypeError("http_auth must be 'user:password' or a (user, password) pair for the emulator")


class _EmulatorConnectionBase(Connection):
    def __init__(self, host: str = "localhost", port: int | None = None, *, emulator: Any = None,
                 http_auth: Any = None, **kwargs: Any) -> None:
        if emulator is None:
            raise TypeError("pass emulator=<Emulator or EmulatorThread> to the client")
        kwargs.pop("connections_per_node", None)
        kwargs.pop("loop", None)
        super().__init__(host=host, port=port, **kwargs)
        self.emulator = emulator
        self.headers.setdefault("content-type", "application/json")
        self.headers.update(_auth_header(http_auth))

    def _prepare(self, url: str, params: Mapping[str, Any] | None, body: Any,
                 headers: Mapping[str, str] | None) -> tuple[str, dict[str, str], Any, bool]:
        path = self.url_prefix + url
        query = {k: str(v) for k, v in (params or {}).items()}
        request_headers = {**self.headers, **(headers or {})}
        if isinstance(body, str):
            body = body.encode("utf-8")
        if not body:
            request_headers.pop("content-type", None)
        pretty = "pretty" in query and query["pretty"] in ("", "true")
        if query:
            path = f"{path}?{urlencode(query)}"
        return path, request_headers, body or None, pretty

    def _finish(self, method: str, path: str, body: Any, response: RestResponse, pretty: bool,
                ignore: Collection[int], start: float) -> tuple[int, dict[str, str], str]:
        raw = "" if method == "HEAD" else encode(response, pretty=pretty).decode("utf-8", "surrogatepass")
        headers = {k.lower(): v for k, v in response.headers.items()}
        if response.body is not None and method != "HEAD":
            headers.setdefault("content-type", "text/plain; charset=UTF-8" if isinstance(response.body, str)
                               else "application/json; charset=UTF-8")
        warnings = [v for k, v in response.headers.items() if k.lower() == "warning"]
        self._raise_warnings(warnings)
        full_url = self.host + path
        duration = time.time() - start
        if not (200 <= response.status < 300) and response.status not in ignore:
            self.log_request_fail(method, full_url, path, body, duration, response.status, raw)
            self._raise_error(response.status, raw, headers.get("content-type"))
        self.log_request_success(method, full_url, path, body, response.status, raw, duration)
        return response.status, headers, raw


class EmulatorConnection(_EmulatorConnectionBase):
    """For ``OpenSearch(...)``: requests run on an EmulatorThread's loop."""

    def perform_request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                        body: Any = None, timeout: float | None = None, ignore: Collection[int] = (),
                        headers: Mapping[str, str] | None = None) -> Any:
        start = time.time()
        path, request_headers, payload, pretty = self._prepare(url, params, body, headers)
        response = self.emulator.request_sync(method, path, payload, headers=request_headers)
        return self._finish(method, path, body, response, pretty, ignore, start)

    def close(self) -> None:
        pass


class AsyncEmulatorConnection(_EmulatorConnectionBase):
    """For ``AsyncOpenSearch(...)``: awaits an Emulator (same loop) or an EmulatorThread."""

    async def perform_request(self, method: str, url: str, params: Mapping[str, Any] | None = None,
                              body: Any = None, timeout: float | None = None, ignore: Collection[int] = (),
                              headers: Mapping[str, str] | None = None) -> Any:
        start = time.time()
        path, request_headers, payload, pretty = self._prepare(url, params, body, headers)
        response = await self.emulator.request(method, path, payload, headers=request_headers)
        return self._finish(method, path, body, response, pretty, ignore, start)

    async def close(self) -> None:
        pass
