"""OpenSearch's partial document update, as the ML Commons update APIs write.

``PUT /connectors/{id}`` and ``PUT /models/{id}`` do not re-index the whole document: they
send an ``UpdateRequest`` whose ``doc`` is the plugin's object (``Connector.toXContent``,
``MLUpdateModelInput.toXContent``) and OpenSearch merges it into the stored source
(``UpdateHelper`` -> ``XContentHelper.update``):

* a member missing from the stored source is added (at the end, the source is ordered);
* when both the stored and the new value are objects they merge recursively, so keys of
  ``parameters`` or ``credential`` that the update does not name stay stored;
* any other value (strings, numbers, arrays such as ``actions``) replaces the stored one;
* ``detect_noop`` is on: when nothing changes the answer is ``result: noop``, the document
  keeps its version and sequence number and nothing is written.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping

from mlcommons_emu.services.results import WriteResult
from mlcommons_emu.store.engine import StoredDocument
from mlcommons_emu.store.repositories import Repositories


def merge(source: Mapping[str, Any], changes: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """``XContentHelper.update(source, changes, detectNoop)``: the merged copy and whether it changed."""
    merged = copy.deepcopy(dict(source))
    return merged, _merge_into(merged, changes)


def _merge_into(target: dict[str, Any], changes: Mapping[str, Any]) -> bool:
    modified = False
    for key, value in changes.items():
        if key not in target:
            target[key] = copy.deepcopy(value)
            modified = True
            continue
        old = target[key]
        if isinstance(old, dict) and isinstance(value, dict):
            modified = _merge_into(old, value) or modified
            continue
        target[key] = copy.deepcopy(value)
        modified = modified or old != value
    return modified


async def write(repos: Repositories, current: StoredDocument, changes: Mapping[str, Any], *, now: int,
                lookups: Callable[[dict[str, Any]], dict[str, Any]]) -> WriteResult:
    """Merge ``changes`` into the stored document and write it unless the merge is a noop.

    The write is conditional on the sequence number read, as the update action's own
    get-then-index is.
    """
    merged, modified = merge(current.source, changes)
    if not modified:
        return WriteResult(current.index, current.doc_id, current.version, current.seq_no, "noop")
    stored = await repos.tx.put(current.index, current.doc_id, merged, now=now, lookups=lookups(merged),
                                if_seq_no=current.seq_no)
    return WriteResult(current.index, current.doc_id, stored.version, stored.seq_no, "updated")
