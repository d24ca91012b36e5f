"""Connectors: standalone (own index) and internal (inside a model document)."""
from __future__ import annotations

from typing import Any

import attrs

PROTOCOLS_2_9 = ("http", "aws_sigv4")
ACTION_TYPES_2_9 = ("PREDICT",)


@attrs.frozen
class ConnectorAction:
    action_type: str
    method: str
    url: str
    headers: dict[str, str] | None = None
    request_body: str | None = None
    pre_process_function: str | None = None
    post_process_function: str | None = None
    name: str | None = None
    #: 3.7+: written to the document only when true (ConnectorAction.toXContent)
    supports_structured_output: bool = False


@attrs.frozen
class Connector:
    """A connector as stored: ``credential`` values are ciphertext, never plaintext."""

    name: str
    version: str
    protocol: str
    description: str | None = None
    parameters: dict[str, str] = attrs.field(factory=dict)
    credential: dict[str, str] = attrs.field(factory=dict)
    actions: tuple[ConnectorAction, ...] = ()
    backend_roles: tuple[str, ...] | None = None
    owner: dict[str, Any] | None = None
    access: str | None = None
    client_config: dict[str, Any] | None = None
    created_time: int | None = None
    last_updated_time: int | None = None
    connector_id: str | None = None

    def action(self, action_type: str = "PREDICT") -> ConnectorAction | None:
        """The first action of that type, as ConnectorAction lookup does."""
        for action in self.actions:
            if action.action_type == action_type:
                return action
        return None
