"""What every use case needs: store, cluster, settings, clock, ids, cipher, transports."""
from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator, Callable

import attrs

from mlcommons_emu.cluster.executor import Executor
from mlcommons_emu.cluster.nodes import Cluster
from mlcommons_emu.cluster.progression import DEFAULT_TASK_LATENCY_MS, TaskControl
from mlcommons_emu.connectors.runtime import RuntimeOptions
from mlcommons_emu.connectors.transports.base import Transport
from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.ids import IdGenerator
from mlcommons_emu.domain.release import Release
from mlcommons_emu.domain.settings import ClusterSettings
from mlcommons_emu.store.engine import Store
from mlcommons_emu.store.repositories import Repositories

log = logging.getLogger("mlcommons_emu")


@attrs.define
class Context:
    release: Release
    store: Store
    settings: ClusterSettings
    cluster: Cluster
    clock: Callable[[], int]
    ids: IdGenerator
    transport: Transport
    executor: Executor
    cipher_factory: Callable[[], Any]
    #: how register and deploy tasks progress (``Config.progression``) and, in "latency"
    #: mode, how long they take
    progression: str = "immediate"
    task_latency_ms: int = DEFAULT_TASK_LATENCY_MS
    cluster_name: str = "mlcommons-emu"
    cluster_uuid: str = ""
    #: registers between their start and their read of the group (see services.models)
    registers_reading: dict = attrs.field(factory=dict)
    #: the emulated security plugin; None: not installed (no user, access control inactive)
    security: Any = None
    #: one of several processes sharing the store as one cluster (services.shared)
    shared: bool = False
    #: the register and deploy tasks' pace, holds and stepping (``emu.tasks``)
    tasks: TaskControl = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.tasks = TaskControl(self.progression, self.task_latency_ms)

    def now(self) -> int:
        return self.clock()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Repositories]:
        async with self.store.transaction() as tx:
            yield Repositories(tx, self.clock)

    def setting(self, key: str) -> Any:
        return self.settings.get(key)

    def runtime_options(self) -> RuntimeOptions:
        return RuntimeOptions(
            trusted_endpoints=tuple(self.setting(s.TRUSTED_CONNECTOR_ENDPOINTS_REGEX)),
            private_ip_enabled=bool(self.release >= (2, 15) and self.setting(s.PRIVATE_IP_ENABLED)),
        )

    def cipher(self) -> Any:
        return self.cipher_factory()
