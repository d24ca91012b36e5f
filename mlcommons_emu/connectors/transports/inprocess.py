"""Hands a request to a fake provider object by host name: no socket at all."""
from __future__ import annotations

import asyncio
from typing import Any, Iterable
from urllib.parse import urlsplit

from mlcommons_emu.connectors.transports.base import OutboundRequest, OutboundResponse, TransportError


class InProcessTransport:
    """Routes by exact host to objects with ``hosts`` and ``async handle(request)``.

    The fakes read ``method``, ``url``, ``headers`` and ``body`` from the request and
    answer an object with ``status``, ``headers`` and ``body``; they share no code with
    the runtime, so a wrong request is caught by the fake rather than agreed with.
    """

    def __init__(self, providers: Iterable[Any] = (), fallback: Any | None = None) -> None:
        self._by_host: dict[str, Any] = {}
        self._matchers: list[Any] = []
        for provider in providers:
            self.add(provider)
        self.fallback = fallback

    def add(self, provider: Any) -> None:
        for host in provider.hosts:
            self._by_host[host.lower()] = provider
        if callable(getattr(provider, "matches", None)):
            self._matchers.append(provider)

    def provider_for(self, host: str) -> Any | None:
        """Exact host first, then ``*.suffix`` patterns, then providers' own ``matches``."""
        host = host.lower()
        if host in self._by_host:
            return self._by_host[host]
        for pattern, provider in self._by_host.items():
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return provider
        for provider in self._matchers:
            if provider.matches(host):
                return provider
        return None

    def answers(self, url: str) -> bool:
        return self.provider_for(urlsplit(url).hostname or "") is not None

    async def send(self, request: OutboundRequest, *, timeout: float) -> OutboundResponse:
        host = urlsplit(request.url).hostname or ""
        provider = self.provider_for(host)
        if provider is None:
            if self.fallback is not None:
                return await self.fallback.send(request, timeout=timeout)
            raise TransportError(
                f"{host}: no built-in fake provider answers this host and outbound network "
                "access is off (start the emulator with --allow-network to call it)")
        try:
            async with asyncio.timeout(timeout):
                reply = await provider.handle(request)
        except TimeoutError as exc:
            raise TransportError(f"Read timed out after {timeout} seconds") from exc
        return OutboundResponse(status=reply.status, headers=dict(reply.headers), body=reply.body)
