"""Real outbound HTTP through aiohttp, used only when network access is switched on."""
from __future__ import annotations

import aiohttp

from mlcommons_emu.connectors.transports.base import OutboundRequest, OutboundResponse, TransportError


class HttpTransport:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: OutboundRequest, *, timeout: float) -> OutboundResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(auto_decompress=True)
        try:
            async with self._session.request(
                request.method, request.url, headers=dict(request.headers), data=request.body,
                allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                body = await response.read()
                return OutboundResponse(response.status, dict(response.headers), body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransportError(str(exc) or type(exc).__name__) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
