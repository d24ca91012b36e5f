"""The pytest plugin's marker takes the progression mode and the cluster shape, and the
steering calls reach the emulator behind the fixtures; each test starts from the configured
cluster again."""
from __future__ import annotations

import pytest

OPTIONS = {"progression": "manual", "nodes": "m:cluster_manager+data,ml1:ml"}


@pytest.mark.mlcommons(**OPTIONS)
def test_a_node_stopped_in_one_test(mlcommons_emulator):
    assert mlcommons_emulator.request_sync("GET", "/_emu/config").body["progression"] == "manual"
    r = mlcommons_emulator.request_sync("POST", "/_emu/nodes/ml1/_stop")
    assert r.status == 200, r.body
    nodes = {n["name"]: n["up"] for n in mlcommons_emulator.request_sync("GET", "/_emu/nodes").body["nodes"]}
    assert nodes == {"m": True, "ml1": False}


@pytest.mark.mlcommons(**OPTIONS)
def test_is_up_again_in_the_next(mlcommons_emulator):
    nodes = {n["name"]: n["up"] for n in mlcommons_emulator.request_sync("GET", "/_emu/nodes").body["nodes"]}
    assert nodes == {"m": True, "ml1": True}
    assert mlcommons_emulator.request_sync("GET", "/_emu/tasks").body["pending"] == []
