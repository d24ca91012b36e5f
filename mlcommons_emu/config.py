"""Emulator configuration: database, emulated release, cluster shape, network policy."""
from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from mlcommons_emu.cluster.nodes import DEFAULT_CLUSTER, NodeSpec
from mlcommons_emu.cluster.progression import DEFAULT_TASK_LATENCY_MS, IMMEDIATE, MODES
from mlcommons_emu.domain.release import NEWEST, Release

if TYPE_CHECKING:
    from mlcommons_emu.security import SecurityConfig

IN_MEMORY = "sqlite://"
SERVER_DEFAULT_DATABASE = "sqlite:///mlcommons-emu.sqlite3"


def _security(value: object) -> "SecurityConfig | None":
    """None/False: no security plugin; True: the demo admin; a path or mapping: that config."""
    from mlcommons_emu.security import SecurityConfig

    if value is None or value is False:
        return None
    if value is True:
        return SecurityConfig.demo()
    if isinstance(value, SecurityConfig):
        return value
    if isinstance(value, dict):
        return SecurityConfig.from_mapping(value)
    return SecurityConfig.load(str(value))


def _bytes(value: object) -> int:
    """A size in bytes, or an OpenSearch size string such as ``"100mb"``."""
    from mlcommons_emu.api.limits import byte_size

    return byte_size(value)


def _master_key(_instance: object, _attribute: object, value: object) -> None:
    """None, or standard Base64 of exactly 32 bytes; the error never quotes the value."""
    if value is None:
        return
    from mlcommons_emu.connectors.crypto import validate_master_key

    try:
        validate_master_key(value)
    except ValueError as exc:
        raise ValueError(f"invalid master_key: {exc}") from None


def _nodes(value: object) -> tuple[NodeSpec, ...]:
    if isinstance(value, str):
        return tuple(NodeSpec.parse(part) for part in value.split(",") if part.strip())
    return tuple(v if isinstance(v, NodeSpec) else NodeSpec.parse(str(v)) for v in value)  # type: ignore[union-attr]


@attrs.frozen
class Config:
    """How an emulator is built.

    >>> Config(opensearch_version="2.9.0", nodes="manager:cluster_manager,d1:data")  # doctest: +SKIP
    """

    database: str = IN_MEMORY
    #: PostgreSQL schema for the emulator's tables (several emulators can share a database)
    database_schema: str | None = None
    opensearch_version: str = attrs.field(default=NEWEST, validator=lambda _i, _a, v: Release.of(v))
    nodes: tuple[NodeSpec, ...] = attrs.field(default=DEFAULT_CLUSTER, converter=_nodes)
    seed: int | None = None
    allow_network: bool = False
    #: access key -> secret (or (secret, session token)) the AWS fakes verify SigV4 against;
    #: empty: any well-formed signature is accepted
    aws_credentials: dict[str, object] = attrs.field(factory=dict, converter=dict)
    #: host (or ``*.suffix``) -> "fake" | "network" | base URL, overriding the built-in fakes
    routes: dict[str, str] = attrs.field(factory=dict, converter=dict)
    #: how register and deploy tasks progress: "immediate" (done before the REST call
    #: answers), "latency" (done ``task_latency_ms`` after their creation) or "manual" (they
    #: wait until the test steps them); see mlcommons_emu.cluster.progression
    progression: str = attrs.field(default=IMMEDIATE, validator=attrs.validators.in_(MODES))
    #: "latency" mode: milliseconds from a task's creation to its final state
    task_latency_ms: int = attrs.field(default=DEFAULT_TASK_LATENCY_MS, converter=int,
                                       validator=attrs.validators.ge(0))
    cluster_name: str = "mlcommons-emu"
    #: the emulated security plugin (see mlcommons_emu.security): off by default
    security: "SecurityConfig | None" = attrs.field(default=None, converter=_security)
    #: ``http.max_content_length``: a larger request body is refused with 413 (default 100mb)
    max_content_length: int = attrs.field(default=100 * 1024 * 1024, converter=_bytes)
    #: ``http.max_header_size``: larger request headers are refused with 400 (default 8kb)
    max_header_size: int = attrs.field(default=8 * 1024, converter=_bytes)
    #: ``http.max_initial_line_length``: a longer request line is refused with 400 (default 4kb)
    max_initial_line_length: int = attrs.field(default=4 * 1024, converter=_bytes)
    #: the encryption master key (Base64 of 32 bytes) instead of the one in the store's
    #: ``.plugins-ml-config`` document, which it replaces; None: keep (or create) that one
    master_key: str | None = attrs.field(default=None, validator=_master_key, repr=False)
    #: at start, mark register and deploy tasks still CREATED or RUNNING in the store (their
    #: work died with the previous process) FAILED with an error saying so; off: leave them
    #: as the plugin does after a full restart (models are reconciled either way)
    fail_inflight_tasks_on_restart: bool = False
    #: one cluster with every other emulator process started with ``shared`` on the same
    #: PostgreSQL database (mlcommons_emu.services.shared, docs/scale-out.md)
    shared: bool = False

    def __attrs_post_init__(self) -> None:
        if self.shared:
            from sqlalchemy.engine import make_url

            if make_url(self.database).get_backend_name() != "postgresql":
                raise ValueError("shared needs a PostgreSQL database: processes share state through it")
            if self.fail_inflight_tasks_on_restart:
                raise ValueError("fail_inflight_tasks_on_restart cannot be used with shared: a task in "
                                 "flight may belong to another running process")

    @property
    def release(self) -> Release:
        return Release.of(self.opensearch_version)
