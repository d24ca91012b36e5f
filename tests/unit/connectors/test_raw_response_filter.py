"""response_filter without a built-in post-process (semantics 2.8)."""
from __future__ import annotations

import pytest

from mlcommons_emu.connectors.runtime import _raw_response
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import MLError

BODY = '{"id":"x","choices":[{"message":{"content":"{\\"a\\":1}"}},{"message":{"content":"plain"}}],"n":[1,2]}'
NEWEST, OLD = Release.of("3.8.0"), Release.of("3.6.0")


@pytest.mark.parametrize("path,expected", [
    ("$.choices[0].message.content", {"a": 1}),          # JSON text in a string is parsed
    ("$.choices[1].message.content", {"response": "plain"}),
    ("$.choices[0].message", {"content": '{"a":1}'}),     # an object is the map itself
    ("$.n", {"response": [1, 2]}),
    ("$.id", {"response": "x"}),
])
def test_filter_selects_then_wraps(path, expected):
    assert _raw_response(BODY, {"response_filter": path}, NEWEST) == expected


def test_without_filter_the_body_is_the_map():
    assert _raw_response(BODY, {}, NEWEST)["id"] == "x"
    assert _raw_response(BODY, {"response_filter": "  "}, NEWEST)["id"] == "x"


def test_missing_path_uses_the_whole_body_from_3_7_and_failed_before():
    assert _raw_response(BODY, {"response_filter": "$.nope"}, NEWEST)["id"] == "x"
    with pytest.raises(MLError, match="Fail to execute PREDICT in aws connector"):
        _raw_response(BODY, {"response_filter": "$.nope"}, OLD)
