"""A store transaction commits or rolls back as one, on durable SQLite and on PostgreSQL."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select, text

from mlcommons_emu.errors import VersionConflictError
from mlcommons_emu.store import tables
from mlcommons_emu.store.engine import Store
from tests.conftest import BACKENDS, POSTGRES_SCHEMA, POSTGRES_URL, fresh_store


@pytest.fixture(params=BACKENDS)
async def store(request, sqlite_file_url):
    if request.param == "sqlite":
        store = Store(sqlite_file_url)
    else:
        await fresh_store(POSTGRES_URL)
        store = Store(POSTGRES_URL, schema=POSTGRES_SCHEMA)
    await store.create_schema()
    try:
        yield store
    finally:
        await store.close()


async def test_sqlite_file_is_wal_with_full_sync(sqlite_file_url):
    store = Store(sqlite_file_url)
    try:
        async with store.transaction() as tx:
            assert (await tx.conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await tx.conn.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
    finally:
        await store.close()


async def test_a_failed_transaction_leaves_nothing_behind(store):
    # the first write creates the index (a savepoint on the lazily created row): on SQLite
    # that savepoint once opened, and its release committed, a transaction of its own
    with pytest.raises(RuntimeError):
        async with store.transaction() as tx:
            await tx.put("idx-a", "d1", {"a": 1}, now=1)
            await tx.put("idx-b", "d2", {"b": 1}, now=1)
            raise RuntimeError("the request failed after its writes")
    async with store.transaction() as tx:
        assert not await tx.index_exists("idx-a") and not await tx.index_exists("idx-b")
        assert await tx.all_documents() == []
        assert (await tx.conn.execute(select(func.count()).select_from(tables.indices))).scalar() == 0


async def test_a_committed_transaction_keeps_every_write(store):
    async with store.transaction() as tx:
        await tx.put("idx-a", "d1", {"a": 1}, now=1)
        await tx.put("idx-b", "d2", {"b": 1}, now=1)
    async with store.transaction() as tx:
        assert [(d.index, d.doc_id, d.source) for d in await tx.all_documents()] == [
            ("idx-a", "d1", {"a": 1}), ("idx-b", "d2", {"b": 1})]


async def test_concurrent_overwrites_of_one_document_all_succeed(store):
    """An index without if_seq_no overwrites whatever is current (no version conflict), each
    write taking the next version, as concurrent index requests do in OpenSearch."""
    async with store.transaction() as tx:
        await tx.put("idx", "doc", {"n": 0}, now=1)

    async def overwrite(n: int) -> int:
        async with store.transaction() as tx:
            await tx.get("idx", "doc")
            await asyncio.sleep(0.01)  # another transaction commits meanwhile
            return (await tx.put("idx", "doc", {"n": n}, now=1)).version

    versions = await asyncio.gather(*(overwrite(n) for n in range(1, 9)))
    assert sorted(versions) == list(range(2, 10))


async def test_concurrent_conditional_writes_one_wins(store):
    async with store.transaction() as tx:
        seq_no = (await tx.put("idx", "doc", {"n": 0}, now=1)).seq_no

    async def conditional(n: int) -> str:
        try:
            async with store.transaction() as tx:
                await asyncio.sleep(0.01)
                await tx.put("idx", "doc", {"n": n}, now=1, if_seq_no=seq_no)
            return "won"
        except VersionConflictError:
            return "lost"

    outcomes = await asyncio.gather(*(conditional(n) for n in range(1, 7)))
    assert sorted(outcomes) == ["lost"] * 5 + ["won"]
