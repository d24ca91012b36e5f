"""Move ML Commons documents between the emulator and a real cluster.

The emulator stores connectors, model groups, models and the encryption master key as
the plugin indexes them, so their ``_source`` documents travel unchanged in both
directions: credential values stay the AWS Encryption SDK ciphertexts they are at rest,
and they decrypt wherever the ``.plugins-ml-config`` master key document goes with them.

Export, then load the dump into a fresh emulator (or the other way round, with documents
taken from a cluster by ``GET .plugins-ml-connector/_search`` and the like)::

    dump = await export_documents(emulator)
    await import_documents(other_emulator, dump)

A dump maps each index name to ``[{"_id": ..., "_source": {...}}, ...]``; a ``_search``
response (whole, or one per index) is accepted as well.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from mlcommons_emu.connectors.crypto import validate_master_key
from mlcommons_emu.store import rows

if TYPE_CHECKING:
    from mlcommons_emu.emulator import Emulator
    from mlcommons_emu.store.engine import Transaction

__all__ = ["INDICES", "export_documents", "import_documents", "read_documents", "warn_stranded",
           "write_documents"]

log = logging.getLogger("mlcommons_emu.interop")

#: the indices a dump holds, in the order they are written on import
INDICES = (rows.CONFIG_INDEX, rows.MODEL_GROUP_INDEX, rows.CONNECTOR_INDEX, rows.MODEL_INDEX)
MASTER_KEY_ID = "master_key"
#: emulator bookkeeping kept in the config index; no cluster has it
_INTERNAL_IDS = frozenset({"_cluster_uuid", "_id_generation"})

Dump = dict[str, list[dict[str, Any]]]

# how each index's documents are checked and which lookup columns they fill
_PARSERS: dict[str, tuple[str, Callable[[dict[str, Any], str], Any], Callable[[Any], dict[str, Any]]]] = {
    rows.CONNECTOR_INDEX: ("connector", rows.connector_from_document, rows.connector_lookups),
    rows.MODEL_GROUP_INDEX: ("model group", rows.group_from_document, rows.group_lookups),
    rows.MODEL_INDEX: ("model", rows.model_from_document, rows.model_lookups),
}


async def export_documents(emulator: "Emulator") -> Dump:
    """Every connector, model group, model and master-key document of a started emulator."""
    async with emulator.context.store.transaction() as tx:
        return await read_documents(tx)


async def read_documents(tx: "Transaction") -> Dump:
    """The documents of :data:`INDICES` in one transaction, each index in indexing order."""
    dump: Dump = {}
    for index in INDICES:
        docs = await tx.find(index)
        dump[index] = [{"_id": d.doc_id, "_source": d.source} for d in docs if d.doc_id not in _INTERNAL_IDS]
    return dump


async def import_documents(emulator: "Emulator", docs: Mapping[str, Any]) -> dict[str, int]:
    """Index these documents into a started emulator, overwriting any with the same id.

    Returns how many documents each index received.  A ``master_key`` document becomes
    the key in force unless the emulator was configured with its own key
    (``Config.master_key``), which then stays and is written back over it, with a
    WARNING; a new key that leaves stored credential documents (not overwritten by the
    import) under the previous key is also a WARNING.  Nothing is written if any
    document is refused: ValueError names its index and id, never a value.  Models keep
    the state their document records; deploy them (or predict, which auto-deploys).
    """
    async with emulator.context.store.transaction() as tx:
        counts, stranded = await write_documents(tx, docs, now=emulator.clock())
        await emulator._load_master_key(tx)  # pylint: disable=protected-access
    if stranded and emulator.config.master_key is None:
        warn_stranded(stranded)
    return counts


async def write_documents(tx: "Transaction", docs: Mapping[str, Any], *, now: int) -> tuple[dict[str, int], int]:
    """Check every document, then index them.

    Returns (documents per index, how many credential-bearing connector and model
    documents already stored, and not overwritten, were encrypted under a master key the
    import replaced).
    """
    grouped = _grouped(docs)
    checked = {index: [_checked(index, hit) for hit in grouped.get(index, ())] for index in INDICES}
    previous = await tx.get(rows.CONFIG_INDEX, MASTER_KEY_ID)
    new_key = next((source.get("master_key") for doc_id, source, _ in checked[rows.CONFIG_INDEX]
                    if doc_id == MASTER_KEY_ID), None)
    stranded = 0
    if previous is not None and new_key is not None and previous.source.get("master_key") != new_key:
        stranded = await _credential_documents(tx, skip={(i, d) for i in INDICES for d, _, _ in checked[i]})
    for index in INDICES:
        for doc_id, source, lookups in checked[index]:
            await tx.put(index, doc_id, source, now=now, lookups=lookups)
    return {index: len(checked[index]) for index in INDICES}, stranded


def warn_stranded(count: int) -> None:
    """The WARNING for documents left encrypted under a master key an import replaced."""
    log.warning("the imported %s document replaced the master key: %d stored connector/model "
                "document(s) hold credentials encrypted under the previous key, which will fail "
                "to decrypt at deploy (deploy task FAILED, model DEPLOY_FAILED)", rows.CONFIG_INDEX, count)


async def _credential_documents(tx: "Transaction", *, skip: set[tuple[str, str]]) -> int:
    """How many stored connectors and models (but those in ``skip``) carry credentials."""
    count = 0
    for index in (rows.CONNECTOR_INDEX, rows.MODEL_INDEX):
        for doc in await tx.find(index):
            connector = doc.source.get("connector") if index == rows.MODEL_INDEX else doc.source
            if (index, doc.doc_id) not in skip and isinstance(connector, Mapping) and connector.get("credential"):
                count += 1
    return count


def _grouped(docs: Mapping[str, Any]) -> dict[str, list[Mapping[str, Any]]]:
    """index -> hits, from a dump, a ``_search`` response, or a dump of ``_search`` responses."""
    if not isinstance(docs, Mapping):
        raise ValueError("documents must be a JSON object: index name -> list of {_id, _source}")
    if "hits" in docs:
        return _hits_by_index(_search_hits(docs, "the search response"))
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for index, value in docs.items():
        if index not in INDICES:
            raise ValueError(f"unsupported index {index!r}: a dump holds {', '.join(INDICES)}")
        hits = _search_hits(value, index) if isinstance(value, Mapping) else value
        if not isinstance(hits, list):
            raise ValueError(f"{index}: expected a list of {{_id, _source}} documents")
        grouped[index] = [_hit_object(hit, index) for hit in hits]
    return grouped


def _search_hits(response: Mapping[str, Any], where: str) -> list[Any]:
    hits = response.get("hits")
    hits = hits.get("hits") if isinstance(hits, Mapping) else None
    if not isinstance(hits, list):
        raise ValueError(f"{where}: expected a _search response with hits.hits")
    return hits


def _hits_by_index(hits: Iterable[Any]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for hit in hits:
        index = hit.get("_index") if isinstance(hit, Mapping) else None
        if index not in INDICES:
            raise ValueError(f"unsupported index {index!r}: a dump holds {', '.join(INDICES)}")
        grouped.setdefault(str(index), []).append(hit)
    return grouped


def _hit_object(hit: Any, index: str) -> Mapping[str, Any]:
    if not isinstance(hit, Mapping):
        raise ValueError(f"{index}: every document must be an object with _id and _source")
    return hit


def _checked(index: str, hit: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """(id, source, lookup columns) of one hit, or ValueError naming what is wrong."""
    doc_id, source = hit.get("_id"), hit.get("_source")
    if not isinstance(doc_id, str) or not doc_id:
        raise ValueError(f"{index}: a document has no _id")
    if not isinstance(source, Mapping):
        raise ValueError(f"{index}/{doc_id}: _source must be an object")
    source = dict(source)
    if index == rows.CONFIG_INDEX:
        _check_config(doc_id, source)
        return doc_id, source, None
    kind, parse, lookups = _PARSERS[index]
    try:
        entity = parse(source, doc_id)
    except KeyError as exc:
        raise ValueError(f"{index}/{doc_id}: not a {kind} document: missing field {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{index}/{doc_id}: not a {kind} document: {exc}") from None
    _check_credentials(index, doc_id, source)
    return doc_id, source, lookups(entity)


def _check_config(doc_id: str, source: dict[str, Any]) -> None:
    if doc_id in _INTERNAL_IDS:
        raise ValueError(f"{rows.CONFIG_INDEX}/{doc_id}: reserved by the emulator")
    if doc_id == MASTER_KEY_ID:
        try:
            validate_master_key(source.get("master_key"))
        except ValueError as exc:
            raise ValueError(f"{rows.CONFIG_INDEX}/{doc_id}: {exc}") from None


def _check_credentials(index: str, doc_id: str, source: Mapping[str, Any]) -> None:
    """Credential values are stored as strings (ciphertexts); whether they decrypt is
    found out at deploy, as on the cluster."""
    connector = source.get("connector") if index == rows.MODEL_INDEX else source
    credential = connector.get("credential") if isinstance(connector, Mapping) else None
    if credential is None:
        return
    if not isinstance(credential, Mapping) or not all(isinstance(v, str) for v in credential.values()):
        raise ValueError(f"{index}/{doc_id}: credential must map names to encrypted string values")
