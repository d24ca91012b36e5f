"""An ingest job: embed documents in batches through an ML Commons remote model."""
from __future__ import annotations

import time
from typing import Any, Iterable

from opensearchpy.exceptions import TransportError

ML = "/_plugins/_ml"
COHERE = {
    "name": "Cohere embed", "version": "1", "protocol": "http",
    "parameters": {"model": "embed-english-v3.0", "input_type": "search_document", "truncate": "END"},
    "credential": {"cohere_key": "co-example"},
    "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.cohere.ai/v1/embed",
                 "headers": {"Authorization": "Bearer ${credential.cohere_key}"},
                 "request_body": ('{ "texts": ${parameters.texts}, "truncate": "${parameters.truncate}", '
                                  '"model": "${parameters.model}", "input_type": "${parameters.input_type}" }'),
                 "pre_process_function": "connector.pre_process.cohere.embedding",
                 "post_process_function": "connector.post_process.cohere.embedding"}],
}


def setup_model(client: Any) -> str:
    connector_id = client.plugins.ml.create_connector(body=COHERE)["connector_id"]
    group_id = client.plugins.ml.register_model_group(body={"name": "ingest"})["model_group_id"]
    registered = client.transport.perform_request(
        "POST", f"{ML}/models/_register", params={"deploy": "true"},
        body={"name": "cohere-embed", "function_name": "remote", "model_group_id": group_id,
              "connector_id": connector_id})
    return registered["model_id"]


def batches(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def embed_all(client: Any, model_id: str, documents: list[str], *, batch_size: int = 8,
              retries: int = 3, backoff: float = 0.01) -> list[list[float]]:
    vectors: list[list[float]] = []
    for batch in batches(documents, batch_size):
        for attempt in range(retries + 1):
            try:
                result = client.transport.perform_request(
                    "POST", f"{ML}/_predict/text_embedding/{model_id}", body={"text_docs": batch})
                break
            except TransportError as error:
                if error.status_code != 429 or attempt == retries:
                    raise
                time.sleep(backoff * 2 ** attempt)
        for element in result["inference_results"]:
            vectors.extend(tensor["data"] for tensor in element["output"])
    return vectors
