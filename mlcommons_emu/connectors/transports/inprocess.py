"""Hands a request to a fake provider object by host name (no socket), or routes it elsewhere."""
from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

from mlcommons_emu.connectors.transports.base import OutboundRequest, OutboundResponse, TransportError

NETWORK = "network"
FAKE = "fake"


def _hostname(url: str) -> str:
    # a connector calls the same few URLs over and over: kept, unless long (a query may
    # carry predict input)
    return _hostname_cached(url) if len(url) <= 512 else _parse_hostname(url)


def _parse_hostname(url: str) -> str:
    return urlsplit(url).hostname or ""


_hostname_cached = functools.lru_cache(maxsize=1024)(_parse_hostname)


def _route_matches(pattern: str, host: str) -> bool:
    pattern = pattern.lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


class InProcessTransport:
    """Routes by host to objects with ``hosts`` / ``matches`` and ``async handle(request)``.

    The fakes read ``method``, ``url``, ``headers`` and ``body`` from the request and
    answer an object with ``status``, ``headers`` and ``body``; they share no code with
    the runtime, so a wrong request is caught by the fake rather than agreed with.

    ``routes`` (host or ``*.suffix`` -> ``"fake"``, ``"network"`` or a base URL) override
    that per host: ``network`` sends the request to the real host, a base URL sends it
    there with the original ``Host`` header (e.g. to ``mlcommons-emu providers serve``).
    Hosts with no fake and no route go to ``fallback`` when there is one (network access
    switched on), else fail as an unreachable endpoint.
    """

    def __init__(self, providers: Iterable[Any] = (), fallback: Any | None = None,
                 routes: Mapping[str, str] | None = None, network: Any | None = None, *,
                 loader: Callable[[], Iterable[Any]] | None = None) -> None:
        """``loader`` gives providers on first use (routing a request, ``add``), after
        ``providers``; it may call :meth:`load` itself."""
        self._by_host: dict[str, Any] = {}
        self._matchers: list[Any] = []
        self._loader = loader
        self._load_lock = threading.RLock()  # the loader may call load() back
        #: whether a provider was added after construction (``add``)
        self.extended = False
        for provider in providers:
            self._add(provider)
        self.fallback = fallback
        self.routes = dict(routes or {})
        self._network = network

    def load(self) -> None:
        """Take the loader's providers now (once)."""
        with self._load_lock:
            loader, self._loader = self._loader, None
            if loader is not None:
                for provider in loader():
                    self._add(provider)

    def add(self, provider: Any) -> None:
        self.load()
        self._add(provider)
        self.extended = True

    def _add(self, provider: Any) -> None:
        for host in provider.hosts:
            self._by_host[host.lower()] = provider
        if callable(getattr(provider, "matches", None)):
            self._matchers.append(provider)

    def provider_for(self, host: str) -> Any | None:
        """Exact host first, then ``*.suffix`` patterns, then providers' own ``matches``."""
        if self._loader is not None:
            self.load()
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

    def route_for(self, host: str) -> str | None:
        host = host.lower()
        for pattern, target in self.routes.items():
            if _route_matches(pattern, host):
                return target
        return None

    @property
    def has_network_client(self) -> bool:
        """Whether a request went out to the network (or a routed base URL)."""
        return self._network is not None

    def answers(self, url: str) -> bool:
        return self.provider_for(urlsplit(url).hostname or "") is not None

    async def send(self, request: OutboundRequest, *, timeout: float) -> OutboundResponse:
        host = _hostname(request.url)
        route = self.route_for(host)
        if route is not None and route != FAKE:
            return await self._send_routed(request, route, timeout=timeout)
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

    async def _send_routed(self, request: OutboundRequest, route: str, *, timeout: float) -> OutboundResponse:
        if self._network is None:
            from mlcommons_emu.connectors.transports.http import HttpTransport

            self._network = HttpTransport()
        if route == NETWORK:
            return await self._network.send(request, timeout=timeout)
        original = urlsplit(request.url)
        base = urlsplit(route)
        url = urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + original.path, original.query, ""))
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        headers["Host"] = original.netloc
        return await self._network.send(
            OutboundRequest(request.method, url, headers, request.body), timeout=timeout)

    async def close(self) -> None:
        if self._network is not None:
            await self._network.close()
            self._network = None
