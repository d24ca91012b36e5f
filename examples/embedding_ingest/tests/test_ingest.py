"""The ingest job's tests, against the emulator's fake Cohere."""
from __future__ import annotations

import pytest
from opensearchpy.exceptions import TransportError

import ingest

DOCS = [f"document number {i}" for i in range(20)]


def test_every_document_gets_a_1024_dimension_vector(mlcommons_client, mlcommons_emulator):
    model_id = ingest.setup_model(mlcommons_client)
    vectors = ingest.embed_all(mlcommons_client, model_id, DOCS, batch_size=8)
    assert len(vectors) == len(DOCS)
    assert {len(v) for v in vectors} == {1024}
    calls = mlcommons_emulator.providers["cohere"].recorder.requests
    assert [len(c.json()["texts"]) for c in calls] == [8, 8, 4]


THROTTLED = {"status": 429, "body": {"message": "You are using a Trial key, which is limited to 10 API calls / minute."}}


@pytest.mark.mlcommons(faults={"cohere": [THROTTLED, THROTTLED]})
def test_throttling_is_retried(mlcommons_client):
    model_id = ingest.setup_model(mlcommons_client)
    vectors = ingest.embed_all(mlcommons_client, model_id, DOCS[:3], retries=3)
    assert len(vectors) == 3


@pytest.mark.mlcommons(faults={"cohere": [THROTTLED] * 5})
def test_persistent_throttling_surfaces_as_429(mlcommons_client):
    model_id = ingest.setup_model(mlcommons_client)
    with pytest.raises(TransportError) as failure:
        ingest.embed_all(mlcommons_client, model_id, DOCS[:3], retries=2)
    assert failure.value.status_code == 429


def test_the_model_sits_in_its_group(mlcommons_inprocess_client):
    model_id = ingest.setup_model(mlcommons_inprocess_client)
    model = mlcommons_inprocess_client.plugins.ml.get_model(model_id=model_id)
    group = mlcommons_inprocess_client.transport.perform_request(
        "GET", f"/_plugins/_ml/model_groups/{model['model_group_id']}")
    assert group["name"] == "ingest" and group["latest_version"] == 1
