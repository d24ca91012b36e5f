"""The engine and transactions over the document table.

SQLite runs inside this process: a statement answers in microseconds, so the SQLite store
drives SQLAlchemy's synchronous engine (the stdlib ``sqlite3`` driver) straight from the
event loop, one transaction at a time under an ``asyncio.Lock``.  Handing every statement
to a worker thread (``aiosqlite``) cost a thread round trip of about 80 us per cursor
call, several per statement, which was most of the time of a reset, a register or a
deploy.  PostgreSQL is a server: its store uses the asyncio engine (``asyncpg``), so the
loop serves other requests while a query is in flight.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable

import attrs
from sqlalchemy import and_, bindparam, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from mlcommons_emu.errors import VersionConflictError
from mlcommons_emu.store import tables

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

PRIMARY_TERM = 1
LOOKUP_COLUMNS = ("name", "model_group_id", "connector_id", "model_id", "state")


def engine_url(url: str) -> str:
    """Accept plain SQLAlchemy URLs and pick the driver the store runs them with: the
    stdlib ``sqlite3`` driver for SQLite (``sqlite+aiosqlite`` URLs are accepted and run
    the same way), ``asyncpg`` for PostgreSQL."""
    parsed = make_url(url)
    driver = parsed.drivername
    if driver in ("sqlite", "sqlite+aiosqlite"):
        parsed = parsed.set(drivername="sqlite+pysqlite")
    elif driver in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    return parsed.render_as_string(hide_password=False)


@attrs.frozen
class StoredDocument:
    index: str
    doc_id: str
    version: int
    seq_no: int
    primary_term: int
    source: dict[str, Any]


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _source_text(source: dict[str, Any]) -> str:
    """The document's JSON as stored.

    A JSON body may carry an escaped lone surrogate (``"\\ud800"``); Jackson reads it into
    a Java string and writes it back as the same escape, so OpenSearch stores and returns
    it.  Such a character has no UTF-8 form, so it is kept escaped here too.
    """
    text = json.dumps(source, separators=(",", ":"), ensure_ascii=False)
    return _LONE_SURROGATE.sub(lambda m: "\\u%04x" % ord(m.group()), text)


def _storable(text: str) -> bool:
    """Whether every backend can bind this text: no lone surrogate (no UTF-8 form), no NUL
    (PostgreSQL text cannot hold one)."""
    return "\x00" not in text and _LONE_SURROGATE.search(text) is None


def _lookup_value(value: Any) -> Any:
    """A lookup column value every backend can hold: otherwise an escaped form of it."""
    if isinstance(value, str) and not _storable(value):
        return "\ufffe" + json.dumps(value)
    return value


def _row_to_doc(row: Any) -> StoredDocument:
    return StoredDocument(
        index=row.index_name, doc_id=row.doc_id, version=row.version, seq_no=row.seq_no,
        primary_term=row.primary_term, source=json.loads(row.source),
    )


class Store:
    """Owns the engine.  SQLite serialises writers, so its transactions take a lock."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        """``schema`` (PostgreSQL) keeps the emulator's tables in their own schema, so
        several emulators or test runs can share one database."""
        self.url = engine_url(url)
        self.schema = schema
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        # hide_parameters: stored documents (the master key among them) never reach
        # SQLAlchemy's logs or error messages
        if self.is_sqlite:
            kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
            if (parsed.database or "") in ("", ":memory:"):
                # one shared connection: an in-memory database lives as long as it does
                kwargs["poolclass"] = StaticPool
            self.engine: Any = create_engine(self.url, hide_parameters=True, **kwargs)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
            self._lock: asyncio.Lock | None = asyncio.Lock()
            #: committed transactions that wrote something (SQLite; None: not counted)
            self.writes: int | None = 0
        else:
            from sqlalchemy.ext.asyncio import create_async_engine

            # asyncpg prepares each statement per connection, and after five runs PostgreSQL
            # may keep a generic plan chosen while the table was small and never analysed:
            # a get by id then scanned the (index_name, model_id) index, about 20 ms at
            # 100,000 models instead of a primary-key lookup.  Plans are made per call.
            engine = create_async_engine(self.url, hide_parameters=True, connect_args={
                "server_settings": {"plan_cache_mode": "force_custom_plan"}})
            if schema:
                engine = engine.execution_options(schema_translate_map={None: schema})
            self.engine = engine
            self._lock = None
            self.writes = None  # other processes may write the same database

    async def create_schema(self) -> None:
        if self.is_sqlite:
            tables.metadata.create_all(self.engine)
            self.writes = (self.writes or 0) + 1
            return
        async with self.engine.begin() as conn:
            if self.schema:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))
            await conn.run_sync(tables.metadata.create_all)

    async def drop_schema(self) -> None:
        if self.is_sqlite:
            tables.metadata.drop_all(self.engine)
            self.writes = (self.writes or 0) + 1
            return
        async with self.engine.begin() as conn:
            await conn.run_sync(tables.metadata.drop_all)
            rows = await conn.execute(text(
                "SELECT sequence_schema, sequence_name FROM information_schema.sequences "
                "WHERE sequence_name LIKE 'mlc_seq_%' AND sequence_schema = :schema"),
                {"schema": self.schema or "public"})
            for schema, name in rows.all():
                await conn.execute(text(f'DROP SEQUENCE IF EXISTS "{schema}"."{name}"'))

    async def drop_namespace(self) -> None:
        """PostgreSQL: drop the store's schema and everything in it (``DROP SCHEMA ...
        CASCADE``), for stores kept apart by schema (a test's, a benchmark's)."""
        if self.is_sqlite or not self.schema:
            raise ValueError("only a PostgreSQL store with its own schema has a namespace to drop")
        async with self.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    async def close(self) -> None:
        if self.is_sqlite:
            self.engine.dispose()
        else:
            await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator["Transaction"]:
        """Commit when the block ends normally; roll back on any exception."""
        if self._lock is not None:
            async with self._lock:
                with self.engine.begin() as conn:
                    loop_connection = _LoopConnection(conn)
                    yield Transaction(loop_connection)
                if loop_connection.wrote and self.writes is not None:
                    self.writes += 1
        else:
            async with self.engine.begin() as conn:
                yield Transaction(conn)


class _LoopConnection:
    """A synchronous SQLAlchemy connection behind the awaitable calls ``Transaction`` makes
    (the part of ``AsyncConnection`` it uses), run on the event loop's thread."""

    def __init__(self, conn: Connection) -> None:
        self.sync_connection = conn
        self.dialect = conn.dialect
        #: whether anything but a SELECT ran (counted as a write when it commits)
        self.wrote = False

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if not getattr(statement, "is_select", False):
            self.wrote = True
        return self.sync_connection.execute(statement, parameters)

    @contextlib.asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        with self.sync_connection.begin_nested():
            yield

    async def run_sync(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        return function(self.sync_connection, *args, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()
    # The sqlite3 module's own transaction handling emits BEGIN only before an
    # INSERT/UPDATE/DELETE: a SAVEPOINT issued before that (Transaction.ensure_index)
    # opened SQLite's transaction itself and its RELEASE committed everything so far, so
    # the rest of the block ran, and could be lost, as a second transaction.  The driver
    # is put in autocommit mode and every SQLAlchemy transaction opens with an explicit
    # BEGIN (_sqlite_begin) instead, so a block commits or rolls back as one.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    conn.exec_driver_sql("BEGIN")


def _sequence_name(index: str) -> str:
    return "mlc_seq_" + "".join(c if c.isalnum() else "_" for c in index.strip("."))


# The statements every write and read runs, built once with bound parameters: building a
# Core statement per call (clauses, coercions, cache key) cost more than running it on SQLite.
_D, _I = tables.documents, tables.indices
_INDEX_EXISTS = select(_I.c.index_name).where(_I.c.index_name == bindparam("index"))
_GET = select(_D).where(and_(_D.c.index_name == bindparam("index"), _D.c.doc_id == bindparam("doc_id")))
_GET_FOR_UPDATE = _GET.with_for_update()
_NEXT_SEQ_NO = (update(_I).where(_I.c.index_name == bindparam("index"))
                .values(next_seq_no=_I.c.next_seq_no + 1).returning(_I.c.next_seq_no))
_DELETE = delete(_D).where(and_(_D.c.index_name == bindparam("index"), _D.c.doc_id == bindparam("doc_id")))
_INSERT = insert(_D)
_DELETE_DOCUMENTS_BUT = delete(_D).where(_D.c.index_name != bindparam("keep"))
_DELETE_INDICES_BUT = delete(_I).where(_I.c.index_name != bindparam("keep"))
_DELETE_SETTINGS = delete(tables.settings)
_SELECT_NODES = select(tables.nodes)
_UPDATE = update(_D).where(and_(
    _D.c.index_name == bindparam("where_index"), _D.c.doc_id == bindparam("where_doc_id"),
    _D.c.seq_no == bindparam("current_seq_no"),
)).values({c: bindparam(f"new_{c}") for c in ("version", "seq_no", "source") + LOOKUP_COLUMNS})


class Transaction:
    """Index-like operations on documents inside one database transaction."""

    def __init__(self, conn: "AsyncConnection | _LoopConnection") -> None:
        self.conn = conn

    async def index_exists(self, index: str) -> bool:
        row = (await self.conn.execute(_INDEX_EXISTS, {"index": index})).first()
        return row is not None

    async def ensure_index(self, index: str, now: int) -> None:
        if not await self.index_exists(index):
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(insert(tables.indices).values(
                        index_name=index, created_time=now, next_seq_no=0))
            except IntegrityError:
                pass  # created concurrently

    async def _next_seq_no(self, index: str) -> int:
        if self.conn.dialect.name == "postgresql":
            # a sequence takes no row lock, so transactions writing several indices in
            # different orders cannot deadlock on the counters
            name = self.sequence(index)
            try:
                async with self.conn.begin_nested():
                    await self.conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name} MINVALUE 0 START WITH 0"))
            except DBAPIError:
                pass  # created by a concurrent transaction
            return int((await self.conn.execute(text(f"SELECT nextval('{name}')"))).scalar_one())
        row = (await self.conn.execute(_NEXT_SEQ_NO, {"index": index})).first()
        return int(row[0]) - 1

    async def get(self, index: str, doc_id: str) -> StoredDocument | None:
        if not _storable(doc_id):
            return None  # no document can have an id the database cannot even hold
        row = (await self.conn.execute(_GET, {"index": index, "doc_id": doc_id})).first()
        return _row_to_doc(row) if row else None

    async def _get_for_write(self, index: str, doc_id: str) -> StoredDocument | None:
        """The current document, its row locked until the transaction ends (PostgreSQL).

        An index or delete without ``if_seq_no`` overwrites whatever is current, as in
        OpenSearch.  Under READ COMMITTED a transaction committing between the read and the
        write would otherwise leave the write's ``WHERE seq_no = ...`` matching nothing, a
        version conflict no OpenSearch index request raises (concurrent deploys or predicts
        of one model answered 409).  SQLite transactions are serialised, so a plain read
        does there; the row lock is the one the UPDATE/DELETE takes anyway, only earlier.
        """
        if self.conn.dialect.name != "postgresql":
            return await self.get(index, doc_id)
        if not _storable(doc_id):
            return None
        row = (await self.conn.execute(_GET_FOR_UPDATE, {"index": index, "doc_id": doc_id})).first()
        return _row_to_doc(row) if row else None

    async def find(self, index: str, limit: int | None = None, **lookups: Any) -> list[StoredDocument]:
        d = tables.documents
        query = select(d).where(d.c.index_name == index)
        for column, value in lookups.items():
            query = query.where(d.c[column] == _lookup_value(value))
        query = query.order_by(d.c.seq_no)
        if limit is not None:
            query = query.limit(limit)
        return [_row_to_doc(r) for r in (await self.conn.execute(query)).all()]

    async def count(self, index: str, **lookups: Any) -> int:
        d = tables.documents
        query = select(func.count()).select_from(d).where(d.c.index_name == index)
        for column, value in lookups.items():
            query = query.where(d.c[column] == _lookup_value(value))
        return int((await self.conn.execute(query)).scalar_one())

    async def index_signature(self, index: str) -> tuple[Any, ...]:
        """What changes whenever the index does: every write takes a new, higher sequence
        number or changes the count, and a recreated index has a new creation time."""
        d, i = tables.documents, tables.indices
        count, top = (await self.conn.execute(
            select(func.count(), func.max(d.c.seq_no)).where(d.c.index_name == index))).one()
        created = (await self.conn.execute(
            select(i.c.created_time).where(i.c.index_name == index))).scalar_one_or_none()
        return int(count), top, created

    async def all(self, index: str) -> list[StoredDocument]:
        return await self.find(index)

    async def all_documents(self) -> list[StoredDocument]:
        """Every document of every index, ordered by index then id (read only)."""
        d = tables.documents
        query = select(d).order_by(d.c.index_name, d.c.doc_id)
        return [_row_to_doc(r) for r in (await self.conn.execute(query)).all()]

    async def put(self, index: str, doc_id: str, source: dict[str, Any], *, now: int,
                  lookups: dict[str, Any] | None = None, if_seq_no: int | None = None,
                  create_only: bool = False) -> StoredDocument:
        """Index a document (create or overwrite), bumping version and seq_no."""
        await self.ensure_index(index, now)
        values = {c: _lookup_value((lookups or {}).get(c)) for c in LOOKUP_COLUMNS}
        # with if_seq_no the conditional UPDATE below is the check; without it, overwrite
        current = await (self.get if if_seq_no is not None else self._get_for_write)(index, doc_id)
        if current is not None and create_only:
            raise VersionConflictError(
                f"[{doc_id}]: version conflict, document already exists (current version [{current.version}])")
        if if_seq_no is not None and (current is None or current.seq_no != if_seq_no):
            current_seq = current.seq_no if current else -2
            raise VersionConflictError(
                f"[{doc_id}]: version conflict, required seqNo [{if_seq_no}], primary term "
                f"[{PRIMARY_TERM}]. current document has seqNo [{current_seq}] and primary term [{PRIMARY_TERM}]")
        seq_no = await self._next_seq_no(index)
        text = _source_text(source)
        if current is None:
            await self.conn.execute(_INSERT, {
                "index_name": index, "doc_id": doc_id, "version": 1, "seq_no": seq_no,
                "primary_term": PRIMARY_TERM, "source": text, **values})
            version = 1
        else:
            version = current.version + 1
            result = await self.conn.execute(_UPDATE, {
                "where_index": index, "where_doc_id": doc_id, "current_seq_no": current.seq_no, "new_version": version,
                "new_seq_no": seq_no, "new_source": text, **{f"new_{c}": v for c, v in values.items()}})
            if result.rowcount != 1:
                raise VersionConflictError(
                    f"[{doc_id}]: version conflict, required seqNo [{current.seq_no}], primary term "
                    f"[{PRIMARY_TERM}]. current document has seqNo [{seq_no}] and primary term [{PRIMARY_TERM}]")
        return StoredDocument(index, doc_id, version, seq_no, PRIMARY_TERM, source)

    async def delete(self, index: str, doc_id: str, *, now: int) -> tuple[bool, int, int]:
        """Delete a document: (found, version, seq_no) as the delete response reports them.

        Like OpenSearch, a delete of an unknown id still takes a sequence number and
        answers version 1 with result ``not_found``.
        """
        await self.ensure_index(index, now)
        current = await self._get_for_write(index, doc_id)
        seq_no = await self._next_seq_no(index)
        if current is None:
            return False, 1, seq_no
        await self.conn.execute(_DELETE, {"index": index, "doc_id": doc_id})
        return True, current.version + 1, seq_no

    # settings and nodes -------------------------------------------------------------
    async def load_settings(self) -> dict[str, Any]:
        rows = (await self.conn.execute(select(tables.settings))).all()
        return {r.key: json.loads(r.value) for r in rows}

    async def save_settings(self, values: dict[str, Any]) -> None:
        await self.conn.execute(delete(tables.settings))
        if values:
            await self.conn.execute(insert(tables.settings), [
                {"key": k, "value": json.dumps(v)} for k, v in values.items()])

    async def load_nodes(self) -> dict[str, str]:
        rows = (await self.conn.execute(_SELECT_NODES)).all()
        return {r.name: r.node_id for r in rows}

    async def wipe(self, keep: Iterable[str] = ()) -> None:
        """Drop every index but ``keep`` (documents, counters) and every persistent setting."""
        i, d = tables.indices, tables.documents
        keep = tuple(keep)
        if self.conn.dialect.name == "postgresql":
            dropped = [r.index_name for r in (await self.conn.execute(
                select(i.c.index_name).where(i.c.index_name.not_in(keep)))).all()]
            await self.drop_indices(dropped)
        else:
            # no sequences to drop by name: two statements do (a reset runs this per test;
            # "!=" rather than NOT IN, whose expanding parameter is compiled on every call)
            if len(keep) == 1:
                for statement in (_DELETE_DOCUMENTS_BUT, _DELETE_INDICES_BUT):
                    await self.conn.execute(statement, {"keep": keep[0]})
            else:
                for table in (d, i):
                    await self.conn.execute(delete(table).where(table.c.index_name.not_in(keep)))
        await self.conn.execute(_DELETE_SETTINGS)

    async def drop_indices(self, indices: Iterable[str]) -> None:
        """Drop these indices as if deleted: documents, counters and (PostgreSQL) sequences."""
        names = list(indices)
        d, i = tables.documents, tables.indices
        await self.conn.execute(delete(d).where(d.c.index_name.in_(names)))
        await self.conn.execute(delete(i).where(i.c.index_name.in_(names)))
        if self.conn.dialect.name == "postgresql":
            for index in names:
                await self.conn.execute(text(f"DROP SEQUENCE IF EXISTS {self.sequence(index)}"))

    def sequence(self, index: str) -> str:
        """The schema-qualified PostgreSQL sequence that numbers an index's writes."""
        schema = (self.conn.sync_connection.get_execution_options().get("schema_translate_map") or {}).get(None)
        name = _sequence_name(index)
        return f'"{schema}"."{name}"' if schema else f'"{name}"'

    async def save_nodes(self, pairs: Iterable[tuple[str, str]]) -> None:
        pairs = list(pairs)
        if not pairs:
            return
        existing = await self.load_nodes()
        position = len(existing)
        for name, node_id in pairs:
            if name not in existing:
                await self.conn.execute(insert(tables.nodes).values(
                    name=name, node_id=node_id, position=position))
                position += 1
