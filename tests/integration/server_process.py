"""The real server as a subprocess (``python -m mlcommons_emu serve``), for tests that kill,
restart or load it over HTTP, and direct reads of the store it writes."""
from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator, Sequence

from mlcommons_emu.store import rows
from mlcommons_emu.store.engine import Store, StoredDocument

READY = "mlcommons-emu ready on "


class ServerProcess:
    """One ``serve`` process on ``--port 0``; ``url`` is known once ``start`` returns."""

    def __init__(self, database: str, *, schema: str | None = None, extra: Sequence[str] = ()) -> None:
        self.database = database
        self.schema = schema
        self.extra = tuple(extra)
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self._stderr: Any = None

    @property
    def argv(self) -> list[str]:
        argv = [sys.executable, "-m", "mlcommons_emu", "serve", "--port", "0", "--database", self.database]
        if self.schema:
            argv += ["--database-schema", self.schema]
        return argv + list(self.extra)

    async def start(self, timeout: float = 60.0) -> "ServerProcess":
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(asyncio.to_thread(self.proc.stdout.readline), timeout)
        except asyncio.TimeoutError:
            self.kill()
            raise AssertionError(f"server not ready within {timeout}s: {self.stderr()}") from None
        if not line.startswith(READY):
            self.proc.wait(10)
            raise AssertionError(f"server did not start: {line!r} {self.stderr()}")
        self.url = line[len(READY):].split(" ", 1)[0]
        return self

    def stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-4000:]

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or rolled back by the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(30)

    def stop(self) -> int:
        """SIGTERM, the clean stop; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def close(self) -> None:
        self.kill()
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


async def read_documents(database: str, schema: str | None = None) -> list[StoredDocument]:
    """Every stored document, read straight from the database (a row whose JSON does not
    parse raises)."""
    store = Store(database, schema=schema)
    try:
        async with store.transaction() as tx:
            return await tx.all_documents()
    finally:
        await store.close()


async def drop_postgres_schema(url: str, schema: str) -> None:
    """Remove a test's PostgreSQL schema and everything in it."""
    store = Store(url, schema=schema)
    try:
        await store.drop_namespace()
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def server_database(backend: str, directory: Path, name: str) -> AsyncIterator[tuple[str, str | None]]:
    """(URL, schema) of an empty database for the servers of one test: a SQLite file in
    ``directory``, or a schema of its own in the test PostgreSQL database (dropped after)."""
    from tests.conftest import POSTGRES_SCHEMA, POSTGRES_URL

    if backend == "sqlite":
        yield f"sqlite:///{directory / (name + '.sqlite3')}", None
        return
    assert POSTGRES_URL is not None
    schema = f"{POSTGRES_SCHEMA}_{name}"
    await drop_postgres_schema(POSTGRES_URL, schema)
    try:
        yield POSTGRES_URL, schema
    finally:
        await drop_postgres_schema(POSTGRES_URL, schema)


def by_index(docs: list[StoredDocument]) -> dict[str, dict[str, StoredDocument]]:
    out: dict[str, dict[str, StoredDocument]] = {}
    for doc in docs:
        out.setdefault(doc.index, {})[doc.doc_id] = doc
    return out


def check_consistency(docs: list[StoredDocument]) -> list[str]:
    """What no store may ever show, crashed or not: a document the emulator cannot read, a
    model version used twice in a group, a group whose ``latest_version`` is not its highest
    model version, a model without its group or its COMPLETED register task, a COMPLETED
    register task whose model is missing.  Returns the problems found."""
    problems: list[str] = []
    indices = by_index(docs)
    readers = {rows.CONNECTOR_INDEX: rows.connector_from_document, rows.MODEL_GROUP_INDEX: rows.group_from_document,
               rows.MODEL_INDEX: rows.model_from_document, rows.TASK_INDEX: rows.task_from_document}
    for index, reader in readers.items():
        for doc_id, doc in indices.get(index, {}).items():
            try:
                reader(doc.source, doc_id)
            except Exception as exc:  # noqa: BLE001 - reported
                problems.append(f"{index}/{doc_id} does not parse: {exc!r}")
    groups = indices.get(rows.MODEL_GROUP_INDEX, {})
    models = indices.get(rows.MODEL_INDEX, {})
    tasks = indices.get(rows.TASK_INDEX, {})
    versions: dict[str, list[int]] = {}
    for model_id, doc in models.items():
        group_id = doc.source.get("model_group_id")
        if group_id not in groups:
            problems.append(f"model {model_id} in missing group {group_id}")
        versions.setdefault(group_id, []).append(int(doc.source["model_version"]))
    for group_id, doc in groups.items():
        used = versions.get(group_id, [])
        if len(used) != len(set(used)):
            problems.append(f"group {group_id}: model versions used twice: {sorted(used)}")
        latest = doc.source.get("latest_version")
        if latest != max(used, default=0):
            problems.append(f"group {group_id}: latest_version {latest} but model versions {sorted(used)}")
    registered = {doc.source.get("model_id") for doc in tasks.values()
                  if doc.source.get("task_type") == "REGISTER_MODEL" and doc.source.get("state") == "COMPLETED"}
    for model_id in registered - set(models):
        problems.append(f"COMPLETED register task for missing model {model_id}")
    for model_id in set(models) - registered:
        problems.append(f"model {model_id} without a COMPLETED register task")
    return problems
