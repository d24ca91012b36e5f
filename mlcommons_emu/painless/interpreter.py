"""Tree-walking evaluator with Java semantics for the Painless subset connector scripts use."""
from __future__ import annotations

import math
import re
from typing import Any

from mlcommons_emu.painless.errors import PainlessError
from mlcommons_emu.painless.values import (
    Entry, HashMap, JArray, JChar, JFloat, JLong, JStringBuilder, java_class, map_keys, to_string,
    wrap32, wrap64,
)

DEFAULT_MAX_STEPS = 1_000_000
LOOP_LIMIT = "The maximum number of statements that can be executed in a loop has been reached."
MAX_DEPTH = 150


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


def err(kind: str, reason: str | None, pos: int) -> PainlessError:
    return PainlessError(reason, pos, java_type=kind)


def escape(value: Any) -> str:
    """The escape() helper ML Commons prepends (backslash, quote, CR, LF, \\b, \\f)."""
    text = to_string(value)
    return (text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
            .replace("\b", "\\b").replace("\f", "\\f"))


# -- numbers ------------------------------------------------------------------------------------

def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) or isinstance(v, JChar)


def num_value(v: Any) -> Any:
    return ord(v) if isinstance(v, JChar) else v


def rank(v: Any) -> int:
    if isinstance(v, JFloat):
        return 2
    if isinstance(v, float):
        return 3
    if isinstance(v, JLong):
        return 1
    return 0


def make(value: Any, r: int) -> Any:
    if r == 3:
        return float(value)
    if r == 2:
        return JFloat(_f32(float(value)))
    if r == 1:
        return JLong(wrap64(int(value)))
    return wrap32(int(value))


def _f32(x: float) -> float:
    import struct
    try:
        return struct.unpack("f", struct.pack("f", x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def arith(op: str, a: Any, b: Any, pos: int) -> Any:
    if op == "+" and (isinstance(a, str) and not isinstance(a, JChar) or isinstance(b, str) and not isinstance(b, JChar)):
        return to_string(a) + to_string(b)
    if op in ("&", "|", "^") and isinstance(a, bool) and isinstance(b, bool):
        return {"&": a and b, "|": a or b, "^": a != b}[op]
    if a is None or b is None:
        raise err("null_pointer_exception", None, pos)
    if not (is_num(a) and is_num(b)):
        raise err("class_cast_exception",
                  f"Cannot apply [{op}] operation to types [{java_class(a)}] and [{java_class(b)}].", pos)
    r = max(rank(a), rank(b))
    x, y = num_value(a), num_value(b)
    if op in ("<<", ">>", ">>>", "&", "|", "^"):
        if r >= 2:
            raise err("class_cast_exception", f"Cannot apply [{op}] operation to types "
                      f"[{java_class(a)}] and [{java_class(b)}].", pos)
        r = rank(a) if op in ("<<", ">>", ">>>") else r
        bits = 64 if r == 1 else 32
        x = int(x)
        if op == "<<":
            return make(x << (int(y) & (bits - 1)), r)
        if op == ">>":
            return make(x >> (int(y) & (bits - 1)), r)
        if op == ">>>":
            return make((x % 2**bits) >> (int(y) & (bits - 1)), r)
        return make({"&": x & int(y), "|": x | int(y), "^": x ^ int(y)}[op], r)
    if r >= 2:
        x, y = float(x), float(y)
        if op == "+":
            res = x + y
        elif op == "-":
            res = x - y
        elif op == "*":
            res = x * y
        elif op == "/":
            if y == 0:
                res = math.nan if x == 0 or math.isnan(x) else math.copysign(math.inf, x) * math.copysign(1, y)
            else:
                res = x / y
        else:
            if y == 0 or math.isinf(x) or math.isnan(x) or math.isnan(y):
                res = math.nan
            else:
                res = math.fmod(x, y)
        return make(res, r)
    x, y = int(x), int(y)
    if op == "+":
        return make(x + y, r)
    if op == "-":
        return make(x - y, r)
    if op == "*":
        return make(x * y, r)
    if y == 0:
        raise err("arithmetic_exception", "/ by zero", pos)
    q = _trunc_div(x, y)
    return make(q if op == "/" else x - q * y, r)


def java_equals(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    if is_num(a) and is_num(b):
        return num_value(a) == num_value(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, JStringBuilder) or isinstance(b, JStringBuilder):
        return a is b
    if isinstance(a, str) and isinstance(b, str):
        return str(a) == str(b)
    if isinstance(a, list) and isinstance(b, list):
        if isinstance(a, JArray) or isinstance(b, JArray):
            return a is b
        return len(a) == len(b) and all(java_equals(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return (len(a) == len(b) and all(k in b for k in a)
                and all(java_equals(a[k], b[k]) for k in a))
    return a is b


def compare(op: str, a: Any, b: Any, pos: int) -> bool:
    if a is None or b is None:
        raise err("null_pointer_exception", None, pos)
    if not (is_num(a) and is_num(b)):
        raise err("class_cast_exception", f"Cannot apply [{op}] operation to types "
                  f"[{java_class(a)}] and [{java_class(b)}].", pos)
    x, y = num_value(a), num_value(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


# -- casts --------------------------------------------------------------------------------------

_NUMERIC = {"int": 0, "Integer": 0, "long": 1, "Long": 1, "float": 2, "Float": 2, "double": 3, "Double": 3,
            "short": 0, "byte": 0}


def cast(type_name: str, value: Any, pos: int, *, explicit: bool) -> Any:
    base = type_name
    if base in ("def", "Object") or (value is None and base not in _NUMERIC and base not in ("boolean", "char")):
        return value
    if base in _NUMERIC:
        if value is None:
            raise err("null_pointer_exception", None, pos)
        if not is_num(value):
            raise _bad_cast(value, type_name, pos)
        target = _NUMERIC[base]
        v = num_value(value)
        if not explicit and rank(value) > target and not (base[0].isupper() and False):
            if isinstance(value, float) and target < 2 or (rank(value) == 1 and target == 0):
                raise _bad_cast(value, type_name, pos)
        if target <= 1 and isinstance(v, float):
            if math.isnan(v):
                v = 0
            else:
                lim = 2**31 if target == 0 else 2**63
                v = max(-lim, min(lim - 1, int(v))) if not math.isinf(v) else (lim - 1 if v > 0 else -lim)
        res = make(v, target)
        if base == "short":
            res = ((int(res) + 2**15) % 2**16) - 2**15
        elif base == "byte":
            res = ((int(res) + 2**7) % 2**8) - 2**7
        return res
    if base in ("boolean", "Boolean"):
        if not isinstance(value, bool):
            raise _bad_cast(value, type_name, pos)
        return value
    if base in ("char", "Character"):
        if isinstance(value, JChar):
            return value
        if isinstance(value, str) and len(value) == 1:
            return JChar(value)
        if is_num(value) and explicit:
            return JChar(chr(int(num_value(value)) & 0xFFFF))
        raise _bad_cast(value, type_name, pos)
    checks = {
        "String": lambda v: isinstance(v, str) and not isinstance(v, JChar),
        "CharSequence": lambda v: isinstance(v, (str, JStringBuilder)),
        "List": lambda v: isinstance(v, list) and not isinstance(v, JArray),
        "ArrayList": lambda v: isinstance(v, list) and not isinstance(v, JArray),
        "Collection": lambda v: isinstance(v, list) and not isinstance(v, JArray),
        "Map": lambda v: isinstance(v, dict),
        "HashMap": lambda v: isinstance(v, dict),
        "LinkedHashMap": lambda v: isinstance(v, dict) and not isinstance(v, HashMap),
        "StringBuilder": lambda v: isinstance(v, JStringBuilder),
        "Number": lambda v: is_num(v) and not isinstance(v, JChar),
        "Map.Entry": lambda v: isinstance(v, Entry),
    }
    if base.endswith("[]"):
        if not isinstance(value, JArray):
            raise _bad_cast(value, type_name, pos)
        return value
    check = checks.get(base)
    if check is None or check(value):
        return value
    raise _bad_cast(value, type_name, pos)


_JAVA_NAMES = {"String": "java.lang.String", "List": "java.util.List", "Map": "java.util.Map",
               "ArrayList": "java.util.ArrayList", "HashMap": "java.util.HashMap",
               "StringBuilder": "java.lang.StringBuilder", "Integer": "java.lang.Integer",
               "Long": "java.lang.Long", "Double": "java.lang.Double", "Float": "java.lang.Float",
               "Boolean": "java.lang.Boolean"}


def _bad_cast(value: Any, type_name: str, pos: int) -> PainlessError:
    target = _JAVA_NAMES.get(type_name, type_name)
    return err("class_cast_exception", f"Cannot cast {java_class(value)} to {target}", pos)


def default_value(type_name: str) -> Any:
    return {"int": 0, "long": JLong(0), "short": 0, "byte": 0, "double": 0.0, "float": JFloat(0.0),
            "boolean": False, "char": JChar("\0")}.get(type_name)


# -- the evaluator ------------------------------------------------------------------------------

class JException:
    """A Throwable created with ``new XxxException(message)``."""

    def __init__(self, wire: str, message: str | None) -> None:
        self.wire, self.message = wire, message


class Frame:
    __slots__ = ("vars",)

    def __init__(self) -> None:
        self.vars: list[dict[str, list]] = [{}]


class Interpreter:
    def __init__(self, functions: dict[str, tuple], max_steps: int) -> None:
        self.functions = functions
        self.max_steps = max_steps
        self.steps = 0
        self.depth = 0

    def step(self, pos: int) -> None:
        self.steps += 1
        if self.steps > self.max_steps:
            raise err("painless_error", LOOP_LIMIT, pos)

    # variables: each is a [type, value] cell
    def lookup(self, frame: Frame, name: str) -> list:
        for scope in reversed(frame.vars):
            if name in scope:
                return scope[name]
        raise KeyError(name)

    def run_main(self, tree: tuple, params: Any) -> Any:
        frame = Frame()
        frame.vars[0]["params"] = ["Map", params]
        try:
            return self.block_value(tree, frame)
        except _Return as r:
            return r.value

    def block_value(self, tree: tuple, frame: Frame) -> Any:
        """The script body: the last expression statement's value is returned implicitly."""
        statements = tree[2]
        for i, stmt in enumerate(statements):
            if i == len(statements) - 1 and stmt[0] == "expr":
                return self.eval(stmt[2], frame)
            self.exec(stmt, frame)
        return None

    # -- statements --------------------------------------------------------------------------
    def exec(self, node: tuple, frame: Frame) -> None:
        kind = node[0]
        if kind == "expr":
            self.eval(node[2], frame)
        elif kind == "decl":
            type_name = node[2]
            for name, init, pos in node[3]:
                value = default_value(type_name) if init is None else cast(
                    type_name, self.eval(init, frame), pos, explicit=False)
                frame.vars[-1][name] = [type_name, value]
        elif kind == "block":
            frame.vars.append({})
            try:
                for stmt in node[2]:
                    self.exec(stmt, frame)
            finally:
                frame.vars.pop()
        elif kind == "if":
            if self.truth(self.eval(node[2], frame), node[2][1]):
                self.scoped(node[3], frame)
            elif node[4] is not None:
                self.scoped(node[4], frame)
        elif kind == "while":
            while self.truth(self.eval(node[2], frame), node[2][1]):
                self.step(node[1])
                try:
                    self.scoped(node[3], frame)
                except _Break:
                    break
                except _Continue:
                    continue
        elif kind == "do":
            while True:
                self.step(node[1])
                try:
                    self.scoped(node[2], frame)
                except _Break:
                    break
                except _Continue:
                    pass
                if not self.truth(self.eval(node[3], frame), node[3][1]):
                    break
        elif kind == "for":
            frame.vars.append({})
            try:
                if node[2] is not None:
                    self.exec(node[2], frame)
                while node[3] is None or self.truth(self.eval(node[3], frame), node[3][1]):
                    self.step(node[1])
                    try:
                        self.scoped(node[5], frame)
                    except _Break:
                        break
                    except _Continue:
                        pass
                    if node[4] is not None:
                        self.eval(node[4], frame)
            finally:
                frame.vars.pop()
        elif kind == "foreach":
            _, pos, type_name, name, iterable_node, body = node
            iterable = self.eval(iterable_node, frame)
            if iterable is None:
                raise err("null_pointer_exception", None, iterable_node[1])
            if isinstance(iterable, dict):
                items = map_keys(iterable)
            elif isinstance(iterable, list):
                items = iterable
            else:
                raise err("illegal_argument_exception",
                          f"Cannot iterate over [{java_class(iterable)}]", iterable_node[1])
            for index in range(len(items)) if isinstance(items, list) else ():
                if index >= len(items):
                    break
                self.step(pos)
                frame.vars.append({name: [type_name, cast(type_name, items[index], pos, explicit=False)]})
                try:
                    self.scoped(body, frame)
                except _Break:
                    break
                except _Continue:
                    pass
                finally:
                    frame.vars.pop()
        elif kind == "break":
            raise _Break()
        elif kind == "continue":
            raise _Continue()
        elif kind == "return":
            raise _Return(None if node[2] is None else self.eval(node[2], frame))
        elif kind == "throw":
            value = self.eval(node[2], frame)
            if value is None:
                raise err("null_pointer_exception", None, node[1])
            if not isinstance(value, JException):
                raise _bad_cast(value, "java.lang.Throwable", node[1])
            raise err(value.wire, value.message, node[1])
        else:  # pragma: no cover - parser produces only the kinds above
            raise err("illegal_state_exception", f"unknown statement {kind}", node[1])

    def scoped(self, node: tuple, frame: Frame) -> None:
        frame.vars.append({})
        try:
            self.exec(node, frame)
        finally:
            frame.vars.pop()

    def truth(self, value: Any, pos: int) -> bool:
        if not isinstance(value, bool):
            if value is None:
                raise err("null_pointer_exception", None, pos)
            raise _bad_cast(value, "java.lang.Boolean", pos)
        return value

    # -- expressions -------------------------------------------------------------------------
    def eval(self, node: tuple, frame: Frame) -> Any:
        kind = node[0]
        pos = node[1]
        if kind == "const":
            return node[2]
        if kind == "num":
            k, v = node[2]
            if k == "int":
                if not -2**31 <= v < 2**31:
                    raise err("illegal_argument_exception", f"Invalid int constant [{v}].", pos)
                return v
            if k == "long":
                return JLong(wrap64(v))
            if k == "float":
                return JFloat(_f32(v))
            return float(v)
        if kind == "var":
            return self.lookup(frame, node[2])[1]
        if kind == "bin":
            op = node[2]
            if op == "&&":
                return self.truth(self.eval(node[3], frame), pos) and self.truth(self.eval(node[4], frame), pos)
            if op == "||":
                return self.truth(self.eval(node[3], frame), pos) or self.truth(self.eval(node[4], frame), pos)
            a = self.eval(node[3], frame)
            b = self.eval(node[4], frame)
            if op == "==":
                return java_equals(a, b)
            if op == "!=":
                return not java_equals(a, b)
            if op == "===":
                return a is b or (is_num(a) and is_num(b) and a == b and type(a) is type(b))
            if op == "!==":
                return not (a is b or (is_num(a) and is_num(b) and a == b and type(a) is type(b)))
            if op in ("<", "<=", ">", ">="):
                return compare(op, a, b, pos)
            return arith(op, a, b, pos)
        if kind == "unary":
            op = node[2]
            v = self.eval(node[3], frame)
            if op == "!":
                return not self.truth(v, pos)
            if v is None:
                raise err("null_pointer_exception", None, pos)
            if not is_num(v):
                raise err("class_cast_exception",
                          f"Cannot apply [{op}] operation to type [{java_class(v)}].", pos)
            r = rank(v)
            x = num_value(v)
            if op == "-":
                return make(-x, r)
            if op == "+":
                return make(x, r)
            if r >= 2:
                raise err("class_cast_exception",
                          f"Cannot apply [{op}] operation to type [{java_class(v)}].", pos)
            return make(~int(x), r)
        if kind == "cond":
            return self.eval(node[3] if self.truth(self.eval(node[2], frame), pos) else node[4], frame)
        if kind == "elvis":
            v = self.eval(node[2], frame)
            return self.eval(node[3], frame) if v is None else v
        if kind == "instanceof":
            v = self.eval(node[2], frame)
            if v is None:
                return False
            if node[3] in ("def", "Object"):
                return True
            try:
                cast(node[3], v, pos, explicit=False)
            except PainlessError:
                return False
            if node[3] in _NUMERIC:
                return rank(v) == _NUMERIC[node[3]] and not isinstance(v, JChar)
            return True
        if kind == "cast":
            return cast(node[2], self.eval(node[3], frame), pos, explicit=True)
        if kind == "assign":
            return self.assign(node, frame)
        if kind == "incdec":
            _, _, op, target, prefix = node
            old = self.eval(target, frame)
            new = arith("+" if op == "++" else "-", old, 1, pos)
            if isinstance(old, int) and not isinstance(old, (bool, JLong)) and type(old) is int:
                new = wrap32(int(new))
            self.store(target, new, frame)
            return new if prefix else old
        if kind == "field":
            return self.field(node, frame)
        if kind == "index":
            target = self.eval(node[2], frame)
            index = self.eval(node[3], frame)
            return self.get_index(target, index, pos)
        if kind == "call":
            _, _, target_node, name, arg_nodes, safe = node
            target = self.eval(target_node, frame)
            if target is None and safe:
                return None
            args = [self.eval(a, frame) for a in arg_nodes]
            return self.call_method(target, name, args, pos)
        if kind == "fcall":
            args = [self.eval(a, frame) for a in node[3]]
            return self.call_function(node[2], args, pos)
        if kind == "static":
            args = [self.eval(a, frame) for a in node[4]]
            return call_static(node[2], node[3], args, pos)
        if kind == "staticfield":
            return static_field(node[2], node[3], pos)
        if kind == "list":
            return [self.eval(item, frame) for item in node[2]]
        if kind == "map":
            out = HashMap()
            for k, v in node[2]:
                out[self.eval(k, frame)] = self.eval(v, frame)
            return out
        if kind == "new":
            return self.construct(node[2], [self.eval(a, frame) for a in node[3]], pos)
        if kind == "newarray":
            sizes = [self.eval(d, frame) for d in node[3]]
            return self.new_array(node[2], sizes, pos)
        if kind == "arrayinit":
            return JArray(cast(node[2], self.eval(item, frame), pos, explicit=False) for item in node[3])
        raise err("illegal_state_exception", f"unknown expression {kind}", pos)

    def new_array(self, type_name: str, sizes: list, pos: int) -> JArray:
        size = sizes[0]
        if not isinstance(size, int) or isinstance(size, bool):
            raise _bad_cast(size, "int", pos)
        if size < 0:
            raise err("negative_array_size_exception", f"{size}", pos)
        if len(sizes) > 1:
            return JArray(self.new_array(type_name, sizes[1:], pos) for _ in range(size))
        return JArray([default_value(type_name)] * size)

    def construct(self, type_name: str, args: list, pos: int) -> Any:
        if type_name in ("ArrayList", "List"):
            if args and isinstance(args[0], list):
                return list(args[0])
            return []
        if type_name in ("HashMap", "Map"):
            out = HashMap()
            if args and isinstance(args[0], dict):
                for k in map_keys(args[0]):
                    out[k] = args[0][k]
            return out
        if type_name == "LinkedHashMap":
            return dict(args[0]) if args and isinstance(args[0], dict) else {}
        if type_name == "StringBuilder":
            if args and isinstance(args[0], str):
                return JStringBuilder(str(args[0]))
            return JStringBuilder()
        if type_name == "String":
            return to_string(args[0]) if args else ""
        if type_name.endswith("Exception"):
            wire = re.sub(r"(?<!^)(?=[A-Z])", "_", type_name).lower()
            return JException(wire, None if not args else to_string(args[0]))
        raise err("illegal_argument_exception",
                  f"constructor [{type_name}, <init>/{len(args)}] not found", pos)

    def assign(self, node: tuple, frame: Frame) -> Any:
        _, pos, op, target, value_node = node
        if op == "=":
            value = self.eval(value_node, frame)
        else:
            old = self.eval(target, frame)
            rhs = self.eval(value_node, frame)
            value = arith(op[:-1], old, rhs, pos)
            if target[0] == "var" and not isinstance(old, str):
                # compound assignment casts back to the variable's type
                type_name = self.lookup(frame, target[2])[0]
                if type_name in _NUMERIC:
                    value = cast(type_name, value, pos, explicit=True)
        self.store(target, value, frame)
        return value

    def store(self, target: tuple, value: Any, frame: Frame) -> None:
        kind = target[0]
        pos = target[1]
        if kind == "var":
            cell = self.lookup(frame, target[2])
            cell[1] = cast(cell[0], value, pos, explicit=False)
        elif kind == "index":
            container = self.eval(target[2], frame)
            index = self.eval(target[3], frame)
            if container is None:
                raise err("null_pointer_exception", None, pos)
            if isinstance(container, dict):
                container[index] = value
            elif isinstance(container, list):
                i = self.list_index(container, index, pos)
                container[i] = value
            else:
                raise err("illegal_argument_exception",
                          f"Attempting to address a non-array-like type [{java_class(container)}] as an array.", pos)
        elif kind == "field":
            container = self.eval(target[2], frame)
            if container is None:
                raise err("null_pointer_exception", None, pos)
            if isinstance(container, dict):
                container[target[3]] = value
            else:
                raise err("illegal_argument_exception",
                          f"dynamic setter [{java_class(container)}, {target[3]}] not found", pos)

    def list_index(self, container: list, index: Any, pos: int) -> int:
        if not isinstance(index, int) or isinstance(index, bool):
            raise _bad_cast(index, "java.lang.Integer", pos)
        n = len(container)
        if isinstance(container, JArray):
            i = index + n if index < 0 else index  # Painless allows negative array indexes
            if not 0 <= i < n:
                raise err("array_index_out_of_bounds_exception",
                          f"Index {index} out of bounds for length {n}", pos)
            return i
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise err("index_out_of_bounds_exception", f"Index {index} out of bounds for length {n}", pos)
        return i

    def get_index(self, target: Any, index: Any, pos: int) -> Any:
        if target is None:
            raise err("null_pointer_exception", None, pos)
        if isinstance(target, dict):
            return target.get(index)
        if isinstance(target, list):
            return target[self.list_index(target, index, pos)]
        raise err("illegal_argument_exception",
                  f"Attempting to address a non-array-like type [{java_class(target)}] as an array.", pos)

    def field(self, node: tuple, frame: Frame) -> Any:
        _, pos, target_node, name, safe = node
        target = self.eval(target_node, frame)
        if target is None:
            if safe:
                return None
            raise err("null_pointer_exception", None, pos)
        if isinstance(target, dict):
            return target.get(name)
        if isinstance(target, JArray) and name == "length":
            return len(target)
        if isinstance(target, list) and name.isdigit():
            return self.get_index(target, int(name), pos)
        # getter shortcuts: x.empty -> isEmpty(), x.size? no; x.foo -> getFoo()
        getter = "get" + name[:1].upper() + name[1:]
        for method in (getter, "is" + name[:1].upper() + name[1:]):
            try:
                return self.call_method(target, method, [], pos)
            except PainlessError as exc:
                if "not found" not in (exc.reason or ""):
                    raise
        raise err("illegal_argument_exception", f"dynamic getter [{java_class(target)}, {name}] not found", pos)

    def call_function(self, name: str, args: list, pos: int) -> Any:
        fn = self.functions.get(name)
        if fn is None:
            if name == "escape" and len(args) == 1:
                return escape(args[0])
            raise err("illegal_argument_exception", f"Unknown call [{name}] with [{len(args)}] arguments.", pos)
        _, _, params, body = fn
        self.step(pos)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.depth = 0
            raise err("stack_overflow_error", None, pos)
        frame = Frame()
        for (pname, ptype), value in zip(params, args):
            frame.vars[0][pname] = [ptype, cast(ptype, value, pos, explicit=False)]
        try:
            self.exec(body, frame)
            return None
        except _Return as r:
            return r.value
        finally:
            self.depth -= 1

    def call_method(self, target: Any, name: str, args: list, pos: int) -> Any:
        from mlcommons_emu.painless.methods import call_method

        if target is None:
            raise err("null_pointer_exception", None, pos)
        return call_method(self, target, name, args, pos)


def static_field(owner: str, name: str, pos: int) -> Any:
    table = {
        ("Integer", "MAX_VALUE"): 2**31 - 1, ("Integer", "MIN_VALUE"): -2**31,
        ("Long", "MAX_VALUE"): JLong(2**63 - 1), ("Long", "MIN_VALUE"): JLong(-2**63),
        ("Double", "MAX_VALUE"): 1.7976931348623157e308, ("Double", "MIN_VALUE"): 5e-324,
        ("Double", "NaN"): math.nan, ("Double", "POSITIVE_INFINITY"): math.inf,
        ("Double", "NEGATIVE_INFINITY"): -math.inf, ("Math", "PI"): math.pi, ("Math", "E"): math.e,
    }
    if (owner, name) in table:
        return table[(owner, name)]
    raise err("illegal_argument_exception", f"static field [{owner}, {name}] not found", pos)


def call_static(owner: str, name: str, args: list, pos: int) -> Any:
    from mlcommons_emu.painless.methods import call_static as impl

    return impl(owner, name, args, pos)


__all__ = ["Interpreter", "escape", "DEFAULT_MAX_STEPS", "arith", "cast", "java_equals"]
