"""Which nodes may host a remote model (ml-commons-rest.md §6.7, ml-commons-semantics.md §7.1).

2.9: ``ml`` nodes; with none, data nodes (not warm ones) only when only_run_on_ml_node is false.
2.10+: nodes holding a role listed in task_dispatcher.eligible_node_role.remote_model (a ``data``
entry matches data nodes whose box_type is absent or ``hot``); only_run_on_ml_node is ignored.
exclude_nodes._name always applies; a dedicated cluster manager is never eligible by default.
"""
from __future__ import annotations

import pytest

from mlcommons_emu.domain.node import Node
from mlcommons_emu.domain.placement import eligible_nodes_for_remote
from mlcommons_emu.domain.release import Release

V2_9 = Release.of("2.9.0")
LATER = [Release.of("2.10.0"), Release.of("2.19.0"), Release.of("3.8.0")]
DEFAULT_ROLES = ["data", "ml"]


def node(name: str, *roles: str, box_type: str | None = None, up: bool = True) -> Node:
    return Node(node_id=(name * 22)[:22], name=name, roles=roles, box_type=box_type, up=up)


MANAGER = node("manager", "cluster_manager")
D1 = node("d1", "data", "ingest")
D2 = node("d2", "data")
M1 = node("m1", "ml")
WARM = node("warm", "data", box_type="warm")
HOT = node("hot", "data", box_type="hot")


def names(found) -> set[str]:
    return {n.name for n in found}


def eligible(nodes, release, *, only_ml=True, roles=DEFAULT_ROLES, exclude=("",)):
    return names(eligible_nodes_for_remote(nodes, release, only_run_on_ml_node=only_ml,
                                           remote_roles=roles, exclude_names=exclude))


# -- 2.9 ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("only_ml", [True, False])
def test_2_9_uses_ml_nodes_only_when_there_are_any(only_ml):
    assert eligible([MANAGER, D1, D2, M1], V2_9, only_ml=only_ml) == {"m1"}


def test_2_9_without_ml_nodes_has_no_eligible_node_while_only_run_on_ml_node_is_true():
    assert eligible([MANAGER, D1, D2], V2_9, only_ml=True) == set()


def test_2_9_falls_back_to_data_nodes_when_only_run_on_ml_node_is_false():
    assert eligible([MANAGER, D1, D2], V2_9, only_ml=False) == {"d1", "d2"}


def test_2_9_fallback_skips_warm_data_nodes_and_keeps_hot_ones():
    assert eligible([MANAGER, D1, WARM, HOT], V2_9, only_ml=False) == {"d1", "hot"}


def test_2_9_ignores_the_node_role_setting():
    # the eligible_node_role settings do not exist before 2.10
    assert eligible([D1, M1], V2_9, roles=["data"]) == {"m1"}


def test_2_9_never_picks_a_dedicated_cluster_manager():
    assert eligible([MANAGER], V2_9, only_ml=False) == set()


def test_2_9_excluded_ml_node_leaves_data_nodes_when_allowed():
    assert eligible([M1, D1], V2_9, only_ml=False, exclude=["m1"]) == {"d1"}
    assert eligible([M1, D1], V2_9, only_ml=True, exclude=["m1"]) == set()


# -- 2.10 and later ------------------------------------------------------------------------------

@pytest.mark.parametrize("release", LATER, ids=str)
@pytest.mark.parametrize("only_ml", [True, False])
def test_later_releases_use_data_and_ml_nodes_whatever_only_run_on_ml_node_says(release, only_ml):
    assert eligible([MANAGER, D1, D2, M1], release, only_ml=only_ml) == {"d1", "d2", "m1"}


@pytest.mark.parametrize("release", LATER, ids=str)
def test_data_only_cluster_is_eligible_from_2_10(release):
    assert eligible([MANAGER, D1, D2], release, only_ml=True) == {"d1", "d2"}


@pytest.mark.parametrize("release", LATER, ids=str)
def test_dedicated_cluster_manager_is_not_eligible_by_default(release):
    assert eligible([MANAGER], release) == set()


@pytest.mark.parametrize("release", LATER, ids=str)
def test_node_role_setting_narrows_the_choice(release):
    cluster = [MANAGER, D1, D2, M1]
    assert eligible(cluster, release, roles=["ml"]) == {"m1"}
    assert eligible(cluster, release, roles=["data"]) == {"d1", "d2"}
    assert eligible(cluster, release, roles=["ingest"]) == {"d1"}
    assert eligible(cluster, release, roles=["cluster_manager"]) == {"manager"}
    assert eligible(cluster, release, roles=[]) == set()


@pytest.mark.parametrize("release", LATER, ids=str)
def test_warm_data_node_is_not_a_data_node_for_placement(release):
    assert eligible([WARM, HOT, D2], release) == {"hot", "d2"}


@pytest.mark.parametrize("release", LATER, ids=str)
def test_warm_node_with_the_ml_role_is_still_eligible_through_that_role(release):
    warm_ml = node("wml", "data", "ml", box_type="warm")
    assert eligible([warm_ml], release) == {"wml"}
    assert eligible([warm_ml], release, roles=["data"]) == set()


@pytest.mark.parametrize("release", LATER, ids=str)
def test_node_with_both_roles_is_listed_once(release):
    both = node("dm", "data", "ml")
    found = eligible_nodes_for_remote([both, D1], release, only_run_on_ml_node=True,
                                      remote_roles=DEFAULT_ROLES, exclude_names=[""])
    assert [n.name for n in found].count("dm") == 1


@pytest.mark.parametrize("release", [V2_9, *LATER], ids=str)
def test_excluded_node_names_are_never_eligible(release):
    cluster = [MANAGER, D1, D2, M1, node("m2", "ml")]
    found = eligible(cluster, release, only_ml=False, exclude="d1,m1".split(","))
    assert found.isdisjoint({"d1", "m1"})
    assert found == ({"m2"} if release < (2, 10) else {"d2", "m2"})


@pytest.mark.parametrize("release", [V2_9, *LATER], ids=str)
def test_nodes_that_left_the_cluster_are_not_eligible(release):
    gone = node("m9", "ml", up=False)
    assert eligible([gone, M1], release) == {"m1"}


def test_node_data_role_honours_box_type():
    assert D2.has_role("data") and HOT.has_role("data")
    assert not WARM.has_role("data")
    assert WARM.is_data  # still a data node for other purposes
    assert not MANAGER.has_role("data") and MANAGER.has_role("cluster_manager")
