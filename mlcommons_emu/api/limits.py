"""OpenSearch's HTTP request limits, applied before a request reaches any handler.

OpenSearch decodes HTTP with Netty (``Netty4HttpServerTransport``): an
``HttpRequestDecoder(max_initial_line_length, max_header_size, ...)`` followed by an
``HttpObjectAggregator(max_content_length)``.  What each limit answers:

``http.max_initial_line_length`` (default 4kb)
    The decoder fails with ``TooLongHttpLineException("An HTTP line is larger than 4096
    bytes.")``.  The failed request is dispatched as a bad request
    (``RestController.dispatchBadRequest``): **400** with the error envelope, type
    ``too_long_http_line_exception``.

``http.max_header_size`` (default 8kb)
    The sum of the header lines' lengths is limited, not each header:
    ``TooLongHttpHeaderException("HTTP header is larger than 8192 bytes.")``, answered the
    same way: **400**, type ``too_long_http_header_exception``.  The decoder then discards
    whatever else the connection sends.

``http.max_content_length`` (default 100mb)
    The aggregator answers **413 Request Entity Too Large with an empty body** (only
    ``content-length: 0``); no handler runs and no error envelope is written:

    * a ``Content-Length`` over the limit, keep-alive request: 413 at once, the connection
      stays open and the body is read and dropped;
    * the same without keep-alive (``Connection: close``, HTTP/1.0): 413 with
      ``connection: close``, then the connection is closed;
    * ``Expect: 100-continue`` with a ``Content-Length`` over the limit: 413 instead of
      ``100 Continue`` (OpenSearch's ``testExpectContinueHeaderContentLengthTooLong``);
      any other expectation is answered 417 with an empty body;
    * a body without a usable ``Content-Length`` (chunked, or compressed and inflated by
      the ``HttpContentDecompressor`` ahead of the aggregator) that grows past the limit:
      413 with ``connection: close``, then the connection is closed.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

import attrs

from mlcommons_emu.api import errors as error_rendering
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.errors import EmulatorError

KB = 1024
MB = 1024 * KB

#: OpenSearch's defaults for the three settings
DEFAULT_MAX_CONTENT_LENGTH = 100 * MB
DEFAULT_MAX_HEADER_SIZE = 8 * KB
DEFAULT_MAX_INITIAL_LINE_LENGTH = 4 * KB

_UNITS = {"b": 1, "k": KB, "kb": KB, "m": MB, "mb": MB, "g": 1024 * MB, "gb": 1024 * MB,
          "t": 1024 ** 4, "tb": 1024 ** 4, "p": 1024 ** 5, "pb": 1024 ** 5}
_SIZE = re.compile(r"^\s*(\d+)\s*([a-z]*)\s*$")


def byte_size(value: object) -> int:
    """A size as OpenSearch's ByteSizeValue reads it (``"100mb"``, ``"8kb"``) or bytes."""
    if isinstance(value, bool):
        raise ValueError(f"not a size in bytes: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a size in bytes cannot be negative: {value}")
        return value
    found = _SIZE.match(str(value).lower())
    if found is None or found.group(2) not in ("", *_UNITS):
        raise ValueError(f"failed to parse [{value}] as a size in bytes: unit is missing or unrecognized")
    return int(found.group(1)) * _UNITS.get(found.group(2) or "b", 1)


@attrs.frozen
class HttpLimits:
    """The three limits of one emulated cluster, in bytes."""

    max_content_length: int = DEFAULT_MAX_CONTENT_LENGTH
    max_header_size: int = DEFAULT_MAX_HEADER_SIZE
    max_initial_line_length: int = DEFAULT_MAX_INITIAL_LINE_LENGTH


class _DecoderFailure(EmulatorError):
    """A Netty decoder exception, rendered by ``dispatchBadRequest`` as a 400."""

    status = 400

    def __init__(self, type_: str, reason: str) -> None:
        super().__init__(reason)
        self.type = type_


def initial_line_size(method: str, uri: str, version: str = "HTTP/1.1") -> int:
    """Bytes of the request line as the decoder counts them (CRLF excluded)."""
    return len(method.encode("latin-1", "replace")) + len(uri.encode("utf-8", "surrogatepass")) + len(version) + 2


def header_block_size(headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Bytes of all header lines (``name: value``, CRLF excluded), as the decoder sums them."""
    return sum(len(name) + 2 + len(value) for name, value in headers)


def request_header_bytes(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    return [(str(name).encode("utf-8", "surrogatepass"), str(value).encode("utf-8", "surrogatepass"))
            for name, value in headers.items()]


def head_refusal(line_size: int, header_size: int, limits: HttpLimits) -> RestResponse | None:
    """The 400 the decoder's failure becomes, or None when the request line and headers fit."""
    if line_size > limits.max_initial_line_length:
        return error_rendering.render(_DecoderFailure(
            "too_long_http_line_exception",
            f"An HTTP line is larger than {limits.max_initial_line_length} bytes."))
    if header_size > limits.max_header_size:
        return error_rendering.render(_DecoderFailure(
            "too_long_http_header_exception",
            f"HTTP header is larger than {limits.max_header_size} bytes."))
    return None


def too_large() -> RestResponse:
    """HttpObjectAggregator's answer: 413 with no body at all."""
    return RestResponse(413, None)


def refusal(request: RestRequest, limits: HttpLimits) -> RestResponse | None:
    """What OpenSearch's HTTP layer answers for this request instead of a handler, if anything."""
    refused = head_refusal(
        initial_line_size(request.method, request.uri),
        header_block_size(request_header_bytes(request.headers)),
        limits,
    )
    if refused is not None:
        return refused
    if len(request.body) > limits.max_content_length:
        return too_large()
    return None
