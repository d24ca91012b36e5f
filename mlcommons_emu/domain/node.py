"""Cluster nodes: ids, names and roles."""
from __future__ import annotations

import attrs

ROLES = ("cluster_manager", "data", "ingest", "ml", "remote_cluster_client", "search", "warm")


@attrs.frozen
class Node:
    node_id: str = attrs.field(validator=attrs.validators.matches_re(r"^[A-Za-z0-9_-]{22}$"))
    name: str
    roles: frozenset[str] = attrs.field(converter=frozenset)
    box_type: str | None = None
    up: bool = True

    @property
    def is_data(self) -> bool:
        return "data" in self.roles

    @property
    def is_ml(self) -> bool:
        return "ml" in self.roles

    def has_role(self, role: str) -> bool:
        if role == "data":
            # DiscoveryNode.isDataNode() plus the hot/warm box_type attribute check
            return self.is_data and self.box_type in (None, "hot")
        return role in self.roles
