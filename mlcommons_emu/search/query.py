"""The query DSL the ML indices are searched with: parsed as OpenSearch parses it, run over
the stored documents with Lucene's matching and BM25 scoring.

Supported: ``match_all``, ``match_none``, ``term``, ``terms``, ``match``, ``match_phrase``,
``multi_match`` (best_fields), ``ids``, ``range``, ``exists``, ``prefix``, ``wildcard``,
``bool``, ``constant_score`` and ``nested``.  Any other query name is refused as OpenSearch
refuses a query it does not know (``parsing_exception``, ``unknown query [...]``).

Scores follow Lucene's BM25 (k1 1.2, b 0.75, idf ``ln(1 + (N - n + 0.5) / (n + 0.5))``)
over the index's documents; term queries on keyword fields have no length norm;
``terms``, ``range``, ``exists``, ``prefix``, ``wildcard`` and ``ids`` score a constant
boost; ``bool`` sums its scoring clauses.
"""
from __future__ import annotations

import abc
import math
import re
import struct
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Protocol

import attrs

from mlcommons_emu.errors import EmulatorError, IllegalArgumentError, ParseError, ParsingError, QueryShardError
from mlcommons_emu.search import mappings as m
from mlcommons_emu.search.mappings import Field, IndexMapping

K1, B = 1.2, 0.75


class ShardError(Exception):
    """A failure while the shard runs the query (wrapped in search_phase_execution_exception)."""

    def __init__(self, error: EmulatorError) -> None:
        super().__init__(error.reason)
        self.error = error


class Doc(Protocol):
    """What a search reads of a stored document (the store's StoredDocument is one)."""

    doc_id: str
    source: dict[str, Any]
    version: int
    seq_no: int


# locations ----------------------------------------------------------------------------------
class Locator:
    """Token locations in the request text, as Jackson reports them (1-based line and
    column).  Occurrences of a key are taken in order, so repeated names resolve to the
    one being parsed."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._seen: Counter[str] = Counter()

    def value_of(self, key: str) -> tuple[int, int]:
        pattern = re.compile(r'"%s"\s*:\s*' % re.escape(key))
        matches = list(pattern.finditer(self.text))
        if not matches:
            return 1, 1
        index = min(self._seen[key], len(matches) - 1)
        self._seen[key] += 1
        return self._position(matches[index].end())

    def _position(self, offset: int) -> tuple[int, int]:
        line = self.text.count("\n", 0, offset) + 1
        return line, offset - (self.text.rfind("\n", 0, offset) + 1) + 1


def parsing_error(message: str, where: tuple[int, int], cause: str | None = None) -> ParsingError:
    error = ParsingError(message).details(line=where[0], col=where[1])
    if cause is not None:
        error.details(caused_by=EmulatorError(f"[{where[0]}:{where[1]}] {cause}").details())
        error.caused_by.type = "named_object_not_found_exception"  # type: ignore[union-attr]
    return error


# the evaluator ------------------------------------------------------------------------------
class Snapshot:
    """One index's documents as of one state of the store, with what searching them
    computes once: the mapping, the indexed terms per field and document, term statistics.
    Reused by every search until the index changes."""

    def __init__(self, index: str, docs: list[Doc]) -> None:
        self.index = index
        self.docs = docs
        self.mapping = IndexMapping(index, (d.source for d in docs))
        self.stats: dict[str, tuple[int, float, Counter[str]]] = {}
        self.idf: dict[tuple[str, str], float] = {}
        self.values: dict[tuple[str, int], list[Any]] = {}


class Searcher:
    """One search over one index snapshot."""

    def __init__(self, snapshot: Snapshot, now: int) -> None:
        self.index = snapshot.index
        self.docs = snapshot.docs
        self.mapping = snapshot.mapping
        self.now = now
        self.doc_id = ""  # the document being scored
        self._stats = snapshot.stats
        self._idf = snapshot.idf
        #: indexed terms per (field, document): statistics and scoring share them
        self._values = snapshot.values
        self.nested: str | None = None
        self._memo: dict[int, Any] = {}

    def memo(self, owner: object, compute: Any) -> Any:
        """A value computed once per search for one query node (its parsed bounds, ...)."""
        key = id(owner)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = compute()
        return found

    def field(self, name: str) -> Field:
        return self.mapping.resolve(name)

    def values(self, field: Field, source: dict[str, Any]) -> list[Any]:
        """The terms indexed for ``field`` in one document (or nested object)."""
        if field.nested != self.nested:
            return []
        if field.nested is not None:
            return self._index_values(field, source)
        key = (field.name, id(source))
        found = self._values.get(key)
        if found is None:
            found = self._values[key] = self._index_values(field, source)
        return found

    def _index_values(self, field: Field, source: dict[str, Any]) -> list[Any]:
        if len(field.path) == 1:  # the common case: a top-level field
            value = source.get(field.path[0])
            raw = [] if value is None else (
                [v for v in value if v is not None] if isinstance(value, list) else [value])
        else:
            raw = m.source_values(source, field.path)
        kind = field.kind
        if kind == m.TEXT:
            out: list[Any] = []
            for value in raw:
                if not isinstance(value, (dict, list)):
                    out.extend(m.analyze(m.keyword_string(value)))
            return out
        if kind == m.KEYWORD:
            return [s for s in (m.keyword_string(v) for v in raw if not isinstance(v, (dict, list)))
                    if field.ignore_above is None or len(s) <= field.ignore_above]
        if kind == m.FLAT:
            out = []
            for value in raw:
                out.extend(m.flat_leaf_strings(value, field.flat_path))
            return out
        if kind in m.NUMERIC:
            return [n for n in (_number(v) for v in raw) if n is not None]
        if kind == m.BOOLEAN:
            return [b for b in (_boolean(v) for v in raw) if b is not None]
        if kind == m.DATE:
            return [d for d in (_date_value(v) for v in raw) if d is not None]
        if kind == m.OBJECT:
            return [v for v in raw if v not in ({}, [])]
        return []

    def stats(self, field: Field) -> tuple[int, float, Counter[str]]:
        """(documents with the field, average length, document frequency per term)."""
        found = self._stats.get(field.name)
        if found is None:
            saved, self.nested = self.nested, field.nested
            doc_count, total, df = 0, 0, Counter()
            for source in self._field_sources(field):
                terms = self.values(field, source)
                if terms:
                    doc_count += 1
                    total += len(terms)
                    df.update(set(map(str, terms)))
            self.nested = saved
            found = self._stats[field.name] = (doc_count, (total / doc_count) if doc_count else 1.0, df)
        return found

    def _field_sources(self, field: Field) -> Iterable[dict[str, Any]]:
        for doc in self.docs:
            if field.nested is None:
                yield doc.source
            else:
                for obj in m.source_values(doc.source, (field.nested,)):
                    yield {field.nested: obj}

    def term_score(self, field: Field, term: str, freq: int, length: int, boost: float) -> float:
        doc_count, avgdl, df = self.stats(field)
        idf = self._idf.get((field.name, term))
        if idf is None:
            n = df.get(term, 0)
            idf = self._idf[(field.name, term)] = math.log(1 + (doc_count - n + 0.5) / (n + 0.5))
        if field.kind == m.TEXT:
            norm = K1 * (1 - B + B * length / avgdl)
        else:
            norm = K1  # keyword-like fields index no norms
        return boost * idf * freq / (freq + norm)


# queries ------------------------------------------------------------------------------------
class Query(abc.ABC):
    boost: float = 1.0

    @abc.abstractmethod
    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        """The document's score, or None when it does not match (every query type says)."""

    def matches(self, s: Searcher, source: dict[str, Any]) -> bool:
        """Whether the document matches (filter context: no score computed)."""
        return self.score(s, source) is not None


@attrs.define
class MatchAll(Query):
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        return self.boost


@attrs.define
class MatchNone(Query):
    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        return None


@attrs.define
class Term(Query):
    field: str
    value: Any
    boost: float = 1.0
    case_insensitive: bool = False

    def matches(self, s: Searcher, source: dict[str, Any]) -> bool:
        field = s.field(self.field)
        if not field.mapped:
            return False
        if field.kind in (m.TEXT, m.KEYWORD, m.FLAT):
            wanted = m.keyword_string(self.value)
            terms = s.values(field, source)
            if self.case_insensitive:
                return any(str(t).lower() == wanted.lower() for t in terms)
            return wanted in terms
        return coerce(field, self.value, now=s.now) in s.values(field, source)

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if not field.mapped:
            return None
        if field.kind in (m.TEXT, m.KEYWORD, m.FLAT):
            wanted = m.keyword_string(self.value)
            terms = [str(t) for t in s.values(field, source)]
            if self.case_insensitive:
                freq = sum(1 for t in terms if t.lower() == wanted.lower())
            else:
                freq = terms.count(wanted)
            if not freq:
                return None
            return s.term_score(field, wanted, freq, len(terms), self.boost)
        target = coerce(field, self.value, now=s.now)
        values = s.values(field, source)
        if target not in values:
            return None
        if field.kind == m.BOOLEAN:
            return s.term_score(field, str(target), 1, 1, self.boost)
        return self.boost


@attrs.define
class Terms(Query):
    field: str
    values: list[Any]
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if not field.mapped or not self.values:
            return None
        present = s.values(field, source)
        if field.kind in (m.TEXT, m.KEYWORD, m.FLAT):
            wanted = {m.keyword_string(v) for v in self.values}
            hit = any(str(t) in wanted for t in present)
        else:
            wanted_values = {coerce(field, v, now=s.now) for v in self.values}
            hit = any(v in wanted_values for v in present)
        return self.boost if hit else None


@attrs.define
class Match(Query):
    field: str
    text: Any
    operator: str = "or"
    minimum_should_match: Any = None
    boost: float = 1.0
    phrase: bool = False

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if not field.mapped:
            return None
        if field.kind != m.TEXT:
            if field.kind in (m.KEYWORD, m.FLAT):
                return Term(self.field, m.keyword_string(self.text), self.boost).score(s, source)
            return Term(self.field, self.text, self.boost).score(s, source)
        wanted = m.analyze(m.keyword_string(self.text))
        if not wanted:
            return None
        terms = [str(t) for t in s.values(field, source)]
        if self.phrase:
            if not _contains_sequence(terms, wanted):
                return None
        counts = Counter(terms)
        matched = [t for t in wanted if counts[t]]
        if self.operator == "and" or self.phrase:
            required = len(wanted)
        else:
            required = max(1, msm(self.minimum_should_match, len(wanted)))
        if len(matched) < required:
            return None
        return sum(s.term_score(field, t, counts[t], len(terms), self.boost) for t in matched)


@attrs.define
class MultiMatch(Query):
    fields: list[str]
    text: Any
    operator: str = "or"
    tie_breaker: float = 0.0
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        scores = []
        for name in self.fields:
            field_name, _, weight = name.partition("^")
            for expanded in _expand(s, field_name):
                value = Match(expanded, self.text, self.operator, boost=self.boost * float(weight or 1)).score(s, source)
                if value is not None:
                    scores.append(value)
        if not scores:
            return None
        best = max(scores)
        return best + self.tie_breaker * (sum(scores) - best)


@attrs.define
class Ids(Query):
    values: list[str]
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        return self.boost if s.doc_id in self.values else None


@attrs.define
class Range(Query):
    field: str
    gt: Any = None
    gte: Any = None
    lt: Any = None
    lte: Any = None
    boost: float = 1.0
    date_format: str | None = None

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if not field.mapped:
            return None
        bounds = s.memo(self, lambda: [
            (op, coerce(field, value, rounding=op, date_format=self.date_format, now=s.now))
            for op, value in (("gt", self.gt), ("gte", self.gte), ("lt", self.lt), ("lte", self.lte))
            if value is not None])
        for value in s.values(field, source):
            if field.kind in (m.TEXT, m.KEYWORD, m.FLAT):
                value = str(value)
            if all(_compare(value, op, bound) for op, bound in bounds):
                return self.boost
        return None


@attrs.define
class Exists(Query):
    field: str
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if field.kind == m.UNMAPPED:
            return None
        if field.kind == m.OBJECT:
            if field.nested is not None or self.field in s.mapping._nested:
                saved, s.nested = s.nested, self.field if self.field in s.mapping._nested else s.nested
                found = [v for v in m.source_values(source, field.path) if v not in ({}, [])]
                s.nested = saved
                return self.boost if found and s.nested == field.nested else None
            return self.boost if any(_has_leaf(v) for v in m.source_values(source, field.path)) else None
        return self.boost if s.values(field, source) else None


@attrs.define
class Pattern(Query):
    """``prefix`` and ``wildcard``: matched against the field's indexed terms."""

    field: str
    regex: re.Pattern[str]
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        field = s.field(self.field)
        if not field.mapped:
            return None
        return self.boost if any(self.regex.fullmatch(str(t)) for t in s.values(field, source)) else None


@attrs.define
class Bool(Query):
    must: list[Query] = attrs.field(factory=list)
    filter: list[Query] = attrs.field(factory=list)
    should: list[Query] = attrs.field(factory=list)
    must_not: list[Query] = attrs.field(factory=list)
    minimum_should_match: Any = None
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        # non-scoring clauses first: the outcome is the same, the work is less
        for clause in self.filter:
            if not clause.matches(s, source):
                return None
        for clause in self.must_not:
            if clause.matches(s, source):
                return None
        total = 0.0
        for clause in self.must:
            value = clause.score(s, source)
            if value is None:
                return None
            total += value
        if self.should:
            required = self._required_should()
            matched = 0
            for clause in self.should:
                value = clause.score(s, source)
                if value is not None:
                    matched += 1
                    total += value
            if matched < required:
                return None
        elif self.minimum_should_match is not None and msm(self.minimum_should_match, 0) > 0:
            return None
        return total * self.boost


    def _required_should(self) -> int:
        """Lucene's default: one should clause when nothing else is required, else none."""
        if self.minimum_should_match is None:
            return 0 if (self.must or self.filter) else 1
        return msm(self.minimum_should_match, len(self.should))

    def matches(self, s: Searcher, source: dict[str, Any]) -> bool:
        for clause in self.filter:
            if not clause.matches(s, source):
                return False
        for clause in self.must_not:
            if clause.matches(s, source):
                return False
        for clause in self.must:
            if not clause.matches(s, source):
                return False
        if self.should:
            required = self._required_should()
            if required and sum(1 for c in self.should if c.matches(s, source)) < required:
                return False
        elif self.minimum_should_match is not None and msm(self.minimum_should_match, 0) > 0:
            return False
        return True


@attrs.define
class ConstantScore(Query):
    inner: Query
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        return self.boost if self.inner.score(s, source) is not None else None


@attrs.define
class Nested(Query):
    path: str
    inner: Query
    score_mode: str = "avg"
    boost: float = 1.0

    def score(self, s: Searcher, source: dict[str, Any]) -> float | None:
        scores = []
        saved, s.nested = s.nested, self.path
        try:
            for obj in m.source_values(source, tuple(self.path.split("."))):
                if isinstance(obj, dict):
                    value = self.inner.score(s, {self.path: obj})
                    if value is not None:
                        scores.append(value)
        finally:
            s.nested = saved
        if not scores:
            return None
        mode = self.score_mode
        if mode == "none":
            return 0.0
        combined = {"avg": sum(scores) / len(scores), "sum": sum(scores), "max": max(scores),
                    "min": min(scores)}.get(mode, sum(scores) / len(scores))
        return combined * self.boost


# helpers -----------------------------------------------------------------------------------
def msm(spec: Any, clauses: int) -> int:
    """Lucene's minimum_should_match arithmetic (integers, percentages, negatives)."""
    if spec is None:
        return 0
    text = str(spec).strip()
    if text.endswith("%"):
        percent = float(text[:-1])
        value = int(clauses * percent / 100) if percent >= 0 else clauses - int(clauses * -percent / 100)
    else:
        value = int(text)
        value = clauses + value if value < 0 else value
    return max(0, value)


def _contains_sequence(terms: list[str], wanted: list[str]) -> bool:
    n = len(wanted)
    return any(terms[i:i + n] == wanted for i in range(len(terms) - n + 1))


def _expand(s: Searcher, pattern: str) -> list[str]:
    if "*" not in pattern:
        return [pattern]
    regex = re.compile(".*".join(re.escape(p) for p in pattern.split("*")))
    names = set(s.mapping._explicit) | set(s.mapping._dynamic_kinds())
    return sorted(n for n in names if regex.fullmatch(n) and s.field(n).kind == m.TEXT)


def _has_leaf(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_leaf(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_leaf(v) for v in value)
    return value is not None


def _compare(value: Any, op: str, bound: Any) -> bool:
    try:
        if op == "gt":
            return value > bound
        if op == "gte":
            return value >= bound
        if op == "lt":
            return value < bound
        return value <= bound
    except TypeError:
        return False


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _boolean(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return None


_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$")


def _date_value(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        if re.fullmatch(r"-?\d+", value):
            return int(value)
        return _parse_iso(value)
    return None


def _parse_iso(text: str) -> int | None:
    found = _ISO.match(text)
    if not found:
        return None
    zone = found.group(8)
    tz = timezone.utc if zone == "Z" else timezone(
        (1 if zone[0] == "+" else -1) * timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
    try:
        moment = datetime(*(int(found.group(i)) for i in range(1, 7)), tzinfo=tz)
    except ValueError:
        return None
    millis = int((found.group(7) or "0").ljust(3, "0")[:3])
    return int(moment.timestamp()) * 1000 + millis


_DATE_MATH = re.compile(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])")
_UNITS = {"s": 1000, "m": 60_000, "h": 3_600_000, "H": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def date_math(text: str, now: int, rounding: str | None) -> int | None:
    """``now``/``<date>||`` followed by ``+1d``, ``-2h``, ``/d`` (rounded per the bound)."""
    if text.startswith("now"):
        base, rest = now, text[3:]
    elif "||" in text:
        anchor, rest = text.split("||", 1)
        parsed = _date_value(anchor)
        if parsed is None:
            return None
        base = parsed
    else:
        return _date_value(text)
    position = 0
    value = base
    for step in _DATE_MATH.finditer(rest):
        if step.start() != position:
            return None
        position = step.end()
        if step.group(4):
            unit = _UNITS.get(step.group(4), 86_400_000)
            floor = value - value % unit
            value = floor + unit - 1 if rounding in ("gt", "lte") else floor
        else:
            amount = int(step.group(2)) * (1 if step.group(1) == "+" else -1)
            unit_name = step.group(3)
            if unit_name in ("y", "M"):
                moment = datetime.fromtimestamp(value / 1000, tz=timezone.utc)
                months = moment.month - 1 + amount * (12 if unit_name == "y" else 1)
                moment = moment.replace(year=moment.year + months // 12, month=months % 12 + 1)
                value = int(moment.timestamp() * 1000)
            else:
                value += amount * _UNITS[unit_name]
    return value if position == len(rest) else None


def coerce(field: Field, value: Any, *, rounding: str | None = None, date_format: str | None = None,
           now: int = 0) -> Any:
    """A query value in the field's type; a value the type cannot take fails the shard."""
    kind = field.kind
    if kind in m.NUMERIC:
        number = _number(value)
        if number is None:
            raise ShardError(QueryShardError(f'failed to create query: For input string: "{value}"'))
        if kind in (m.LONG, m.INTEGER) and isinstance(number, float):
            number = math.floor(number) if rounding in ("gte", "lt") else number
        return number
    if kind == m.BOOLEAN:
        flag = _boolean(value if not isinstance(value, str) else value)
        if flag is None:
            raise ShardError(IllegalArgumentError(
                f"Can't parse boolean value [{value}], expected [true] or [false]"))
        return flag
    if kind == m.DATE:
        parsed = date_math(value, now, rounding) if isinstance(value, str) else _date_value(value)
        if parsed is None:
            fmt = date_format or m.DATE_FORMAT
            reason = f"failed to parse date field [{value}] with format [{fmt}]"
            raise ShardError(ParseError(f"{reason}: [{reason}]"))
        return parsed
    return m.keyword_string(value)


def glob_regex(pattern: str, *, case_insensitive: bool) -> re.Pattern[str]:
    """Lucene's wildcard syntax: ``*`` any run, ``?`` one character, ``\\`` escapes."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


_FLOATS: dict[float, float] = {}


def java_float(value: float) -> float:
    """A score as Lucene computes it: a 32-bit float, written in its shortest form."""
    found = _FLOATS.get(value)
    if found is None:
        if len(_FLOATS) > 65536:
            _FLOATS.clear()
        found = _FLOATS[value] = _shortest_float32(value)
    return found


def _shortest_float32(value: float) -> float:
    rounded = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        candidate = float(f"{rounded:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == rounded:
            return candidate
    return rounded
