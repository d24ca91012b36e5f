"""Running a parsed search over an index snapshot, answered in OpenSearch's envelope."""
from __future__ import annotations

import functools
import re
import time
from typing import Any

from mlcommons_emu.errors import IllegalArgumentError, QueryShardError
from mlcommons_emu.search import mappings as m
from mlcommons_emu.search.dsl import MAX_RESULT_WINDOW, SearchSource, SortSpec
from mlcommons_emu.search.query import Doc, Query, Searcher, ShardError, Snapshot, java_float

LONG_MAX, LONG_MIN = 9223372036854775807, -9223372036854775808
_TEXT_SORT = ("Text fields are not optimised for operations that require per-document field data like "
              "aggregations and sorting, so these operations are disabled by default. Please use a keyword field "
              "instead. Alternatively, set fielddata=true on [{}] in order to load field data by uninverting the "
              "inverted index. Note that this can use significant memory.")


def empty_response() -> dict[str, Any]:
    """What the plugin answers (2.12+) when the index does not exist yet."""
    return {"took": 0, "timed_out": False,
            "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []}}


def run(source: SearchSource, query: Query | None, snapshot: Snapshot, now: int) -> dict[str, Any]:
    """Search one index snapshot; raises ShardError for what fails on the shard."""
    index, docs = snapshot.index, snapshot.docs
    started = time.perf_counter()
    if source.from_ + source.size > MAX_RESULT_WINDOW:
        raise ShardError(IllegalArgumentError(
            f"Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was "
            f"[{source.from_ + source.size}]. See the scroll api for a more efficient way to request large data "
            "sets. This limit can be set by changing the [index.max_result_window] index level setting."))
    searcher = Searcher(snapshot, now)
    sort_fields = [_sort_field(searcher, spec) for spec in source.sort]
    matched: list[tuple[float, int, Doc]] = []
    for position, doc in enumerate(docs):
        searcher.doc_id = doc.doc_id
        score = 1.0 if query is None else query.score(searcher, doc.source)
        if score is None:
            continue
        score = java_float(score)
        if source.min_score is not None and score < source.min_score:
            continue
        matched.append((score, position, doc))
    by_score = not source.sort or (len(source.sort) == 1 and source.sort[0].field == "_score"
                                   and source.sort[0].order == "desc")
    keyed: list[tuple[list[Any], float, int, Doc]] = []
    for score, position, doc in matched:
        keys = [_sort_value(searcher, spec, field, doc, score, position) for spec, field in zip(source.sort, sort_fields)]
        keyed.append((keys, score, position, doc))
    if by_score:
        keyed.sort(key=lambda k: (-k[1], k[2]))
    else:
        keyed.sort(key=functools.cmp_to_key(lambda a, b: _compare(a, b, source.sort)))
    scores_shown = by_score or source.track_scores
    page = keyed[source.from_: source.from_ + source.size]
    hits = []
    for keys, score, _, doc in page:
        hit: dict[str, Any] = {"_index": index, "_id": doc.doc_id, "_version": doc.version, "_seq_no": doc.seq_no,
                               "_primary_term": 1, "_score": score if scores_shown else None}
        if source.fetch_source:
            hit["_source"] = filter_source(doc.source, source.includes, source.excludes)
        if not by_score:
            hit["sort"] = [_rendered(v, spec) for v, spec in zip(keys, source.sort)]
        hits.append(hit)
    hits_envelope: dict[str, Any] = {}
    total = len(keyed)
    if source.track_total_hits is True:
        hits_envelope["total"] = {"value": total, "relation": "eq"}
    elif source.track_total_hits is not False:
        limit = int(source.track_total_hits)
        hits_envelope["total"] = ({"value": total, "relation": "eq"} if total <= limit
                                  else {"value": limit, "relation": "gte"})
    hits_envelope["max_score"] = (max((k[1] for k in keyed), default=None) if scores_shown else None)
    hits_envelope["hits"] = hits
    took = int((time.perf_counter() - started) * 1000)
    return {"took": took, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": hits_envelope}


def _sort_field(searcher: Searcher, spec: SortSpec) -> m.Field | None:
    if spec.field in ("_score", "_doc", "_id"):
        return None
    field = searcher.field(spec.field)
    if field.kind == m.TEXT:
        raise ShardError(IllegalArgumentError(_TEXT_SORT.format(spec.field)))
    if field.kind in (m.UNMAPPED, m.OBJECT) and spec.unmapped_type is None:
        raise ShardError(QueryShardError(f"No mapping found for [{spec.field}] in order to sort on")
                         .details(index_uuid=_uuid(searcher.index), index=searcher.index))
    return field


def _uuid(index: str) -> str:
    import base64
    import hashlib

    return base64.urlsafe_b64encode(hashlib.sha256(index.encode()).digest()[:16]).decode().rstrip("=")[:22]


class _Missing:
    pass


MISSING = _Missing()


def _sort_value(searcher: Searcher, spec: SortSpec, field: m.Field | None, doc: Doc, score: float,
                position: int) -> Any:
    if spec.field == "_score":
        return score
    if spec.field == "_doc":
        return position
    if spec.field == "_id":
        return doc.doc_id
    if field is None or not field.mapped or field.kind == m.OBJECT:
        return MISSING
    values = searcher.values(field, doc.source)
    if field.kind == m.BOOLEAN:
        values = [1 if v else 0 for v in values]
    if not values:
        if spec.missing not in (None, "_last", "_first"):
            return spec.missing
        return MISSING
    return min(values) if spec.order == "asc" else max(values)


def _compare(a: tuple[list[Any], float, int, Doc], b: tuple[list[Any], float, int, Doc],
             specs: list[SortSpec]) -> int:
    """Field sort: each key in turn, documents without a value last (first with
    ``missing: _first``), then index order."""
    for left, right, spec in zip(a[0], b[0], specs):
        if left is MISSING or right is MISSING:
            if left is right:
                continue
            first = spec.missing == "_first"
            return (-1 if first else 1) if left is MISSING else (1 if first else -1)
        if left == right:
            continue
        if isinstance(left, (int, float)) != isinstance(right, (int, float)):
            left, right = str(left), str(right)
        smaller = left < right
        return (-1 if smaller else 1) * (1 if spec.order == "asc" else -1)
    return a[2] - b[2]


def _rendered(value: Any, spec: SortSpec) -> Any:
    if value is not MISSING:
        return value
    if spec.unmapped_type is not None or spec.field in ("_id",):
        return None
    return LONG_MAX if (spec.order == "asc") != (spec.missing == "_first") else LONG_MIN


# _source filtering (XContentMapValues.filter) ---------------------------------------------------
def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.DOTALL)


def filter_source(source: dict[str, Any], includes: list[str], excludes: list[str]) -> dict[str, Any]:
    if not includes and not excludes:
        return source
    inc = [_glob(p) for p in includes]
    exc = [_glob(p) for p in excludes]
    return _filter_map(source, "", inc, exc, bool(includes))


def _filter_map(value: dict[str, Any], prefix: str, inc: list[re.Pattern[str]], exc: list[re.Pattern[str]],
                restricted: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sub in value.items():
        path = prefix + key
        if any(p.fullmatch(path) for p in exc):
            continue
        included = not restricted or any(p.fullmatch(path) for p in inc)
        if included:
            out[key] = _filter_value(sub, path, inc, exc, False)
            continue
        if isinstance(sub, (dict, list)) and any(_could_match_below(p, path) for p in inc):
            filtered = _filter_value(sub, path, inc, exc, True)
            if filtered not in ({}, []):
                out[key] = filtered
    return out


def _filter_value(value: Any, path: str, inc: list[re.Pattern[str]], exc: list[re.Pattern[str]],
                  restricted: bool) -> Any:
    if isinstance(value, dict):
        return _filter_map(value, path + ".", inc, exc, restricted)
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, (dict, list)):
                filtered = _filter_value(item, path, inc, exc, restricted)
                if filtered not in ({}, []) or not restricted:
                    out.append(filtered)
            elif not restricted:
                out.append(item)
        return out
    return value


def _could_match_below(pattern: re.Pattern[str], path: str) -> bool:
    text = pattern.pattern
    literal = text.split(".*", 1)[0].replace("\\", "")
    return literal.startswith(path + ".") or (".*" in text and (path + ".").startswith(literal)) or \
        (".*" in text and literal.startswith(path + "."))
