"""Request bodies: content-type checks and JSON parsing with OpenSearch's parse errors."""
from __future__ import annotations

import json
import re
import sys
from typing import Any

from mlcommons_emu.api.messages import RestRequest
from mlcommons_emu.errors import JsonParseError, ParsingError, RouterError, StreamConstraintsError

_ACCEPTED_TYPES = ("application/json", "application/x-ndjson", "application/vnd.opensearch+json")
_SOURCE = "[Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)"


def check_content_type(request: RestRequest) -> None:
    """RestController refuses bodies whose Content-Type is not an XContent type (406)."""
    if not request.body:
        return
    content_type = request.header("content-type")
    if content_type is None:
        return  # OpenSearch sniffs the body when no type is given
    media = content_type.split(";")[0].strip().lower()
    if media in _ACCEPTED_TYPES or media.endswith("+json"):
        return
    raise RouterError(f"Content-Type header [{content_type}] is not supported", 406)


def has_content(request: RestRequest) -> bool:
    return len(request.body) > 0


#: Jackson's StreamReadConstraints as OpenSearch configures them (XContentConstraints):
#: nesting depth 1000 (``opensearch.xcontent.depth.max``); Jackson's own default of 1000
#: characters for a number
MAX_DEPTH = 1000
MAX_NUMBER_LENGTH = 1000
#: Python frames a body nested MAX_DEPTH deep needs to be parsed and then walked by the
#: services (each level costs a few frames in the recursive helpers)
_RECURSION_HEADROOM = 6000
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]|-?[0-9][0-9.eE+-]*')
_LONG_NUMBER = re.compile(r"[0-9][0-9.eE+-]{%d,}" % MAX_NUMBER_LENGTH)


def parse_json(request: RestRequest) -> Any:
    """The body as JSON, or None when there is none; Jackson's errors otherwise.

    Malformed JSON is a 400 ``json_parse_exception``.  A body nested deeper than 1000
    levels, or a number longer than 1000 characters, trips Jackson's stream constraints: a
    500 ``stream_constraints_exception``, unless a syntax error comes first.
    """
    if not request.body:
        return None
    text = _strip_comments(_decode(request.body))
    if not text.strip():
        return None
    _ensure_recursion_headroom()
    violation = _first_constraint_violation(text)
    if violation is not None:
        position, error = violation
        _raise_syntax_error_before(text, position)
        raise error
    return _loads(text)


def _strip_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside strings, keeping every position.

    OpenSearch's JsonXContent enables Jackson's ``ALLOW_COMMENTS``, so bodies pasted from
    blueprints with ``// choose a model`` notes parse.  Comments become spaces (newlines
    kept) so error locations still point where Jackson would.
    """
    if "/" not in text:
        return text
    out = list(text)
    i, n, in_string = 0, len(text), False
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == "/" and i + 1 < n and text[i + 1] in "/*":
            end = text.find("\n", i) if text[i + 1] == "/" else text.find("*/", i + 2)
            end = n if end < 0 else (end if text[i + 1] == "/" else end + 2)
            for j in range(i, end):
                if out[j] != "\n":
                    out[j] = " "
            i = end
            continue
        i += 1
    return "".join(out)


def _loads(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except _DuplicateField as exc:
        # XContent enables Jackson's STRICT_DUPLICATE_DETECTION
        raise JsonParseError(f"Duplicate field '{exc.name}'\n at {_SOURCE}; line: 1, column: 1]") from None
    except json.JSONDecodeError as exc:
        raise JsonParseError(_jackson_message(text, exc)) from None
    except ValueError as exc:
        raise JsonParseError(str(exc)) from None


def _decode(body: bytes) -> str:
    """UTF-8 text; an invalid byte is reported as Jackson's UTF-8 decoder reports it."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.reason == "invalid continuation byte" and exc.end < len(body):
            position, kind = exc.end, "middle"
        else:
            position, kind = exc.start, "start"
        if exc.reason == "unexpected end of data":
            message = "Unexpected end-of-input in VALUE_STRING"
        else:
            message = f"Invalid UTF-8 {kind} byte 0x{body[position]:x}"
        raise JsonParseError(f"{message}\n at {_byte_location(body, position)}") from None


def _byte_location(body: bytes, position: int) -> str:
    line = body.count(b"\n", 0, position) + 1
    column = position - body.rfind(b"\n", 0, position) + 1
    return f"{_SOURCE}; line: {line}, column: {column}]"


def _ensure_recursion_headroom() -> None:
    if sys.getrecursionlimit() < _RECURSION_HEADROOM:
        sys.setrecursionlimit(_RECURSION_HEADROOM)


def _first_constraint_violation(text: str) -> tuple[int, StreamConstraintsError] | None:
    """Where Jackson's token stream first breaks a stream constraint, if anywhere."""
    if text.count("[") + text.count("{") <= MAX_DEPTH and _LONG_NUMBER.search(text) is None:
        return None  # cannot happen: skip the token walk
    depth = 0
    for token in _TOKENS.finditer(text):
        first = token.group()[0]
        if first == '"':
            continue
        if first in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return token.start(), StreamConstraintsError(
                    f"Document nesting depth ({depth}) exceeds the maximum allowed ({MAX_DEPTH}, "
                    "from `StreamReadConstraints.getMaxNestingDepth()`)")
        elif first in "]}":
            depth -= 1
        else:
            digits = sum(ch.isdigit() for ch in token.group())
            if digits > MAX_NUMBER_LENGTH:
                return token.start(), StreamConstraintsError(
                    f"Number value length ({digits}) exceeds the maximum allowed ({MAX_NUMBER_LENGTH}, "
                    "from `StreamReadConstraints.getMaxNumberLength()`)")
    return None


def _raise_syntax_error_before(text: str, position: int) -> None:
    """Jackson reads in order: a syntax error ahead of ``position`` is reported instead."""
    prefix = text[:position]
    if not prefix.strip():
        return
    try:
        json.loads(prefix, parse_constant=_reject_constant, object_pairs_hook=_strict_object)
    except json.JSONDecodeError as exc:
        if exc.pos < len(prefix.rstrip()):
            raise JsonParseError(_jackson_message(text, exc)) from None
    except _DuplicateField as exc:
        raise JsonParseError(f"Duplicate field '{exc.name}'\n at {_SOURCE}; line: 1, column: 1]") from None
    except ValueError:
        return


def parse_object(request: RestRequest) -> dict[str, Any] | None:
    """A JSON object body (ensureExpectedToken START_OBJECT), or None when there is no body.

    A body of only whitespace has content but no first token (``found [null]``); a JSON
    ``null`` is the token VALUE_NULL: both are refused like any other non-object.
    """
    if not request.body:
        return None
    value = parse_json(request)
    if value is None and not request.body.strip():
        raise ParsingError("Failed to parse object: expecting token of type [START_OBJECT] but found [null]")
    if not isinstance(value, dict):
        found = "START_ARRAY" if isinstance(value, list) else "VALUE_" + _scalar_token(value)
        raise ParsingError(f"Failed to parse object: expecting token of type [START_OBJECT] but found [{found}]")
    return value


def _scalar_token(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, str):
        return "STRING"
    return "NUMBER"


class _DuplicateField(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _strict_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:  # the first repeated name, as Jackson reports it
            if key in seen:
                raise _DuplicateField(key)
            seen.add(key)
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(
        f"Non-standard token '{name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


# json.loads with these options builds a decoder per call: one is kept
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, object_pairs_hook=_strict_object)


def _jackson_message(text: str, exc: json.JSONDecodeError) -> str:
    line, column = exc.lineno, exc.colno
    location = f"\n at {_SOURCE}; line: {line}, column: {column + 1}]"
    if exc.pos >= len(text):
        return f"Unexpected end-of-input: expected close marker for Object{location}"
    char = text[exc.pos]
    shown = f"'{char}' (code {ord(char)})"
    if exc.msg.startswith("Expecting property name"):
        return f"Unexpected character ({shown}): was expecting double-quote to start field name{location}"
    if exc.msg.startswith("Expecting ',' delimiter"):
        return f"Unexpected character ({shown}): was expecting comma to separate Object entries{location}"
    if exc.msg.startswith("Expecting ':' delimiter"):
        return f"Unexpected character ({shown}): was expecting a colon to separate field name and value{location}"
    if exc.msg.startswith("Extra data"):
        return f"Unexpected character ({shown}): expected end-of-input{location}"
    if exc.msg.startswith("Invalid control character"):
        return (f"Illegal unquoted character ((CTRL-CHAR, code {ord(char)})): has to be escaped using "
                f"backslash to be included in string value{location}")
    return (f"Unexpected character ({shown}): expected a valid value (JSON String, Number, Array, "
            f"Object or token 'null', 'true' or 'false'){location}")
