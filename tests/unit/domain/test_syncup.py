"""The sync-up job's model rewrite (MLSyncUpCron.getNewModelState, refreshModelState)."""
from __future__ import annotations

import pytest

from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.states import ModelState
from mlcommons_emu.domain.syncup import DEPLOYING_GRACE_MS, next_state, refresh

T0 = 1_700_000_000_000
A, B, C = "AAAAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBBBB", "CCCCCCCCCCCCCCCCCCCCCC"


def model(state: ModelState = ModelState.DEPLOYED, *, nodes: tuple[str, ...] = (A, B), to_all: bool | None = True,
          current: int | None = 2) -> Model:
    return Model(model_id="m", name="m", model_group_id="g", algorithm="REMOTE", model_version="1",
                 model_state=state, created_time=T0, last_updated_time=T0, planning_worker_nodes=nodes,
                 planning_worker_node_count=len(nodes), current_worker_node_count=current, deploy_to_all_nodes=to_all)


@pytest.mark.parametrize(("state", "kwargs", "expected"), [
    # a node still deploying it: DEPLOYING first
    (ModelState.DEPLOYED, dict(deploying=True, workers=2, planned=2), ModelState.DEPLOYING),
    # DEPLOYING with a running deploy falls through to the counts
    (ModelState.DEPLOYING, dict(deploying=True, workers=1, planned=2), ModelState.PARTIALLY_DEPLOYED),
    (ModelState.DEPLOYED, dict(workers=0, planned=2), ModelState.DEPLOY_FAILED),
    (ModelState.DEPLOY_FAILED, dict(workers=0, planned=2), None),
    (ModelState.PARTIALLY_DEPLOYED, dict(workers=1, planned=2, current_in_index=1), None),
    (ModelState.PARTIALLY_DEPLOYED, dict(workers=1, planned=3, current_in_index=2), ModelState.PARTIALLY_DEPLOYED),
    (ModelState.PARTIALLY_DEPLOYED, dict(workers=2, planned=2), ModelState.DEPLOYED),
    (ModelState.DEPLOYED, dict(workers=3, planned=2), None),
    (ModelState.DEPLOY_FAILED, dict(workers=1, planned=0), None),  # nothing planned: left alone
])
def test_next_state(state, kwargs, expected):
    args = dict(deploying=False, current_in_index=0, last_updated=T0, now=T0 + DEPLOYING_GRACE_MS + 1) | kwargs
    assert next_state(state, **args) is expected


def test_a_deploying_model_without_workers_gets_a_grace_period():
    args = dict(deploying=False, workers=0, planned=2, current_in_index=0, last_updated=T0)
    assert next_state(ModelState.DEPLOYING, now=T0 + DEPLOYING_GRACE_MS - 1, **args) is None
    assert next_state(ModelState.DEPLOYING, now=T0 + DEPLOYING_GRACE_MS, **args) is ModelState.DEPLOY_FAILED


def test_a_deploy_to_all_nodes_is_planned_on_the_eligible_nodes_of_now():
    updated = refresh(model(), workers=1, deploying=False, eligible=[A], now=T0 + 5)
    assert updated is not None
    assert (updated.model_state, updated.planning_worker_nodes, updated.planning_worker_node_count,
            updated.current_worker_node_count, updated.last_updated_time) == (ModelState.DEPLOYED, (A,), 1, 1, T0 + 5)
    grown = refresh(model(nodes=(A,), current=1), workers=1, deploying=False, eligible=[A, C], now=T0 + 5)
    assert grown is not None
    assert (grown.model_state, grown.planning_worker_nodes) == (ModelState.PARTIALLY_DEPLOYED, (A, C))


def test_a_custom_plan_keeps_its_nodes_and_an_unchanged_model_is_not_written():
    partial = refresh(model(to_all=None), workers=1, deploying=False, eligible=[A], now=T0 + 5)
    assert partial is not None
    assert (partial.model_state, partial.planning_worker_nodes, partial.current_worker_node_count) == (
        ModelState.PARTIALLY_DEPLOYED, (A, B), 1)
    assert refresh(model(), workers=2, deploying=False, eligible=[B, A], now=T0 + 5) is None
