"""Java-compatible text and JSON helpers: the plugin's behaviour depends on these exact rules.

Double.toString, String.trim/hashCode, HashMap iteration order, Gson serialisation, Commons
Text escapeJson, and the org.json / Gson-lenient acceptance behind StringUtils.isJson.
"""
from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping

from mlcommons_emu.errors import IllegalArgumentError

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
    if text[:1].isalnum() or text[-1:].isalnum():
        return False  # (a quick answer for the usual text; a letter or digit is never blank)
    return all(_java_is_whitespace(ch) for ch in text)


def java_trim(text: str) -> str:
    # String.trim removes every char <= U+0020 at both ends (not Unicode whitespace).
    start, end = 0, len(text)
    while start < end and text[start] <= " ":
        start += 1
    while end > start and text[end - 1] <= " ":
        end -= 1
    return text[start:end]


def java_split(text: str, sep: str) -> list[str]:
    # String.split(regex) with limit 0 drops trailing empty strings.
    parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _utf16_units(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def java_length(text: str) -> int:
    # String.length counts UTF-16 code units.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _java_string_hash(text: str) -> int:
    h = 0
    for unit in _utf16_units(text):
        h = (31 * h + unit) & 0xFFFFFFFF
    return h


def java_hashmap_order(keys: list[str]) -> list[str]:
    return list(_hashmap_order(tuple(keys)))


@functools.lru_cache(maxsize=1024)
def _hashmap_order(keys: tuple[str, ...]) -> tuple[str, ...]:
    # (cached: the same header names are walked on every predict)
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

    return tuple(key for _, _, key in sorted((bucket(k), i, k) for i, k in enumerate(keys)))


# ---------------------------------------------------------------------------------------------
# Gson serialisation (StringUtils.getParameterMap -> gson.toJson)
# ---------------------------------------------------------------------------------------------

_GSON_REPLACEMENTS = {chr(i): "\\u%04x" % i for i in range(0x20)}
_GSON_REPLACEMENTS.update({'"': '\\"', "\\": "\\\\", "\t": "\\t", "\b": "\\b", "\n": "\\n",
                           "\r": "\\r", "\f": "\\f", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_GSON_HTML_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027"}


_GSON_ESCAPED = re.compile('[\x00-\x1f"\\\\\u2028\u2029]')
_GSON_ESCAPED_HTML_SAFE = re.compile('[\x00-\x1f"\\\\\u2028\u2029<>&=\']')
_GSON_ALL_REPLACEMENTS = {**_GSON_REPLACEMENTS, **_GSON_HTML_SAFE}


def _gson_replacement(match: re.Match[str]) -> str:
    return _GSON_ALL_REPLACEMENTS[match.group()]


def _gson_quote(text: str, *, html_safe: bool) -> str:
    # com.google.gson.stream.JsonWriter.string: lower-case \u00XX for control chars, \u2028 and
    # \u2029 always escaped, non-ASCII otherwise raw; `new Gson()` (html_safe) also escapes
    # < > & = '.  "/" is never escaped.
    escaped = (_GSON_ESCAPED_HTML_SAFE if html_safe else _GSON_ESCAPED).sub(_gson_replacement, text)
    return '"' + escaped + '"'


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
    if isinstance(value, dict) or isinstance(value, Mapping):
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


def gson_string_body(text: str, *, legacy_gson: bool) -> str:
    # StringUtils.processTextDoc: gson.toJson(string) without the surrounding quotes.
    return _gson_quote(text, html_safe=legacy_gson)[1:-1]


# ---------------------------------------------------------------------------------------------
# Apache Commons Text StringEscapeUtils.escapeJson
# ---------------------------------------------------------------------------------------------

_ESCAPE_JSON_LOOKUP = {'"': '\\"', "\\": "\\\\", "/": "\\/",
                       "\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f", "\r": "\\r"}


_ESCAPE_JSON_PLAIN = re.compile(r'[\x20-\x21\x23-\x2e\x30-\x5b\x5d-\x7e]*')  # 0x20..0x7E but " / \\


def escape_json(text: str) -> str:
    """``StringEscapeUtils.escapeJson`` (commons-text 1.10-1.14, identical rules).

    ``" \\ /`` and ``\\b \\n \\t \\f \\r`` get backslash escapes; every other code point outside
    0x20..0x7E becomes upper-case ``\\uXXXX`` over UTF-16 code units (astral characters give a
    surrogate pair of escapes).
    """
    if _ESCAPE_JSON_PLAIN.fullmatch(text):
        return text  # printable ASCII with nothing to escape, the usual case
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
        token = java_trim("".join(chars))
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
    stripped = text.strip()
    if not stripped or stripped[0] not in "{[":
        # both parsers need an object or array first (after Java whitespace, which
        # str.strip() covers); anything else is a quick no
        if not stripped or java_trim(text)[:1] not in ("{", "["):
            return False
    elif _strict_container(stripped):
        # strict JSON without duplicate keys is accepted by org.json and lenient Gson alike
        return True
    if org_json_only:
        return _org_json_accepts(text, legacy=True)
    if _java_is_blank(text):
        return False
    return _org_json_accepts(text, legacy=False) and _gson_accepts(text)


def _strict_container(text: str) -> bool:
    try:
        value = _STRICT_DECODER.decode(text)
    except (ValueError, RecursionError):
        return False
    return isinstance(value, (dict, list))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate key")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)


# json.loads with these options builds a decoder per call: one is kept
_STRICT_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant)


def json_or_ndjson(text: str) -> bool:
    # StringUtils.isJsonOrNdjson (3.5+): whole text is JSON, or every non-empty trimmed line
    # (split on \r?\n) is.
    if text is None or _java_is_blank(text):
        return False
    if looks_like_json(text):
        return True
    for line in java_split(re.sub(r"\r?\n", "\n", text), "\n"):
        trimmed = java_trim(line)
        if trimmed and not looks_like_json(trimmed):
            return False
    return True
