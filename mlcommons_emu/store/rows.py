"""Entity <-> stored document converters: the only code that knows both shapes."""
from __future__ import annotations

from typing import Any

from mlcommons_emu.domain.connector import Connector, ConnectorAction
from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.model_group import ModelGroup
from mlcommons_emu.domain.states import ModelState, TaskState, TaskType
from mlcommons_emu.domain.task import Task

CONNECTOR_INDEX = ".plugins-ml-connector"
MODEL_INDEX = ".plugins-ml-model"
MODEL_GROUP_INDEX = ".plugins-ml-model-group"
TASK_INDEX = ".plugins-ml-task"
CONFIG_INDEX = ".plugins-ml-config"


def _put(doc: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        doc[key] = value


# connectors ----------------------------------------------------------------------------
def action_to_document(action: ConnectorAction) -> dict[str, Any]:
    doc: dict[str, Any] = {"action_type": action.action_type, "method": action.method, "url": action.url}
    _put(doc, "headers", action.headers)
    _put(doc, "request_body", action.request_body)
    _put(doc, "pre_process_function", action.pre_process_function)
    _put(doc, "post_process_function", action.post_process_function)
    _put(doc, "name", action.name)
    if action.supports_structured_output:
        doc["supports_structured_output"] = True
    return doc


def action_from_document(doc: dict[str, Any]) -> ConnectorAction:
    return ConnectorAction(
        action_type=doc["action_type"], method=doc["method"], url=doc["url"],
        headers=doc.get("headers"), request_body=doc.get("request_body"),
        pre_process_function=doc.get("pre_process_function"),
        post_process_function=doc.get("post_process_function"), name=doc.get("name"),
        supports_structured_output=doc.get("supports_structured_output") is True,
    )


def connector_to_document(c: Connector) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": c.name, "version": c.version}
    _put(doc, "description", c.description)
    doc["protocol"] = c.protocol
    doc["parameters"] = dict(c.parameters)
    doc["credential"] = dict(c.credential)
    doc["actions"] = [action_to_document(a) for a in c.actions]
    if c.backend_roles:
        doc["backend_roles"] = list(c.backend_roles)
    _put(doc, "owner", c.owner)
    _put(doc, "access", c.access)
    _put(doc, "created_time", c.created_time)
    _put(doc, "last_updated_time", c.last_updated_time)
    _put(doc, "client_config", c.client_config)
    return doc


def connector_from_document(doc: dict[str, Any], connector_id: str | None = None) -> Connector:
    return Connector(
        name=doc["name"], version=doc["version"], protocol=doc["protocol"],
        description=doc.get("description"), parameters=dict(doc.get("parameters") or {}),
        credential=dict(doc.get("credential") or {}),
        actions=tuple(action_from_document(a) for a in doc.get("actions") or ()),
        backend_roles=tuple(doc["backend_roles"]) if doc.get("backend_roles") else None,
        owner=doc.get("owner"), access=doc.get("access"), client_config=doc.get("client_config"),
        created_time=doc.get("created_time"), last_updated_time=doc.get("last_updated_time"),
        connector_id=connector_id,
    )


def connector_lookups(c: Connector) -> dict[str, Any]:
    return {"name": c.name[:512]}


# model groups --------------------------------------------------------------------------
def group_to_document(g: ModelGroup) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": g.name, "latest_version": g.latest_version}
    _put(doc, "description", g.description)
    if g.backend_roles:
        doc["backend_roles"] = list(g.backend_roles)
    _put(doc, "owner", g.owner)
    _put(doc, "access", g.access)
    _put(doc, "created_time", g.created_time)
    _put(doc, "last_updated_time", g.last_updated_time)
    return doc


def group_from_document(doc: dict[str, Any], group_id: str) -> ModelGroup:
    return ModelGroup(
        model_group_id=group_id, name=doc["name"], latest_version=int(doc.get("latest_version", 0)),
        description=doc.get("description"),
        backend_roles=tuple(doc["backend_roles"]) if doc.get("backend_roles") else None,
        owner=doc.get("owner"), access=doc.get("access"),
        created_time=doc.get("created_time"), last_updated_time=doc.get("last_updated_time"),
    )


def group_lookups(g: ModelGroup) -> dict[str, Any]:
    return {"name": g.name[:512]}


# models --------------------------------------------------------------------------------
def model_to_document(m: Model) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": m.name, "model_group_id": m.model_group_id,
                           "algorithm": m.algorithm, "model_version": m.model_version}
    _put(doc, "description", m.description)
    _put(doc, "model_config", m.model_config)
    doc["model_state"] = m.model_state.value
    doc["created_time"] = m.created_time
    doc["last_updated_time"] = m.last_updated_time
    _put(doc, "last_deployed_time", m.last_deployed_time)
    _put(doc, "auto_redeploy_retry_times", m.auto_redeploy_retry_times)
    _put(doc, "planning_worker_node_count", m.planning_worker_node_count)
    _put(doc, "current_worker_node_count", m.current_worker_node_count)
    if m.planning_worker_nodes:
        doc["planning_worker_nodes"] = list(m.planning_worker_nodes)
    if m.deploy_to_all_nodes:
        doc["deploy_to_all_nodes"] = True  # MLModel.toXContent writes it only when true
    _put(doc, "is_hidden", m.is_hidden)
    _put(doc, "is_enabled", m.is_enabled)
    _put(doc, "is_controller_enabled", m.is_controller_enabled)
    _put(doc, "rate_limiter", m.rate_limiter)
    _put(doc, "deploy_setting", m.deploy_setting)
    _put(doc, "connector_id", m.connector_id)
    if m.connector is not None:
        doc["connector"] = connector_to_document(m.connector)
    _put(doc, "interface", m.interface)
    _put(doc, "guardrails", m.guardrails)
    return doc


def model_from_document(doc: dict[str, Any], model_id: str) -> Model:
    connector = doc.get("connector")
    return Model(
        model_id=model_id, name=doc["name"], model_group_id=doc.get("model_group_id", ""),
        algorithm=doc.get("algorithm", "REMOTE"), model_version=str(doc.get("model_version", "1")),
        model_state=ModelState(doc["model_state"]), created_time=doc["created_time"],
        last_updated_time=doc["last_updated_time"], description=doc.get("description"),
        connector_id=doc.get("connector_id"),
        connector=connector_from_document(connector) if connector else None,
        last_deployed_time=doc.get("last_deployed_time"),
        planning_worker_node_count=doc.get("planning_worker_node_count"),
        planning_worker_nodes=tuple(doc.get("planning_worker_nodes") or ()),
        current_worker_node_count=doc.get("current_worker_node_count"),
        deploy_to_all_nodes=doc.get("deploy_to_all_nodes"),
        auto_redeploy_retry_times=doc.get("auto_redeploy_retry_times"),
        is_hidden=doc.get("is_hidden"), is_enabled=doc.get("is_enabled"),
        is_controller_enabled=doc.get("is_controller_enabled"),
        rate_limiter=doc.get("rate_limiter"), deploy_setting=doc.get("deploy_setting"),
        model_config=doc.get("model_config"), interface=doc.get("interface"),
        guardrails=doc.get("guardrails"),
    )


def model_lookups(m: Model) -> dict[str, Any]:
    return {"name": m.name[:512], "model_group_id": m.model_group_id,
            "connector_id": m.connector_id, "state": m.model_state.value}


# tasks ---------------------------------------------------------------------------------
def task_to_document(t: Task) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    _put(doc, "model_id", t.model_id)
    doc["task_type"] = t.task_type.value
    doc["function_name"] = t.function_name
    doc["state"] = t.state.value
    doc["worker_node"] = list(t.worker_node)
    doc["create_time"] = t.create_time
    doc["last_update_time"] = t.last_update_time
    _put(doc, "error", t.error)
    doc["is_async"] = t.is_async
    return doc


def task_from_document(doc: dict[str, Any], task_id: str) -> Task:
    return Task(
        task_id=task_id, task_type=TaskType(doc["task_type"]), function_name=doc["function_name"],
        state=TaskState(doc["state"]), worker_node=tuple(doc.get("worker_node") or ()),
        create_time=doc["create_time"], last_update_time=doc["last_update_time"],
        is_async=bool(doc.get("is_async", False)), model_id=doc.get("model_id"), error=doc.get("error"),
    )


def task_lookups(t: Task) -> dict[str, Any]:
    return {"model_id": t.model_id, "state": t.state.value}
