"""ConnectorUtils.cleanPayloadIfNeeded for the Nova multimodal embedding model (3.5+)."""
from __future__ import annotations

import json

from mlcommons_emu.connectors.runtime import BEDROCK_NOVA_MODEL, _clean_nova_payload

PAYLOAD = json.dumps({"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {
    "embeddingPurpose": "GENERIC_INDEX",
    "text": {"truncationMode": "END", "value": "hello"},
    "image": {"format": "png", "source": {"bytes": None}},
    "video": {"format": "mp4", "source": {"bytes": None}},
    "audio": {"format": "mp3", "source": {"bytes": "AAAA"}}}})


def test_null_sections_are_dropped_for_nova():
    cleaned = json.loads(_clean_nova_payload(PAYLOAD, {"model": BEDROCK_NOVA_MODEL}))
    assert sorted(cleaned["singleEmbeddingParams"]) == ["audio", "embeddingPurpose", "text"]


def test_other_models_and_non_json_payloads_are_untouched():
    assert _clean_nova_payload(PAYLOAD, {"model": "amazon.titan-embed-text-v2:0"}) == PAYLOAD
    assert _clean_nova_payload("not json", {"model": BEDROCK_NOVA_MODEL}) == "not json"
    assert _clean_nova_payload('{"a": 1}', {"model": BEDROCK_NOVA_MODEL}) == '{"a": 1}'
