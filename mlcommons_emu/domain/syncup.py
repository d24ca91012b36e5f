"""The sync-up job's rewrite of one model document: pure rules, time given by the caller.

From ``MLSyncUpCron.refreshModelState`` / ``getNewModelState`` / ``bulkUpdateModelState``
(unchanged from 2.9.0.0 to 3.8.0.0 but for multi-tenancy and how the eligible nodes are
found: 2.9 ``getEligibleNodes()``, 2.10+ ``getEligibleNodes(functionName)``):

* Only models in a deploying or deployed family state are read (DEPLOYING, DEPLOYED,
  PARTIALLY_DEPLOYED, DEPLOY_FAILED and the legacy LOAD* states).
* A model deployed to all nodes is planned on every node eligible *now*: its planned
  count is the eligible count, and when the eligible ids differ from the stored
  ``planning_worker_nodes`` (size or membership) the plan is rewritten to them.
* New state, first rule that applies: some node runs a deploy task of the model and the
  state is not DEPLOYING -> DEPLOYING; no node holds it, the state is not DEPLOY_FAILED and
  it is not a DEPLOYING model within 20 s of its ``last_updated_time`` -> DEPLOY_FAILED;
  held on fewer nodes than planned (unless already PARTIALLY_DEPLOYED with that count in
  the document) -> PARTIALLY_DEPLOYED; held on at least as many as planned (planned > 0)
  and not DEPLOYED -> DEPLOYED; otherwise no state change.
* A model whose state or plan changes is written with ``last_updated_time`` = now and
  ``current_worker_node_count`` = the nodes holding it; others are not written.  Task
  documents are never part of this.
"""
from __future__ import annotations

from typing import Sequence

import attrs

from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.states import ModelState

#: MLSyncUpCron.DEPLOY_MODEL_TASK_GRACE_TIME_IN_MS
DEPLOYING_GRACE_MS = 20_000


def next_state(state: ModelState, *, deploying: bool, workers: int, planned: int, current_in_index: int,
               last_updated: int | None, now: int) -> ModelState | None:
    """``getNewModelState``: the state to write, or None to keep it."""
    if deploying and state is not ModelState.DEPLOYING:
        return ModelState.DEPLOYING
    in_grace = state is ModelState.DEPLOYING and last_updated is not None and last_updated + DEPLOYING_GRACE_MS > now
    if workers == 0 and state is not ModelState.DEPLOY_FAILED and not in_grace:
        return ModelState.DEPLOY_FAILED
    if workers > 0:
        if workers < planned and (state is not ModelState.PARTIALLY_DEPLOYED or current_in_index != workers):
            return ModelState.PARTIALLY_DEPLOYED
        if planned > 0 and workers >= planned and state is not ModelState.DEPLOYED:
            return ModelState.DEPLOYED
    return None


def refresh(model: Model, *, workers: int, deploying: bool, eligible: Sequence[str], now: int) -> Model | None:
    """The model as the sync-up writes it back, or None when it is left alone."""
    planned = model.planning_worker_node_count or 0
    new_plan: tuple[str, ...] | None = None
    if model.deploy_to_all_nodes:
        planned = len(eligible)
        stored = model.planning_worker_nodes
        if len(eligible) != len(stored) or not set(stored) <= set(eligible):
            new_plan = tuple(eligible)
    state = next_state(model.model_state, deploying=deploying, workers=workers, planned=planned,
                       current_in_index=model.current_worker_node_count or 0,
                       last_updated=model.last_updated_time, now=now)
    if state is None and new_plan is None:
        return None
    changes: dict = {"last_updated_time": now, "current_worker_node_count": workers}
    if state is not None:
        changes["model_state"] = state
    if new_plan is not None:
        changes["planning_worker_nodes"] = new_plan
        changes["planning_worker_node_count"] = len(new_plan)
    return attrs.evolve(model, **changes)
