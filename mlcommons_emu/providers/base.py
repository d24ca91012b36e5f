"""Shared request/response types, recorder, script queue and HTTP adapter for fake providers."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json as _json
import math
import re
import struct
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, Union, runtime_checkable
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "FakeProvider",
    "ListedHosts",
    "ProviderRequest",
    "ProviderResponse",
    "Recorder",
    "Script",
    "ScriptItem",
    "make_app",
    "PROVIDER_KEY",
    "UNRESOLVED_CREDENTIAL",
    "count_tokens",
    "delayed",
    "fault",
    "hash_fraction",
    "hash_unit_vector",
    "rejects_key",
]

HeadersInput = Union[Mapping[str, str], Iterable[tuple[str, str]], None]


def _freeze_headers(headers: HeadersInput) -> CIMultiDictProxy[str]:
    # Header names are case-insensitive on the wire; a CI multidict keeps the
    # sender's spelling and repeated headers while making lookups forgiving.
    if isinstance(headers, CIMultiDictProxy):
        return headers
    if headers is None:
        return CIMultiDictProxy(CIMultiDict())
    if isinstance(headers, dict) and all(type(k) is str and type(v) is str for k, v in headers.items()):
        return CIMultiDictProxy(CIMultiDict(headers))  # the usual case, built in one call
    md: CIMultiDict[str] = CIMultiDict()
    items = headers.items() if isinstance(headers, Mapping) else headers
    for key, value in items:
        md.add(str(key), str(value))
    return CIMultiDictProxy(md)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _freeze_body(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    return bytes(body)


#: what ML Commons leaves in a header when a connector names a credential it does not have
#: (StringSubstitutor keeps an unknown ``${credential.x}`` verbatim)
UNRESOLVED_CREDENTIAL = "${credential."


def rejects_key(key: str, api_keys: Iterable[str] | None) -> bool:
    """Whether a key-authenticated fake turns ``key`` away: not one of ``api_keys`` (None:
    any key is known), or an unresolved ``${credential.*}`` placeholder, which no real
    provider ever issued."""
    return UNRESOLVED_CREDENTIAL in key or (api_keys is not None and key not in api_keys)


_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    """The fakes' token count: one per word and one per punctuation mark."""
    return len(_TOKEN_RE.findall(text))


def hash_unit_vector(namespace: str, key: str | bytes, dims: int) -> list[float]:
    """A unit vector of ``dims`` components fixed by (namespace, key).

    SHAKE-256 of the two is read as ``dims`` unsigned 32-bit integers, mapped onto [-1, 1]
    and normalised: the same text always embeds to the same vector, different texts to
    near-orthogonal ones.
    """
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    raw = hashlib.shake_256(namespace.encode("utf-8") + b"\0" + data).digest(4 * dims)
    vals = [(u / 4294967295.0) * 2.0 - 1.0 for u in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in vals)) or 1.0
    return [v / norm for v in vals]


def hash_fraction(*parts: Any) -> float:
    """A number in [0, 1) fixed by the parts (scores, confidences, jitter)."""
    digest = hashlib.sha256("\0".join(str(p) for p in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class ProviderRequest:
    """One outbound HTTP call as a fake provider sees it."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""

    def __post_init__(self) -> None:
        # Normalise in place so every consumer gets case-insensitive headers,
        # an upper-case method and real bytes, whatever the caller passed.
        object.__setattr__(self, "method", str(self.method).upper())
        object.__setattr__(self, "url", str(self.url))
        object.__setattr__(self, "headers", _freeze_headers(self.headers))
        object.__setattr__(self, "body", _freeze_body(self.body))

    @classmethod
    def coerce(cls, request: Any) -> ProviderRequest:
        """Accept any object with method/url/headers/body (e.g. a transport's own request type)."""
        if isinstance(request, cls):
            return request
        return cls(
            method=request.method,
            url=request.url,
            headers=getattr(request, "headers", None),
            body=getattr(request, "body", b""),
        )

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def path(self) -> str:
        return urlsplit(self.url).path or "/"

    @property
    def query(self) -> str:
        return urlsplit(self.url).query

    def json(self) -> Any:
        """Decode the body as JSON (raises ValueError when it is not)."""
        return _json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class ProviderResponse:
    """What a fake provider answers: status, headers and raw body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", int(self.status))
        object.__setattr__(self, "headers", _freeze_headers(self.headers))
        object.__setattr__(self, "body", _freeze_body(self.body))

    @classmethod
    def json(
        cls, status: int, obj: Any, headers: HeadersInput = None
    ) -> ProviderResponse:
        """Serialise obj as a UTF-8 JSON body; content-type defaults to application/json."""
        # ensure_ascii=False because real APIs send raw UTF-8, and a stable
        # separator choice keeps identical objects byte-identical.
        # A lone surrogate echoed from a request (a "\ud800" escape) has no UTF-8 form:
        # it stays a JSON escape, as JSON encoders write it.
        text = _json.dumps(obj, ensure_ascii=False)
        body = _LONE_SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text).encode("utf-8")
        hdrs: CIMultiDict[str] = CIMultiDict(_freeze_headers(headers))
        hdrs.setdefault("Content-Type", "application/json")
        return cls(status=status, headers=hdrs, body=body)

    def json_body(self) -> Any:
        """Decode the body as JSON."""
        return _json.loads(self.body.decode("utf-8"))

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


@runtime_checkable
class FakeProvider(Protocol):
    """An in-process stand-in for a remote inference service."""

    name: str
    hosts: tuple[str, ...]

    async def handle(self, request: ProviderRequest) -> ProviderResponse: ...


async def received(fake: Any, request: Any) -> tuple[ProviderRequest, ProviderResponse | None]:
    """Every fake's first steps: the request normalised and journaled, then the reply its
    script holds for it, if any (a scripted fault or delay)."""
    request = ProviderRequest.coerce(request)
    fake.recorder.record(request)
    return request, await fake.script.reply(request)


class Recorder:
    """Bounded log of the requests a provider has answered, oldest first."""

    def __init__(self, maxlen: int = 1000) -> None:
        if maxlen < 1:
            raise ValueError("maxlen must be >= 1")
        self._items: deque[ProviderRequest] = deque(maxlen=maxlen)
        # Providers may be driven from worker threads (e.g. a sync transport
        # running its own loop), so guard the deque against interleaving.
        self._lock = threading.Lock()

    @property
    def maxlen(self) -> int:
        return self._items.maxlen or 0

    def record(self, request: ProviderRequest) -> None:
        with self._lock:
            self._items.append(request)

    @property
    def requests(self) -> list[ProviderRequest]:
        """A snapshot copy; mutating it does not affect the recorder."""
        with self._lock:
            return list(self._items)

    @property
    def last(self) -> ProviderRequest | None:
        with self._lock:
            return self._items[-1] if self._items else None

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


ScriptCallable = Callable[
    [ProviderRequest], Union[ProviderResponse, None, Awaitable[Union[ProviderResponse, None]]]
]
ScriptItem = Union[ProviderResponse, ScriptCallable]


def delayed(seconds: float, then: ProviderResponse | None = None) -> ScriptCallable:
    """A script item that waits, then answers `then` (or falls through to normal handling)."""
    if seconds < 0:
        raise ValueError("seconds must be >= 0")

    async def _delay(request: ProviderRequest) -> ProviderResponse | None:
        await asyncio.sleep(seconds)
        return then

    return _delay


def fault(status: int, body: Any = b"", headers: Mapping[str, str] | None = None) -> ProviderResponse:
    """A raw reply: dict/list bodies are JSON-encoded, str/bytes are sent as is."""
    if isinstance(body, (dict, list)):
        return ProviderResponse.json(status, body, dict(headers or {}))
    return ProviderResponse(status, dict(headers or {}), body)


class ListedHosts:
    """For a fake that answers exactly the hosts it lists (any case, a trailing dot allowed)."""

    hosts: tuple[str, ...]

    def matches(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts


class Script:
    """FIFO of canned replies served before a provider's normal handling.

    An item is a ProviderResponse (returned as is) or a callable taking the
    ProviderRequest and returning a ProviderResponse, an awaitable of one, or
    None to fall through to normal handling (useful for observing a call).
    """

    def __init__(self) -> None:
        self._queue: deque[tuple[str | None, ScriptItem]] = deque()
        self._lock = threading.Lock()

    def enqueue(self, *items: ScriptItem, path: str | None = None) -> Script:
        """Queue replies; with ``path`` they serve only requests whose path starts with it."""
        for item in items:
            if not isinstance(item, ProviderResponse) and not callable(item):
                raise TypeError(
                    f"script items must be ProviderResponse or callable, not {type(item).__name__}"
                )
        with self._lock:
            self._queue.extend((path, item) for item in items)
        return self

    def fail(self, status: int, body: Any = b"", headers: Mapping[str, str] | None = None, *,
             times: int = 1, path: str | None = None) -> Script:
        """Answer the next ``times`` calls with this status, body (dict -> JSON) and headers."""
        if isinstance(body, (dict, list)):
            reply = ProviderResponse.json(status, body, headers)
        else:
            reply = ProviderResponse(status, dict(headers or {}), _freeze_body(body))
        return self.enqueue(*([reply] * times), path=path)

    def delay(self, seconds: float, *, then: ScriptItem | None = None, times: int = 1,
              path: str | None = None) -> Script:
        """Hold the next ``times`` calls for ``seconds``, then answer ``then`` or normally."""

        async def held(request: ProviderRequest) -> ProviderResponse | None:
            await asyncio.sleep(seconds)
            if then is None:
                return None
            if isinstance(then, ProviderResponse):
                return then
            result = then(request)
            return await result if inspect.isawaitable(result) else result

        return self.enqueue(*([held] * times), path=path)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._queue)

    def _pop(self, path: str = "") -> ScriptItem | None:
        with self._lock:
            for index, (prefix, item) in enumerate(self._queue):
                if prefix is None or path.startswith(prefix):
                    del self._queue[index]
                    return item
            return None

    async def reply(self, request: ProviderRequest) -> ProviderResponse | None:
        """Consume the next item for this request's path, and resolve it (or None)."""
        item = self._pop(urlsplit(request.url).path)
        if item is None:
            return None
        if isinstance(item, ProviderResponse):
            return item
        result = item(request)
        if inspect.isawaitable(result):
            result = await result
        if result is not None and not isinstance(result, ProviderResponse):
            raise TypeError(
                f"script callable returned {type(result).__name__}, expected ProviderResponse or None"
            )
        return result


PROVIDER_KEY: web.AppKey[Any] = web.AppKey("fake_provider", object)

# Hop-by-hop / framing headers are recomputed by aiohttp; copying a stale
# Content-Length from a provider response would corrupt the HTTP stream.
_SKIP_RESPONSE_HEADERS = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive"}
)


def make_app(provider: FakeProvider, *, client_max_size: int = 64 * 1024 * 1024) -> web.Application:
    """Serve a fake provider over real HTTP: every method and path goes to provider.handle()."""

    async def _dispatch(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        preq = ProviderRequest(
            method=request.method,
            url=str(request.url),
            headers=request.headers,
            body=body,
        )
        presp = await provider.handle(preq)
        headers = CIMultiDict(
            (k, v) for k, v in presp.headers.items() if k.lower() not in _SKIP_RESPONSE_HEADERS
        )
        return web.Response(status=presp.status, body=presp.body, headers=headers)

    # Embedding batches can exceed aiohttp's 1 MiB default request cap.
    app = web.Application(client_max_size=client_max_size)
    app[PROVIDER_KEY] = provider
    app.router.add_route("*", "/{tail:.*}", _dispatch)
    return app
