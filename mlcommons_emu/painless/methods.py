"""The Java methods scripts call on String, List, Map, StringBuilder, numbers, and statics."""
from __future__ import annotations

import math
import re
from typing import Any

from mlcommons_emu.painless.interpreter import _bad_cast, _f32, err, escape, is_num, java_equals, make, num_value, rank
from mlcommons_emu.painless.values import (
    Entry, HashMap, JArray, JChar, JFloat, JLong, JStringBuilder, java_class, java_hash, map_keys, to_string,
    wrap32,
)


def _not_found(target: Any, name: str, args: list, pos: int):
    return err("illegal_argument_exception",
               f"dynamic method [{java_class(target)}, {name}/{len(args)}] not found", pos)


def _int_arg(v: Any, pos: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise _bad_cast(v, "java.lang.Integer", pos)
    return int(v)


def _str_arg(v: Any, pos: int) -> str:
    if v is None:
        raise err("null_pointer_exception", None, pos)
    if isinstance(v, JStringBuilder):
        return v.text
    if not isinstance(v, str):
        raise _bad_cast(v, "java.lang.String", pos)
    return str(v)


def _sioobe(msg: str, pos: int):
    return err("string_index_out_of_bounds_exception", msg, pos)


def _java_split(text: str, regex: str, limit: int = 0) -> list[str]:
    if len(regex) == 1 and regex not in ".$|()[{^?*+\\":
        parts = text.split(regex)
    else:
        parts = re.split(_java_regex(regex), text)
    if parts and parts[0] == "" and text and len(parts) > 1 and re.match(_java_regex(regex), text) \
            and re.match(_java_regex(regex), text).end() == 0:
        parts = parts[1:]
    if limit == 0:
        while parts and parts[-1] == "":
            parts.pop()
        if not parts:
            return [""] if text == "" else []
    return parts


def _java_regex(regex: str) -> str:
    return regex


def _string_method(s: str, name: str, args: list, pos: int) -> Any:
    n = len(args)
    if name == "length" and n == 0:
        return len(s)
    if name == "isEmpty" and n == 0:
        return len(s) == 0
    if name == "isBlank" and n == 0:
        return s.strip() == ""
    if name == "substring" and n in (1, 2):
        b = _int_arg(args[0], pos)
        e = _int_arg(args[1], pos) if n == 2 else len(s)
        if b < 0 or e > len(s) or b > e:
            raise _sioobe(f"begin {b}, end {e}, length {len(s)}", pos)
        return s[b:e]
    if name == "charAt" and n == 1:
        i = _int_arg(args[0], pos)
        if not 0 <= i < len(s):
            raise _sioobe(f"Index {i} out of bounds for length {len(s)}", pos)
        return JChar(s[i])
    if name == "replace" and n == 2:
        return s.replace(to_string(args[0]), to_string(args[1]))
    if name == "replaceAll" and n == 2:
        repl = re.sub(r"\$(\d)", r"\\\1", _str_arg(args[1], pos))
        return re.sub(_java_regex(_str_arg(args[0], pos)), repl, s)
    if name == "contains" and n == 1:
        return _str_arg(args[0], pos) in s
    if name == "indexOf" and n in (1, 2):
        start = _int_arg(args[1], pos) if n == 2 else 0
        return s.find(to_string(args[0]), max(0, start))
    if name == "lastIndexOf" and n == 1:
        return s.rfind(to_string(args[0]))
    if name == "trim" and n == 0:
        i, j = 0, len(s)
        while i < j and ord(s[i]) <= 32:
            i += 1
        while j > i and ord(s[j - 1]) <= 32:
            j -= 1
        return s[i:j]
    if name == "strip" and n == 0:
        return s.strip()
    if name == "toLowerCase" and n == 0:
        return s.lower()
    if name == "toUpperCase" and n == 0:
        return s.upper()
    if name == "startsWith" and n == 1:
        return s.startswith(_str_arg(args[0], pos))
    if name == "endsWith" and n == 1:
        return s.endswith(_str_arg(args[0], pos))
    if name == "equals" and n == 1:
        return isinstance(args[0], str) and not isinstance(args[0], JChar) and str(args[0]) == s
    if name == "equalsIgnoreCase" and n == 1:
        return isinstance(args[0], str) and str(args[0]).lower() == s.lower()
    if name == "split" and n in (1, 2):
        return JArray(_java_split(s, _str_arg(args[0], pos), _int_arg(args[1], pos) if n == 2 else 0))
    if name == "concat" and n == 1:
        return s + _str_arg(args[0], pos)
    if name == "matches" and n == 1:
        return re.fullmatch(_str_arg(args[0], pos), s) is not None
    if name == "compareTo" and n == 1:
        o = _str_arg(args[0], pos)
        for a, b in zip(s, o):
            if a != b:
                return ord(a) - ord(b)
        return len(s) - len(o)
    if name == "hashCode" and n == 0:
        return wrap32(java_hash(s))
    if name == "toString" and n == 0:
        return s
    if name == "toCharArray" and n == 0:
        return JArray(JChar(c) for c in s)
    if name == "repeat" and n == 1:
        return s * _int_arg(args[0], pos)
    raise _not_found(s, name, args, pos)


def _list_method(interp: Any, lst: list, name: str, args: list, pos: int) -> Any:
    n = len(args)
    if name == "size" and n == 0:
        return len(lst)
    if name == "isEmpty" and n == 0:
        return not lst
    if name == "get" and n == 1:
        i = _int_arg(args[0], pos)
        if not 0 <= i < len(lst):
            raise err("index_out_of_bounds_exception", f"Index {i} out of bounds for length {len(lst)}", pos)
        return lst[i]
    if name == "getLength" and n == 0:
        return len(lst)
    if isinstance(lst, JArray):
        raise _not_found(lst, name, args, pos)
    if name == "add" and n == 1:
        lst.append(args[0])
        return True
    if name == "add" and n == 2:
        i = _int_arg(args[0], pos)
        if not 0 <= i <= len(lst):
            raise err("index_out_of_bounds_exception", f"Index: {i}, Size: {len(lst)}", pos)
        lst.insert(i, args[1])
        return None
    if name == "addAll" and n == 1:
        if not isinstance(args[0], list):
            raise _bad_cast(args[0], "java.util.Collection", pos)
        lst.extend(args[0])
        return bool(args[0])
    if name == "set" and n == 2:
        i = _int_arg(args[0], pos)
        if not 0 <= i < len(lst):
            raise err("index_out_of_bounds_exception", f"Index {i} out of bounds for length {len(lst)}", pos)
        old, lst[i] = lst[i], args[1]
        return old
    if name == "contains" and n == 1:
        return any(java_equals(x, args[0]) for x in lst)
    if name == "indexOf" and n == 1:
        return next((i for i, x in enumerate(lst) if java_equals(x, args[0])), -1)
    if name == "remove" and n == 1:
        if isinstance(args[0], int) and not isinstance(args[0], bool):
            i = int(args[0])
            if not 0 <= i < len(lst):
                raise err("index_out_of_bounds_exception",
                          f"Index {i} out of bounds for length {len(lst)}", pos)
            return lst.pop(i)
        for i, x in enumerate(lst):
            if java_equals(x, args[0]):
                del lst[i]
                return True
        return False
    if name == "clear" and n == 0:
        lst.clear()
        return None
    if name == "subList" and n == 2:
        a, b = _int_arg(args[0], pos), _int_arg(args[1], pos)
        if a < 0 or b > len(lst) or a > b:
            raise err("index_out_of_bounds_exception", f"fromIndex: {a}, toIndex: {b}, size: {len(lst)}", pos)
        return lst[a:b]
    if name == "join" and n == 1:  # Painless augmentation: list.join(delimiter)
        return _str_arg(args[0], pos).join(to_string(x) for x in lst)
    if name == "toString" and n == 0:
        return to_string(lst)
    if name == "equals" and n == 1:
        return java_equals(lst, args[0])
    raise _not_found(lst, name, args, pos)


def _map_method(m: dict, name: str, args: list, pos: int) -> Any:
    n = len(args)
    if name == "get" and n == 1:
        return m.get(args[0])
    if name == "getOrDefault" and n == 2:
        return m[args[0]] if args[0] in m else args[1]
    if name == "put" and n == 2:
        old = m.get(args[0])
        m[args[0]] = args[1]
        return old
    if name == "putAll" and n == 1:
        for k in map_keys(args[0]):
            m[k] = args[0][k]
        return None
    if name == "containsKey" and n == 1:
        return args[0] in m
    if name == "containsValue" and n == 1:
        return any(java_equals(v, args[0]) for v in m.values())
    if name == "keySet" and n == 0:
        return map_keys(m)
    if name == "values" and n == 0:
        return [m[k] for k in map_keys(m)]
    if name == "entrySet" and n == 0:
        return [Entry(k, m[k]) for k in map_keys(m)]
    if name == "size" and n == 0:
        return len(m)
    if name == "isEmpty" and n == 0:
        return not m
    if name == "remove" and n == 1:
        return m.pop(args[0], None)
    if name == "clear" and n == 0:
        m.clear()
        return None
    if name == "toString" and n == 0:
        return to_string(m)
    if name == "equals" and n == 1:
        return java_equals(m, args[0])
    raise _not_found(m, name, args, pos)


def _builder_method(b: JStringBuilder, name: str, args: list, pos: int) -> Any:
    n = len(args)
    if name == "append" and n == 1:
        b.text += to_string(args[0])
        return b
    if name == "toString" and n == 0:
        return b.text
    if name == "length" and n == 0:
        return len(b.text)
    if name == "setLength" and n == 1:
        k = _int_arg(args[0], pos)
        b.text = b.text[:k].ljust(k, "\0")
        return None
    if name == "deleteCharAt" and n == 1:
        k = _int_arg(args[0], pos)
        if not 0 <= k < len(b.text):
            raise _sioobe(f"index {k},length {len(b.text)}", pos)
        b.text = b.text[:k] + b.text[k + 1:]
        return b
    if name == "insert" and n == 2:
        k = _int_arg(args[0], pos)
        b.text = b.text[:k] + to_string(args[1]) + b.text[k:]
        return b
    if name == "reverse" and n == 0:
        b.text = b.text[::-1]
        return b
    if name in ("charAt", "substring", "indexOf", "isEmpty"):
        return _string_method(b.text, name, args, pos)
    raise _not_found(b, name, args, pos)


def call_method(interp: Any, target: Any, name: str, args: list, pos: int) -> Any:
    if isinstance(target, str) and not isinstance(target, JChar):
        return _string_method(str(target), name, args, pos)
    if isinstance(target, list):
        return _list_method(interp, target, name, args, pos)
    if isinstance(target, dict):
        return _map_method(target, name, args, pos)
    if isinstance(target, JStringBuilder):
        return _builder_method(target, name, args, pos)
    if isinstance(target, Entry):
        if name == "getKey" and not args:
            return target.key
        if name == "getValue" and not args:
            return target.value
    if is_num(target) or isinstance(target, bool):
        if not args:
            conv = {"intValue": 0, "longValue": 1, "floatValue": 2, "doubleValue": 3}
            if name in conv and not isinstance(target, bool):
                from mlcommons_emu.painless.interpreter import cast
                return cast({0: "int", 1: "long", 2: "float", 3: "double"}[conv[name]], target, pos,
                            explicit=True)
            if name == "toString":
                return to_string(target)
            if name == "hashCode":
                return wrap32(java_hash(target))
        if name == "equals" and len(args) == 1:
            return type(target) is type(args[0]) and target == args[0]
        if name == "compareTo" and len(args) == 1:
            a, b = num_value(target), num_value(args[0])
            return (a > b) - (a < b)
    if name == "toString" and not args:
        return to_string(target)
    if name == "equals" and len(args) == 1:
        return java_equals(target, args[0])
    raise _not_found(target, name, args, pos)


def _parse_int(text: Any, pos: int, bits: int) -> int:
    s = _str_arg(text, pos)
    if not re.fullmatch(r"[+-]?\d+", s) or not -2**(bits - 1) <= int(s) < 2**(bits - 1):
        raise err("number_format_exception", f'For input string: "{s}"', pos)
    return int(s)


def _parse_double(text: Any, pos: int) -> float:
    s = _str_arg(text, pos).strip()
    m = re.fullmatch(r"[+-]?(NaN|Infinity|((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)[fFdD]?)", s)
    if not m:
        raise err("number_format_exception", "empty String" if not s else f'For input string: "{s}"', pos)
    return float(s.rstrip("fFdD").replace("Infinity", "inf"))


def _math(name: str, args: list, pos: int) -> Any:
    for a in args:
        if a is None:
            raise err("null_pointer_exception", None, pos)
        if not is_num(a):
            raise _bad_cast(a, "java.lang.Double", pos)
    n = len(args)
    if name in ("min", "max") and n == 2:
        r = max(rank(args[0]), rank(args[1]))
        a, b = num_value(args[0]), num_value(args[1])
        if r >= 2 and (math.isnan(a) or math.isnan(b)):
            return make(math.nan, r)
        return make(min(a, b) if name == "min" else max(a, b), r)
    if name == "abs" and n == 1:
        return make(abs(num_value(args[0])), rank(args[0]))
    if name == "round" and n == 1:
        x = float(num_value(args[0]))
        r = rank(args[0])
        if math.isnan(x):
            return 0 if r == 2 else JLong(0)
        if math.isinf(x):
            return make(2**63 - 1 if x > 0 else -2**63, 1)
        v = math.floor(x + 0.5) if abs(x) < 2**52 else int(x)
        if r == 2:
            return max(-2**31, min(2**31 - 1, v))
        return JLong(max(-2**63, min(2**63 - 1, v)))
    if n == 1:
        x = float(num_value(args[0]))
        simple = {"floor": math.floor, "ceil": math.ceil, "sqrt": math.sqrt, "exp": math.exp,
                  "log": math.log, "log10": math.log10, "sin": math.sin, "cos": math.cos,
                  "tan": math.tan, "signum": lambda v: float((v > 0) - (v < 0)), "cbrt": lambda v: math.copysign(abs(v) ** (1 / 3), v)}
        if name in simple:
            try:
                if name in ("floor", "ceil") and (math.isinf(x) or math.isnan(x)):
                    return x
                if name == "sqrt" and x < 0 or name in ("log", "log10") and x < 0:
                    return math.nan
                if name in ("log", "log10") and x == 0:
                    return -math.inf
                return float(simple[name](x))
            except (ValueError, OverflowError):
                return math.nan
    if name == "pow" and n == 2:
        try:
            return float(math.pow(float(num_value(args[0])), float(num_value(args[1]))))
        except (ValueError, ZeroDivisionError):
            return math.nan
        except OverflowError:
            return math.inf
    raise err("illegal_argument_exception", f"static method [java.lang.Math, {name}/{n}] not found", pos)


def call_static(owner: str, name: str, args: list, pos: int) -> Any:
    n = len(args)
    if owner == "Math":
        return _math(name, args, pos)
    if owner == "Integer":
        if name in ("parseInt", "valueOf") and n == 1:
            if isinstance(args[0], int) and not isinstance(args[0], bool) and name == "valueOf":
                return args[0]
            return _parse_int(args[0], pos, 32)
        if name == "toString" and n == 1:
            return to_string(args[0])
        if name in ("max", "min") and n == 2:
            return _math(name, args, pos)
    if owner == "Long" and name in ("parseLong", "valueOf") and n == 1:
        return JLong(_parse_int(args[0], pos, 64))
    if owner in ("Double", "Float") and name in ("parseDouble", "parseFloat", "valueOf") and n == 1:
        if is_num(args[0]) and name == "valueOf":
            return float(num_value(args[0])) if owner == "Double" else JFloat(_f32(float(num_value(args[0]))))
        value = _parse_double(args[0], pos)
        return value if owner == "Double" else JFloat(_f32(value))
    if owner == "Double" and name == "isNaN" and n == 1:
        return isinstance(args[0], float) and math.isnan(args[0])
    if owner == "Boolean" and name == "parseBoolean" and n == 1:
        return isinstance(args[0], str) and args[0].lower() == "true"
    if owner == "String":
        if name == "valueOf" and n == 1:
            return to_string(args[0])
        if name == "join" and n >= 1:
            delimiter = _str_arg(args[0], pos)
            items = args[1] if n == 2 and isinstance(args[1], list) else args[1:]
            return delimiter.join(to_string(x) for x in items)
    if owner == "Objects":
        if name == "isNull" and n == 1:
            return args[0] is None
        if name == "nonNull" and n == 1:
            return args[0] is not None
        if name == "equals" and n == 2:
            return java_equals(args[0], args[1])
        if name == "toString" and n == 1:
            return to_string(args[0])
    raise err("illegal_argument_exception", f"static method [{owner}, {name}/{n}] not found", pos)


__all__ = ["call_method", "call_static", "escape", "HashMap", "JLong"]
