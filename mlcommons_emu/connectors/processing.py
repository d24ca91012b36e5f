"""Built-in pre- and post-process functions of connectors, and document splitting.

Mirrors MLPreProcessFunction / MLPostProcessFunction and their function classes under
``org.opensearch.ml.common.connector.functions``.  Any other value is Painless source, run by
:mod:`mlcommons_emu.painless` where the plugin runs it (semantics 2.4, 2.5 step 3, 2.7).
"""
from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from mlcommons_emu.connectors import templating
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import IllegalArgumentError, MLError


# ---------------------------------------------------------------------------------------------
# pre-process
# ---------------------------------------------------------------------------------------------


def _json_list(values: list[Any]) -> str:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False)


def _docs_only(docs: list[Any], query: str | None) -> None:
    if query is not None:
        raise IllegalArgumentError(
            "This pre_process_function can only support TextDocsInputDataSet which including a list of "
            "string with key 'text_docs'")


def _similarity_only(docs: list[Any], query: str | None) -> None:
    if query is None:
        raise IllegalArgumentError("This pre_process_function can only support TextSimilarityInputDataSet")


def _openai_embedding(docs: list[Any], query: str | None) -> dict[str, str]:
    _docs_only(docs, query)
    return {"input": _json_list(docs)}


def _cohere_embedding(docs: list[Any], query: str | None) -> dict[str, str]:
    _docs_only(docs, query)
    return {"texts": _json_list(docs)}


def _cohere_multimodal(docs: list[Any], query: str | None) -> dict[str, str]:
    _docs_only(docs, query)
    if not docs or docs[0] is None:
        raise IllegalArgumentError("No image provided")
    return {"images": _json_list(docs)}


def _escaped(text: Any) -> str:
    # plain-string pre-process outputs are escaped like predict values (semantics 1.3)
    value = "null" if text is None else str(text)
    return value if templating.looks_like_json(value) else templating.escape_json(value)


def _bedrock_embedding(docs: list[Any], query: str | None) -> dict[str, str]:
    _docs_only(docs, query)
    return {"inputText": _escaped(docs[0] if docs else None)}


def _bedrock_multimodal(docs: list[Any], query: str | None) -> dict[str, str]:
    """bedrock.multimodal_embedding: doc 0 is the text, doc 1 (if any) the image.

    Only an empty list or a single null doc is refused; two docs always pass, even both null
    (each null becomes the text ``null``, as ``gson.toJson(null)`` gives).
    """
    _docs_only(docs, query)
    if not docs or (len(docs) == 1 and docs[0] is None):
        raise IllegalArgumentError("No input text or image provided")
    out = {"inputText": _escaped(docs[0])}
    if len(docs) > 1:
        out["inputImage"] = _escaped(docs[1])
    return out


def _rerank(docs: list[Any], query: str | None) -> dict[str, str]:
    _similarity_only(docs, query)
    return {"query": _escaped(query), "documents": _json_list(docs), "top_n": str(len(docs))}


def _bedrock_rerank(docs: list[Any], query: str | None) -> dict[str, str]:
    _similarity_only(docs, query)
    queries = [{"textQuery": {"text": query}, "type": "TEXT"}]
    sources = [{"inlineDocumentSource": {"textDocument": {"text": d}, "type": "TEXT"}, "type": "INLINE"}
               for d in docs]
    return {"queries": _json_list(queries), "sources": _json_list(sources), "numberOfResults": str(len(docs))}


PreFunction = Callable[[list[Any], "str | None"], dict[str, str]]

def _nova(key: str, error: str | None = None) -> PreFunction:
    def nova(docs: list[Any], query: str | None) -> dict[str, str]:
        _docs_only(docs, query)
        if not docs or docs[0] is None:
            raise IllegalArgumentError(error or "No input provided")
        return {key: _escaped(docs[0])}
    return nova


def _nova_embedding(docs: list[Any], query: str | None) -> dict[str, str]:
    """bedrock.nova.embedding: a JSON object names its modality, else the doc is text."""
    _docs_only(docs, query)
    if not docs or docs[0] is None:
        raise IllegalArgumentError("No input provided")
    try:
        value = json.loads(docs[0])
    except (TypeError, ValueError):
        value = None
    if isinstance(value, dict):
        for key in ("text", "image", "video", "audio"):
            if key in value:
                item = value[key]
                return {key: _escaped(item) if isinstance(item, str) else _json_list(item)}
    return {"text": _escaped(docs[0])}


#: name -> (function, first release with it: MLPreProcessFunction at each tag); in 2.9 the
#: two built-ins were Painless scripts shipped with the plugin, with the same shapes
_PRE: dict[str, tuple[PreFunction, tuple[int, int]]] = {
    "connector.pre_process.openai.embedding": (_openai_embedding, (2, 9)),
    "connector.pre_process.cohere.embedding": (_cohere_embedding, (2, 9)),
    "connector.pre_process.default.embedding": (_openai_embedding, (2, 11)),
    "connector.pre_process.bedrock.embedding": (_bedrock_embedding, (2, 12)),
    "connector.pre_process.cohere.rerank": (_rerank, (2, 12)),
    "connector.pre_process.default.rerank": (_rerank, (2, 12)),
    "connector.pre_process.bedrock.multimodal_embedding": (_bedrock_multimodal, (2, 16)),
    "connector.pre_process.cohere.multimodal_embedding": (_cohere_multimodal, (2, 19)),
    "connector.pre_process.bedrock.rerank": (_bedrock_rerank, (2, 19)),
    "connector.pre_process.bedrock.nova.text_embedding": (_nova("inputText"), (3, 4)),
    "connector.pre_process.bedrock.nova.image_embedding": (_nova("inputImage", "No input image provided"), (3, 4)),
    "connector.pre_process.bedrock.nova.video_embedding": (_nova("inputVideo"), (3, 4)),
    "connector.pre_process.bedrock.nova.audio_embedding": (_nova("inputAudio"), (3, 4)),
    "connector.pre_process.bedrock.nova.embedding": (_nova_embedding, (3, 5)),
}


def builtin_pre_process(name: str | None, release: Release) -> PreFunction | None:
    entry = _PRE.get(name or "")
    if entry is None or release < entry[1]:
        return None
    return entry[0]


def pre_process(name: str | None, docs: list[Any], release: Release, *,
                query_text: str | None = None,
                params: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The parameters a pre-process function adds to P for one call (semantics 2.1, 2.2, 2.4).

    ``params`` is P as far as it is known (for the script's convert flag)."""
    if not name:
        if query_text is not None:
            raise IllegalArgumentError("pre_process_function not defined in connector")
        # no function: connector.pre_process.default.embedding is used for text_docs
        return _openai_embedding(docs, None)
    function = builtin_pre_process(name, release)
    if function is None:
        return _script_pre_process(name, _typed_script_params(docs, query_text, params or {}, release), release)
    return function(docs, query_text)


# ---------------------------------------------------------------------------------------------
# Painless scripts (semantics 2.4, 2.7)
# ---------------------------------------------------------------------------------------------


def _gson_escape(text: str) -> str:
    """gson.toJson(doc) without its quotes: JSON escaping with Gson's HTML-safe escapes."""
    out = json.dumps(text, ensure_ascii=False)[1:-1]
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("=", "\\u003d"),
                    ("'", "\\u0027"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(ch, esc)
    return out


def _typed_script_params(docs: list[Any], query_text: str | None, params: Mapping[str, str | None],
                         release: Release) -> dict[str, Any]:
    """The ``params`` a pre-process script sees for a typed input (2.4).

    2.9 handed over only ``text_docs``, unescaped; later releases pre-escape every document
    (and the query) so that scripts can concatenate them into JSON text."""
    if release < (2, 10):
        return {"text_docs": list(docs)}
    escaped = [None if d is None else _gson_escape(str(d)) for d in docs]
    if query_text is not None:
        out: dict[str, Any] = {"algorithm": "TEXT_SIMILARITY", "query_text": _gson_escape(query_text),
                               "text_docs": escaped}
    else:
        out = {"algorithm": "TEXT_EMBEDDING", "text_docs": escaped, "return_bytes": False,
               "return_number": True}
    if params.get("pre_process_function.convert_input_to_json_string") == "true":
        out = {k: v if isinstance(v, str) else _gson_json(v) for k, v in out.items()}
    return out


def remote_input_script_params(params: Mapping[str, str | None]) -> dict[str, Any]:
    """``parameters`` input with ``process_remote_inference_input``: the predict parameters,
    JSON-looking ones parsed when ``convert_remote_inference_param_to_object`` is "true"."""
    out: dict[str, Any] = dict(params)
    if params.get("pre_process_function.convert_remote_inference_param_to_object") == "true":
        for key, value in params.items():
            if isinstance(value, str) and templating.looks_like_json(value):
                try:
                    out[key] = json.loads(value)
                except ValueError:
                    pass
    return out


def _gson_json(value: Any) -> str:
    """gson.toJson of a value Gson parsed from JSON (every number a Double)."""
    from mlcommons_emu.connectors.javajson import _java_double_to_string

    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _java_double_to_string(float(value))
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_gson_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_gson_json(v)}"
                              for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def run_script(source: str, params: Mapping[str, Any], release: Release) -> Any:
    """Compile and run a connector script; failures become the ``script_exception``."""
    from mlcommons_emu import painless

    try:
        script = painless.compile_script(source, escape_helper=release >= (2, 12))
    except painless.PainlessError as exc:
        raise exc.to_script_error(source) from None
    try:
        result = script.execute(dict(params))
    except painless.PainlessError as exc:
        raise script.script_error(exc) from None
    if result is not None and not isinstance(result, str):
        # TemplateScript.execute returns a String: the def return value is cast
        from mlcommons_emu.painless.values import java_class

        error = painless.PainlessError(f"Cannot cast {java_class(result)} to java.lang.String", 0,
                                       java_type="class_cast_exception")
        raise script.script_error(error) from None
    return result


def _script_pre_process(source: str, script_params: Mapping[str, Any], release: Release) -> dict[str, str]:
    """Run a pre-process script; its ``{"parameters": {...}}`` output becomes P entries."""
    result = run_script(source, script_params, release)
    if result is None:
        raise IllegalArgumentError("Preprocess function output is null")
    try:
        document = json.loads(result)
    except ValueError as exc:
        raise IllegalArgumentError(f"Invalid JSON format: {result}") from exc
    parameters = document.get("parameters") if isinstance(document, dict) else None
    out: dict[str, str] = {}
    for key, value in (parameters or {}).items() if isinstance(parameters, dict) else ():
        out[key] = _escaped(value) if isinstance(value, str) else _gson_json(value)
    return out


def script_pre_process_parameters(source: str, params: Mapping[str, str | None], release: Release) -> dict[str, str]:
    """``parameters`` input with ``process_remote_inference_input = "true"`` (2.4)."""
    return _script_pre_process(source, remote_input_script_params(params), release)


def split_documents(docs: list[Any], connector_params: Mapping[str, str], pre_name: str | None,
                    release: Release, *, similarity: bool = False) -> list[list[Any]]:
    """How many calls ``text_docs`` become (semantics 2.3)."""
    if similarity:
        return [list(docs)]
    step = connector_params.get("input_docs_processed_step_size")
    if step is not None:
        try:
            size = int(step)
        except ValueError:
            size = 0
        if size <= 0:
            raise IllegalArgumentError(
                "Invalid parameter: input_docs_processed_step_size. It must be positive integer.")
        return [list(docs[i:i + size]) for i in range(0, len(docs), size)] or [[]]
    if not pre_name:
        return [list(docs)]
    if pre_name == "connector.pre_process.bedrock.embedding":
        return [[doc] for doc in docs] or [[]]
    if builtin_pre_process(pre_name, release) is None:
        # a Painless script: one call per document (2.9 sent all documents in one call)
        return [list(docs)] if release < (2, 10) else [[doc] for doc in docs] or [[]]
    return [list(docs)]


# ---------------------------------------------------------------------------------------------
# JsonPath (the subset connector paths use: $, .name, ['name'], [n], [*])
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"\.\.|\.([A-Za-z_$][\w$-]*)|\[(\*|-?\d+|'[^']*'|\"[^\"]*\")\]|\.\*")


class PathNotFoundError(Exception):
    pass


def json_path(document: Any, path: str) -> Any:
    """Evaluate a JsonPath; a wildcard or ``..`` makes the result a list."""
    path = path.strip()
    if not path.startswith("$"):
        raise PathNotFoundError(f"Path must start with '$': {path}")
    values = [document]
    definite = True
    position = 1
    while position < len(path):
        match = _TOKEN.match(path, position)
        if not match:
            raise PathNotFoundError(f"Could not parse path {path}")
        position = match.end()
        token = match.group(0)
        name, index = match.group(1), match.group(2)
        nxt: list[Any] = []
        if token in (".*", "[*]") or index == "*":
            definite = False
            for v in values:
                if isinstance(v, list):
                    nxt.extend(v)
                elif isinstance(v, dict):
                    nxt.extend(v.values())
        elif token == "..":
            raise PathNotFoundError("deep scan is not supported")
        else:
            key: Any = name
            if index is not None:
                key = int(index) if re.fullmatch(r"-?\d+", index) else index[1:-1]
            for v in values:
                if isinstance(key, int) and isinstance(v, list):
                    if -len(v) <= key < len(v):
                        nxt.append(v[key])
                    elif definite:
                        raise PathNotFoundError(f"Index {key} out of bounds")
                elif isinstance(key, str) and isinstance(v, dict):
                    if key in v:
                        nxt.append(v[key])
                    elif definite:
                        raise PathNotFoundError(f"No results for path: {path}")
                elif definite:
                    raise PathNotFoundError(f"No results for path: {path}")
        values = nxt
    if definite:
        if not values:
            raise PathNotFoundError(f"No results for path: {path}")
        return values[0]
    return values


# ---------------------------------------------------------------------------------------------
# post-process
# ---------------------------------------------------------------------------------------------

_DATA_TYPES = ("FLOAT32", "FLOAT64", "FLOAT16", "UINT8", "INT32", "INT8", "INT64", "BOOLEAN",
               "UNKNOWN", "STRING", "BINARY", "UBINARY")


def _data_type(path: str) -> str:
    lowered = path.lower()
    for name in _DATA_TYPES:
        if "." + name.lower() in lowered:
            return name
    return "FLOAT32"


def _number(value: Any, data_type: str) -> Any:
    if data_type.startswith("FLOAT") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def _tensor(values: list[Any], data_type: str) -> dict[str, Any]:
    data = [_number(v, data_type) for v in values]
    return {"name": "sentence_embedding", "data_type": data_type, "shape": [len(data)], "data": data}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _list_of_lists(value: Any, data_type: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise IllegalArgumentError("Post process function input is not a List.")
    if value:
        if not isinstance(value[0], list):
            raise IllegalArgumentError(
                "The embedding should be a non-empty List containing List of Float values.")
        if not value[0] or not _is_number(value[0][0]):
            raise IllegalArgumentError("The embedding should be a non-empty List containing Float values.")
    return [_tensor(vector, data_type) for vector in value]


def _single_list(value: Any, data_type: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise IllegalArgumentError("Post process function input is not a List.")
    if not value or not _is_number(value[0]):
        raise IllegalArgumentError("The embedding should be a non-empty List containing Float values.")
    return [_tensor(value, data_type)]


def _similarity(score: Any) -> dict[str, Any]:
    return {"name": "similarity", "data_type": "FLOAT32", "shape": [1], "data": [score]}


def _rerank_index(item: Mapping[str, Any], size: int) -> int:
    """The ``(Integer)`` cast and array store of the rerank functions.

    A missing or non-integer index (a double, a string, a boolean) fails the cast, and an index
    past the results (``top_n`` smaller than the documents) overflows the score array: both are
    the 500 of a failed post-process.
    """
    index = item.get("index")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < size:
        raise MLError("Fail to execute PREDICT in aws connector")
    return index


def _cohere_rerank(value: Any, data_type: str) -> list[dict[str, Any]]:
    """cohere.rerank / default.rerank: one ``similarity`` tensor per result, in index order.

    Only the first result is validated.  Every ``relevance_score`` is cast to Double: an
    integer score is a 500, a missing or null one leaves ``null`` in the tensor.
    """
    if not isinstance(value, list):
        raise IllegalArgumentError("Post process function input is not a List.")
    if value and not isinstance(value[0], dict):
        raise IllegalArgumentError("Post process function input is not a List of Map.")
    if value and ("index" not in value[0] or "relevance_score" not in value[0]):
        raise IllegalArgumentError("The rerank result should contain index and relevance_score.")
    scores: list[Any] = [None] * len(value)
    for item in value:
        if not isinstance(item, dict):
            raise MLError("Fail to execute PREDICT in aws connector")
        index = _rerank_index(item, len(scores))
        score = item.get("relevance_score")
        if score is not None and not isinstance(score, float):
            raise MLError("Fail to execute PREDICT in aws connector")
        scores[index] = score
    return [_similarity(score) for score in scores]


def _validate_bedrock_rerank(value: Any) -> None:
    """BedrockRerankPostProcessFunction.validate: every result, before any is read."""
    if not isinstance(value, list):
        raise IllegalArgumentError("Post process function input is not a List.")
    if not value:
        raise IllegalArgumentError("Post process function input is empty.")
    for item in value:
        if not isinstance(item, dict):
            raise IllegalArgumentError("Rerank result is not a Map.")
        if not item:
            raise IllegalArgumentError("Rerank result is empty.")
        if "index" not in item or "relevanceScore" not in item:
            raise IllegalArgumentError("Rerank result should have both index and relevanceScore.")
        if not isinstance(item["relevanceScore"], float):
            raise IllegalArgumentError("relevanceScore is not BigDecimal or Double.")


def _bedrock_rerank(value: Any, data_type: str) -> list[dict[str, Any]]:
    """bedrock.rerank: the Rerank API's ``results`` (``relevanceScore``), in index order."""
    _validate_bedrock_rerank(value)
    scores: list[Any] = [None] * len(value)
    for item in value:
        scores[_rerank_index(item, len(scores))] = item["relevanceScore"]
    return [_similarity(score) for score in scores]


def _batch_job_arn(value: Any, data_type: str) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        raise IllegalArgumentError("Post process function input is not a Map.")
    if "jobArn" not in value:
        raise IllegalArgumentError("job arn is missing.")
    out = dict(value)
    out["processedJobArn"] = str(value["jobArn"]).replace("/", "%2F")
    return [{"name": "response", "dataAsMap": out}]


def _passthrough(value: Any, data_type: str) -> list[dict[str, Any]]:
    results = value.get("inference_results") if isinstance(value, dict) else None
    tensors: list[dict[str, Any]] = []
    for element in results or []:
        tensors.extend(element.get("output") or [])
    return tensors


PostFunction = Callable[[Any, str], list[dict[str, Any]]]

#: name -> (default JsonPath, function, first release with it: MLPostProcessFunction)
_POST: dict[str, tuple[str, PostFunction, tuple[int, int]]] = {
    "connector.post_process.openai.embedding": ("$.data[*].embedding", _list_of_lists, (2, 9)),
    "connector.post_process.cohere.embedding": ("$.embeddings", _list_of_lists, (2, 9)),
    "connector.post_process.default.embedding": ("$[*]", _list_of_lists, (2, 11)),
    "connector.post_process.bedrock.embedding": ("$.embedding", _single_list, (2, 12)),
    "connector.post_process.cohere.rerank": ("$.results", _cohere_rerank, (2, 12)),
    "connector.post_process.default.rerank": ("$[*]", _cohere_rerank, (2, 12)),
    "connector.post_process.bedrock.batch_job_arn": ("$", _batch_job_arn, (2, 18)),
    "connector.post_process.bedrock.rerank": ("$.results", _bedrock_rerank, (2, 19)),
    "connector.post_process.cohere_v2.embedding.float": ("$.embeddings.float", _list_of_lists, (3, 0)),
    "connector.post_process.cohere_v2.embedding.int8": ("$.embeddings.int8", _list_of_lists, (3, 0)),
    "connector.post_process.cohere_v2.embedding.uint8": ("$.embeddings.uint8", _list_of_lists, (3, 0)),
    "connector.post_process.cohere_v2.embedding.binary": ("$.embeddings.binary", _list_of_lists, (3, 0)),
    "connector.post_process.cohere_v2.embedding.ubinary": ("$.embeddings.ubinary", _list_of_lists, (3, 0)),
    "connector.post_process.bedrock_v2.embedding.float": ("$.embeddingsByType.float", _single_list, (3, 0)),
    "connector.post_process.bedrock_v2.embedding.binary": ("$.embeddingsByType.binary", _single_list, (3, 0)),
    "connector.post_process.mlcommons.passthrough": ("$", _passthrough, (3, 3)),
    "connector.post_process.bedrock.nova.embedding": ("$.embeddings[*].embedding", _list_of_lists, (3, 4)),
}


def is_builtin_post_process(name: str | None, release: Release) -> bool:
    entry = _POST.get(name or "")
    return entry is not None and release >= entry[2]


def _script_post_params(body_text: str, release: Release) -> dict[str, Any]:
    """The body as the post-process script's ``params`` (2.5 step 2 and 3)."""
    try:
        body = json.loads(body_text)
    except ValueError:
        if release >= (3, 5):
            raise IllegalArgumentError(f"Invalid JSON format: {body_text}") from None
        return {"response": body_text}
    if release < (3, 5):
        from mlcommons_emu.connectors.runtime import _gson_numbers

        body = _gson_numbers(body)
    if isinstance(body, list):
        return {"result": body}
    if not isinstance(body, dict):
        if release >= (3, 5):
            raise IllegalArgumentError("Unsupported response type")
        return {"response": body}
    return body


_TENSOR_KEYS = ("name", "data_type", "shape", "data", "byte_buffer", "result", "dataAsMap")


def _parse_tensor(value: Any) -> dict[str, Any]:
    """ModelTensor.parse: known keys only, ``data`` only with a ``data_type`` (2.7)."""
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    data_type = value.get("data_type")
    for key in _TENSOR_KEYS:
        if key not in value or value[key] is None:
            continue
        item = value[key]
        if key == "data":
            if data_type is None or not isinstance(item, list):
                continue
            if str(data_type).startswith("FLOAT"):
                item = [float(v) if _is_number(v) else v for v in item]
            elif str(data_type).startswith(("INT", "UINT")):
                item = [int(v) if _is_number(v) else v for v in item]
        elif key == "shape" and isinstance(item, list):
            item = [int(v) if _is_number(v) else v for v in item]
        out[key] = item
    return out


def script_post_process(source: str, body_text: str, release: Release) -> list[dict[str, Any]]:
    """A post-process script: its string result is tensors (JSON) or one response tensor (2.7)."""
    result = run_script(source, _script_post_params(body_text, release), release)
    if result is None:
        result = body_text
    try:
        value = json.loads(result)
    except ValueError:
        return [{"name": "response", "dataAsMap": {"response": result}}]
    if isinstance(value, list):
        return [_parse_tensor(v) for v in value]
    if isinstance(value, dict):
        return [_parse_tensor(value)]
    return [{"name": "response", "dataAsMap": {"response": result}}]


def post_process(name: str, body_text: str, params: Mapping[str, str | None],
                 release: Release) -> list[dict[str, Any]]:
    """Tensors for a provider body under a post-process value (semantics 2.5, 2.6)."""
    entry = _POST.get(name)
    if entry is None or release < entry[2]:
        return script_post_process(name, body_text, release)
    default_path, function, _ = entry
    response_filter = params.get("response_filter")
    path = response_filter if response_filter and response_filter.strip() else default_path
    try:
        body = json.loads(body_text)
        value = json_path(body, path)
    except (ValueError, PathNotFoundError) as exc:
        raise MLError("Fail to execute PREDICT in aws connector") from exc
    if value is None:
        raise IllegalArgumentError("Can't run post process function as model output is null")
    try:
        return function(value, _data_type(path))
    except IllegalArgumentError:
        if release >= (3, 3):
            raise
        # validation failures inside a built-in were 500s before 3.3 (Appendix C)
        raise MLError("Fail to execute PREDICT in aws connector") from None
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise MLError("Fail to execute PREDICT in aws connector") from exc


__all__ = [
    "builtin_pre_process", "is_builtin_post_process", "json_path", "post_process", "pre_process",
    "run_script", "script_post_process", "script_pre_process_parameters", "split_documents",
]
