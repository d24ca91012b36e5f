"""Retrieval-augmented answering over ML Commons remote models (an example application)."""
from __future__ import annotations

import math
from typing import Any

ML = "/_plugins/_ml"


def create_remote_model(client: Any, connector: dict, name: str) -> str:
    """Create the connector, register and deploy a model on it; return the model id."""
    connector_id = client.plugins.ml.create_connector(body=connector)["connector_id"]
    registered = client.transport.perform_request(
        "POST", f"{ML}/models/_register", params={"deploy": "true"},
        body={"name": name, "function_name": "remote", "connector_id": connector_id})
    return registered["model_id"]


def embed(client: Any, model_id: str, texts: list[str]) -> list[list[float]]:
    result = client.transport.perform_request(
        "POST", f"{ML}/_predict/text_embedding/{model_id}", body={"text_docs": texts})
    vectors = []
    for element in result["inference_results"]:
        vectors.extend(tensor["data"] for tensor in element["output"])
    return vectors


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def retrieve(client: Any, model_id: str, question: str, passages: list[str], k: int = 2) -> list[str]:
    query, *docs = embed(client, model_id, [question, *passages])
    ranked = sorted(zip(passages, docs), key=lambda p: cosine(query, p[1]), reverse=True)
    return [text for text, _ in ranked[:k]]


def answer(client: Any, chat_model_id: str, question: str, context: list[str]) -> str:
    messages = [{"role": "system", "content": "Answer from the context only.\n" + "\n".join(context)},
                {"role": "user", "content": question}]
    result = client.transport.perform_request(
        "POST", f"{ML}/models/{chat_model_id}/_predict", body={"parameters": {"messages": messages}})
    return result["inference_results"][0]["output"][0]["dataAsMap"]["choices"][0]["message"]["content"]
