"""The whole stored state as one JSON-able value, and back.

A snapshot keeps every document exactly as stored (``_version``, ``_seq_no`` and all), each
index's creation time and sequence counter and the persistent cluster settings, so a restored
store answers as the snapshotted one did: the same ids, the same versions, the next write
taking the next sequence number.  The nodes are recorded for reference; a restore keeps the
running cluster's own nodes (what was deployed is redeployed on them as after a restart).  The master key document is part of the state
(credentials do not decrypt without it); a snapshot file is therefore as sensitive as the
database itself.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert, select, text

from mlcommons_emu.store import tables
from mlcommons_emu.store.engine import LOOKUP_COLUMNS, Transaction, _lookup_value, _source_text

FORMAT = "mlcommons-emu-snapshot"
VERSION = 1


class SnapshotError(ValueError):
    """A value that is not a snapshot this version can restore."""


async def dump(tx: Transaction) -> dict[str, Any]:
    d, i = tables.documents, tables.indices
    documents = [
        {"index": r.index_name, "id": r.doc_id, "version": r.version, "seq_no": r.seq_no,
         "primary_term": r.primary_term, "source": json.loads(r.source),
         "lookups": {c: getattr(r, c) for c in LOOKUP_COLUMNS if getattr(r, c) is not None}}
        for r in (await tx.conn.execute(select(d).order_by(d.c.index_name, d.c.seq_no))).all()]
    indices = [{"index": r.index_name, "created_time": r.created_time, "next_seq_no": await _next(tx, r)}
               for r in (await tx.conn.execute(select(i).order_by(i.c.index_name))).all()]
    nodes = [{"name": r.name, "node_id": r.node_id, "position": r.position}
             for r in (await tx.conn.execute(select(tables.nodes).order_by(tables.nodes.c.position))).all()]
    return {"format": FORMAT, "version": VERSION, "indices": indices, "documents": documents,
            "settings": await tx.load_settings(), "nodes": nodes}


async def _next(tx: Transaction, row: Any) -> int:
    """The index's next sequence number (a PostgreSQL sequence, or the counter column)."""
    if tx.conn.dialect.name != "postgresql":
        return int(row.next_seq_no)
    top = (await tx.conn.execute(select(tables.documents.c.seq_no).where(
        tables.documents.c.index_name == row.index_name).order_by(tables.documents.c.seq_no.desc()).limit(1))).first()
    name = tx.sequence(row.index_name)
    try:
        async with tx.conn.begin_nested():
            value = (await tx.conn.execute(text(f"SELECT last_value, is_called FROM {name}"))).first()
    except Exception:  # noqa: BLE001 - no sequence yet: nothing was written through it
        value = None
    if value is not None:
        return int(value[0]) + (1 if value[1] else 0)
    return int(top[0]) + 1 if top else 0


def check(state: Any) -> dict[str, Any]:
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SnapshotError(f"not an {FORMAT} document")
    if state.get("version") != VERSION:
        raise SnapshotError(f"snapshot version {state.get('version')!r} is not supported (expected {VERSION})")
    for key, kind in (("indices", list), ("documents", list), ("settings", dict), ("nodes", list)):
        if not isinstance(state.get(key), kind):
            raise SnapshotError(f"snapshot field [{key}] must be a {kind.__name__}")
    return state


async def load(tx: Transaction, state: dict[str, Any]) -> None:
    """Replace everything stored by ``state`` (in the caller's transaction)."""
    check(state)
    d, i = tables.documents, tables.indices
    old = [r.index_name for r in (await tx.conn.execute(select(i.c.index_name))).all()]
    await tx.conn.execute(delete(d))
    await tx.conn.execute(delete(i))
    await tx.save_settings(dict(state["settings"]))
    postgres = tx.conn.dialect.name == "postgresql"
    if postgres:
        for index in old:
            await tx.conn.execute(text(f"DROP SEQUENCE IF EXISTS {tx.sequence(index)}"))
    for entry in state["indices"]:
        await tx.conn.execute(insert(i).values(index_name=entry["index"], created_time=int(entry["created_time"]),
                                               next_seq_no=int(entry["next_seq_no"])))
        if postgres:
            name = tx.sequence(entry["index"])
            await tx.conn.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {name} MINVALUE 0 START WITH 0"))
            nxt = int(entry["next_seq_no"])
            if nxt > 0:
                await tx.conn.execute(text(f"SELECT setval('{name}', {nxt - 1}, true)"))
    rows = [{"index_name": doc["index"], "doc_id": doc["id"], "version": int(doc["version"]),
             "seq_no": int(doc["seq_no"]), "primary_term": int(doc.get("primary_term", 1)),
             "source": _source_text(doc["source"]),
             **{c: _lookup_value(doc.get("lookups", {}).get(c)) for c in LOOKUP_COLUMNS}}
            for doc in state["documents"]]
    if rows:
        await tx.conn.execute(insert(d), rows)
