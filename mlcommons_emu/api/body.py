"""Request bodies: content-type checks and JSON parsing with OpenSearch's parse errors."""
from __future__ import annotations

import json
from typing import Any

from mlcommons_emu.api.messages import RestRequest
from mlcommons_emu.errors import JsonParseError, ParsingError, RouterError

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


def parse_json(request: RestRequest) -> Any:
    """The body as JSON, or None when there is none; Jackson-style errors otherwise."""
    if not request.body:
        return None
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonParseError(
            "Invalid UTF-8 start byte 0x%02x\n at %s; line: 1, column: 1]" % (request.body[0], _SOURCE)
        ) from None
    if not text.strip():
        return None
    try:
        return json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_strict_object)
    except _DuplicateField as exc:
        # XContent enables Jackson's STRICT_DUPLICATE_DETECTION
        raise JsonParseError(f"Duplicate field '{exc.name}'\n at {_SOURCE}; line: 1, column: 1]") from None
    except json.JSONDecodeError as exc:
        raise JsonParseError(_jackson_message(text, exc)) from None
    except ValueError as exc:
        raise JsonParseError(str(exc)) from None
    except RecursionError:
        raise JsonParseError(
            "Document nesting depth exceeds the maximum allowed (1000)") from None


def parse_object(request: RestRequest) -> dict[str, Any] | None:
    """A JSON object body (ensureExpectedToken START_OBJECT), or None when absent."""
    value = parse_json(request)
    if value is None:
        return None
    if not isinstance(value, dict):
        found = "START_ARRAY" if isinstance(value, list) else "VALUE_" + _scalar_token(value)
        raise ParsingError(f"Failed to parse object: expecting token of type [START_OBJECT] but found [{found}]")
    return value


def _scalar_token(value: Any) -> str:
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
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateField(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(
        f"Non-standard token '{name}': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow")


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
