"""Deterministic in-process fake of Amazon Textract (synchronous DetectDocumentText / AnalyzeDocument).

``POST https://textract.<region>.amazonaws.com/`` with ``X-Amz-Target:
Textract.DetectDocumentText``, ``Content-Type: application/x-amz-json-1.1`` and
``{"Document": {"Bytes": "<base64>"}}`` (or ``{"S3Object": {"Bucket", "Name"}}``),
SigV4-signed for service ``textract`` -- what ML Commons' Amazon Textract blueprint sends.

The fake reads no pixels.  A document's text is, in this order: the text registered for its
exact bytes (``register_document``; the image of the published blueprint is built in and
reads "Hello World!!", as in the blueprint's sample), the strings shown by a PDF's content
streams (``(...) Tj`` / ``[...] TJ``, Flate-compressed or not), or else one line naming the
document by its hash (``Document 1a2b3c4d``).  That text becomes Textract's PAGE / LINE /
WORD blocks with deterministic ids, confidences and geometry.

Document checks follow the service: exactly one of Bytes / S3Object (else
InvalidParameterException), PNG / JPEG / TIFF / single-page PDF only (else
UnsupportedDocumentException), S3 objects must have been put on the fake
(``put_s3_object``; else InvalidS3ObjectException).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from .aws import AwsError, AwsJsonService, Clock, Credentials, deterministic_uuid, json_protocol_error
from .base import ProviderResponse, hash_fraction

__all__ = ["FakeTextract"]

INVALID_PARAMETERS_MESSAGE = "Request has invalid parameters"  # verbatim
UNSUPPORTED_DOCUMENT_MESSAGE = "Request has unsupported document format"  # verbatim
INVALID_S3_OBJECT_MESSAGE = (  # verbatim
    "Unable to get object metadata from S3. Check object key, region and/or access permissions."
)
BAD_DOCUMENT_MESSAGE = "Unable to process the document"  # UNSURE
THROTTLING_MESSAGE = "Rate exceeded"  # UNSURE
PROVISIONED_THROUGHPUT_MESSAGE = "Provisioned rate exceeded"  # UNSURE
INTERNAL_SERVER_MESSAGE = "Internal server error"  # UNSURE

_MAX_BYTES = 10_485_760  # the model's ImageBlob limit
_FEATURE_TYPES = ("TABLES", "FORMS", "QUERIES", "SIGNATURES", "LAYOUT")
_MODEL_VERSION = "1.0"
#: sha256 of the document -> its text: the PNG in ML Commons' Textract blueprint (110x30)
_BUILT_IN_DOCUMENTS = {
    "6c712f7e26a17a87188eb3ec02f97842700b64d3ec85fff00d44d6f7ce5421e5": "Hello World!!",
}
_OTHER_OPERATIONS = (
    "AnalyzeExpense", "AnalyzeID", "CreateAdapter", "CreateAdapterVersion", "DeleteAdapter",
    "DeleteAdapterVersion", "GetAdapter", "GetAdapterVersion", "GetDocumentAnalysis", "GetDocumentTextDetection",
    "GetExpenseAnalysis", "GetLendingAnalysis", "GetLendingAnalysisSummary", "ListAdapterVersions", "ListAdapters",
    "ListTagsForResource", "StartDocumentAnalysis", "StartDocumentTextDetection", "StartExpenseAnalysis",
    "StartLendingAnalysis", "TagResource", "UntagResource", "UpdateAdapter",
)


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _validation(problem: str) -> AwsError:
    return json_protocol_error(400, "ValidationException", f"1 validation error detected: {problem}",
                               member="message")


def _serialization() -> AwsError:
    return json_protocol_error(400, "SerializationException", None, member="message")


def _invalid_parameters() -> AwsError:
    return json_protocol_error(400, "InvalidParameterException", INVALID_PARAMETERS_MESSAGE)


def _unsupported() -> AwsError:
    return json_protocol_error(400, "UnsupportedDocumentException", UNSUPPORTED_DOCUMENT_MESSAGE)


def _sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    return None


def _pdf_pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data)) or 1


def _pdf_unescape(raw: bytes) -> str:
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x5C and i + 1 < len(raw):  # backslash
            nxt = raw[i + 1]
            mapped = {ord("n"): 0x0A, ord("r"): 0x0D, ord("t"): 0x09, ord("b"): 0x08, ord("f"): 0x0C}.get(nxt)
            if mapped is not None:
                out.append(mapped)
                i += 2
                continue
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(0), 8) & 0xFF)
                i += 1 + len(octal.group(0))
                continue
            out.append(nxt)
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode("latin-1")


_PDF_STRING = rb"\((?:\\.|[^\\()])*\)"
_PDF_SHOW = re.compile(rb"\[((?:\s*(?:" + _PDF_STRING + rb"|-?[\d.]+))*)\s*\]\s*TJ"
                       rb"|(" + _PDF_STRING + rb")\s*(?:Tj|'|\")", re.S)


def _pdf_text(data: bytes) -> list[str]:
    """The strings a PDF's content streams show, one line per text-showing operator."""
    lines: list[str] = []
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\n?endstream", data, re.S):
        content = m.group(1)
        try:
            content = zlib.decompress(content)
        except zlib.error:
            pass
        for show in _PDF_SHOW.finditer(content):
            if show.group(1) is not None:
                parts = re.findall(_PDF_STRING, show.group(1))
            else:
                parts = [show.group(2)]
            text = "".join(_pdf_unescape(p[1:-1]) for p in parts).strip()
            if text:
                lines.append(text)
    return lines


def _box(left: float, top: float, width: float, height: float) -> dict[str, Any]:
    f = _f32
    return {
        "BoundingBox": {"Height": f(height), "Left": f(left), "Top": f(top), "Width": f(width)},
        "Polygon": [{"X": f(left), "Y": f(top)}, {"X": f(left + width), "Y": f(top)},
                    {"X": f(left + width), "Y": f(top + height)}, {"X": f(left), "Y": f(top + height)}],
    }


def _confidence(*parts: Any) -> float:
    return _f32(90.0 + 9.9 * hash_fraction("textract", *parts))


def text_blocks(digest: str, lines: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """PAGE, LINE and WORD blocks for the text of one page, and the LINE ids."""
    page_id = deterministic_uuid("textract-page", digest)
    line_blocks: list[dict[str, Any]] = []
    word_blocks: list[dict[str, Any]] = []
    n = len(lines)
    longest = max((len(line) for line in lines), default=1) or 1
    slot = 0.9 / max(n, 1)
    for i, line in enumerate(lines):
        words = line.split()
        top = 0.05 + i * slot
        height = slot * 0.6
        width = 0.9 * len(line) / longest
        line_id = deterministic_uuid("textract-line", digest, i)
        word_ids = []
        offset = 0
        for j, word in enumerate(words):
            start = line.index(word, offset)
            offset = start + len(word)
            word_id = deterministic_uuid("textract-word", digest, i, j)
            word_ids.append(word_id)
            word_blocks.append({
                "BlockType": "WORD", "Confidence": _confidence(digest, i, j), "Text": word, "TextType": "PRINTED",
                "Geometry": _box(0.05 + width * start / len(line), top, width * len(word) / len(line), height),
                "Id": word_id,
            })
        line_blocks.append({
            "BlockType": "LINE", "Confidence": _confidence(digest, i), "Text": " ".join(words),
            "Geometry": _box(0.05, top, width, height), "Id": line_id,
            "Relationships": [{"Type": "CHILD", "Ids": word_ids}],
        })
    page: dict[str, Any] = {"BlockType": "PAGE", "Geometry": _box(0.0, 0.0, 1.0, 1.0), "Id": page_id}
    if line_blocks:
        page["Relationships"] = [{"Type": "CHILD", "Ids": [b["Id"] for b in line_blocks]}]
    return [page, *line_blocks, *word_blocks], [b["Id"] for b in line_blocks]


class FakeTextract(AwsJsonService):
    """Strict, deterministic stand-in for textract.<region>.amazonaws.com.

    documents: bytes (or their sha256 hex) -> the text they hold (lines split on "\\n").
    credentials / clock: see aws.SigV4Verifier.
    """

    name = "textract"
    service = "textract"
    target_prefix = "Textract."
    operations = frozenset(("DetectDocumentText", "AnalyzeDocument") + _OTHER_OPERATIONS)

    def __init__(self, *, documents: Mapping[bytes | str, str] | None = None,
                 credentials: Credentials | None = None, clock: Clock | None = None,
                 regions: Iterable[str] = (), recorder_size: int = 1000) -> None:
        super().__init__(credentials=credentials, clock=clock, regions=regions, recorder_size=recorder_size)
        self._documents: dict[str, str] = dict(_BUILT_IN_DOCUMENTS)
        for key, text in (documents or {}).items():
            self.register_document(key, text)
        self._s3: dict[tuple[str, str], bytes] = {}
        self._handlers = {"DetectDocumentText": self._detect, "AnalyzeDocument": self._analyze}

    def register_document(self, document: bytes | str, text: str) -> None:
        """The text the fake reads from ``document`` (its bytes, or their sha256 hex digest)."""
        digest = hashlib.sha256(document).hexdigest() if isinstance(document, bytes) else document.lower()
        self._documents[digest] = text

    def put_s3_object(self, bucket: str, name: str, data: bytes) -> None:
        """Make ``s3://bucket/name`` readable through Document.S3Object."""
        self._s3[(bucket, name)] = bytes(data)

    # ------------------------------------------------------------ documents

    def _document(self, body: dict[str, Any]) -> bytes:
        document = body.get("Document")
        if document is None:
            raise _validation("Value null at 'document' failed to satisfy constraint: Member must not be null")
        if not isinstance(document, dict):
            raise _serialization()
        raw, s3 = document.get("Bytes"), document.get("S3Object")
        if (raw is None) == (s3 is None):
            raise _invalid_parameters()
        if raw is not None:
            if not isinstance(raw, str):
                raise _serialization()
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise _serialization() from None
            if not data:
                raise _validation("Value at 'document.bytes' failed to satisfy constraint: Member must have length "
                                  "greater than or equal to 1")
            if len(data) > _MAX_BYTES:
                raise _validation("Value at 'document.bytes' failed to satisfy constraint: Member must have length "
                                  f"less than or equal to {_MAX_BYTES}")
        else:
            if not isinstance(s3, dict) or not all(isinstance(s3.get(k, ""), str) for k in ("Bucket", "Name")):
                raise _serialization()
            bucket, name = s3.get("Bucket"), s3.get("Name")
            if not bucket or not name:
                raise _invalid_parameters()
            stored = self._s3.get((bucket, name))
            if stored is None:
                raise json_protocol_error(400, "InvalidS3ObjectException", INVALID_S3_OBJECT_MESSAGE)
            data = stored
        kind = _sniff(data)
        if kind is None:
            raise _unsupported()
        if kind == "pdf" and _pdf_pages(data) > 1:
            raise _unsupported()  # synchronous operations take single-page documents
        if kind == "png" and (len(data) < 24 or data[12:16] != b"IHDR"):
            raise json_protocol_error(400, "BadDocumentException", BAD_DOCUMENT_MESSAGE)
        return data

    def _lines(self, data: bytes) -> tuple[str, list[str]]:
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._documents:
            lines = [line for line in self._documents[digest].splitlines() if line.strip()]
        elif data.startswith(b"%PDF-"):
            lines = _pdf_text(data)
        else:
            lines = [f"Document {digest[:8]}"]
        return digest, lines

    # ------------------------------------------------------------ operations

    def _detect(self, body: dict[str, Any], region: str | None) -> Any:
        digest, lines = self._lines(self._document(body))
        blocks, _ = text_blocks(digest, lines)
        return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks,
                "DetectDocumentTextModelVersion": _MODEL_VERSION}

    def _analyze(self, body: dict[str, Any], region: str | None) -> Any:
        features = body.get("FeatureTypes")
        if features is None:
            raise _validation("Value null at 'featureTypes' failed to satisfy constraint: Member must not be null")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise _serialization()
        if not features:
            raise _validation("Value '[]' at 'featureTypes' failed to satisfy constraint: Member must have length "
                              "greater than or equal to 1")
        for feature in features:
            if feature not in _FEATURE_TYPES:
                raise _validation(f"Value '[{', '.join(features)}]' at 'featureTypes' failed to satisfy constraint: "
                                  "Member must satisfy constraint: [Member must satisfy enum value set: "
                                  f"[{', '.join(_FEATURE_TYPES)}]]")
        queries: list[dict[str, Any]] = []
        if "QUERIES" in features:
            config = body.get("QueriesConfig")
            queries = config.get("Queries") if isinstance(config, dict) else None  # type: ignore[assignment]
            if not isinstance(queries, list) or not queries or not all(
                    isinstance(q, dict) and isinstance(q.get("Text"), str) and q["Text"] for q in queries):
                raise _invalid_parameters()
        elif body.get("QueriesConfig") is not None:
            raise _invalid_parameters()
        digest, lines = self._lines(self._document(body))
        blocks, line_ids = text_blocks(digest, lines)
        if "LAYOUT" in features:
            for i, line_id in enumerate(line_ids):
                line = next(b for b in blocks if b["Id"] == line_id)
                blocks.append({"BlockType": "LAYOUT_TEXT", "Confidence": _confidence(digest, "layout", i),
                               "Geometry": line["Geometry"], "Id": deterministic_uuid("textract-layout", digest, i),
                               "Relationships": [{"Type": "CHILD", "Ids": [line_id]}]})
        for i, query in enumerate(queries):
            block: dict[str, Any] = {"BlockType": "QUERY", "Id": deterministic_uuid("textract-query", digest, i),
                                     "Query": {k: query[k] for k in ("Text", "Alias", "Pages") if k in query}}
            blocks.append(block)  # no answer found: a QUERY without ANSWER relationships
        return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "AnalyzeDocumentModelVersion": _MODEL_VERSION}

    # ----------------------------------------------- canned replies for Script

    @classmethod
    def throttling_response(cls) -> ProviderResponse:
        return cls.error_response(400, "ThrottlingException", THROTTLING_MESSAGE)

    @classmethod
    def provisioned_throughput_response(cls) -> ProviderResponse:
        return cls.error_response(400, "ProvisionedThroughputExceededException", PROVISIONED_THROUGHPUT_MESSAGE)

    @classmethod
    def internal_server_response(cls) -> ProviderResponse:
        return cls.error_response(500, "InternalServerError", INTERNAL_SERVER_MESSAGE)

    @classmethod
    def unsupported_document_response(cls) -> ProviderResponse:
        return cls.error_response(400, "UnsupportedDocumentException", UNSUPPORTED_DOCUMENT_MESSAGE)
