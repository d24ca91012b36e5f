"""Parameter conversion, JSON escaping and ${parameters.*}/${credential.*} connector templates."""
from __future__ import annotations

import math
import re
import unicodedata
from decimal import Decimal
from fractions import Fraction
from typing import Any, Callable, Mapping

from mlcommons_emu.errors import IllegalArgumentError, IllegalStateError, StringIndexOutOfBoundsError

__all__ = [
    "to_parameter_string",
    "escape_json",
    "looks_like_json",
    "predict_parameters",
    "merge_parameters",
    "add_to_string_keys",
    "render_template",
    "render_payload",
    "render_url",
    "resolve_credential_headers",
    "render_headers",
    "validate_header_templates",
    "BLOCKED_DYNAMIC_HEADERS",
]

# Release switches are keyword flags whose defaults are release 3.8.  Where each one
# comes from (tags of opensearch-project/ml-commons):
#   legacy_gson=True             2.9-3.2: StringUtils.gson was `new Gson()` (HTML-safe escaping
#                                of < > & = ' as \u003c..., null members of objects dropped);
#                                3.3 switched to disableHtmlEscaping().serializeNulls().
#   org_json_only=True           2.9-2.11: StringUtils.isJson was org.json (20230227) alone;
#                                2.12 added the Gson pass (and org.json 20231013).
#   invalid_payload_style="old"  2.9-2.11: HttpConnector threw "Invalid JSON in payload"; 2.12
#                                changed it to "Invalid payload: <payload>" in the release that
#                                added the Gson pass, so "old" also means the org.json-only check.
#   allow_ndjson=False           before 3.5 (createPayload used isJson, not isJsonOrNdjson).
#   null_default_rewrite=False   2.9 (HttpConnector.fillNullParameters arrived in 2.10).
#   to_string_keys=False         before 2.17 (StringUtils.parseParameters arrived in 2.17).
#   honour_skip_parameter=False  before 2.17 (skip_validating_missing_parameters, 2.17).
#   honour_no_escape_params=False before 3.0 (ConnectorUtils reads no_escape_params from 3.0).
#   predict_wins=False           2.9-2.11 (RemoteConnectorExecutor's second putAll of the input
#                                parameters after pre-processing arrived in 2.12).
#   escape=False                 2.9 (ConnectorUtils.escapeRemoteInferenceInputData, 2.10).
#   predict_time_params=False    2.9-3.6 (AbstractConnector header substitution at deploy only).

_PARAMETERS_PREFIX = "${parameters."
_CREDENTIAL_PREFIX = "${credential."
_TO_STRING = ".toString()"

# ---------------------------------------------------------------------------------------------
# Java primitives: Double.toString, String.trim/isBlank, String.hashCode, HashMap iteration order
# ---------------------------------------------------------------------------------------------


def _java_double_to_string(x: float) -> str:
    # Double.toString as of JDK 19+ (OpenSearch 3.x bundles JDK 21+): the shortest decimal that
    # rounds to x, except that when the shortest has one digit the closest decimal of length 1
    # or 2 is chosen (so Double.MIN_VALUE is "4.9E-324", not "5.0E-324").  Plain notation for
    # 1e-3 <= |x| < 1e7, else computerized scientific notation "d.dddE[-]n".  OpenSearch 2.x ran
    # JDK 17, whose older algorithm occasionally printed a non-shortest digit string; that is
    # not emulated.
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign = "-" if x < 0 else ""
    digits, exp = _java_shortest_digits(abs(x))
    if -3 <= exp < 7:
        if exp >= 0:
            whole = digits[: exp + 1].ljust(exp + 1, "0")
            frac = digits[exp + 1 :] or "0"
        else:
            whole = "0"
            frac = "0" * (-exp - 1) + digits
        return f"{sign}{whole}.{frac}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exp}"


def _decimal_digits(value: Decimal) -> tuple[str, int]:
    """Significant digits (no trailing zeros) and scientific exponent of a positive Decimal."""
    _, digit_tuple, exponent = value.as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    sci = int(exponent) + len(digits) - 1
    return digits.rstrip("0") or "0", sci


def _java_shortest_digits(v: float) -> tuple[str, int]:
    # repr() gives the shortest round-tripping digits, closest to v among the shortest (as Java).
    digits, sci = _decimal_digits(Decimal(repr(v)))
    if len(digits) > 1:
        return digits, sci
    # One-digit case: Java considers every decimal of length 1 or 2 that rounds to v and picks
    # the closest (even significand on a tie).
    exact = Fraction(v)
    best: tuple[Fraction, int, Decimal] | None = None
    for shift in (sci - 2, sci - 1, sci):
        for k in range(10, 100):
            candidate = Decimal(k).scaleb(shift)
            if float(candidate) != v:
                continue
            key = (abs(Fraction(candidate) - exact), k % 2, candidate)
            if best is None or key[:2] < best[:2]:
                best = key
    if best is None:  # cannot happen: the one-digit decimal itself is a candidate
        return digits, sci
    return _decimal_digits(best[2])


def _java_is_whitespace(ch: str) -> bool:
    # Character.isWhitespace: Unicode space/line/paragraph separators except the no-break
    # spaces, plus \t \n \u000B \f \r \u001C-\u001F.
    if ch in "\t\n\u000b\f\r\u001c\u001d\u001e\u001f":
        return True
    if ch in "\u00a0\u2007\u202f":
        return False
    return unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _java_is_blank(text: str) -> bool:
    # String.isBlank
    return all(_java_is_whitespace(ch) for ch in text)


def _java_trim(text: str) -> str:
    # String.trim removes every char <= U+0020 at both ends (not Unicode whitespace).
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def _java_split(text: str, sep: str) -> list[str]:
    # String.split(regex) with limit 0 drops trailing empty strings.
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def _java_length(text: str) -> int:
    # String.length counts UTF-16 code units.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _java_string_hash(text: str) -> int:
    h = 0
    for unit in _utf16_units(text):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h


def _java_hashmap_order(keys: list[str]) -> list[str]:
    # Iteration order of a default java.util.HashMap holding these keys: by bucket index
    # (spread hash & (capacity - 1)), insertion order within a bucket.  The plugin walks header
    # maps held in HashMaps (AbstractConnector.createDecryptedHeaders / substitute...), so when
    # several headers are wrong this decides which error is reported.  Treeified buckets (8+
    # collisions) are not modelled.
    capacity = 16
    while len(keys) > capacity * 3 // 4:
        capacity *= 2

    def bucket(key: str) -> int:
        h = _java_string_hash(key)
        return (h ^ (h >> 16)) & (capacity - 1)

    return [key for _, _, key in sorted((bucket(k), i, k) for i, k in enumerate(keys))]


# ---------------------------------------------------------------------------------------------
# Gson serialisation (StringUtils.getParameterMap -> gson.toJson)
# ---------------------------------------------------------------------------------------------

_GSON_REPLACEMENTS = {chr(i): "\\u%04x" % i for i in range(0x20)}
_GSON_REPLACEMENTS.update({'"': '\\"', "\\": "\\\\", "\t": "\\t", "\b": "\\b", "\n": "\\n",
                           "\r": "\\r", "\f": "\\f", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_GSON_HTML_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027"}


def _gson_quote(text: str, *, html_safe: bool) -> str:
    # com.google.gson.stream.JsonWriter.string: lower-case \u00XX for control chars, \u2028 and
    # \u2029 always escaped, non-ASCII otherwise raw; `new Gson()` (html_safe) also escapes
    # < > & = '.  "/" is never escaped.
    out = ['"']
    for ch in text:
        replacement = _GSON_REPLACEMENTS.get(ch)
        if replacement is None and html_safe:
            replacement = _GSON_HTML_SAFE.get(ch)
        out.append(ch if replacement is None else replacement)
    out.append('"')
    return "".join(out)


def _gson_double(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        # Gson.checkValidFloatingPoint; thrown inside getParameterMap, so it reaches the caller
        # as a 400 illegal_argument_exception.  (JSON bodies cannot normally produce it.)
        raise IllegalArgumentError(
            f"{_java_double_to_string(value)} is not a valid double value as per JSON "
            "specification. To override this behavior, use "
            "GsonBuilder.serializeSpecialFloatingPointValues() method.")
    return _java_double_to_string(value)


def _java_string_value(key: Any) -> str:
    # String.valueOf(mapKey) as MapTypeAdapterFactory writes object member names.
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return _java_double_to_string(key)
    return str(key)


def _gson_to_json(value: Any, *, legacy: bool) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        # common/.../input/remote/RemoteInferenceMLInput.java (every release 2.9-3.8):
        # parameters = StringUtils.getParameterMap(parser.map()).  XContent's parser.map() yields
        # Integer/Long/BigInteger for JSON integers, which Gson prints with toString(): 5 stays
        # "5", never "5.0" (that only happens where Gson *parses* JSON into a Map).
        return str(value)
    if isinstance(value, float):
        # JSON fractions/exponents are Doubles; Gson prints Double.toString.
        return _gson_double(value)
    if isinstance(value, str):
        return _gson_quote(value, html_safe=legacy)
    if isinstance(value, Mapping):
        members = []
        for key, item in value.items():
            if item is None and legacy:
                continue  # `new Gson()` does not serializeNulls: the member is dropped
            members.append(_gson_quote(_java_string_value(key), html_safe=legacy) + ":"
                           + _gson_to_json(item, legacy=legacy))
        return "{" + ",".join(members) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_gson_to_json(item, legacy=legacy) for item in value) + "]"
    raise TypeError(f"cannot convert {type(value).__name__} to a parameter string")


def to_parameter_string(value: Any, *, legacy_gson: bool = False) -> str | None:
    """One parameter value as the plugin stores it (``StringUtils.getParameterMap``).

    Strings pass through; ``None`` is returned as ``None`` (a Java null inside an already
    string-typed map).  Note that ``getParameterMap`` itself turns a JSON ``null`` into the
    four-letter string ``"null"`` (``gson.toJson(null)``): ``predict_parameters`` does that.
    Everything else is compact Gson JSON: ints as written, floats as ``Double.toString``
    (``0.7``, ``1.0E-5``, ``100.0``), ``true``/``false``, lists/dicts compact with non-ASCII
    kept raw.  From 3.3 the Gson has HTML escaping disabled and serialises nulls; with
    ``legacy_gson=True`` (2.9-3.2, plain ``new Gson()``) ``< > & = '`` become ``\\u003c`` etc.
    and object members whose value is null are dropped.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return _gson_to_json(value, legacy=legacy_gson)


def _gson_string_body(text: str, *, legacy_gson: bool) -> str:
    # StringUtils.processTextDoc: gson.toJson(string) without the surrounding quotes.
    return _gson_quote(text, html_safe=legacy_gson)[1:-1]


# ---------------------------------------------------------------------------------------------
# Apache Commons Text StringEscapeUtils.escapeJson
# ---------------------------------------------------------------------------------------------

_ESCAPE_JSON_LOOKUP = {'"': '\\"', "\\": "\\\\", "/": "\\/",
                       "\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}


def escape_json(text: str) -> str:
    """``StringEscapeUtils.escapeJson`` (commons-text 1.10-1.14, identical rules).

    ``" \\ /`` and ``\\b \\n \\t \\f \\r`` get backslash escapes; every other code point outside
    0x20..0x7E becomes upper-case ``\\uXXXX`` over UTF-16 code units (astral characters give a
    surrogate pair of escapes).
    """
    out = []
    for ch in text:
        replacement = _ESCAPE_JSON_LOOKUP.get(ch)
        if replacement is not None:
            out.append(replacement)
            continue
        code = ord(ch)
        if 0x20 <= code <= 0x7E:
            out.append(ch)
        elif code > 0xFFFF:  # JavaUnicodeEscaper.toUtf16Escape
            code -= 0x10000
            out.append("\\u%04X\\u%04X" % (0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
        else:
            out.append("\\u%04X" % code)
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# "Looks like JSON": StringUtils.isJson = org.json (object, else array) and, from 2.12,
# Gson lenient parsing of the whole text.
# ---------------------------------------------------------------------------------------------


class _NotJson(Exception):
    pass


def _java_hex_digit(ch: str) -> int:
    # Character.digit(ch, 16), as Integer.parseInt uses it (Unicode digits and full-width
    # latin letters count).
    if "0" <= ch <= "9":
        return ord(ch) - 48
    if "a" <= ch <= "f" or "A" <= ch <= "F":
        return int(ch, 16)
    if "\uff21" <= ch <= "\uff26":
        return ord(ch) - 0xFF21 + 10
    if "\uff41" <= ch <= "\uff46":
        return ord(ch) - 0xFF41 + 10
    digit = unicodedata.decimal(ch, -1)
    return digit


def _java_parse_hex_int(text: str) -> int:
    # Integer.parseInt(text, 16): optional sign, then at least one digit.
    sign, body = 1, text
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        raise _NotJson
    value = 0
    for ch in body:
        digit = _java_hex_digit(ch)
        if digit < 0:
            raise _NotJson
        value = value * 16 + digit
    return sign * value


class _OrgJson:
    """org.json JSONTokener/JSONObject/JSONArray acceptance (versions 20230227 and 20231013).

    Only whether parsing throws matters.  Facts mirrored: no check for trailing text after the
    top-level value; whitespace is any char <= U+0020; a NUL char reads as end of input (but is
    consumed); unquoted tokens run up to one of ``,:]}/\\"[{;=#`` or a control char and may
    contain spaces; strings may be single-quoted but not contain raw CR/LF; arrays accept empty
    slots and a trailing comma; objects accept ``;`` as separator and a trailing comma, require
    ``:`` after a key, and reject duplicate keys.  20231013 reads keys with nextSimpleValue (no
    object/array keys); 20230227 read them with nextValue, which let an array be a key after a
    separator.
    """

    def __init__(self, text: str, *, legacy: bool) -> None:
        self.text = text
        self.pos = 0
        self.eof = False
        self.previous = "\0"
        self.legacy = legacy

    def next(self) -> str:
        if self.pos >= len(self.text):
            self.eof = True
            return "\0"
        ch = self.text[self.pos]
        self.pos += 1
        if ch == "\0":
            self.eof = True
            return "\0"
        self.previous = ch
        return ch

    def back(self) -> None:
        self.pos -= 1
        self.eof = False

    def next_clean(self) -> str:
        while True:
            ch = self.next()
            if ch == "\0" or ch > " ":
                return ch

    def next_n(self, count: int) -> str:
        chars = []
        for _ in range(count):
            ch = self.next()
            if self.eof:
                raise _NotJson  # "Substring bounds error"
            chars.append(ch)
        return "".join(chars)

    def value(self) -> Any:
        ch = self.next_clean()
        if ch == "{":
            self.back()
            return self.object()
        if ch == "[":
            self.back()
            return self.array()
        return self.simple_value(ch)

    def simple_value(self, ch: str) -> Any:
        if ch in ('"', "'"):
            return self.string(ch)
        chars = []
        while ch >= " " and ch not in ',:]}/\\"[{;=#':
            chars.append(ch)
            ch = self.next()
        if not self.eof:
            self.back()
        token = _java_trim("".join(chars))
        if token == "":
            raise _NotJson  # "Missing value"
        lowered = token.lower()
        if lowered in ("true", "false", "null"):
            return lowered  # JSONObject.stringToValue -> Boolean / NULL, whose toString is this
        return token

    def string(self, quote: str) -> str:
        chars = []
        while True:
            ch = self.next()
            if ch in ("\0", "\n", "\r"):
                raise _NotJson  # "Unterminated string"
            if ch == "\\":
                ch = self.next()
                if ch == "u":
                    chars.append(chr(_java_parse_hex_int(self.next_n(4)) & 0xFFFF))
                elif ch in ("b", "t", "n", "f", "r"):
                    chars.append({"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r"}[ch])
                elif ch in ('"', "'", "\\", "/"):
                    chars.append(ch)
                else:
                    raise _NotJson  # "Illegal escape."
            elif ch == quote:
                return "".join(chars)
            else:
                chars.append(ch)

    def object(self) -> str:
        if self.next_clean() != "{":
            raise _NotJson
        keys: set[str] = set()
        while True:
            prev = self.previous
            ch = self.next_clean()
            if ch == "\0":
                raise _NotJson
            if ch == "}":
                return "{}"
            if self.legacy:
                if ch in "{[" and prev == "{":
                    raise _NotJson  # "A JSON Object can not directly nest another ..."
                self.back()
                key = str(self.value())
            else:
                key = str(self.simple_value(ch))
            if self.next_clean() != ":":
                raise _NotJson
            if key in keys:
                raise _NotJson  # "Duplicate key"
            keys.add(key)
            self.value()
            ch = self.next_clean()
            if ch in (",", ";"):
                if self.next_clean() == "}":
                    return "{}"
                if self.eof:
                    raise _NotJson
                self.back()
            elif ch == "}":
                return "{}"
            else:
                raise _NotJson

    def array(self) -> str:
        if self.next_clean() != "[":
            raise _NotJson
        ch = self.next_clean()
        if ch == "\0":
            raise _NotJson
        if ch == "]":
            return "[]"
        self.back()
        while True:
            if self.next_clean() == ",":
                self.back()  # empty slot: JSONObject.NULL
            else:
                self.back()
                self.value()
            ch = self.next_clean()
            if ch == ",":
                ch = self.next_clean()
                if ch == "\0":
                    raise _NotJson
                if ch == "]":
                    return "[]"
                self.back()
            elif ch == "]":
                return "[]"
            else:
                raise _NotJson


def _org_json_accepts(text: str, *, legacy: bool) -> bool:
    # StringUtils.isValidJsonString: new JSONObject(text), else new JSONArray(text).
    for method in ("object", "array"):
        try:
            getattr(_OrgJson(text, legacy=legacy), method)()
            return True
        except (_NotJson, RecursionError):  # StackOverflowError -> JSONException in org.json
            continue
    return False


_GSON_NON_LITERAL = frozenset("/\\;#={}[]:, \t\f\r\n")


class _GsonLenient:
    """Acceptance of ``gson.fromJson(text, Object.class)``: a lenient JsonReader plus the
    "JSON document was not fully consumed" check.

    Mirrored from JsonReader: whitespace is only space/tab/CR/LF; ``//``, ``/* */`` and ``#``
    comments are skipped; unquoted literals stop at whitespace and at ``/\\;#={}[]:,``; names may
    be unquoted or single-quoted and be followed by ``:``, ``=`` or ``=>``; ``;`` separates like
    ``,``; arrays accept empty slots and a trailing comma but objects reject a trailing comma
    ("Expected name"); escapes are ``\\uXXXX`` (ASCII hex),
    ``\\t \\b \\n \\r \\f \\' \\" \\\\ \\/`` and backslash-newline.  Duplicate keys are
    accepted (ObjectTypeAdapter overwrites).  After the value only space/tab/CR/LF may follow.
    The nesting limit of newer Gson versions is not modelled.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def next_non_whitespace(self, throw_on_eof: bool = True) -> str | None:
        text, end = self.text, len(self.text)
        while self.pos < end:
            ch = text[self.pos]
            self.pos += 1
            if ch in " \r\t\n":
                continue
            if ch == "/":
                if self.pos == end:
                    return ch
                peek = text[self.pos]
                if peek == "*":
                    close = text.find("*/", self.pos + 1)
                    if close < 0:
                        raise _NotJson  # "Unterminated comment"
                    self.pos = close + 2
                    continue
                if peek == "/":
                    self.pos += 1
                    self.skip_to_end_of_line()
                    continue
                return ch
            if ch == "#":
                self.skip_to_end_of_line()
                continue
            return ch
        if throw_on_eof:
            raise _NotJson  # EOFException "End of input"
        return None

    def skip_to_end_of_line(self) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            if ch in "\n\r":
                return

    def literal(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] not in _GSON_NON_LITERAL:
            self.pos += 1

    def string(self, quote: str) -> None:
        text, end = self.text, len(self.text)
        while True:
            if self.pos >= end:
                raise _NotJson  # "Unterminated string"
            ch = text[self.pos]
            self.pos += 1
            if ch == quote:
                return
            if ch == "\\":
                if self.pos >= end:
                    raise _NotJson
                escaped = text[self.pos]
                self.pos += 1
                if escaped == "u":
                    digits = text[self.pos : self.pos + 4]
                    if len(digits) < 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                        raise _NotJson  # "Malformed Unicode escape"
                    self.pos += 4
                elif escaped not in "tbnrf\n'\"\\/":
                    raise _NotJson  # "Invalid escape sequence"

    def value(self, ch: str) -> None:
        if ch == "{":
            self.object()
        elif ch == "[":
            self.array()
        elif ch in ('"', "'"):
            self.string(ch)
        elif ch not in _GSON_NON_LITERAL:
            self.literal()
        else:
            raise _NotJson  # "Expected value" / "Unexpected value"

    def array(self) -> None:
        ch = self.next_non_whitespace()
        if ch == "]":
            return
        first = True
        while True:
            if ch in (",", ";") or (ch == "]" and not first):
                self.pos -= 1  # a 0-length element is null; the separator is read again
            else:
                self.value(ch)
            first = False
            ch = self.next_non_whitespace()
            if ch == "]":
                return
            if ch not in (",", ";"):
                raise _NotJson  # "Unterminated array"
            ch = self.next_non_whitespace()

    def object(self) -> None:
        ch = self.next_non_whitespace()
        if ch == "}":
            return
        while True:
            if ch in ('"', "'"):
                self.string(ch)
            elif ch is not None and ch not in _GSON_NON_LITERAL:
                self.literal()
            else:
                raise _NotJson  # "Expected name"
            ch = self.next_non_whitespace()
            if ch == "=":
                if self.pos < len(self.text) and self.text[self.pos] == ">":
                    self.pos += 1
            elif ch != ":":
                raise _NotJson  # "Expected ':'"
            self.value(self.next_non_whitespace())
            ch = self.next_non_whitespace()
            if ch == "}":
                return
            if ch not in (",", ";"):
                raise _NotJson  # "Unterminated object"
            ch = self.next_non_whitespace()

    def document(self) -> None:
        self.value(self.next_non_whitespace())
        # Gson.assertFullConsumption peeks after fromJson has restored the reader's
        # LEGACY_STRICT mode, so only plain whitespace may follow (a trailing comment fails).
        if any(ch not in " \t\r\n" for ch in self.text[self.pos :]):
            raise _NotJson  # "JSON document was not fully consumed." / MalformedJsonException


def _gson_accepts(text: str) -> bool:
    try:
        _GsonLenient(text).document()
        return True
    except (_NotJson, RecursionError):
        return False


def looks_like_json(text: str, *, org_json_only: bool = False) -> bool:
    """``StringUtils.isJson``: a lenient JSON object/array check.

    From 2.12: not blank, accepted by org.json (``new JSONObject``, else ``new JSONArray``) and
    by Gson in lenient mode as one whole document.  Leniency means ``[abc]``, ``{a: 'b'}``,
    ``[1,,2]`` count; scalars (``5``, ``"x"``, ``null``) never do.  Because both parsers must
    agree, ``[abc def]`` (Gson stops a bare word at the space) and ``{"a":1,}`` (Gson rejects
    the trailing comma) do not count, nor does an object followed by more text.
    ``org_json_only=True`` is 2.9-2.11, where org.json alone decided (so trailing text after
    the first complete object/array was ignored).
    """
    if text is None:
        return False
    if org_json_only:
        return _org_json_accepts(text, legacy=True)
    if _java_is_blank(text):
        return False
    return _org_json_accepts(text, legacy=False) and _gson_accepts(text)


def _json_or_ndjson(text: str) -> bool:
    # StringUtils.isJsonOrNdjson (3.5+): whole text is JSON, or every non-empty trimmed line
    # (split on \r?\n) is.
    if text is None or _java_is_blank(text):
        return False
    if looks_like_json(text):
        return True
    for line in _java_split(re.sub(r"\r?\n", "\n", text), "\n"):
        trimmed = _java_trim(line)
        if trimmed and not looks_like_json(trimmed):
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Parameter maps
# ---------------------------------------------------------------------------------------------


def _no_escape_keys(value: str | None) -> frozenset[str]:
    # ConnectorUtils.escapeRemoteInferenceInputData: split(","), each trim()med.
    if not value:
        return frozenset()
    return frozenset(_java_trim(part) for part in _java_split(value, ","))


def predict_parameters(raw: Mapping[str, Any], *, escape: bool = True, legacy_gson: bool = False,
                       org_json_only: bool = False,
                       honour_no_escape_params: bool = True) -> dict[str, str | None]:
    """The predict request's ``parameters`` as they enter ``P`` (semantics 1.2, 1.3).

    Conversion is ``StringUtils.getParameterMap`` (``RemoteInferenceMLInput`` parses the body
    with XContent ``parser.map()``, so integers stay integers: ``5`` -> ``"5"``); a JSON
    ``null`` becomes the string ``"null"`` there (``gson.toJson(null)``), not a Java null.
    Escaping is ``ConnectorUtils.escapeRemoteInferenceInputData``: a null stays null; a value
    that ``looks_like_json`` is kept; a key named in ``no_escape_params`` (comma-separated,
    trimmed; read from the converted map) is kept; anything else goes through
    ``escape_json``.  ``escape=False`` is 2.9 (raw values).  The same rule applies to the
    output of a pre-process function, so it can be passed through this function too.
    Connector ``parameters`` are converted the same way (use ``escape=False``).
    """
    converted: dict[str, str | None] = {}
    for key, value in raw.items():
        text = to_parameter_string(value, legacy_gson=legacy_gson)
        converted[str(key)] = "null" if text is None else text
    if not escape:
        return converted
    exempt = _no_escape_keys(converted.get("no_escape_params")) if honour_no_escape_params \
        else frozenset()
    escaped: dict[str, str | None] = {}
    for key, value in converted.items():
        if value is None:
            escaped[key] = None
        elif looks_like_json(value, org_json_only=org_json_only):
            escaped[key] = value  # "no need to escape if it's already valid json"
        elif key in exempt:
            escaped[key] = value
        else:
            escaped[key] = escape_json(value)
    return escaped


def merge_parameters(connector_params: Mapping[str, str], predict_params: Mapping[str, str | None],
                     preprocess_params: Mapping[str, str | None] | None = None, *,
                     predict_wins: bool = True) -> dict[str, str | None]:
    """``P`` as RemoteConnectorExecutor.preparePayloadAndInvoke builds it (semantics 1.1).

    Layers: connector parameters, predict parameters, pre-process output, then (from 2.12) the
    predict parameters again, so predict-time values win over both.  ``predict_wins=False`` is
    2.9-2.11, where the pre-process output was written last.
    """
    merged: dict[str, str | None] = dict(connector_params or {})
    merged.update(predict_params or {})
    if preprocess_params:
        merged.update(preprocess_params)
    if predict_wins:
        merged.update(predict_params or {})
    return merged


_TO_STRING_PATTERN = re.compile(
    # Java's "." excludes all line terminators, so the lazy group cannot cross them.
    r"\$\{parameters\.([^\n\r\u0085\u2028\u2029]+?)\.toString\(\)\}")


def add_to_string_keys(params: Mapping[str, str | None], *,
                       legacy_gson: bool = False) -> dict[str, str | None]:
    """``StringUtils.parseParameters``: a copy of ``P`` with the ``X.toString()`` helper keys.

    For every ``${parameters.X.toString()}`` found in a *value* of ``P``, key ``X.toString()``
    gets ``P[X]`` encoded as a Gson string without the quotes.  The pattern is Java's lazy
    ``\\$\\{parameters\\.(.+?)\\.toString\\(\\)\\}``: when another ``${parameters.Y}`` precedes
    it on the same line the captured name swallows it (``Y} ... ${parameters.X``), no key is
    added, and the placeholder later counts as missing.  The plugin mutates ``P`` in
    ``HttpConnector.createPayload`` (only for actions with a ``request_body``), so the URL and
    headers rendered after it see these keys as well.
    """
    prefixes = []
    for value in params.values():
        if value is not None:
            prefixes.extend(match.group(1) for match in _TO_STRING_PATTERN.finditer(value))
    result = dict(params)
    for prefix in prefixes:
        value = result.get(prefix)
        if value is not None:
            result[prefix + _TO_STRING] = _gson_string_body(value, legacy_gson=legacy_gson)
    return result


# ---------------------------------------------------------------------------------------------
# The substitution engine: org.apache.commons.text.StringSubstitutor (1.10-1.14), configured
# with a map lookup, the given prefix, suffix "}", escape '$' and value delimiter ":-".
# Variable-in-variable substitution is off; substitution in values (recursion) is on.
# ---------------------------------------------------------------------------------------------


class _StringSubstitutor:
    def __init__(self, lookup: Callable[[str], str | None], prefix: str, suffix: str = "}",
                 escape: str = "$", value_delimiter: str = ":-") -> None:
        self.lookup = lookup
        self.prefix = prefix
        self.suffix = suffix
        self.escape = escape
        self.delimiter = value_delimiter

    @staticmethod
    def _match(token: str, buf: list[str], pos: int, buf_end: int) -> int:
        # StringMatcher.isMatch: the token must fit before buf_end.
        size = len(token)
        if pos + size > buf_end:
            return 0
        for i in range(size):
            if buf[pos + i] != token[i]:
                return 0
        return size

    def replace(self, source: str | None) -> str | None:
        if source is None:
            return None
        buf = list(source)
        altered, _ = self._substitute(buf, 0, len(source), None)
        return "".join(buf) if altered else source

    def _substitute(self, buf: list[str], offset: int, length: int,
                    prior: list[str] | None) -> tuple[bool, int]:
        altered = False
        length_change = 0
        buf_end = offset + length
        pos = offset
        esc_pos = -1
        while pos < buf_end:
            start_len = self._match(self.prefix, buf, pos, buf_end)
            if not start_len:
                pos += 1
                continue
            if pos > offset and buf[pos - 1] == self.escape:
                # escape detected; the '$' is deleted only if a complete variable follows
                esc_pos = pos - 1
            start_pos = pos
            pos += start_len
            restart = False
            while pos < buf_end:
                end_len = self._match(self.suffix, buf, pos, buf_end)
                if not end_len:
                    pos += 1
                    continue
                if esc_pos >= 0:
                    del buf[esc_pos]
                    esc_pos = -1
                    length_change -= 1
                    altered = True
                    buf_end -= 1
                    pos = start_pos + 1
                    start_pos -= 1
                    restart = True
                    break
                var_expr = "".join(buf[start_pos + start_len : pos])
                pos += end_len
                end_pos = pos
                var_name, default = var_expr, None
                for i in range(len(var_expr)):
                    if var_expr.startswith(self.prefix, i):
                        break  # a nested prefix stops the search for ":-"
                    if var_expr.startswith(self.delimiter, i):
                        var_name = var_expr[:i]
                        default = var_expr[i + len(self.delimiter) :]
                        break
                if prior is None:
                    prior = ["".join(buf[offset : offset + length])]  # midString(offset, length)
                if var_name in prior:
                    # StringSubstitutor.checkCyclicSubstitution
                    chain = "->".join(prior[1:])
                    raise IllegalStateError(
                        f"Infinite loop in property interpolation of {prior[0]}: {chain}")
                prior.append(var_name)
                value = self.lookup(var_name)
                if value is None:
                    value = default
                if value is not None:
                    value_len = len(value)
                    buf[start_pos:end_pos] = list(value)
                    altered = True
                    _, change = self._substitute(buf, start_pos, value_len, prior)
                    change += value_len - (end_pos - start_pos)
                    pos += change
                    buf_end += change
                    length_change += change
                prior.pop()
                break
            if restart:
                continue
        return altered, length_change


def _map_lookup(values: Mapping[str, str | None] | None) -> Callable[[str], str | None]:
    # StringLookupFactory.mapStringLookup: absent key or null value -> null.
    def lookup(name: str) -> str | None:
        if not values:
            return None
        value = values.get(name)
        return None if value is None else str(value)
    return lookup


def _substitute_parameters(template: str, params: Mapping[str, str | None] | None) -> str:
    return _StringSubstitutor(_map_lookup(params), _PARAMETERS_PREFIX).replace(template)


_NULL_DEFAULT_PATTERN = re.compile(r'"\$\{parameters\.([A-Za-z0-9_]+):-null}"')  # Java \w is ASCII


def _fill_null_parameters(params: Mapping[str, str | None], payload: str) -> str:
    # HttpConnector.fillNullParameters: the quoted text "${parameters.NAME:-null}" becomes a
    # bare null when NAME is absent or Java-null.
    for name in _NULL_DEFAULT_PATTERN.findall(payload):
        if params.get(name) is None:
            payload = payload.replace('"${parameters.' + name + ':-null}"', "null")
    return payload


def render_template(template: str, params: Mapping[str, str | None], *,
                    null_default_rewrite: bool = True, to_string_keys: bool = True,
                    legacy_gson: bool = False) -> str:
    """Render a ``request_body`` template: steps 1-3 of semantics 1.6.

    1. ``"${parameters.X:-null}"`` *with* its quotes -> bare ``null`` when X is absent/null
       (HttpConnector.fillNullParameters, 2.10+);
    2. ``X.toString()`` helper keys from placeholders inside values of ``P`` (2.17+);
    3. StringSubstitutor: ``${parameters.NAME}`` looked up literally (dots are part of the
       name), unknown names left verbatim, ``:-default``, values re-scanned recursively, a
       cycle raises IllegalStateError("Infinite loop in property interpolation of <template>:
       a->b"), ``$${parameters.x}`` yields the literal ``${parameters.x}``.

    URLs and headers get step 3 only (``render_url``/``render_headers``); to use this for them
    pass ``null_default_rewrite=False, to_string_keys=False``.
    """
    if template is None:
        return None  # type: ignore[return-value]
    if null_default_rewrite:
        template = _fill_null_parameters(params, template)
    if to_string_keys:
        params = add_to_string_keys(params, legacy_gson=legacy_gson)
    return _substitute_parameters(template, params)


# Connector.validatePayload builds the name list with substring(0, length - 2); if the
# payload contains "${parameters" but no complete "${parameters.NAME}" the list is empty
# and Java throws StringIndexOutOfBoundsException, which OpenSearch renders as a 500 named
# after the class.  The reason is the JDK 21+ wording of StringBuilder.substring (the JDK 17
# of OpenSearch 2.x says "start 0, end -2, length 0").  Not checked against a running cluster.


_MISSING_PATTERN = re.compile(r"\$\{parameters\.([^}]+)}")


def _validate_payload(payload: str | None) -> None:
    # Connector.validatePayload (run by RemoteConnectorExecutor after createPayload, also on
    # an http_body payload).
    if payload is None or "${parameters" not in payload:
        return
    names = _MISSING_PATTERN.findall(payload)
    if not names:
        raise StringIndexOutOfBoundsError("Range [0, -2) out of bounds for length 0")
    raise IllegalArgumentError(
        "Some parameter placeholder not filled in payload: " + ", ".join(names))


def render_payload(request_body: str | None, params: Mapping[str, str | None], *,
                   invalid_payload_style: str = "new", allow_ndjson: bool = True,
                   validate_missing: bool = True, null_default_rewrite: bool = True,
                   to_string_keys: bool = True, legacy_gson: bool = False,
                   honour_skip_parameter: bool = True) -> str | None:
    """The body of one call (semantics 1.6; HttpConnector.createPayload + validatePayload).

    With a ``request_body``: ``render_template``, then the JSON check, which comes before the
    missing-placeholder check in every release (hence a quoted missing placeholder reports the
    name while an unquoted one makes the payload invalid JSON):

    * ``invalid_payload_style="new"`` (2.12+): ``IllegalArgumentError("Invalid payload:
      <payload>")``; the check is ``looks_like_json``, or from 3.5 (``allow_ndjson``) JSON or
      NDJSON (every non-empty line JSON);
    * ``"old"`` (2.9-2.11): ``IllegalArgumentError("Invalid JSON in payload")`` and the check
      is org.json alone (``looks_like_json(..., org_json_only=True)``).

    Without a ``request_body`` the payload is ``params["http_body"]`` (possibly ``None``).
    Then, unless ``validate_missing`` is false or (2.17+)
    ``P["skip_validating_missing_parameters"]`` parses as true, any remaining ``${parameters``
    text fails with ``IllegalArgumentError("Some parameter placeholder not filled in payload:
    a, b")`` listing every ``${parameters.NAME}`` in order, duplicates included (a bare
    ``${parameters`` with no name fails as Java's StringIndexOutOfBoundsException).  Streaming
    (``stream``), ``supports_structured_output`` and ``input_processors`` rewrites are not part
    of this.
    """
    if invalid_payload_style not in ("new", "old"):
        raise ValueError("invalid_payload_style must be 'new' or 'old', "
                         f"not {invalid_payload_style!r}")
    if request_body is not None:
        payload = render_template(request_body, params, null_default_rewrite=null_default_rewrite,
                                  to_string_keys=to_string_keys, legacy_gson=legacy_gson)
        if invalid_payload_style == "old":
            if not looks_like_json(payload, org_json_only=True):
                raise IllegalArgumentError("Invalid JSON in payload")
        else:
            valid = _json_or_ndjson(payload) if allow_ndjson else looks_like_json(payload)
            if not valid:
                raise IllegalArgumentError("Invalid payload: " + payload)
    else:
        payload = params.get("http_body")
    if validate_missing:
        skip = params.get("skip_validating_missing_parameters") if honour_skip_parameter else None
        if not (skip is not None and skip.lower() == "true"):  # Boolean.parseBoolean
            _validate_payload(payload)
    return payload


def render_url(url: str, params: Mapping[str, str | None]) -> str:
    """``AbstractConnector.getActionEndpoint``: StringSubstitutor over ``P``, no URL-encoding.

    With an empty ``P`` the URL is returned untouched (not even ``$$`` is unescaped).
    """
    if not params:
        return url
    return _substitute_parameters(url, params)


# ---------------------------------------------------------------------------------------------
# Headers
# ---------------------------------------------------------------------------------------------

#: AbstractConnector.BLOCKED_DYNAMIC_HEADERS (3.7+), compared lower-cased.
BLOCKED_DYNAMIC_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "x-auth-token",
    "x-auth-header", "x-forwarded-for", "x-real-ip", "x-client-ip", "cf-connecting-ip",
    "true-client-ip", "x-originating-ip", "host", "x-forwarded-host", "x-forwarded-server",
    "forwarded",
})
_MCP_PROTOCOLS = frozenset({"mcp_sse", "mcp_streamable_http"})
_HEADER_PLACEHOLDER = re.compile(r"\$\{parameters\.[^}]+\}")


def resolve_credential_headers(headers: Mapping[str, str | None],
                               credentials: Mapping[str, str] | None) -> dict[str, str | None]:
    """``AbstractConnector.createDecryptedHeaders`` (deploy time): ``${credential.X}`` in values.

    Same StringSubstitutor rules with prefix ``${credential.``; an unknown credential
    placeholder is left literally and later sent as is.  Header names are not substituted.
    """
    substitutor = _StringSubstitutor(_map_lookup(credentials), _CREDENTIAL_PREFIX)
    return {name: substitutor.replace(value) for name, value in (headers or {}).items()}


def validate_header_templates(headers: Mapping[str, str | None], *, protocol: str = "http") -> None:
    """``AbstractConnector.validateConnectorHeaders`` (3.7+; create, update, register, predict).

    A value containing ``${parameters.<something>}`` is refused in a blocked header (name
    compared lower-cased) and, for the MCP protocols, in every header.  Headers are visited in
    Java HashMap order, which decides the reported header when several are wrong.
    """
    if not headers:
        return
    is_mcp = protocol is not None and protocol.lower() in _MCP_PROTOCOLS
    for name in _java_hashmap_order(list(headers)):
        value = headers[name]
        if value is None or not _HEADER_PLACEHOLDER.search(value):
            continue
        if is_mcp:
            raise IllegalArgumentError(
                f"Header '{name}' cannot use ${{parameters.*}} placeholders in MCP connectors.")
        if name.lower() in BLOCKED_DYNAMIC_HEADERS:
            raise IllegalArgumentError(
                f"Header '{name}' cannot use ${{parameters.*}} placeholders for security reasons. "
                "Use ${credential.*} instead.")


def _validate_substituted_headers(headers: Mapping[str, str | None]) -> None:
    # ConnectorUtils.validateSubstitutedHeaders (3.7+); sizes are Java String lengths.
    total = 0
    for name in _java_hashmap_order(list(headers)):
        value = headers[name]
        if value is None:
            continue
        for ch in value:
            code = ord(ch)
            if (code < 0x20 and ch != "\t") or code == 0x7F:
                raise IllegalArgumentError("Header value contains invalid control character")
        size = _java_length(name) + _java_length(value)
        if size > 8192:
            raise IllegalArgumentError("Header size (key + value) exceeds 8KB limit")
        total += size
    if total > 65536:
        raise IllegalArgumentError("Total headers size (key + value) exceeds 64KB limit")


def render_headers(headers: Mapping[str, str | None], params: Mapping[str, str | None], *,
                   predict_time_params: bool = True,
                   protocol: str = "http") -> dict[str, str | None]:
    """Headers of one call from the credential-resolved predict-action headers.

    3.7+ (``predict_time_params=True``; AbstractConnector.getHeadersWithRuntimeParameters then
    ConnectorUtils.validateSubstitutedHeaders): the blocked-name rule of
    ``validate_header_templates``; each value containing ``${parameters.`` is rendered with
    ``P`` and must not still contain ``${parameters.`` afterwards ("Header '<name>' contains
    unresolved placeholder. Required parameter is missing."); then no control character
    other than tab (DEL included), name+value <= 8192 and all headers <= 65536 UTF-16 units.

    2.9-3.6 (``predict_time_params=False``; AbstractConnector.createDecryptedHeaders): ``params``
    (the caller passes the connector's own parameters) are substituted, only when non-empty,
    and nothing is checked.  The result keeps the input order.
    """
    headers = dict(headers or {})
    if not predict_time_params:
        if not params:
            return headers
        return {name: _substitute_parameters(value, params) if value is not None else None
                for name, value in headers.items()}
    if not headers:
        return headers
    validate_header_templates(headers, protocol=protocol)
    rendered: dict[str, str | None] = dict(headers)
    for name in _java_hashmap_order(list(headers)):
        value = headers[name]
        if value is not None and _PARAMETERS_PREFIX in value:
            substituted = _substitute_parameters(value, params)
            if _PARAMETERS_PREFIX in substituted:
                raise IllegalArgumentError(
                    f"Header '{name}' contains unresolved placeholder. "
                    "Required parameter is missing.")
            rendered[name] = substituted
    _validate_substituted_headers(rendered)
    return rendered
