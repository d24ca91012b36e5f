"""Pure state moves of tasks and models: (entity, event, now) -> new entity, or raise."""
from __future__ import annotations

import json
from typing import Iterable, Mapping

import attrs

from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.states import MODEL_TRANSITIONS, TASK_TRANSITIONS, ModelState, TaskState
from mlcommons_emu.domain.task import Task


class InvalidTransitionError(Exception):
    """An illegal state move: a bug in the emulator, never a user error."""


def move_task(task: Task, state: TaskState, now: int, *, error: str | None = None,
              model_id: str | None = None) -> Task:
    if state not in TASK_TRANSITIONS[task.state]:
        raise InvalidTransitionError(f"task {task.task_id}: {task.state.value} -> {state.value}")
    return attrs.evolve(
        task, state=state, last_update_time=now,
        error=error if error is not None else task.error,
        model_id=model_id if model_id is not None else task.model_id,
    )


def move_model(model: Model, state: ModelState, **changes) -> Model:
    if state not in MODEL_TRANSITIONS[model.model_state]:
        raise InvalidTransitionError(f"model {model.model_id}: {model.model_state.value} -> {state.value}")
    return attrs.evolve(model, model_state=state, **changes)


def start_deploy(model: Model, target_nodes: Iterable[str], deploy_to_all_nodes: bool, now: int) -> Model:
    """MLModelManager marks the model DEPLOYING with its deployment plan."""
    nodes = tuple(target_nodes)
    changes = dict(
        planning_worker_node_count=len(nodes),
        planning_worker_nodes=nodes,
        last_updated_time=now,
    )
    # deploy_to_all_nodes is written only when true, and kept afterwards (MLModel.toXContent)
    if deploy_to_all_nodes:
        changes["deploy_to_all_nodes"] = True
    elif model.deploy_to_all_nodes:
        changes["deploy_to_all_nodes"] = False
    return move_model(model, ModelState.DEPLOYING, **changes)


def finish_deploy(model: Model, task: Task, node_errors: Mapping[str, str], succeeded: int,
                  now: int, *, reset_redeploy_retries: bool = False) -> tuple[Model, Task]:
    """Outcome table of the deploy (MLTaskManager / DeployModelTransportAction)."""
    if not node_errors:
        task_state, model_state = TaskState.COMPLETED, ModelState.DEPLOYED
    elif succeeded:
        task_state, model_state = TaskState.COMPLETED_WITH_ERROR, ModelState.PARTIALLY_DEPLOYED
    else:
        task_state, model_state = TaskState.FAILED, ModelState.DEPLOY_FAILED
    error = json.dumps(dict(node_errors), separators=(",", ":")) if node_errors else None
    new_task = move_task(task, task_state, now, error=error)
    new_model = move_model(
        model, model_state,
        current_worker_node_count=succeeded,
        last_deployed_time=now if succeeded else model.last_deployed_time,
        last_updated_time=now,
        # TransportForwardAction resets the counter when auto-redeploy is on and enough
        # nodes succeeded (model_auto_redeploy_success_ratio)
        auto_redeploy_retry_times=0 if reset_redeploy_retries else model.auto_redeploy_retry_times,
    )
    return new_model, new_task


def undeploy_all(model: Model, *, now: int | None = None) -> Model:
    """Removed from every node: counts zeroed; deploy_to_all_nodes untouched.

    ``now`` is given only for the fallback where no node held the model
    (TransportUndeployModelsAction.bulkSetModelIndexToUndeploy writes last_updated_time).
    """
    changes = dict(planning_worker_nodes=(), planning_worker_node_count=0, current_worker_node_count=0)
    if now is not None:
        changes["last_updated_time"] = now
    return attrs.evolve(model, model_state=ModelState.UNDEPLOYED, **changes)


def undeploy_some(model: Model, remaining: Iterable[str]) -> Model:
    nodes = tuple(remaining)
    return attrs.evolve(
        model, planning_worker_nodes=nodes, planning_worker_node_count=len(nodes),
        current_worker_node_count=len(nodes), deploy_to_all_nodes=False if model.deploy_to_all_nodes is not None else None,
    )
