"""The one-method transport contract between the connector runtime and the outside."""
from __future__ import annotations

from typing import Mapping, Protocol

import attrs


@attrs.frozen
class OutboundRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@attrs.frozen
class OutboundResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Transport(Protocol):
    async def send(self, request: OutboundRequest, *, timeout: float) -> OutboundResponse: ...


class TransportError(Exception):
    """The exchange itself failed (no answer); the runtime maps it to the plugin's error."""
