"""SQLAlchemy Core tables: one document table standing in for the ML system indices."""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

#: Every document of every emulated index.  ``source`` is the document's JSON as the
#: plugin would index it (credentials as ciphertext); the other columns are lookups.
documents = Table(
    "mlc_documents",
    metadata,
    Column("index_name", String(64), primary_key=True),
    Column("doc_id", String(128), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("seq_no", BigInteger, nullable=False),
    Column("primary_term", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("name", String(512)),
    Column("model_group_id", String(128)),
    Column("connector_id", String(128)),
    Column("model_id", String(128)),
    Column("state", String(32)),
    Index("ix_mlc_documents_name", "index_name", "name"),
    Index("ix_mlc_documents_group", "index_name", "model_group_id"),
    Index("ix_mlc_documents_connector", "index_name", "connector_id"),
    Index("ix_mlc_documents_model", "index_name", "model_id"),
)

#: Indices that exist (they are created lazily, on first write) and their seq_no counters.
indices = Table(
    "mlc_indices",
    metadata,
    Column("index_name", String(64), primary_key=True),
    Column("created_time", BigInteger, nullable=False),
    Column("next_seq_no", BigInteger, nullable=False),
)

#: Persistent cluster settings (transient ones die with the process, as in OpenSearch).
settings = Table(
    "mlc_settings",
    metadata,
    Column("key", String(256), primary_key=True),
    Column("value", Text, nullable=False),
)

#: Node ids survive restarts, as a real node keeps its id in its data path.
nodes = Table(
    "mlc_nodes",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("node_id", String(32), nullable=False, unique=True),
    Column("position", Integer, nullable=False),
)
