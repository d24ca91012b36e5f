"""Java values in Python: int/long/float wrappers, StringBuilder, arrays, HashMap order, toString."""
from __future__ import annotations

import math
from typing import Any

from mlcommons_emu.connectors.javajson import _java_double_to_string


class JLong(int):
    """A Java long (a plain Python int is a Java int)."""


class JFloat(float):
    """A Java float (a plain Python float is a Java double)."""


class JChar(str):
    """A Java char (charAt)."""


class JArray(list):
    """A fixed-length Java array."""


class JStringBuilder:
    def __init__(self, text: str = "") -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"StringBuilder({self.text!r})"


class HashMap(dict):
    """java.util.HashMap: iterates in bucket order, not insertion order."""

    def java_keys(self) -> list:
        n = len(self)
        cap = 16
        while n > cap * 0.75:
            cap *= 2
        order = []
        for i, k in enumerate(self.keys()):
            h = java_hash(k)
            h = (h ^ (h >> 16)) & 0xFFFFFFFF
            order.append((h & (cap - 1), i, k))
        return [k for _, _, k in sorted(order)]


class Entry:
    def __init__(self, key: Any, value: Any) -> None:
        self.key, self.value = key, value


def wrap32(v: int) -> int:
    return ((v + 2**31) % 2**32) - 2**31


def wrap64(v: int) -> int:
    return ((v + 2**63) % 2**64) - 2**63


def java_hash(value: Any) -> int:
    """hashCode as an unsigned 32-bit value (strings, ints, booleans, others by repr)."""
    if isinstance(value, str):
        h = 0
        for ch in value.encode("utf-16-le").decode("utf-16-le"):
            for unit in _utf16_units(ch):
                h = (31 * h + unit) & 0xFFFFFFFF
        return h
    if isinstance(value, bool):
        return 1231 if value else 1237
    if isinstance(value, JLong):
        return (value ^ (value >> 32)) & 0xFFFFFFFF
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    if value is None:
        return 0
    return hash(repr(value)) & 0xFFFFFFFF


def _utf16_units(ch: str) -> list[int]:
    code = ord(ch)
    if code < 0x10000:
        return [code]
    code -= 0x10000
    return [0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)]


def map_keys(m: dict) -> list:
    return m.java_keys() if isinstance(m, HashMap) else list(m.keys())


def to_string(value: Any) -> str:
    """String.valueOf / string concatenation."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str(value)
    if isinstance(value, JFloat):
        return _float_to_string(value)
    if isinstance(value, float):
        return _java_double_to_string(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, JStringBuilder):
        return value.text
    if isinstance(value, JArray):
        return f"[Ljava.lang.Object;@{id(value) & 0xFFFFFF:x}"
    if isinstance(value, list):
        return "[" + ", ".join(to_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{to_string(k)}={to_string(value[k])}" for k in map_keys(value)) + "}"
    if isinstance(value, Entry):
        return f"{to_string(value.key)}={to_string(value.value)}"
    return str(value)


def _float_to_string(value: float) -> str:
    # Float.toString: the shortest digits that round-trip through a 32-bit float
    import struct

    if math.isnan(value) or math.isinf(value) or value == 0:
        return _java_double_to_string(value)
    for digits in range(1, 10):
        text = f"{value:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == value:
            return _java_double_to_string(float(text))
    return _java_double_to_string(value)


def java_class(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, JChar):
        return "java.lang.Character"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, JLong):
        return "java.lang.Long"
    if isinstance(value, int):
        return "java.lang.Integer"
    if isinstance(value, JFloat):
        return "java.lang.Float"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, JStringBuilder):
        return "java.lang.StringBuilder"
    if isinstance(value, JArray):
        return "java.lang.Object[]"
    if isinstance(value, list):
        return "java.util.ArrayList"
    if isinstance(value, HashMap):
        return "java.util.HashMap"
    if isinstance(value, dict):
        return "java.util.LinkedHashMap"
    if isinstance(value, Entry):
        return "java.util.HashMap$Node"
    return "java.lang.Object"


def to_json_value(value: Any) -> Any:
    """A script value as plain JSON-able Python (StringBuilder as text, arrays as lists)."""
    if isinstance(value, JStringBuilder):
        return value.text
    if isinstance(value, JChar):
        return str(value)
    if isinstance(value, JLong):
        return int(value)
    if isinstance(value, JFloat):
        return float(value)
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        return {to_string(k): to_json_value(value[k]) for k in map_keys(value)}
    return value
