"""Which nodes may run what: node-role eligibility per emulated release."""
from __future__ import annotations

from typing import Iterable, Sequence

from mlcommons_emu.domain.node import Node
from mlcommons_emu.domain.release import Release


def eligible_nodes_for_remote(nodes: Iterable[Node], release: Release, *, only_run_on_ml_node: bool,
                              remote_roles: Sequence[str], exclude_names: Iterable[str]) -> list[Node]:
    """Nodes that may host a remote model (MLTaskDispatcher / DiscoveryNodeHelper).

    2.9: ``ml`` nodes; with none and only_run_on_ml_node false, data nodes.  2.10+: any
    node holding a role from ``task_dispatcher.eligible_node_role.remote_model``;
    only_run_on_ml_node no longer applies to remote models.
    """
    excluded = {name.strip() for name in exclude_names if name.strip()}
    up = [n for n in nodes if n.up and n.name not in excluded]
    if release < (2, 10):
        ml_nodes = [n for n in up if n.is_ml]
        if ml_nodes or only_run_on_ml_node:
            return ml_nodes
        return [n for n in up if n.has_role("data")]
    return [n for n in up if any(n.has_role(role) for role in remote_roles)]
