"""Every Painless script of the ML Commons remote-inference blueprints and tutorials runs.

fixtures/painless/*.json hold each published script, the params ML Commons hands it (pre-escaped
documents for a pre-process script, the response body's top-level keys for a post-process one)
and the result Painless gives: the returned value, or the script_exception it fails with.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcommons_emu import painless
from mlcommons_emu.errors import ScriptError

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "painless"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
CASES = [(name, i) for name in NAMES
         for i in range(len(json.loads((FIXTURES / f"{name}.json").read_text())["cases"]))]


def test_fixtures_are_present():
    assert len(NAMES) >= 20
    for name in NAMES:
        fixture = json.loads((FIXTURES / f"{name}.json").read_text())
        assert fixture["kind"] in ("pre", "post") and fixture["published_in"] and fixture["cases"]


@pytest.mark.parametrize("name, index", CASES)
def test_published_script(name, index):
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    case = fixture["cases"][index]
    if "error" in case:
        with pytest.raises(ScriptError) as info:
            painless.run(fixture["script"], case["params"])
        error = info.value
        assert error.reason == case["error"]["reason"]
        assert {"type": error.cause.type, "reason": error.cause.reason} == case["error"]["caused_by"]
        assert error.position == case["error"]["position"]
        return
    result = painless.run(fixture["script"], case["params"])
    assert result == case["result"]
    if fixture["kind"] == "pre" and result is not None and not case.get("invalid_json"):
        # a pre-process script's output is the {"parameters": {...}} JSON the plugin parses
        assert isinstance(json.loads(result)["parameters"], dict)
