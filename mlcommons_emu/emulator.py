"""The Emulator: one ML Commons cluster in a process, reachable in-process or over HTTP."""
from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import parse_qsl, urlsplit

from mlcommons_emu.api import limits
from mlcommons_emu.api.limits import HttpLimits
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.api.routes import dispatch
from mlcommons_emu.cluster.executor import Executor
from mlcommons_emu.cluster.nodes import Cluster
from mlcommons_emu.config import Config
from mlcommons_emu.connectors.transports.inprocess import InProcessTransport
from mlcommons_emu.domain.clock import SystemClock
from mlcommons_emu.domain.ids import emulator_ids
from mlcommons_emu.domain.node import Node
from mlcommons_emu.domain.settings import ClusterSettings
from mlcommons_emu.services import deployment
from mlcommons_emu.services.context import Context
from mlcommons_emu.store import rows
from mlcommons_emu.store.engine import Store

if TYPE_CHECKING:
    from mlcommons_emu.admin import Admin

log = logging.getLogger("mlcommons_emu")

MASTER_KEY_ID = "master_key"
#: emulator bookkeeping in the config index: seeded starts on this store
ID_GENERATION_ID = "_id_generation"
#: the error of a task failed at start by ``Config.fail_inflight_tasks_on_restart``
INFLIGHT_TASK_ERROR = ("mlcommons-emu restarted while this task was running: the process that ran it "
                       "stopped (crash or kill) before the task finished, and its work was lost")
#: the tasks whose work runs inside the emulator's process (a BATCH_PREDICTION task follows a
#: job at the provider and is refreshed when read, so a restart does not end it)
_INFLIGHT_TASK_TYPES = ("REGISTER_MODEL", "DEPLOY_MODEL")


class Emulator:
    """An emulated OpenSearch cluster with the ML Commons plugin.

    Use it as an async context manager and send it REST calls::

        async with Emulator() as emu:
            r = await emu.request("POST", "/_plugins/_ml/connectors/_create", {...})
            assert r.status == 200
            connector_id = r.body["connector_id"]

    ``request`` answers exactly what the HTTP server answers for the same call.
    """

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        if config is None:
            config = Config(**overrides)
        elif overrides:
            import attrs

            config = attrs.evolve(config, **overrides)
        self.config = config
        self.release = config.release
        self.clock = SystemClock()
        self.ids = emulator_ids(self.clock, config.seed)
        self._store: Store | None = None
        self._context: Context | None = None
        self._cipher: Any = None
        self._master_key: str | None = None
        self._providers: dict[str, Any] | None = None
        self._providers_lock = threading.RLock()
        self._http: Any = None
        self._admin_routes: Any = None
        self._http_limits: tuple[tuple[int, int, int], HttpLimits] | None = None
        #: node name -> id as last read from the store, and the store's write count at the
        #: last reset: a reset after a test that committed nothing skips the wipe
        self._node_ids: dict[str, str] | None = None
        self._writes_at_reset: int | None = None
        #: seeded starts on this store before this one (see domain.ids.emulator_ids)
        self._generation = 0

    # lifecycle ------------------------------------------------------------------------
    async def start(self) -> "Emulator":
        if self._context is not None:
            return self
        store = Store(self.config.database, schema=self.config.database_schema)
        await store.create_schema()
        self._store = store
        self._writes_at_reset = self._node_ids = None  # counted per store: a new one now
        if self.config.allow_network:
            from mlcommons_emu.connectors.transports.http import HttpTransport

            self._http = HttpTransport()
        transport = self._new_providers()
        settings = ClusterSettings(self.release)
        async with store.transaction() as tx:
            settings.persistent.update(await tx.load_settings())
            if self.config.seed is not None:
                self._generation = await self._seeded_start(tx)
                self.ids = emulator_ids(self.clock, self.config.seed, self._generation)
            nodes = await self._load_nodes(tx)
            self._master_key = await self._load_master_key(tx)
            cluster_uuid = await self._cluster_uuid(tx)
        self._context = Context(
            release=self.release, store=store, settings=settings, cluster=Cluster(nodes),
            clock=self.clock, ids=self.ids, transport=transport, executor=Executor(),
            cipher_factory=self._get_cipher, progression=self.config.progression,
            task_latency_ms=self.config.task_latency_ms,
            shared=self.config.shared,
            cluster_name=self.config.cluster_name, cluster_uuid=cluster_uuid,
            security=self.config.security,
        )
        if self.config.fail_inflight_tasks_on_restart:
            await self._fail_inflight_tasks(store)
        if not self.config.shared:
            # shared: the model documents say what is deployed; each process loads on use
            await deployment.restore_after_restart(self._context)
        return self

    async def stop(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            await context.executor.close()
            context.cluster.drop_all()
        if self._http is not None:
            await self._http.close()
            self._http = None
        if getattr(self, "_transport", None) is not None:
            await self._transport.close()
            self._transport = None
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def __aenter__(self) -> "Emulator":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def context(self) -> Context:
        if self._context is None:
            raise RuntimeError("the emulator is not started: call await emulator.start() first")
        return self._context

    # front door -------------------------------------------------------------------------
    @property
    def http_limits(self) -> HttpLimits:
        """``http.max_content_length``, ``http.max_header_size``, ``http.max_initial_line_length``."""
        config = self.config
        key = (config.max_content_length, config.max_header_size, config.max_initial_line_length)
        if self._http_limits is None or self._http_limits[0] != key:
            self._http_limits = (key, HttpLimits(max_content_length=key[0], max_header_size=key[1],
                                                 max_initial_line_length=key[2]))
        return self._http_limits[1]

    async def handle(self, request: RestRequest) -> RestResponse:
        """One request as OpenSearch serves it: its HTTP limits first (an oversized body is
        413 with no body, an oversized request line or header block 400), then the router."""
        refused = limits.refusal(request, self.http_limits)
        if refused is not None:
            return refused
        if self.config.shared:
            from mlcommons_emu.services import shared

            await shared.refresh_settings(self.context)
        if request.path == "/_emu" or request.path.startswith("/_emu/"):
            if self._admin_routes is None:
                from mlcommons_emu.api.admin_routes import admin_routes

                self._admin_routes = admin_routes(self)
            return await dispatch(self.context, request, self._admin_routes)
        return await dispatch(self.context, request)

    @property
    def admin(self) -> "Admin":
        """The emulator's own controls (reset by kind, reseed, journals, snapshots, config);
        the ``/_emu`` REST namespace calls the same."""
        from mlcommons_emu.admin import Admin

        return Admin(self)

    async def request(self, method: str, path: str, body: Any = None, *,
                      headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None) -> RestResponse:
        """Send one REST call; ``body`` may be a dict/list (sent as JSON), str or bytes."""
        if not path.startswith("/") or path.startswith("//") or any(c in path for c in "?#\t\r\n"):
            split = urlsplit(path)
            url_path, url_query = split.path, split.query
        else:
            url_path, url_query = path, ""
        params = dict(parse_qsl(url_query, keep_blank_values=True)) if url_query else {}
        params.update(query or {})
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode("utf-8")
        else:
            raw = json.dumps(body).encode("utf-8")
        all_headers = {"Content-Type": "application/json"} if raw else {}
        all_headers.update(headers or {})
        uri = url_path + (f"?{url_query}" if url_query else "")
        return await self.handle(RestRequest(
            method=method.upper(), path=url_path, query=params, headers=all_headers, body=raw, raw_uri=uri))

    def as_user(self, name: str) -> "UserSession":
        """Act as an internal user of the security plugin (Basic auth with their password)::

            alice = emu.as_user("alice")
            r = await alice.request("GET", f"/_plugins/_ml/models/{model_id}")
        """
        security = self.config.security
        if security is None:
            raise RuntimeError("the security plugin is off: start the emulator with security=...")
        if name not in security.accounts:
            raise KeyError(f"no internal user {name!r} in the security config")
        return UserSession(self, name, security.password(name))

    async def reset(self) -> None:
        """Back to a fresh cluster, cheaply, without a restart.

        Connectors, model groups, models and tasks are gone, every setting is back to its
        default, nothing is deployed, and the fake providers start over (empty journals, no
        scripted faults).  The cluster is the configured one again, every node up (nodes
        added at run time are gone) and no task held.  Node ids, the master key and the
        cluster uuid stay, as they would on a cluster whose ML indices were deleted.
        """
        from mlcommons_emu.cluster.progression import TaskControl

        ctx = self.context
        await ctx.executor.close()
        ctx.cluster.drop_all()
        store = self._store
        assert store is not None
        if store.writes is None or store.writes != self._writes_at_reset or self._node_ids is None:
            async with store.transaction() as tx:
                await tx.wipe(keep=(rows.CONFIG_INDEX,))
                nodes = await self._load_nodes(tx)
        else:
            # nothing was committed since the last reset: the indices are still empty, and
            # the node ids are the ones read then
            nodes = self._nodes_from(self._node_ids)
        self._writes_at_reset = store.writes
        ctx.cluster = Cluster(nodes)
        ctx.tasks = TaskControl(ctx.progression, ctx.task_latency_ms)
        ctx.settings.persistent.clear()
        ctx.settings.transient.clear()
        if not self._providers_untouched():
            await self._transport.close()
            ctx.transport = self._new_providers()
        self.ids = ctx.ids = emulator_ids(self.clock, self.config.seed, self._generation)

    def _providers_untouched(self) -> bool:
        """The fakes were never made (nothing sent to one, nobody looked at ``providers``),
        and the transport is the one the emulator made, unchanged: nothing a test did to a
        fake or to the transport can outlive the reset."""
        transport = self._transport
        return (transport is not None and self._providers is None and self.context.transport is transport
                and not transport.has_network_client and not transport.extended
                and transport.routes == dict(self.config.routes or {}))

    # internals --------------------------------------------------------------------------
    @property
    def providers(self) -> dict[str, Any]:
        """The built-in fake providers, keyed by name (``emu.providers["openai"]``)."""
        if self._providers is None:
            self._load_providers()
        assert self._providers is not None
        return self._providers

    def _new_providers(self) -> InProcessTransport:
        """A transport to fresh fake providers, made on first use: the first request to a
        fake or the first look at ``providers`` (starting the emulator does not load the
        twelve fakes' modules)."""
        self._providers = None
        self._transport = InProcessTransport(loader=self._load_providers, fallback=self._http,
                                             routes=self.config.routes)
        return self._transport

    def _load_providers(self) -> list[Any]:
        from mlcommons_emu.providers.registry import default_providers

        # EmulatorThread.providers reads them from the test's thread while a request on the
        # loop's thread may be making them: one set, made once
        with self._providers_lock:
            if self._providers is not None:  # made already (the transport's loader, called back)
                return list(self._providers.values())
            providers = default_providers()
            if self.config.aws_credentials:
                for provider in providers.values():
                    verifier = getattr(provider, "verifier", None)
                    if verifier is not None:
                        verifier.set_credentials(self.config.aws_credentials)
            self._providers = providers
        if self._transport is not None:
            self._transport.load()
        return list(providers.values())

    def _get_cipher(self) -> Any:
        if self._cipher is None:
            from mlcommons_emu.connectors.crypto import CredentialCipher

            assert self._master_key is not None
            self._cipher = CredentialCipher(self._master_key)
        return self._cipher

    async def _load_nodes(self, tx: Any) -> list[Node]:
        known = await tx.load_nodes()
        new = [(spec.name, self.ids.node_id()) for spec in self.config.nodes if spec.name not in known]
        await tx.save_nodes(new)
        known.update(dict(new))
        self._node_ids = known
        return self._nodes_from(known)

    def _nodes_from(self, node_ids: Mapping[str, str]) -> list[Node]:
        return [Node(node_id=node_ids[spec.name], name=spec.name, roles=spec.roles, box_type=spec.box_type)
                for spec in self.config.nodes]

    async def _load_master_key(self, tx: Any) -> str:
        """The master key in force, kept in `.plugins-ml-config` document ``master_key``.

        ``Config.master_key`` wins: it is written over a stored document holding another
        key (as on a cluster whose config document was replaced), with a WARNING, since
        credentials encrypted under the old key then fail to decrypt at deploy.  Without
        it the stored key is used, or a new one is generated and stored on first start.
        Neither key is ever logged.  Resets the cached cipher when the key changes.
        """
        doc = await tx.get(rows.CONFIG_INDEX, MASTER_KEY_ID)
        stored = None if doc is None else doc.source.get("master_key")
        key = self.config.master_key or stored
        if key is None:
            from mlcommons_emu.connectors.crypto import generate_master_key

            key = generate_master_key()
        if stored is not None and key != stored:
            log.warning("the configured master key differs from the one stored in %s; the stored "
                        "document is replaced, and credentials encrypted under the other key will "
                        "fail to decrypt at deploy (deploy task FAILED, model DEPLOY_FAILED)",
                        rows.CONFIG_INDEX)
        if key != stored:
            now = self.clock()
            await tx.put(rows.CONFIG_INDEX, MASTER_KEY_ID, {"master_key": key, "create_time": now}, now=now)
        if key != self._master_key:
            self._master_key, self._cipher = str(key), None
        return str(key)

    async def _fail_inflight_tasks(self, store: Store) -> None:
        """Mark register and deploy tasks a previous process left CREATED or RUNNING FAILED.

        The plugin never repairs task documents after a full restart; this opt-in does, so
        callers polling a task see it end.  Models are left to restore_after_restart.
        """
        now = self.clock()
        failed = []
        async with store.transaction() as tx:
            if not await tx.index_exists(rows.TASK_INDEX):
                return
            for state in ("CREATED", "RUNNING"):
                for doc in await tx.find(rows.TASK_INDEX, state=state):
                    if doc.source.get("task_type") not in _INFLIGHT_TASK_TYPES:
                        continue
                    source = {**doc.source, "state": "FAILED", "error": INFLIGHT_TASK_ERROR,
                              "last_update_time": now}
                    await tx.put(rows.TASK_INDEX, doc.doc_id, source, now=now, if_seq_no=doc.seq_no,
                                 lookups={"model_id": source.get("model_id"), "state": "FAILED"})
                    failed.append(doc.doc_id)
        if failed:
            log.warning("marked %d task(s) left CREATED/RUNNING by the previous process FAILED: %s",
                        len(failed), ", ".join(sorted(failed)))

    async def _seeded_start(self, tx: Any) -> int:
        """How many seeded starts this store has seen, counting this one for the next."""
        doc = await tx.get(rows.CONFIG_INDEX, ID_GENERATION_ID)
        generation = int(doc.source.get("starts", 0)) if doc is not None else 0
        await tx.put(rows.CONFIG_INDEX, ID_GENERATION_ID, {"starts": generation + 1}, now=self.clock())
        return generation

    async def _cluster_uuid(self, tx: Any) -> str:
        doc = await tx.get(rows.CONFIG_INDEX, "_cluster_uuid")
        if doc is not None:
            return str(doc.source["uuid"])
        value = self.ids.node_id()
        await tx.put(rows.CONFIG_INDEX, "_cluster_uuid", {"uuid": value}, now=self.clock())
        return value

    # cluster steering -------------------------------------------------------------------
    # Nodes joining and leaving at run time, the sync-up job, task progression and which
    # node served a predict: for tests, in process only (see services.membership,
    # services.syncup and cluster.progression for what the plugin does).
    @property
    def tasks(self) -> "Any":
        """The register and deploy tasks' progression (``Config.progression``): ``hold``,
        ``unhold``, ``pending``, ``wait_pending``, ``release``, ``fail``, ``settle``; a
        ``mlcommons_emu.cluster.progression.TaskControl``."""
        return self.context.tasks

    async def add_node(self, name: str, *, roles: "Any" = None, box_type: str | None = None,
                       sync_up: bool = True) -> str:
        """A node named ``name`` joins (``roles``: default every role) and its id is
        returned; the store keeps the id, so the same name always gets the same one."""
        from mlcommons_emu.cluster.nodes import ALL_ROLES
        from mlcommons_emu.services import membership

        runtime = await membership.add(self.context, name, ALL_ROLES if roles is None else roles, box_type,
                                       sync_up=sync_up)
        return runtime.node_id

    async def stop_node(self, node: str, *, sync_up: bool = True) -> None:
        """The node (id or name) leaves: its deployed models, caches and counters are lost;
        then, while the job is enabled, the sync-up runs (``sync_up=False``: not yet)."""
        from mlcommons_emu.services import membership

        await membership.stop(self.context, node, sync_up=sync_up)

    async def start_node(self, node: str, *, sync_up: bool = True) -> None:
        """A stopped node rejoins with its id and an empty memory (2.12+ auto-redeploy
        included), then the sync-up runs while enabled."""
        from mlcommons_emu.services import membership

        await membership.start(self.context, node, sync_up=sync_up)

    async def remove_node(self, node: str, *, sync_up: bool = True) -> None:
        """The node leaves the cluster for good (as ``stop_node`` if it was running)."""
        from mlcommons_emu.services import membership

        await membership.remove(self.context, node, sync_up=sync_up)

    async def sync_up(self) -> "Any":
        """Run the sync-up job once now, even if ``sync_up_job_interval_in_seconds`` is 0;
        returns a ``SyncUpReport`` (model documents and tasks it rewrote)."""
        from mlcommons_emu.services import syncup

        return await syncup.run(self.context)

    def node_id(self, name: str) -> str:
        """The id of the cluster's node named ``name``."""
        from mlcommons_emu.services import membership

        return membership.resolve(self.context, name).node_id

    def last_served_by(self, model_id: str) -> str | None:
        """The id of the node that ran the model's last predict (None: none yet); the REST
        answer never says."""
        return self.context.cluster.served.get(model_id)


class UserSession:
    """Requests to an emulator sent as one internal user; see :meth:`Emulator.as_user`."""

    def __init__(self, emulator: Emulator, name: str, password: str) -> None:
        from mlcommons_emu.security import basic_header

        self.emulator = emulator
        self.name = name
        self._authorization = basic_header(name, password)

    async def request(self, method: str, path: str, body: Any = None, *,
                      headers: Mapping[str, str] | None = None,
                      query: Mapping[str, str] | None = None) -> RestResponse:
        return await self.emulator.request(method, path, body, query=query,
                                           headers={"Authorization": self._authorization, **(headers or {})})
