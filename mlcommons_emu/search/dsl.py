"""Parsing search bodies as OpenSearch's SearchSourceBuilder and query parsers do."""
from __future__ import annotations

from typing import Any, Callable

import attrs

from mlcommons_emu.errors import IllegalArgumentError
from mlcommons_emu.search import query as q
from mlcommons_emu.search.query import Locator, parsing_error
from mlcommons_emu.services.inputs import token_name

MAX_RESULT_WINDOW = 10_000
DEFAULT_TRACK_TOTAL_HITS = 10_000

#: search body sections OpenSearch knows but the emulator does not compute; refused
#: rather than silently ignored
_NOT_EMULATED = ("aggs", "aggregations", "highlight", "suggest", "rescore", "collapse", "script_fields",
                 "docvalue_fields", "stored_fields", "search_after", "slice", "pit", "post_filter",
                 "indices_boost", "ext", "profile", "stats", "derived", "fields", "search_pipeline")
#: accepted and without effect on a single-shard system index
_HARMLESS = ("timeout", "terminate_after", "explain", "version", "seq_no_primary_term", "include_named_queries_score")


@attrs.define
class SortSpec:
    field: str
    order: str  # "asc" | "desc"
    missing: Any = None
    unmapped_type: str | None = None


@attrs.define
class SearchSource:
    query: q.Query | None = None
    from_: int = 0
    size: int = 10
    sort: list[SortSpec] = attrs.field(factory=list)
    fetch_source: bool = True
    includes: list[str] = attrs.field(factory=list)
    excludes: list[str] = attrs.field(factory=list)
    source_given: bool = False
    track_total_hits: int | bool = DEFAULT_TRACK_TOTAL_HITS
    track_scores: bool = False
    min_score: float | None = None


def parse_source(body: dict[str, Any], text: str) -> SearchSource:
    where = Locator(text)
    out = SearchSource()
    for key, value in body.items():
        if key == "query":
            if not isinstance(value, dict):
                raise parsing_error(f"Unknown key for a {token_name(value)} in [query].", where.value_of(key))
            where.value_of(key)
            out.query = parse_query(value, where)
        elif key == "from":
            out.from_ = _int(value, key, where)
            if out.from_ < 0:
                raise IllegalArgumentError(f"[from] parameter cannot be negative, found [{out.from_}]")
        elif key == "size":
            out.size = _int(value, key, where)
            if out.size < 0:
                raise IllegalArgumentError(f"[size] parameter cannot be negative, found [{out.size}]")
        elif key == "sort":
            out.sort = _sorts(value, where)
        elif key == "_source":
            out.source_given = True
            _fetch_source(out, value, where)
        elif key == "track_total_hits":
            if isinstance(value, bool):
                out.track_total_hits = value
            else:
                out.track_total_hits = _int(value, key, where)
                if out.track_total_hits < -1:
                    raise IllegalArgumentError("[track_total_hits] parameter must be positive or equals to -1, "
                                               f"got {out.track_total_hits}")
                if out.track_total_hits == -1:
                    out.track_total_hits = True
        elif key == "track_scores":
            out.track_scores = bool(value)
        elif key == "min_score":
            out.min_score = float(value)
        elif key in _HARMLESS:
            continue
        elif key in _NOT_EMULATED:
            raise IllegalArgumentError(f"mlcommons-emu does not emulate [{key}] in searches of the ML indices")
        else:
            raise parsing_error(f"Unknown key for a {token_name(value)} in [{key}].", where.value_of(key))
    return out


def _int(value: Any, key: str, where: Locator) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise parsing_error(f"Unknown key for a {token_name(value)} in [{key}].", where.value_of(key))
    try:
        return int(value)
    except ValueError:
        raise IllegalArgumentError(f'For input string: "{value}"') from None


def _fetch_source(out: SearchSource, value: Any, where: Locator) -> None:
    """FetchSourceContext.fromXContent: a boolean, a pattern, a list, or an object."""
    if isinstance(value, bool):
        out.fetch_source = value
    elif isinstance(value, str):
        out.includes = [value]
    elif isinstance(value, list):
        out.includes = [str(v) for v in value]
    elif isinstance(value, dict):
        for name, patterns in value.items():
            listed = [patterns] if isinstance(patterns, str) else patterns
            if name in ("includes", "include"):
                out.includes = [str(p) for p in listed]
            elif name in ("excludes", "exclude"):
                out.excludes = [str(p) for p in listed]
            else:
                raise parsing_error(f"Unknown key for a {token_name(patterns)} in [{name}].", where.value_of(name))
    else:
        raise parsing_error("Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found "
                            f"[{token_name(value)}]", where.value_of("_source"))


def _sorts(value: Any, where: Locator) -> list[SortSpec]:
    items = value if isinstance(value, list) else [value]
    out: list[SortSpec] = []
    for item in items:
        if isinstance(item, str):
            out.append(SortSpec(item, "desc" if item == "_score" else "asc"))
        elif isinstance(item, dict):
            for name, spec in item.items():
                if isinstance(spec, str):
                    out.append(SortSpec(name, _order(spec)))
                elif isinstance(spec, dict):
                    order = _order(spec.get("order", "desc" if name == "_score" else "asc"))
                    out.append(SortSpec(name, order, spec.get("missing"), spec.get("unmapped_type")))
                else:
                    raise parsing_error(f"[{name}] failed to parse field [sort]", where.value_of(name))
        else:
            raise parsing_error(f"Unknown key for a {token_name(item)} in [sort].", where.value_of("sort"))
    return out


def _order(value: Any) -> str:
    text = str(value).lower()
    if text not in ("asc", "desc"):
        raise IllegalArgumentError(f"Unknown SortOrder [{value}]")
    return text


# queries ------------------------------------------------------------------------------------
def parse_query(body: dict[str, Any], where: Locator) -> q.Query:
    """AbstractQueryBuilder.parseInnerQueryBuilder: one query name, then its object."""
    if not body:
        raise parsing_error("query malformed, empty clause found", (1, 1))
    names = list(body)
    name = names[0]
    value = body[name]
    location = where.value_of(name)
    if not isinstance(value, dict):
        raise parsing_error(f"[{name}] query malformed, no start_object after query name", location)
    parser = _PARSERS.get(name)
    if parser is None:
        raise parsing_error(f"unknown query [{name}]", location, cause=f"unknown field [{name}]")
    result = parser(value, where, name)
    if len(names) > 1:
        raise parsing_error(f"[{name}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]",
                            where.value_of(names[1]))
    return result


def _boost(spec: dict[str, Any]) -> float:
    return float(spec.get("boost", 1.0))


def _single_field(kind: str, spec: dict[str, Any], where: Locator,
                  allowed: tuple[str, ...]) -> tuple[str, Any, dict[str, Any]]:
    """``{field: value}`` or ``{field: {value: .., boost: ..}}`` (plus top-level boost/_name)."""
    fields = [k for k in spec if k not in ("boost", "_name")]
    if not fields:
        raise IllegalArgumentError(f"[{kind}] query requires a field name" if kind != "range"
                                   else "[range] query does not support [_na_]")
    if len(fields) > 1:
        raise parsing_error(f"[{kind}] query doesn't support multiple fields, found [{fields[0]}] and [{fields[1]}]",
                            where.value_of(fields[1]))
    name = fields[0]
    value = spec[name]
    options: dict[str, Any] = {}
    if isinstance(value, dict):
        options = dict(value)
        for option in options:
            if option not in allowed + ("boost", "_name"):
                raise parsing_error(f"[{kind}] query does not support [{option}]", where.value_of(option))
        value = options.get(allowed[0]) if allowed else None
    elif isinstance(value, list):
        raise parsing_error(f"[{kind}] query does not support array of values", where.value_of(name))
    options.setdefault("boost", spec.get("boost", 1.0))
    return name, value, options


def _term(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    name, value, options = _single_field(kind, spec, where, ("value", "case_insensitive"))
    if value is None:
        raise IllegalArgumentError("value cannot be null")
    return q.Term(name, value, float(options["boost"]), bool(options.get("case_insensitive", False)))


def _terms(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    fields = [k for k in spec if k not in ("boost", "_name", "value_type")]
    if len(fields) != 1:
        raise parsing_error(f"[{kind}] query requires a field with values" if not fields else
                            f"[{kind}] query does not support multiple fields", where.value_of(kind))
    values = spec[fields[0]]
    if not isinstance(values, list):
        raise parsing_error(f"[{kind}] query does not support [{fields[0]}]", where.value_of(fields[0]))
    return q.Terms(fields[0], list(values), _boost(spec))


def _match(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    allowed = ("query", "operator", "minimum_should_match", "analyzer", "fuzziness", "lenient",
               "zero_terms_query", "auto_generate_synonyms_phrase_query", "prefix_length", "max_expansions",
               "fuzzy_transpositions", "slop")
    name, value, options = _single_field(kind, spec, where, allowed)
    if value is None:
        raise IllegalArgumentError(f"[{kind}] requires query value")
    operator = str(options.get("operator", "or")).lower()
    if operator not in ("or", "and"):
        raise IllegalArgumentError(f"operator needs to be either [and, or], but not [{operator}]")
    return q.Match(name, value, operator, options.get("minimum_should_match"), float(options["boost"]),
                   phrase=kind == "match_phrase")


def _multi_match(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    if "query" not in spec:
        raise IllegalArgumentError("[multi_match] requires query value")
    fields = spec.get("fields", ["*"])
    fields = [fields] if isinstance(fields, str) else list(fields)
    kind_name = spec.get("type", "best_fields")
    if kind_name not in ("best_fields", "most_fields"):
        raise IllegalArgumentError(f"mlcommons-emu does not emulate multi_match type [{kind_name}]")
    tie = 1.0 if kind_name == "most_fields" else float(spec.get("tie_breaker", 0.0))
    return q.MultiMatch(fields, spec["query"], str(spec.get("operator", "or")).lower(), tie, _boost(spec))


def _ids(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    values = spec.get("values", [])
    for option in spec:
        if option not in ("values", "boost", "_name", "type", "types"):
            raise parsing_error(f"[ids] query does not support [{option}]", where.value_of(option))
    if not isinstance(values, list):
        raise parsing_error("[ids] failed to parse field [values]", where.value_of("values"))
    return q.Ids([str(v) for v in values], _boost(spec))


def _range(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    allowed = ("gt", "gte", "lt", "lte", "from", "to", "include_lower", "include_upper", "format", "time_zone",
               "relation")
    fields = [k for k in spec if k not in ("boost", "_name")]
    if len(fields) != 1 or not isinstance(spec[fields[0]], dict):
        if len(fields) > 1:
            raise parsing_error(f"[range] query doesn't support multiple fields, found [{fields[0]}] and "
                                f"[{fields[1]}]", where.value_of(fields[1]))
        raise parsing_error("[range] query malformed, no start_object after query name", where.value_of("range"))
    name = fields[0]
    options = spec[name]
    for option in options:
        if option not in allowed + ("boost", "_name"):
            raise parsing_error(f"[range] query does not support [{option}]", where.value_of(option))
    gt, gte, lt, lte = options.get("gt"), options.get("gte"), options.get("lt"), options.get("lte")
    if "from" in options:
        if options.get("include_lower", True):
            gte = options["from"]
        else:
            gt = options["from"]
    if "to" in options:
        if options.get("include_upper", True):
            lte = options["to"]
        else:
            lt = options["to"]
    return q.Range(name, gt, gte, lt, lte, float(options.get("boost", spec.get("boost", 1.0))), options.get("format"))


def _exists(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    if "field" not in spec:
        raise parsing_error("[exists] must be provided with a [field]", where.value_of("exists"))
    return q.Exists(str(spec["field"]), _boost(spec))


def _prefix(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    name, value, options = _single_field(kind, spec, where, ("value", "case_insensitive", "rewrite"))
    if value is None:
        raise IllegalArgumentError("value cannot be null")
    escaped = "".join("\\" + c if c in "*?\\" else c for c in str(value))
    regex = q.glob_regex(escaped + "*", case_insensitive=bool(options.get("case_insensitive")))
    return q.Pattern(name, regex, float(options["boost"]))


def _wildcard(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    name, value, options = _single_field(kind, spec, where, ("value", "wildcard", "case_insensitive", "rewrite"))
    if isinstance(spec.get(name), dict) and "wildcard" in spec[name]:
        value = spec[name]["wildcard"]
    if value is None:
        raise IllegalArgumentError("value cannot be null")
    regex = q.glob_regex(str(value), case_insensitive=bool(options.get("case_insensitive")))
    return q.Pattern(name, regex, float(options["boost"]))


def _clauses(value: Any, where: Locator) -> list[q.Query]:
    items = value if isinstance(value, list) else [value]
    return [parse_query(item, where) if isinstance(item, dict) else _bad_clause(item, where) for item in items]


def _bad_clause(item: Any, where: Locator) -> q.Query:
    raise parsing_error("[_na] query malformed, must start with start_object", (1, 1))


def _bool(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    out = q.Bool()
    for name, value in spec.items():
        if name in ("must", "filter", "should", "must_not"):
            getattr(out, name).extend(_clauses(value, where))
        elif name == "minimum_should_match":
            out.minimum_should_match = value
        elif name == "boost":
            out.boost = float(value)
        elif name in ("_name", "adjust_pure_negative"):
            continue
        else:
            raise parsing_error(f"[bool] query does not support [{name}]", where.value_of(name))
    return out


def _constant_score(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    if "filter" not in spec or not isinstance(spec["filter"], dict):
        raise parsing_error("[constant_score] requires a 'filter' element", where.value_of("constant_score"))
    return q.ConstantScore(parse_query(spec["filter"], where), _boost(spec))


def _nested(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    if "path" not in spec:
        raise parsing_error("[nested] requires 'path' field", where.value_of("nested"))
    if "query" not in spec or not isinstance(spec["query"], dict):
        raise parsing_error("[nested] requires 'query' field", where.value_of("nested"))
    mode = str(spec.get("score_mode", "avg")).lower()
    return q.Nested(str(spec["path"]), parse_query(spec["query"], where), mode, _boost(spec))


def _match_all(spec: dict[str, Any], where: Locator, kind: str) -> q.Query:
    return q.MatchAll(_boost(spec)) if kind == "match_all" else q.MatchNone()


_PARSERS: dict[str, Callable[[dict[str, Any], Locator, str], q.Query]] = {
    "match_all": _match_all, "match_none": _match_all, "term": _term, "terms": _terms, "match": _match,
    "match_phrase": _match, "multi_match": _multi_match, "ids": _ids, "range": _range, "exists": _exists,
    "prefix": _prefix, "wildcard": _wildcard, "bool": _bool, "constant_score": _constant_score,
    "nested": _nested,
}

