"""The simulated cluster: nodes, what each holds in memory, and predict routing."""
from __future__ import annotations

from typing import Any, Iterable

import attrs

from mlcommons_emu.domain.node import Node

ALL_ROLES = ("cluster_manager", "data", "ingest", "ml", "remote_cluster_client")


@attrs.frozen
class NodeSpec:
    """How a node is configured: a name and its roles (the id is assigned and kept)."""

    name: str
    roles: tuple[str, ...] = ALL_ROLES
    box_type: str | None = None

    @classmethod
    def parse(cls, text: str) -> "NodeSpec":
        """``name:role+role`` e.g. ``data-1:data+ingest``; a bare name gets all roles."""
        name, _, roles = text.partition(":")
        if not roles:
            return cls(name.strip())
        return cls(name.strip(), tuple(r.strip() for r in roles.replace(",", "+").split("+") if r.strip()))


DEFAULT_CLUSTER = (NodeSpec("mlcommons-emu-node-1"),)


class NodeRuntime:
    """One node: its identity and the deployed models in its memory."""

    def __init__(self, node: Node) -> None:
        from mlcommons_emu.cluster.modelcache import NodeCache
        from mlcommons_emu.cluster.stats import NodeStats

        self.node = node
        self.models: dict[str, Any] = {}
        #: MLStats: the node's counters, in memory only
        self.stats = NodeStats()
        #: MLModelCacheHelper: per-model windows and rate limiters, running tasks
        self.cache = NodeCache()
        #: bumped whenever the node's memory is lost: work started before on this node
        #: (a deploy's share) must not land in the new memory
        self.generation = 0

    def forget(self) -> None:
        """Everything the node holds in memory, gone (a fresh node)."""
        from mlcommons_emu.cluster.modelcache import NodeCache
        from mlcommons_emu.cluster.stats import NodeStats

        self.models.clear()
        self.stats = NodeStats()
        self.cache = NodeCache()
        self.generation += 1

    @property
    def node_id(self) -> str:
        return self.node.node_id


class Cluster:
    def __init__(self, nodes: Iterable[Node]) -> None:
        self.nodes = [NodeRuntime(n) for n in nodes]
        self._round_robin = 0
        #: model id -> the node that ran its last predict (the REST answer never says)
        self.served: dict[str, str] = {}

    def add(self, node: Node) -> NodeRuntime:
        """A node joins (with an empty memory)."""
        runtime = NodeRuntime(node)
        self.nodes.append(runtime)
        return runtime

    def remove(self, node_id: str) -> None:
        self.nodes = [r for r in self.nodes if r.node_id != node_id]

    @property
    def coordinator(self) -> NodeRuntime:
        """The node that receives REST calls: the first cluster-manager-eligible node."""
        for runtime in self.nodes:
            if "cluster_manager" in runtime.node.roles and runtime.node.up:
                return runtime
        return self.nodes[0]

    def get(self, node_id: str) -> NodeRuntime | None:
        for runtime in self.nodes:
            if runtime.node_id == node_id:
                return runtime
        return None

    def live(self) -> list[Node]:
        return [r.node for r in self.nodes if r.node.up]

    def serving(self, model_id: str) -> list[NodeRuntime]:
        return [r for r in self.nodes if r.node.up and model_id in r.models]

    def pick(self, candidates: list[NodeRuntime]) -> NodeRuntime:
        """MLTaskDispatcher round_robin: one counter shared by all dispatches."""
        if self._round_robin >= len(candidates):
            chosen, self._round_robin = candidates[0], 1
        else:
            chosen = candidates[self._round_robin]
            self._round_robin += 1
        return chosen

    def drop_all(self) -> None:
        """Every node back to an empty memory: no models, counters or caches."""
        for runtime in self.nodes:
            runtime.forget()
