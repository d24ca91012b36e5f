"""Hostile requests over real HTTP: the aiohttp server answers as OpenSearch's HTTP layer does."""
from __future__ import annotations

import json

import pytest
from hypothesis import given

from tests.fuzz import strategies as fs
from tests.fuzz.strategies import Case, Ref
from tests.fuzz.support import World, fuzz_settings
from tests.fuzz.wire import Connection, request_bytes

JSON = (("Content-Type", "application/json"),)


@pytest.fixture(scope="module")
def served():
    with World() as world:
        yield world.serve()


def test_any_request_over_http(served):
    @fuzz_settings(30)
    @given(fs.route_cases(body_kinds=("family", "extreme", "extreme", "none")).map(fs.wire_safe))
    def run(case):
        served.check_http(case)

    run()


@pytest.mark.parametrize("body", [
    b"{\"name\": ", b"{\"name\": \"x\",}", b"\xff\xfe", fs.deep(10_000, "array"), fs.deep(1001, "object"),
    b"{\"a\":" + b"9" * 5000 + b"}", b"[1]", b"   ",
], ids=["truncated", "trailing-comma", "not-utf8", "deep-array", "deep-object", "long-number", "array", "blank"])
def test_bad_bodies_get_opensearch_errors_over_http(served, body):
    for segments in (("_plugins", "_ml", "model_groups", "_register"), ("_plugins", "_ml", "connectors", "_create"),
                     ("_plugins", "_ml", "models", Ref("model_id", 0), "_predict"), ("_cluster", "settings")):
        method = "PUT" if segments[0] == "_cluster" else "POST"
        outcome = served.check_http(Case(method, segments, (), JSON, body))
        assert outcome.response.status >= 400


def test_deep_nesting_is_jacksons_stream_constraint(served):
    outcome = served.check_http(Case("POST", ("_plugins", "_ml", "model_groups", "_register"), (), JSON,
                                     fs.deep(10_000, "array")))
    assert outcome.response.status == 500
    assert outcome.response.body["error"]["type"] == "stream_constraints_exception"
    assert outcome.response.body["error"]["reason"] == (
        "Document nesting depth (1001) exceeds the maximum allowed (1000, from "
        "`StreamReadConstraints.getMaxNestingDepth()`)")


def test_a_body_nested_1000_deep_is_accepted(served):
    body = b"{\"name\":\"deep\",\"description\":\"d\",\"x\":" + fs.deep(999, "array") + b"}"
    outcome = served.check_http(Case("POST", ("_plugins", "_ml", "model_groups", "_register"), (), JSON, body))
    assert outcome.response.status == 200


def test_a_lone_surrogate_round_trips_as_jacksons_escape(served):
    async def create_and_fetch():
        connection = await Connection.open(served.port)
        try:
            await connection.send(request_bytes("POST", "/_plugins/_ml/model_groups/_register", JSON,
                                                b"{\"name\":\"lone \\ud800 surrogate\"}"))
            created = await connection.response()
            group_id = json.loads(created.body)["model_group_id"]
            await connection.send(request_bytes("GET", f"/_plugins/_ml/model_groups/{group_id}", ()))
            return created, await connection.response()
        finally:
            await connection.close()

    created, fetched = served.run(create_and_fetch())
    served.run(served._restore())
    assert created.status == 200 and fetched.status == 200
    assert b'"name":"lone \\uD800 surrogate"' in fetched.body  # UTF-8 JSON, the surrogate escaped
    assert json.loads(fetched.body.decode("utf-8"))["name"] == "lone \ud800 surrogate"


def test_oversized_header_block_is_netty_too_long_header(served):
    outcome = served.check_http(Case("GET", (), (), (("X-Big", "b" * 9000),), b""))
    assert outcome.response.status == 400
    assert outcome.response.body == {"error": {
        "root_cause": [{"type": "too_long_http_header_exception", "reason": "HTTP header is larger than 8192 bytes."}],
        "type": "too_long_http_header_exception", "reason": "HTTP header is larger than 8192 bytes."}, "status": 400}


def test_many_small_headers_count_towards_the_same_limit(served):
    headers = tuple((f"X-H{i}", "v" * 40) for i in range(300))
    outcome = served.check_http(Case("GET", (), (), headers, b""))
    assert outcome.response.status == 400
    assert outcome.response.body["error"]["type"] == "too_long_http_header_exception"


def test_headers_just_under_the_limit_are_served(served):
    outcome = served.check_http(Case("GET", (), (), (("X-Big", "b" * 7000),), b""))
    assert outcome.response.status == 200


def test_overlong_request_line_is_netty_too_long_line(served):
    outcome = served.check_http(Case("GET", ("_plugins", "_ml", "models", "m" * 5000), (), (), b""))
    assert outcome.response.status == 400
    assert outcome.response.body["error"]["type"] == "too_long_http_line_exception"
    assert outcome.response.body["error"]["reason"] == "An HTTP line is larger than 4096 bytes."


def test_path_parameters_are_decoded_once(served):
    outcome = served.check_http(Case("GET", ("_plugins", "_ml", "models", "%2541"), (), (), b""))
    assert outcome.response.status == 404
    assert outcome.response.body["error"]["reason"].endswith(": %41")
