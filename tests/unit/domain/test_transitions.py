"""Task and model state moves (ml-commons-semantics.md §7.3-§7.6, ml-commons-rest.md §6.8, §10.1)."""
from __future__ import annotations

import itertools
import json

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlcommons_emu.domain.model import Model
from mlcommons_emu.domain.states import ModelState, TaskState, TaskType
from mlcommons_emu.domain.task import Task
from mlcommons_emu.domain.transitions import (
    InvalidTransitionError,
    finish_deploy,
    move_task,
    start_deploy,
    undeploy_all,
    undeploy_some,
)

T0 = 1_700_000_000_000
NODE_A = "AAAAAAAAAAAAAAAAAAAAAA"
NODE_B = "BBBBBBBBBBBBBBBBBBBBBB"
NODE_C = "CCCCCCCCCCCCCCCCCCCCCC"

TERMINAL = (TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED, TaskState.COMPLETED_WITH_ERROR)
#: What the references allow: register goes CREATED -> COMPLETED/FAILED directly, deploy may pass
#: through RUNNING (only when the dispatch acknowledgement comes first) and ends in one of the
#: three deploy outcomes; a task can be cancelled while it runs.  Nothing leaves a final state,
#: and nothing goes back to CREATED or RUNNING.
EXPECTED_TASK_MOVES = {
    TaskState.CREATED: {TaskState.RUNNING, *TERMINAL},
    TaskState.RUNNING: set(TERMINAL),
    **{state: set() for state in TERMINAL},
}


def task(state: TaskState = TaskState.CREATED, **changes) -> Task:
    base = Task(
        task_id="dGFza2lkMDAwMDAwMDAw", task_type=TaskType.DEPLOY_MODEL, function_name="REMOTE",
        state=state, worker_node=(NODE_A, NODE_B), create_time=T0, last_update_time=T0,
        is_async=True, model_id="bW9kZWxpZDAwMDAwMDAw",
    )
    return attrs.evolve(base, **changes)


def model(state: ModelState = ModelState.REGISTERED, **changes) -> Model:
    base = Model(
        model_id="bW9kZWxpZDAwMDAwMDAw", name="m", model_group_id="Z3JvdXBpZDAwMDAwMDAw",
        algorithm="REMOTE", model_version="1", model_state=state,
        created_time=T0, last_updated_time=T0,
    )
    return attrs.evolve(base, **changes)


def deploying(nodes=(NODE_A, NODE_B), **changes) -> Model:
    return start_deploy(model(**changes), nodes, deploy_to_all_nodes=True, now=T0 + 10)


# -- tasks -------------------------------------------------------------------------------

@pytest.mark.parametrize(("source", "target"), list(itertools.product(TaskState, TaskState)),
                         ids=lambda s: s.value)
def test_every_task_move_is_allowed_or_refused_as_the_references_say(source, target):
    before = task(source, last_update_time=T0)
    if target in EXPECTED_TASK_MOVES[source]:
        after = move_task(before, target, T0 + 5)
        assert after.state is target
        assert after.last_update_time == T0 + 5
        assert after.create_time == T0
    else:
        with pytest.raises(InvalidTransitionError):
            move_task(before, target, T0 + 5)


@pytest.mark.parametrize("final", TERMINAL, ids=lambda s: s.value)
def test_a_finished_task_never_changes_again(final):
    done = task(final)
    for target in TaskState:
        with pytest.raises(InvalidTransitionError):
            move_task(done, target, T0 + 1, error="late")
    assert done.state is final and done.error is None


@given(st.lists(st.sampled_from(list(TaskState)), max_size=12))
def test_once_a_task_is_final_every_later_move_is_refused(moves):
    current = task()
    history = [current.state]
    for target in moves:
        try:
            current = move_task(current, target, T0)
        except InvalidTransitionError:
            continue
        history.append(current.state)
    finals = [i for i, s in enumerate(history) if s.is_terminal]
    if finals:
        assert finals[0] == len(history) - 1  # nothing after the first final state


def test_register_task_completes_without_running_and_records_the_model():
    register = task(task_type=TaskType.REGISTER_MODEL, model_id=None, is_async=False)
    done = move_task(register, TaskState.COMPLETED, T0 + 7, model_id="bmV3bW9kZWwwMDAwMDAw")
    assert done.state is TaskState.COMPLETED
    assert done.model_id == "bmV3bW9kZWwwMDAwMDAw"
    assert done.error is None


def test_moving_a_task_keeps_its_error_and_model_unless_new_ones_are_given():
    running = move_task(task(), TaskState.RUNNING, T0 + 1)
    failed = move_task(running, TaskState.FAILED, T0 + 2, error="boom")
    assert (failed.error, failed.model_id) == ("boom", running.model_id)
    assert running.error is None  # tasks are values: the earlier one is untouched


# -- deploy outcome ------------------------------------------------------------------------

def test_start_deploy_plans_every_target_node_and_marks_deploy_to_all_nodes():
    planned = start_deploy(model(), [NODE_A, NODE_B], deploy_to_all_nodes=True, now=T0 + 3)
    assert planned.model_state is ModelState.DEPLOYING
    assert planned.planning_worker_nodes == (NODE_A, NODE_B)
    assert planned.planning_worker_node_count == 2
    assert planned.deploy_to_all_nodes is True
    assert planned.last_updated_time == T0 + 3


def test_start_deploy_with_a_custom_plan_is_not_deploy_to_all_nodes():
    planned = start_deploy(model(), [NODE_B], deploy_to_all_nodes=False, now=T0 + 3)
    assert planned.planning_worker_nodes == (NODE_B,)
    assert planned.planning_worker_node_count == 1
    assert not planned.deploy_to_all_nodes


def test_a_custom_plan_after_a_deploy_to_all_clears_the_flag():
    earlier = model(ModelState.UNDEPLOYED, deploy_to_all_nodes=True)
    planned = start_deploy(earlier, [NODE_A], deploy_to_all_nodes=False, now=T0 + 3)
    assert planned.deploy_to_all_nodes is False


@pytest.mark.parametrize("state", [ModelState.REGISTERED, ModelState.DEPLOYED, ModelState.PARTIALLY_DEPLOYED,
                                   ModelState.UNDEPLOYED, ModelState.DEPLOY_FAILED], ids=lambda s: s.value)
def test_deploy_is_accepted_from_every_state_a_remote_model_rests_in(state):
    # re-deploy of DEPLOYED gives a new task; re-deploy from UNDEPLOYED or DEPLOY_FAILED is allowed
    planned = start_deploy(model(state), [NODE_A], deploy_to_all_nodes=True, now=T0 + 1)
    assert planned.model_state is ModelState.DEPLOYING


def test_all_nodes_succeeding_completes_the_task_and_deploys_the_model():
    new_model, new_task = finish_deploy(deploying(), move_task(task(), TaskState.RUNNING, T0 + 11),
                                        {}, succeeded=2, now=T0 + 20)
    assert new_task.state is TaskState.COMPLETED
    assert new_task.error is None
    assert new_task.last_update_time == T0 + 20
    assert new_model.model_state is ModelState.DEPLOYED
    assert new_model.current_worker_node_count == 2
    assert new_model.last_deployed_time == T0 + 20
    assert new_model.last_updated_time == T0 + 20
    assert new_model.planning_worker_nodes == (NODE_A, NODE_B)


def test_some_nodes_failing_is_completed_with_error_and_partially_deployed():
    errors = {NODE_B: "Failed to find connector:abc"}
    new_model, new_task = finish_deploy(deploying(), task(TaskState.RUNNING), errors, succeeded=1, now=T0 + 20)
    assert new_task.state is TaskState.COMPLETED_WITH_ERROR
    assert json.loads(new_task.error) == {NODE_B: "Failed to find connector:abc"}
    assert new_model.model_state is ModelState.PARTIALLY_DEPLOYED
    assert new_model.current_worker_node_count == 1
    assert new_model.last_deployed_time == T0 + 20


def test_all_nodes_failing_fails_the_task_and_the_deploy():
    errors = {NODE_A: "first \"quoted\" reason", NODE_B: "second reason"}
    new_model, new_task = finish_deploy(deploying(), task(TaskState.RUNNING), errors, succeeded=0, now=T0 + 20)
    assert new_task.state is TaskState.FAILED
    assert json.loads(new_task.error) == errors  # valid JSON text keyed by node id
    assert new_model.model_state is ModelState.DEPLOY_FAILED
    assert new_model.current_worker_node_count == 0


def test_deploy_outcome_may_settle_straight_from_created():
    # RUNNING is written only if the dispatch acknowledgement arrives before the last report
    _, new_task = finish_deploy(deploying(), task(TaskState.CREATED), {}, succeeded=2, now=T0 + 20)
    assert new_task.state is TaskState.COMPLETED


@pytest.mark.parametrize("final", TERMINAL, ids=lambda s: s.value)
def test_a_finished_deploy_task_cannot_be_settled_twice(final):
    with pytest.raises(InvalidTransitionError):
        finish_deploy(deploying(), task(final), {}, succeeded=2, now=T0 + 20)


def test_redeploy_retry_counter_resets_only_when_asked():
    before = deploying(auto_redeploy_retry_times=2)
    kept, _ = finish_deploy(before, task(TaskState.RUNNING), {}, succeeded=2, now=T0 + 20)
    reset, _ = finish_deploy(before, task(TaskState.RUNNING), {}, succeeded=2, now=T0 + 20,
                             reset_redeploy_retries=True)
    assert kept.auto_redeploy_retry_times == 2
    assert reset.auto_redeploy_retry_times == 0


# -- undeploy -------------------------------------------------------------------------------

@pytest.mark.parametrize("flag", [True, False, None])
def test_undeploy_all_empties_the_plan_and_keeps_deploy_to_all_nodes(flag):
    deployed = model(ModelState.DEPLOYED, planning_worker_nodes=(NODE_A, NODE_B), planning_worker_node_count=2,
                     current_worker_node_count=2, deploy_to_all_nodes=flag, last_updated_time=T0 + 20,
                     last_deployed_time=T0 + 20)
    gone = undeploy_all(deployed)
    assert gone.model_state is ModelState.UNDEPLOYED
    assert gone.planning_worker_nodes == ()
    assert gone.planning_worker_node_count == 0
    assert gone.current_worker_node_count == 0
    assert gone.deploy_to_all_nodes is flag
    assert gone.last_updated_time == T0 + 20  # not touched (ml-commons-rest.md §6.8)
    assert gone.last_deployed_time == T0 + 20


def test_undeploy_all_writes_last_updated_time_only_when_given():
    deployed = model(ModelState.DEPLOYED, last_updated_time=T0 + 20)
    assert undeploy_all(deployed, now=T0 + 99).last_updated_time == T0 + 99


def test_undeploy_from_some_nodes_keeps_the_state_and_shrinks_the_plan():
    deployed = model(ModelState.DEPLOYED, planning_worker_nodes=(NODE_A, NODE_B, NODE_C),
                     planning_worker_node_count=3, current_worker_node_count=3, deploy_to_all_nodes=True)
    rest = undeploy_some(deployed, [NODE_C])
    assert rest.model_state is ModelState.DEPLOYED
    assert rest.planning_worker_nodes == (NODE_C,)
    assert rest.planning_worker_node_count == 1
    assert rest.current_worker_node_count == 1
    assert rest.deploy_to_all_nodes is False
