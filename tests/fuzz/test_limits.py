"""OpenSearch's HTTP limits: http.max_content_length (413, empty body), http.max_header_size
and http.max_initial_line_length (400 envelopes), in process and over HTTP.

The limits are configured small here so the tests stay fast; the defaults are OpenSearch's.
"""
from __future__ import annotations

import gzip
import json

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.api.limits import byte_size
from mlcommons_emu.config import Config
from tests.fuzz.strategies import Case
from tests.fuzz.support import World
from tests.fuzz.wire import Connection, chunked, request_bytes

LIMIT = 1024
REGISTER = "/_plugins/_ml/model_groups/_register"
JSON = [("Content-Type", "application/json")]


def group(size: int) -> bytes:
    """A model-group body of exactly ``size`` bytes."""
    head, tail = b'{"name":"g","description":"', b'"}'
    return head + b"d" * (size - len(head) - len(tail)) + tail


@pytest.fixture(scope="module")
def small():
    with World(max_content_length=LIMIT) as world:
        yield world.serve()


def test_defaults_are_opensearchs():
    config = Config()
    assert (config.max_content_length, config.max_header_size, config.max_initial_line_length) == (
        100 * 1024 * 1024, 8 * 1024, 4 * 1024)


@pytest.mark.parametrize("text,size", [("100mb", 100 * 1024 * 1024), ("8kb", 8192), ("512b", 512), ("2g", 2 << 30),
                                       ("1KB", 1024), (4096, 4096), ("4096", 4096)])
def test_sizes_read_like_bytesizevalue(text, size):
    assert byte_size(text) == size
    assert Config(max_content_length=text).max_content_length == size


@pytest.mark.parametrize("text", ["ten", "5 parsecs", "-1", -1, True])
def test_unreadable_sizes_are_refused(text):
    with pytest.raises(ValueError):
        Config(max_content_length=text)


# in process ------------------------------------------------------------------------------

def test_in_process_a_body_over_the_limit_is_413_without_a_body(small):
    outcome = small.check(Case("POST", ("_plugins", "_ml", "model_groups", "_register"), (), tuple(JSON),
                               group(LIMIT + 1)))
    assert (outcome.response.status, outcome.response.body) == (413, None)
    assert outcome.before == outcome.after


def test_in_process_a_body_at_the_limit_is_served(small):
    outcome = small.check(Case("POST", ("_plugins", "_ml", "model_groups", "_register"), (), tuple(JSON),
                               group(LIMIT)))
    assert outcome.response.status == 200


async def test_in_process_oversized_headers_and_request_line():
    async with Emulator(max_header_size=200, max_initial_line_length=100) as emu:
        r = await emu.request("GET", "/", headers={"X-Big": "b" * 200})
        assert r.status == 400
        assert r.body["error"] == {
            "root_cause": [{"type": "too_long_http_header_exception", "reason": "HTTP header is larger than 200 bytes."}],
            "type": "too_long_http_header_exception", "reason": "HTTP header is larger than 200 bytes."}
        r = await emu.request("GET", "/_plugins/_ml/models/" + "m" * 100)
        assert r.status == 400
        assert r.body["error"]["type"] == "too_long_http_line_exception"
        assert r.body["error"]["reason"] == "An HTTP line is larger than 100 bytes."
        assert (await emu.request("GET", "/", headers={"X-Small": "s"})).status == 200


# over HTTP -------------------------------------------------------------------------------

def exchange(world: World, *messages: bytes, expect_close: bool | None = None):
    """Send the messages on one connection; the responses, and whether the server closed it
    (waiting longer when a close is expected, briefly when it is not)."""
    async def run():
        connection = await Connection.open(world.port)
        try:
            responses = []
            for message in messages:
                await connection.send(message)
                responses.append(await connection.response())
            if expect_close is None:
                return responses, None
            return responses, await connection.closed_by_server(3.0 if expect_close else 0.3)
        finally:
            await connection.close()

    return world.run(run())


def unchanged(world: World) -> bool:
    return world.run(world.snapshot()) == world.pristine


def test_declared_length_over_the_limit_is_413_and_the_connection_stays_usable(small):
    oversized = request_bytes("POST", REGISTER, JSON, group(LIMIT + 1))
    follow_up = request_bytes("GET", "/", [])
    (too_large, info), closed = exchange(small, oversized, follow_up, expect_close=False)
    assert (too_large.status, too_large.reason, too_large.body) == (413, "Request Entity Too Large", b"")
    assert too_large.headers["content-length"] == "0"
    assert "content-type" not in too_large.headers and "connection" not in too_large.headers
    assert info.status == 200 and not closed
    assert unchanged(small)


def test_without_keep_alive_the_413_closes_the_connection(small):
    oversized = request_bytes("POST", REGISTER, JSON + [("Connection", "close")], group(LIMIT + 1))
    (too_large,), closed = exchange(small, oversized, expect_close=True)
    assert (too_large.status, too_large.body, too_large.headers.get("connection")) == (413, b"", "close")
    assert closed
    assert unchanged(small)


def test_expect_continue_over_the_limit_is_413_instead_of_100(small):
    async def run():
        connection = await Connection.open(small.port)
        try:
            head = request_bytes("POST", REGISTER, JSON + [("Expect", "100-continue"),
                                                          ("Content-Length", str(LIMIT + 1))], b"",
                                 content_length=False)
            await connection.send(head)
            return await connection.response(), await connection.closed_by_server(0.3)
        finally:
            await connection.close()

    response, closed = small.run(run())
    assert (response.status, response.body, response.headers["content-length"]) == (413, b"", "0")
    assert not closed
    assert unchanged(small)


def test_expect_continue_within_the_limit_gets_100_then_the_answer(small):
    async def run():
        connection = await Connection.open(small.port)
        try:
            body = group(100)
            head = request_bytes("POST", REGISTER, JSON + [("Expect", "100-continue"),
                                                          ("Content-Length", str(len(body)))], b"",
                                 content_length=False)
            await connection.send(head)
            interim = await connection.response()
            await connection.send(body)
            return interim, await connection.response()
        finally:
            await connection.close()

    interim, final = small.run(run())
    small.run(small._restore())
    assert interim.status == 100
    assert final.status == 200 and "model_group_id" in json.loads(final.body)


def test_an_unknown_expectation_is_417_without_a_body(small):
    (response,), _ = exchange(small, request_bytes("POST", REGISTER, JSON + [("Expect", "tea")], group(50)),
                              expect_close=None)
    assert (response.status, response.body) == (417, b"")
    assert unchanged(small)


def test_a_chunked_body_growing_past_the_limit_is_413_and_closes(small):
    message = request_bytes("POST", REGISTER, JSON + [("Transfer-Encoding", "chunked")],
                            chunked(group(LIMIT + 500), 100), content_length=False)
    (response,), closed = exchange(small, message, expect_close=True)
    assert (response.status, response.body, response.headers.get("connection")) == (413, b"", "close")
    assert closed
    assert unchanged(small)


def test_a_chunked_body_within_the_limit_is_served(small):
    message = request_bytes("POST", REGISTER, JSON + [("Transfer-Encoding", "chunked")],
                            chunked(group(LIMIT), 100), content_length=False)
    (response,), _ = exchange(small, message)
    small.run(small._restore())
    assert response.status == 200


def test_a_compressed_body_is_measured_after_inflating(small):
    compressed = gzip.compress(group(LIMIT * 4))
    assert len(compressed) < LIMIT
    message = request_bytes("POST", REGISTER, JSON + [("Content-Encoding", "gzip")], compressed)
    (response,), closed = exchange(small, message, expect_close=True)
    assert (response.status, response.body) == (413, b"")
    assert closed
    assert unchanged(small)


def test_a_compressed_body_within_the_limit_is_inflated_and_served(small):
    message = request_bytes("POST", REGISTER, JSON + [("Content-Encoding", "gzip")], gzip.compress(group(LIMIT)))
    (response,), _ = exchange(small, message)
    small.run(small._restore())
    assert response.status == 200


def test_malformed_http_framing_is_refused_before_any_handler(small):
    """Bytes no HTTP/1.1 parser accepts (a control character in a header value) never reach
    the emulator: the codec answers 400 and drops the connection (OpenSearch's Netty codec
    answers 400 too, as an error envelope)."""
    message = request_bytes("POST", REGISTER, JSON + [("X-Bad", "a\x01b")], group(50))
    (response,), closed = exchange(small, message, expect_close=True)
    assert response.status == 400
    assert b"Traceback" not in response.body and b".py" not in response.body
    assert closed
    assert unchanged(small)


def test_the_serve_command_takes_the_limits(capsys):
    from mlcommons_emu import cli

    args = cli.build_parser().parse_args(["serve", "--max-content-length", "2mb", "--max-header-size", "16kb"])
    assert (byte_size(args.max_content_length), byte_size(args.max_header_size)) == (2 << 20, 16 << 10)
    assert cli.main(["serve", "--max-content-length", "lots"]) == 2
    assert "as a size in bytes" in capsys.readouterr().err


def test_a_compressed_body_that_does_not_inflate_closes_without_an_answer(small):
    """Netty's decompressor throws; OpenSearch's transport closes the connection unanswered."""
    async def run():
        connection = await Connection.open(small.port)
        try:
            await connection.send(request_bytes("POST", REGISTER, JSON + [("Content-Encoding", "gzip")],
                                                b'{"name":"not gzip"}'))
            return await connection.closed_by_server(2.0)
        finally:
            await connection.close()

    assert small.run(run())
    assert unchanged(small)
