"""The REST request and response as both front doors see them."""
from __future__ import annotations

from typing import Any, Mapping

import attrs


@attrs.frozen
class RestRequest:
    method: str
    path: str
    query: Mapping[str, str] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    raw_uri: str | None = None

    @property
    def uri(self) -> str:
        """The URI as OpenSearch echoes it in router errors (path plus query string)."""
        return self.raw_uri if self.raw_uri is not None else self.path

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


@attrs.frozen
class RestResponse:
    status: int
    body: Any = None  # a JSON-able object, or None for an empty body
    headers: Mapping[str, str] = attrs.field(factory=dict)

    def json(self) -> Any:
        return self.body
