"""Nodes joining and leaving the running cluster, and what the plugin does about it.

Read from the plugin source (2.9.0.0 ... 3.8.0.0):

* A node that leaves takes its memory with it: deployed predictors, model caches,
  counters (``MLStats``) and cached tasks.  The other nodes drop it from their routing
  tables (``MLCommonsClusterEventListener`` -> ``removeWorkerNodes``); model documents
  change only in the next sync-up (``services.syncup``), which the emulator runs at once
  while the job is enabled.  A deploy in progress when a target node leaves: see
  ``deployment._gone``.
* A node that joins comes with an empty memory and keeps its id (OpenSearch keeps a
  node's id in its data path; the emulator's store keeps it by node name).  From 2.12
  (``model_auto_redeploy.enable``) the cluster manager redeploys models for it
  (``MLModelAutoReDeployer``, ``deployment.auto_redeploy``); the next sync-up then
  refreshes the plans of models deployed to all nodes, which is how a default-plan model
  becomes PARTIALLY_DEPLOYED when a node joins and nothing redeploys it (2.9-2.11).
* Node roles decide eligibility as for any deploy (``deployment.eligible``); switching
  ``only_run_on_ml_node`` on stays the cluster-settings service's business.

A node added at run time lives until the emulator stops: a restart builds the cluster
from ``Config.nodes`` again (adding the same name back gives the same id).
"""
from __future__ import annotations

from typing import Iterable

import attrs

from mlcommons_emu.cluster.nodes import ALL_ROLES, NodeRuntime
from mlcommons_emu.domain.node import ROLES, Node
from mlcommons_emu.services import deployment, syncup
from mlcommons_emu.services.context import Context


def resolve(ctx: Context, node: str) -> NodeRuntime:
    """A node of the cluster by id, else by name."""
    runtimes = ctx.cluster.nodes
    found = next((r for r in runtimes if r.node_id == node), None) or next(
        (r for r in runtimes if r.node.name == node), None)
    if found is None:
        raise KeyError(f"no node {node!r} in the cluster (nodes: {', '.join(r.node.name for r in runtimes)})")
    return found


async def add(ctx: Context, name: str, roles: Iterable[str] = ALL_ROLES, box_type: str | None = None,
              *, sync_up: bool = True) -> NodeRuntime:
    """A new node joins: its id is the one the store keeps for the name, or a new one."""
    roles = tuple(roles)
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; choose from {', '.join(ROLES)}")
    if any(r.node.name == name for r in ctx.cluster.nodes):
        raise ValueError(f"a node named {name!r} is already in the cluster")
    async with ctx.store.transaction() as tx:
        node_id = (await tx.load_nodes()).get(name) or ctx.ids.node_id()
        await tx.save_nodes([(name, node_id)])
    runtime = ctx.cluster.add(Node(node_id=node_id, name=name, roles=roles, box_type=box_type))
    await _joined(ctx, runtime, sync_up)
    return runtime


async def stop(ctx: Context, node: str, *, sync_up: bool = True) -> NodeRuntime:
    """The node leaves (process stopped or crashed): its memory is lost."""
    runtime = resolve(ctx, node)
    if not runtime.node.up:
        raise ValueError(f"node {runtime.node.name} is already stopped")
    _leave(ctx, runtime)
    await _left(ctx, sync_up)
    return runtime


async def start(ctx: Context, node: str, *, sync_up: bool = True) -> NodeRuntime:
    """A stopped node rejoins with the same id and an empty memory."""
    runtime = resolve(ctx, node)
    if runtime.node.up:
        raise ValueError(f"node {runtime.node.name} is already running")
    runtime.node = attrs.evolve(runtime.node, up=True)
    await _joined(ctx, runtime, sync_up)
    return runtime


async def remove(ctx: Context, node: str, *, sync_up: bool = True) -> None:
    """The node leaves for good (running or stopped); the store keeps its id."""
    runtime = resolve(ctx, node)
    was_up = runtime.node.up
    if was_up:
        _leave(ctx, runtime)
    ctx.cluster.remove(runtime.node_id)
    if was_up:
        await _left(ctx, sync_up)


def _leave(ctx: Context, runtime: NodeRuntime) -> None:
    managers = [r for r in ctx.cluster.nodes if r.node.up and "cluster_manager" in r.node.roles]
    if managers == [runtime]:
        raise ValueError(f"node {runtime.node.name} is the last cluster-manager node running: "
                         "the cluster would have no manager")
    runtime.node = attrs.evolve(runtime.node, up=False)
    runtime.forget()


async def _left(ctx: Context, sync_up: bool) -> None:
    if sync_up and syncup.enabled(ctx):
        await syncup.run(ctx)


async def _joined(ctx: Context, runtime: NodeRuntime, sync_up: bool) -> None:
    runtime.forget()
    await deployment.auto_redeploy(ctx, [runtime.node_id])
    if sync_up and syncup.enabled(ctx):
        await syncup.run(ctx)
