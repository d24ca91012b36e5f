"""An emulator on its own event loop in a background thread, with an optional HTTP port.

Synchronous code (a Flask app's tests, a batch job) cannot run an event loop of its own
around the emulator; ``EmulatorThread`` runs one for it.  Async code may use it too: its
``request`` hops onto the emulator's loop, so one emulator can serve every test of a pytest
session whatever loop each test runs in.
"""
from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, Mapping, TypeVar

from mlcommons_emu.api.messages import RestResponse
from mlcommons_emu.config import Config

T = TypeVar("T")


class EmulatorThread:
    """Start with ``start()`` (or ``with``); ``url`` starts the HTTP server on first use.

    ``port=0`` picks a free loopback port, so parallel test workers never collide.
    """

    def __init__(self, config: Config | None = None, *, host: str = "127.0.0.1", port: int = 0,
                 serve_http: bool = True, **overrides: Any) -> None:
        self.config = config if config is not None else Config(**overrides)
        self.host = host
        self.port = port
        self.serve_http = serve_http
        self.emulator: Any = None
        self._runner: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "EmulatorThread":
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start())
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="mlcommons-emu", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("the emulator did not start in time")
        if failure:
            self._thread.join(5)
            self._thread = None
            raise failure[0]
        return self

    async def _start(self) -> None:
        from mlcommons_emu.emulator import Emulator

        self.emulator = await Emulator(self.config).start()
        if self.serve_http:
            await self._serve()

    async def _serve(self) -> None:
        from aiohttp import web

        from mlcommons_emu.api.app import create_app

        self._runner = web.AppRunner(create_app(self.emulator), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread is None or self._loop is None:
            return
        try:
            self.call(self._stop, timeout=timeout)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            self._loop.close()
            self._thread = self._loop = None

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.emulator.stop()

    def __enter__(self) -> "EmulatorThread":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # use ---------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``; the server starts on first use when it was not asked for."""
        with self._lock:
            if self._runner is None:
                self.call(self._serve)
        return f"http://{self.host}:{self.port}"

    def call(self, function: Callable[[], Awaitable[T]], *, timeout: float | None = 60.0) -> T:
        """Run ``await function()`` on the emulator's loop from any other thread."""
        if self._loop is None:
            raise RuntimeError("the emulator thread is not started")
        return asyncio.run_coroutine_threadsafe(function(), self._loop).result(timeout)

    async def acall(self, function: Callable[[], Awaitable[T]]) -> T:
        """Like :meth:`call`, awaited from a coroutine on another loop."""
        if self._loop is None:
            raise RuntimeError("the emulator thread is not started")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(function(), self._loop))

    def request_sync(self, method: str, path: str, body: Any = None, *,
                     headers: Mapping[str, str] | None = None,
                     query: Mapping[str, str] | None = None) -> RestResponse:
        return self.call(lambda: self.emulator.request(method, path, body, headers=headers, query=query))

    async def request(self, method: str, path: str, body: Any = None, *,
                      headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None) -> RestResponse:
        return await self.acall(lambda: self.emulator.request(method, path, body, headers=headers, query=query))

    def reset(self) -> None:
        """A fresh cluster for the next test (see :meth:`Emulator.reset`)."""
        self.call(self.emulator.reset)

    @property
    def providers(self) -> dict[str, Any]:
        return self.emulator.providers
