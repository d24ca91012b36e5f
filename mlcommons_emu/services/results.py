"""Results the use cases hand to the wire layer."""
from __future__ import annotations

import attrs


@attrs.frozen
class WriteResult:
    """An OpenSearch document-write outcome (delete / update responses)."""

    index: str
    doc_id: str
    version: int
    seq_no: int
    result: str  # deleted | not_found | updated | noop
