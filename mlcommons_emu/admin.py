"""Steering the emulator itself: reset, reseed, the providers' journals, state snapshots,
the configuration in force.  Used in process (``emu.admin``) and by the ``/_emu`` REST
namespace, which no real cluster has.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import attrs

from mlcommons_emu.domain.ids import emulator_ids
from mlcommons_emu.services import deployment
from mlcommons_emu.store import rows, snapshot

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator

#: what ``reset`` can drop one at a time, and the index each kind lives in
KINDS = {"connectors": rows.CONNECTOR_INDEX, "model_groups": rows.MODEL_GROUP_INDEX, "models": rows.MODEL_INDEX,
         "tasks": rows.TASK_INDEX, "controllers": ".plugins-ml-controller"}
#: request headers whose values are secrets: masked in journal views
_SECRET_HEADERS = ("authorization", "x-api-key", "api-key", "x-goog-api-key", "x-amz-security-token",
                   "cookie", "proxy-authorization")


class AdminError(ValueError):
    """A request to the admin API that cannot be carried out (bad kind, bad snapshot, ...)."""


class Admin:
    def __init__(self, emulator: "Emulator") -> None:
        self.emu = emulator

    # reset and seed ------------------------------------------------------------------------
    async def reset(self, kinds: Iterable[str] | None = None) -> list[str]:
        """Everything (``Emulator.reset``), or only the named kinds: their index dropped as if
        deleted (``models`` also leave every node; ``settings`` go back to their defaults)."""
        if kinds is None:
            await self.emu.reset()
            return sorted(KINDS) + ["settings"]
        wanted = list(dict.fromkeys(kinds))
        unknown = [k for k in wanted if k not in KINDS and k != "settings"]
        if unknown:
            raise AdminError(f"unknown kind(s) {unknown}; choose from {sorted(KINDS) + ['settings']}")
        ctx = self.emu.context
        if "models" in wanted:
            for runtime in ctx.cluster.nodes:
                runtime.models.clear()
                runtime.cache.models.clear()
        indices = [KINDS[k] for k in wanted if k in KINDS]
        async with ctx.store.transaction() as tx:
            await tx.drop_indices(indices)
            if "settings" in wanted:
                await tx.save_settings({})
        if "settings" in wanted:
            ctx.settings.persistent.clear()
            ctx.settings.transient.clear()
        return wanted

    def reseed(self, seed: int | None) -> None:
        """Ids (and what derives from them) from ``seed`` on, as ``Config.seed`` does at start."""
        ctx = self.emu.context
        self.emu.config = attrs.evolve(self.emu.config, seed=seed)
        self.emu.ids = ctx.ids = emulator_ids(self.emu.clock, seed, self.emu._generation)  # noqa: SLF001

    # journals ----------------------------------------------------------------------------
    def journal(self, provider: str | None = None, limit: int | None = None) -> dict[str, list[dict[str, Any]]]:
        """The requests each fake provider answered, oldest first, secrets masked."""
        names = [provider] if provider else sorted(self.emu.providers)
        out: dict[str, list[dict[str, Any]]] = {}
        for name in names:
            fake = self.emu.providers.get(name)
            if fake is None:
                raise AdminError(f"no provider [{name}]; choose from {sorted(self.emu.providers)}")
            entries = [_entry(r) for r in fake.recorder.requests]
            out[name] = entries[-limit:] if limit else entries
        return out

    # state -------------------------------------------------------------------------------
    async def snapshot(self) -> dict[str, Any]:
        async with self.emu.context.store.transaction() as tx:
            return await snapshot.dump(tx)

    async def save(self, path: str | os.PathLike[str]) -> int:
        """Write a snapshot to ``path`` (owner-only permissions: it holds the master key)."""
        state = await self.snapshot()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        return len(state["documents"])

    async def restore(self, state: Any) -> int:
        """Replace the whole state by ``state``; what was deployed is redeployed as after a
        restart (per release), on this cluster's nodes."""
        try:
            snapshot.check(state)
        except snapshot.SnapshotError as exc:
            raise AdminError(str(exc)) from None
        ctx = self.emu.context
        await ctx.executor.close()
        ctx.cluster.drop_all()
        async with ctx.store.transaction() as tx:
            await snapshot.load(tx, state)
            ctx.settings.persistent.clear()
            ctx.settings.transient.clear()
            ctx.settings.persistent.update(await tx.load_settings())
            await self.emu._load_master_key(tx)  # noqa: SLF001 - the emulator's own key handling
        await deployment.restore_after_restart(ctx)
        return len(state["documents"])

    async def load(self, path: str | os.PathLike[str]) -> int:
        try:
            state = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AdminError(f"cannot read snapshot [{path}]: {exc.__class__.__name__}") from None
        return await self.restore(state)

    # configuration -----------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The configuration in force; secrets (master key, AWS secrets, passwords) left out."""
        cfg = self.emu.config
        return {
            "opensearch_version": self.emu.release.number,
            "database": _redacted_url(cfg.database),
            "database_schema": cfg.database_schema,
            "nodes": [{"name": r.node.name, "node_id": r.node_id, "roles": list(r.node.roles), "up": r.node.up}
                      for r in self.emu.context.cluster.nodes],
            "seed": cfg.seed,
            "progression": cfg.progression,
            "task_latency_ms": cfg.task_latency_ms,
            "allow_network": cfg.allow_network,
            "routes": dict(cfg.routes),
            "aws_access_keys": sorted(cfg.aws_credentials),
            "security": cfg.security is not None,
            "master_key": "configured" if cfg.master_key else "stored",
            "providers": sorted(self.emu.providers),
            "max_content_length": cfg.max_content_length,
        }


def _entry(request: Any) -> dict[str, Any]:
    headers = {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in request.headers.items()}
    try:
        payload: Any = json.loads(request.body) if request.body else None
    except ValueError:
        payload = request.body.decode("utf-8", "replace")
    return {"method": request.method, "url": request.url, "headers": headers, "body": payload}


def _redacted_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy parses: show nothing of it
        return "<unparsed>"
