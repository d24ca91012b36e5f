"""Remote models and their deployment bookkeeping."""
from __future__ import annotations

from typing import Any

import attrs

from mlcommons_emu.domain.connector import Connector
from mlcommons_emu.domain.states import ModelState


@attrs.frozen
class Model:
    model_id: str
    name: str
    model_group_id: str
    algorithm: str
    model_version: str
    model_state: ModelState
    created_time: int
    last_updated_time: int
    description: str | None = None
    connector_id: str | None = None
    connector: Connector | None = None
    last_deployed_time: int | None = None
    planning_worker_node_count: int | None = None
    planning_worker_nodes: tuple[str, ...] = ()
    current_worker_node_count: int | None = None
    deploy_to_all_nodes: bool | None = None
    auto_redeploy_retry_times: int | None = None
    is_hidden: bool | None = None
    is_enabled: bool | None = None
    is_controller_enabled: bool | None = None
    rate_limiter: dict[str, Any] | None = None
    deploy_setting: dict[str, Any] | None = None
    model_config: dict[str, Any] | None = None
    interface: dict[str, Any] | None = None
    guardrails: dict[str, Any] | None = None

    @property
    def is_auto_deploy_enabled(self) -> bool:
        setting = self.deploy_setting or {}
        value = setting.get("is_auto_deploy_enabled")
        return value is not False
