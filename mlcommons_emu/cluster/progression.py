"""How register and deploy tasks move on: at once, after a latency, or when a test steps them.

``Config.progression`` picks the pace of the tasks' background work:

* ``"immediate"`` (default): the work runs to its end before the REST call answers, so a
  reply always finds the task COMPLETED (or FAILED) already.
* ``"latency"``: the REST call answers when the plugin would (see below) and the work
  finishes ``Config.task_latency_ms`` after the task was created.  A deploy spends the
  first quarter CREATED (the task is indexed, the model marked DEPLOYING, the request fanned
  out and acknowledged by the nodes) and the rest RUNNING (each node reads the connector,
  decrypts its credentials, builds the predictor and reports back).  The default, 200 ms,
  is in the range a remote deploy takes on a small cluster (a hundred to a few hundred
  milliseconds); a remote register is only index writes and is usually faster (tens of
  milliseconds), so the default errs on the slow side for it.
* ``"manual"``: the work stops at a hold point until the test releases or fails it:
  deploys at RUNNING, registers at CREATED (``TaskControl.hold`` changes this).

When the REST call answers, by release (the plugin's reply semantics; in "immediate"
mode the reply waits for the whole work unless the task is held):

* register, 2.9-2.10: right after the task is indexed (``status`` CREATED); the group's
  version bump and the model document follow in the background.
* register, 2.11+: only once the model document exists
  (``MLModelManager.registerMLRemoteModel`` answers from ``indexRemoteModel``), so the
  reply of a held register waits for its release: send it as an ``asyncio`` task and
  wait for it with ``wait_pending``.
* deploy, 2.9-2.10: right after the task is indexed (``status`` CREATED).
* deploy, 2.11+ (remote models): once the nodes have acknowledged the fan-out
  (``TransportDeployModelAction.deployRemoteModel``: the task is set RUNNING, then the
  reply says COMPLETED), so a deploy held at CREATED keeps its caller waiting and one
  held at RUNNING has already been answered.

What a held task looks like:

* A register held at CREATED: the task document is CREATED with no ``model_id``
  (``is_async`` false, ``worker_node`` the coordinating node); the group has been read
  but not yet bumped (a register into the same group that completes meanwhile makes this
  one FAIL with a version conflict on release, as a slow register does in the plugin);
  no model document exists; the coordinating node's memory lists the task RUNNING
  (``checkAndAddRunningTask``), which ``GET /_plugins/_ml/profile/tasks`` shows.
* A deploy held at CREATED: the task is CREATED and the model already DEPLOYING with its
  plan (``planning_worker_nodes``, ``deploy_to_all_nodes``); no node has the request yet.
* A deploy held at RUNNING: the task is RUNNING; every target node has the task in its
  memory (RUNNING) and the model's cache entry DEPLOYING, so the sync-up keeps the model
  DEPLOYING; no node holds the predictor yet.

Releasing is deterministic: tasks are released one at a time in the order they were
created, each run to its next hold point (or its end) before the next one moves, so ids
drawn on the way (a register's model id) come out in the same order on every run.
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Sequence

import attrs

IMMEDIATE, LATENCY, MANUAL = "immediate", "latency", "manual"
MODES = (IMMEDIATE, LATENCY, MANUAL)
DEPLOY, REGISTER = "deploy", "register"
KINDS = (DEPLOY, REGISTER)
CREATED, RUNNING = "CREATED", "RUNNING"
_ORDER = (CREATED, RUNNING)
#: "latency" mode: from a task's creation to its final state (see the module docstring)
DEFAULT_TASK_LATENCY_MS = 200
#: the share of a deploy's latency it spends CREATED (fan-out and acknowledgements)
_FAN_OUT_SHARE = 0.25


@attrs.frozen
class Failure:
    """Why a task's work stops: ``TaskControl.fail``, or a sync-up timeout."""

    error: str
    #: a deploy: the nodes whose share fails (None: every target node)
    nodes: tuple[str, ...] | None = None
    #: the task document says so already (the sync-up wrote it); the work only stops
    recorded: bool = False


@attrs.frozen
class PendingTask:
    """A held task, as :meth:`TaskControl.pending` lists it."""

    task_id: str
    kind: str
    #: the task document's state while it waits
    state: str
    model_id: str | None
    #: a deploy's target nodes (the task's ``worker_node``)
    nodes: tuple[str, ...]


class TaskRun:
    """One register or deploy task's background work, as the controller steers it."""

    def __init__(self, control: "TaskControl", task_id: str, kind: str, model_id: str | None,
                 nodes: tuple[str, ...]) -> None:
        self._control = control
        self.task_id = task_id
        self.kind = kind
        self.model_id = model_id
        self.nodes = nodes
        self.state = CREATED
        self.parked = False
        self.done = False
        self.failure: Failure | None = None
        #: set by ``fail``: no further hold stops this task
        self._through = False
        self._go: asyncio.Event | None = None
        #: whether the work runs in the background (decided when the task is created)
        self.paced = control.mode != IMMEDIATE or bool(control.holds(kind))

    async def reach(self, state: str) -> Failure | None:
        """The work got to ``state`` (its document says so): wait there as the holds and
        the mode say.  Returns why the work must stop, if it must."""
        self.state = state
        self._control._notify()
        control = self._control
        if self.failure is None and not self._through and state in control.holds(self.kind):
            self._go = asyncio.Event()
            self.parked = True
            control._notify()
            await self._go.wait()
        elif self.failure is None and control.mode == LATENCY:
            await asyncio.sleep(control.delay(self.kind, state))
        return self.failure

    def _release(self) -> None:
        self.parked = False
        if self._go is not None:
            self._go.set()
        self._control._notify()

    def finish(self) -> None:
        """The work is over (finished, failed, abandoned or cancelled)."""
        self.done = True
        self._control._forget(self)

    async def reply(self, work: "asyncio.Task[Any]", *, at: str, background: bool = False) -> Any:
        """Wait as the REST call that created the task does: for the whole ``work`` when it
        is not paced, otherwise until the task got to ``at`` (CREATED: at once) or the work
        ended.  Returns the work's result if it ended (raising what it raised)."""
        if not self.paced:
            return await work
        if background:
            return None
        wanted = _ORDER.index(at)
        await self._control._until(lambda: self.done or work.done() or _ORDER.index(self.state) >= wanted)
        if self.done or work.done():
            return await work
        return None

    def snapshot(self) -> PendingTask:
        return PendingTask(self.task_id, self.kind, self.state, self.model_id, self.nodes)


class TaskControl:
    """Steers register and deploy tasks: what waits where, and stepping the waiting ones.

    Reached in process as ``emu.tasks``::

        emu = Emulator(progression="manual")          # deploys wait RUNNING, registers CREATED
        emu.tasks.hold("deploy", at="CREATED")        # now deploys wait CREATED instead
        emu.tasks.unhold("register")                  # registers run through
        (held,) = await emu.tasks.wait_pending()      # a task is waiting
        await emu.tasks.release(held.task_id)         # it goes on (to its next hold or its end)
        await emu.tasks.fail(task_id, "boom")         # it ends FAILED with that error

    Holds apply in every mode: in "immediate" mode a held task is answered as in the
    others (the reply no longer waits for work that is held).
    """

    def __init__(self, mode: str = IMMEDIATE, latency_ms: int = DEFAULT_TASK_LATENCY_MS) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown progression {mode!r}; choose from {', '.join(MODES)}")
        self.mode = str(mode)
        self.latency_ms = int(latency_ms)
        self._holds: dict[str, tuple[str, ...]] = {DEPLOY: (), REGISTER: ()}
        if self.mode == MANUAL:
            self.hold()
        self._runs: dict[str, TaskRun] = {}
        self._change: asyncio.Event | None = None

    # the test's side ------------------------------------------------------------------
    def hold(self, kind: str | None = None, *, at: str | Sequence[str] | None = None) -> None:
        """From now on, tasks of ``kind`` (``"deploy"``, ``"register"``, None: both) wait
        at ``at`` (``"CREATED"``, ``"RUNNING"`` or both, in that order; None: deploys
        RUNNING) until released.  A remote register is never RUNNING (the plugin indexes it
        CREATED and completes it without dispatching it), so registers always wait CREATED;
        naming RUNNING for ``kind="register"`` is an error.  Tasks already waiting stay as
        they are."""
        if at is None:
            at = CREATED if kind == REGISTER else RUNNING
        states = (at,) if isinstance(at, str) else tuple(at)
        unknown = [s for s in states if s not in _ORDER]
        if not states or unknown:
            raise ValueError(f"hold at CREATED and/or RUNNING, not {at!r}")
        if kind == REGISTER and RUNNING in states:
            raise ValueError("a remote register task is never RUNNING: hold registers at CREATED")
        for name in _kinds(kind):
            self._holds[name] = (CREATED,) if name == REGISTER else tuple(s for s in _ORDER if s in states)

    def unhold(self, kind: str | None = None) -> None:
        """From now on, tasks of ``kind`` (None: both) no longer wait (the mode's pace
        applies); tasks already waiting stay until released."""
        for name in _kinds(kind):
            self._holds[name] = ()

    def holds(self, kind: str) -> tuple[str, ...]:
        """Where tasks of ``kind`` wait now."""
        return self._holds[kind]

    @property
    def immediate(self) -> bool:
        """Every task runs to its end before its REST call answers ("immediate", no hold)."""
        return self.mode == IMMEDIATE and not any(self._holds.values())

    def pending(self, kind: str | None = None) -> list[PendingTask]:
        """The tasks waiting at a hold, oldest first."""
        return [r.snapshot() for r in self._runs.values() if r.parked and kind in (None, r.kind)]

    async def wait_pending(self, count: int = 1, *, kind: str | None = None,
                           timeout: float = 5.0) -> list[PendingTask]:
        """Wait until at least ``count`` tasks (of ``kind``) wait at a hold; returns them all."""
        await asyncio.wait_for(self._until(lambda: len(self.pending(kind)) >= count), timeout)
        return self.pending(kind)

    async def release(self, task_id: str | None = None) -> list[str]:
        """Let one waiting task (None: every one, oldest first) go on, and wait until each
        has reached its next hold or its end.  Returns the ids released."""
        runs = self._parked(task_id)
        for run in runs:
            run._release()
            await self._until(lambda run=run: run.done or run.parked)
        return [r.task_id for r in runs]

    async def fail(self, task_id: str, error: str = "Failed by the test", *,
                   nodes: Iterable[str] | None = None) -> None:
        """End a waiting task with ``error`` and wait for its end.

        A register: the task FAILED with ``error``, no model; in 2.11+ its REST call answers
        500 ``m_l_exception`` with ``error`` as the reason.  A deploy waiting CREATED: the
        fan-out failed (task FAILED with ``error`` as it is, model DEPLOY_FAILED; 2.11+
        answers the REST call with the error).  A deploy waiting RUNNING: each target node
        (or only ``nodes``) reports ``error`` for its share, so the task's ``error`` is the
        JSON map node id -> error and the task ends FAILED (COMPLETED_WITH_ERROR when some
        nodes still succeed) with the model DEPLOY_FAILED (PARTIALLY_DEPLOYED).
        """
        (run,) = self._parked(task_id)
        chosen = tuple(nodes) if nodes is not None else None
        if chosen is not None and run.kind != DEPLOY:
            raise ValueError("only a deploy fails node by node")
        run.failure = Failure(str(error), chosen)
        run._through = True
        run._release()
        await self._until(lambda: run.done)

    async def settle(self, timeout: float | None = None) -> None:
        """Wait until every task's work has ended or waits at a hold."""
        await asyncio.wait_for(self._until(lambda: all(r.done or r.parked for r in self._runs.values())), timeout)

    # the services' side ---------------------------------------------------------------
    def track(self, task_id: str, kind: str, *, model_id: str | None = None,
              nodes: Sequence[str] = ()) -> TaskRun:
        """A new task's background work starts (its document is CREATED)."""
        run = TaskRun(self, task_id, kind, model_id, tuple(nodes))
        self._runs[task_id] = run
        return run

    def paces(self, kind: str) -> bool:
        """Whether a task of ``kind`` created now would run in the background."""
        return self.mode != IMMEDIATE or bool(self._holds[kind])

    def delay(self, kind: str, state: str) -> float:
        """"latency" mode: seconds a task of ``kind`` spends in ``state``."""
        total = self.latency_ms / 1000.0
        if kind == REGISTER:
            return total
        return total * _FAN_OUT_SHARE if state == CREATED else total * (1.0 - _FAN_OUT_SHARE)

    def expire(self, task_id: str, error: str) -> None:
        """The sync-up timed the task out (and wrote it FAILED): its work stops."""
        run = self._runs.get(task_id)
        if run is None:
            return
        run.failure = Failure(error, recorded=True)
        run._through = True
        if run.parked:
            run._release()

    async def finished(self, task_id: str) -> None:
        """Wait until the task's work has ended (at once if it is not tracked)."""
        run = self._runs.get(task_id)
        if run is not None:
            await self._until(lambda: run.done)

    # internals --------------------------------------------------------------------------
    def _parked(self, task_id: str | None) -> list[TaskRun]:
        runs = [r for r in self._runs.values() if r.parked and task_id in (None, r.task_id)]
        if task_id is not None and not runs:
            raise KeyError(f"task {task_id} is not waiting at a hold")
        return runs

    def _forget(self, run: TaskRun) -> None:
        if self._runs.get(run.task_id) is run:
            del self._runs[run.task_id]
        self._notify()

    def _notify(self) -> None:
        change, self._change = self._change, None
        if change is not None:
            change.set()

    async def _until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            if self._change is None:
                self._change = asyncio.Event()
            await self._change.wait()


def _kinds(kind: str | None) -> tuple[str, ...]:
    if kind is None:
        return KINDS
    if kind not in KINDS:
        raise ValueError(f"unknown task kind {kind!r}; choose from {', '.join(KINDS)}")
    return (kind,)
