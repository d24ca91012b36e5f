"""Each node's ML counters: what ``MLStats`` holds in one node's memory.

ML Commons keeps its counters per node, in memory (``MLStats``, built in
``MachineLearningPlugin.createComponents``): node-level counters (``CounterSupplier``s that
start at 0), and counters created on first use per algorithm and action
(``createCounterStatIfAbsent``) and, from 2.11, per model and action
(``createModelCounterStatIfAbsent``).  Nothing is persisted: each node runtime owns its counters
(``NodeRuntime.stats``), so a restarted node, or a cluster dropped back to nothing, starts
again from 0.

This module only counts; which service increments what, and when, is
``mlcommons_emu.services.stats`` (it follows the plugin's call sites).
"""
from __future__ import annotations

from typing import Any

#: node-level counters, in MLNodeLevelStat order (ML_JVM_HEAP_USAGE is measured, not counted)
EXECUTING_TASK = "executing_task_count"
REQUEST = "request_count"
FAILURE = "failure_count"
DEPLOYED_MODEL = "deployed_model_count"
CIRCUIT_BREAKER = "circuit_breaker_trigger_count"
NODE_COUNTERS = (EXECUTING_TASK, REQUEST, FAILURE, DEPLOYED_MODEL, CIRCUIT_BREAKER)

#: MLActionLevelStat
ACTION_REQUEST = "ml_action_request_count"
ACTION_FAILURE = "ml_action_failure_count"


class NodeStats:
    """The counters of one node (insertion-ordered, so answers are stable)."""

    def __init__(self) -> None:
        self.node: dict[str, int] = {name: 0 for name in NODE_COUNTERS}
        #: function name (upper case, as FunctionName) -> action -> action-level stat -> value
        self.algorithms: dict[str, dict[str, dict[str, int]]] = {}
        #: model id -> action -> action-level stat -> value
        self.models: dict[str, dict[str, dict[str, int]]] = {}

    def add(self, counter: str, delta: int = 1) -> None:
        self.node[counter] += delta

    def algorithm(self, function_name: str, action: str, stat: str, delta: int = 1) -> None:
        """``createCounterStatIfAbsent(algo, action, stat).increment()`` (delta 0: only create)."""
        actions = self.algorithms.setdefault(function_name.upper(), {})
        stats = actions.setdefault(action, {})
        stats[stat] = stats.get(stat, 0) + delta

    def model(self, model_id: str, action: str, stat: str, delta: int = 1) -> None:
        """``createModelCounterStatIfAbsent(modelId, action, stat)`` (+ ``increment()`` unless delta 0)."""
        actions = self.models.setdefault(model_id, {})
        stats = actions.setdefault(action, {})
        stats[stat] = stats.get(stat, 0) + delta

    def snapshot(self) -> dict[str, Any]:
        return {"node": dict(self.node),
                "algorithms": {f: {a: dict(s) for a, s in acts.items()} for f, acts in self.algorithms.items()},
                "models": {m: {a: dict(s) for a, s in acts.items()} for m, acts in self.models.items()}}
