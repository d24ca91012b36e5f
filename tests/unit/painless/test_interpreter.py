"""The Painless interpreter: constructs, Java semantics, errors and their script_exception shape."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from mlcommons_emu.errors import ScriptError
from mlcommons_emu.painless import PainlessError, compile_script, run, to_string
from mlcommons_emu.painless.values import JLong


def ev(source: str, params: dict | None = None, **kw):
    return compile_script(source).execute(params or {}, **kw)


@pytest.mark.parametrize("source, expected", [
    ("return 7 / 2", 3),
    ("return -7 / 2", -3),
    ("return -7 % 3", -1),
    ("return 7.0 / 2", 3.5),
    ("return 2147483647 + 1", -2147483648),
    ("return 9223372036854775807L + 1", -9223372036854775808),
    ("int x = 5; x += 2.7; return x", 7),
    ("return 1 + 2 * 3 - 4", 3),
    ("return (1 + 2) * 3", 9),
    ("return 1 << 33", 2),
    ("return -1 >>> 28", 15),
    ("return 5 & 3 | 8 ^ 1", 9),
    ("return 1 < 2 && !(3 >= 4) || false", True),
    ("return 1 == 1.0", True),
    ("return 'a' + 1 + 2", "a12"),
    ("return 1 + 2 + 'a'", "3a"),
    ("return 'x' + 1.0", "x1.0"),
    ("return 'x' + 0.1 + ',' + 1.0E-5 + ',' + 1e7 + ',' + null + true", "x0.1,1.0E-5,1.0E7,nulltrue"),
    ("return String.valueOf(100.0)", "100.0"),
    ("return 1 > 0 ? 'yes' : 'no'", "yes"),
    ("return params.missing ?: 'dflt'", "dflt"),
    ("return params.missing?.length()", None),
    ("def s = 'abc'; s += 'd'; return s", "abcd"),
    ("String s = 'abc'; return s.length()", 3),
    ("return 'Hello'.substring(1, 3) + 'Hello'.substring(3)", "ello"),
    ("return 'a-b-c'.replace('-', '+')", "a+b+c"),
    ("return 'abc'.contains('b') && 'abc'.startsWith('a') && 'abc'.endsWith('c')", True),
    ("return 'abc'.indexOf('c') + 'abc'.indexOf('z')", 1),
    ("return '  x '.trim().toUpperCase() + 'Y'.toLowerCase()", "Xy"),
    ("return 'abc'.charAt(1) + ''", "b"),
    ("return 'a'.equals('a') && !''.isEmpty() == false", True),
    ("return String.join(',', ['a', 'b'])", "a,b"),
    ("return 'a,b,,'.split(',').length", 2),
    ("return Integer.parseInt('42') + 1", 43),
    ("return Double.parseDouble('1.5') * 2", 3.0),
    ("return Math.max(1, 2) + Math.min(3, 4) + Math.abs(-5)", 10),
    ("return Math.round(2.5)", 3),
    ("return Math.floor(2.7) + Math.ceil(2.1) + Math.sqrt(16.0) + Math.pow(2, 3)", 17.0),
    ("return (int) 3.99", 3),
    ("return (int) -3.99", -3),
    ("return (long) 3 instanceof Long", True),
    ("return (double) 3 / 2", 1.5),
    ("def x = 'a'; return x instanceof String", True),
    ("def x = [1]; return x instanceof Map", False),
    ("def l = new ArrayList(); l.add(1); l.add('b'); l.addAll([3, 4]); return l", [1, "b", 3, 4]),
    ("List l = [1, 2, 3]; return l.size() + l.get(2) + l[0]", 7),
    ("def m = new HashMap(); m.put('a', 1); m['b'] = 2; m.c = 3; return m.a + m['b'] + m.get('c')", 6),
    ("Map m = [:]; return m.isEmpty() && !m.containsKey('x')", True),
    ("def m = ['k': 'v']; return m.keySet() + '' + m.values()", "[k][v]"),
    ("def m = ['k': 'v']; def out = ''; for (def e : m.entrySet()) { out += e.getKey() + '=' + e.getValue(); } return out", "k=v"),
    ("def sb = new StringBuilder(); sb.append('a').append(1).append(2.0).append(null); return sb.toString()", "a12.0null"),
    ("StringBuilder sb = new StringBuilder('x'); sb.append(sb.length()); return sb + ''", "x1"),
    ("def t = 0; for (int i = 0; i < 10; i++) { if (i % 2 == 0) continue; if (i > 7) break; t += i; } return t", 16),
    ("def t = 0; for (def x : [1, 2, 3]) { t += x } return t", 6),
    ("def t = 0; for (x in [1, 2, 3]) { t += x } return t", 6),
    ("int i = 0; while (i < 5) { i++; } return i", 5),
    ("int i = 0; do { i += 2; } while (i < 5); return i", 6),
    ("if (params.a == 1) { return 'one'; } else if (params.a == 2) { return 'two'; } else { return 'many'; }", "two"),
    ("def[] a = new def[3]; a[0] = 1; return a.length", 3),
    ("String[] a = new String[] {'x', 'y'}; return a[1] + a.length", "y2"),
    ("int[] a = new int[2]; a[1] += 5; return a[0] + a[1]", 5),
    ("return params.x[1]", "b"),
    ("return params['x'].size()", 2),
    ("return params.x.length", 2),
    ("def f(def a) { return a * 2; } return f(21)", 42),
    ("int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); } return fib(10)", 55),
    ("String escape(def s) { return 'E' + s; } return escape('x')", "Ex"),
    ("return escape('a\"b\\\\c')", 'a\\"b\\\\c'),
    ("'last expression'", "last expression"),
    ("return [1, [2, 3], ['a': 1]].toString()", "[1, [2, 3], {a=1}]"),
    ("def x = 1; x++; ++x; x--; return x", 2),
    ("long x = 3; return x / 2 * 2.0", 2.0),
    ("float f = 0.1f; return f + ''", "0.1"),
    ("return 10 / 4 * 4", 8),
    ("/* c */ return 1; // comment", 1),
])
def test_constructs(source, expected):
    result = ev(source, {"a": 2, "x": ["a", "b"]})
    if isinstance(expected, float):
        assert isinstance(result, float) and result == expected
    else:
        assert result == expected
        assert type(result) is not bool or type(expected) is bool


def test_escape_helper_covers_control_characters():
    assert ev("return escape(params.s)", {"s": 'q"\\\r\n\b\f'}) == 'q\\"\\\\\\r\\n\\b\\f'


def test_escape_helper_is_absent_when_disabled():
    with pytest.raises(PainlessError) as info:
        compile_script("return escape('x')", escape_helper=False)
    assert info.value.compile_error and info.value.position == 7


def test_hashmap_iterates_in_java_order():
    # java.util.HashMap puts "b" (hash 98 -> bucket 2) before "z" (122 -> 10) and "aa" (3104 -> 0)
    assert ev("def m = ['z': 1, 'b': 2, 'aa': 3]; return m.keySet()") == ["aa", "b", "z"]
    assert ev("def m = ['z': 1, 'b': 2]; return m.toString()") == "{b=2, z=1}"


def test_params_keep_their_order():
    assert ev("return params.keySet()", {"z": 1, "a": 2}) == ["z", "a"]


def test_long_stays_long():
    assert isinstance(ev("return 5L / 2"), JLong)


# -- errors -------------------------------------------------------------------------------------

def test_compile_error_position_and_rendering():
    source = "def x = 1;\nreturn x +;"
    with pytest.raises(PainlessError) as info:
        compile_script(source)
    error = info.value
    assert error.compile_error and error.position == source.index(";", 15)
    script_error = error.to_script_error(source)
    assert isinstance(script_error, ScriptError)
    assert script_error.reason == "compile error"
    assert script_error.status == 400 and script_error.lang == "painless"
    assert script_error.script == source
    assert script_error.position == {"offset": 21, "start": 0, "end": 22}
    assert script_error.script_stack == [source, " " * 21 + "^---- HERE"]
    assert script_error.cause.type == "illegal_argument_exception"
    assert script_error.cause.reason == "invalid sequence of tokens near [;]."


def test_compile_error_snippet_is_cut_25_characters_either_side():
    source = "def a = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'; def b = ; return 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';"
    with pytest.raises(ScriptError) as info:
        run(source)
    offset = source.index("; return")
    assert info.value.position == {"offset": offset, "start": offset - 25, "end": offset + 25}
    assert info.value.script_stack[0] == "... " + source[offset - 25:offset + 25] + " ..."
    assert info.value.script_stack[1] == " " * 29 + "^---- HERE"


def test_unknown_variable_is_a_compile_error():
    with pytest.raises(PainlessError) as info:
        compile_script("return foo.bar + 1")
    assert info.value.reason == "cannot resolve symbol [foo.bar]" and info.value.position == 7
    with pytest.raises(PainlessError) as info:
        compile_script("connector.pre_process.openai.embeddings")
    assert info.value.reason == "cannot resolve symbol [connector.pre_process.openai.embeddings]"


@pytest.mark.parametrize("source", ["return 1 +", "def x = ;", "if (true { }", "return 'abc", "def x = 1 1;",
                                    "new Foo()", "return unknownFn(1)"])
def test_syntax_errors(source):
    with pytest.raises(PainlessError) as info:
        compile_script(source)
    assert info.value.compile_error
    assert 0 <= info.value.position <= len(source)


def _runtime(source: str, params: dict | None = None) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        run(source, params or {})
    assert info.value.reason == "runtime error"
    return info.value


def test_null_pointer():
    source = "def a = 1;\ndef s = params.missing;\nreturn s.length();"
    error = _runtime(source)
    assert error.cause.type == "null_pointer_exception"
    start = source.index("return")
    offset = source.index("length")
    assert error.position == {"offset": offset, "start": start, "end": len(source)}
    assert error.script_stack == [source[start:], " " * (offset - start) + "^---- HERE"]


def test_list_index_out_of_bounds():
    error = _runtime("return params.docs[2]", {"docs": ["a"]})
    assert error.cause.type == "index_out_of_bounds_exception"
    assert error.cause.reason == "Index 2 out of bounds for length 1"


def test_array_index_out_of_bounds():
    error = _runtime("def[] a = new def[1]; return a[3];")
    assert error.cause.type == "array_index_out_of_bounds_exception"
    assert error.position["start"] == 22


def test_string_index_out_of_bounds():
    assert _runtime("return 'ab'.substring(3)").cause.type == "string_index_out_of_bounds_exception"


def test_bad_cast():
    error = _runtime("def x = 5; String s = x; return s;")
    assert error.cause.type == "class_cast_exception"
    assert error.cause.reason == "Cannot cast java.lang.Integer to java.lang.String"
    assert _runtime("return (List) params.m", {"m": {}}).cause.type == "class_cast_exception"


def test_unknown_method():
    error = _runtime("return 'abc'.frobnicate(1)")
    assert error.cause.type == "illegal_argument_exception"
    assert error.cause.reason == "dynamic method [java.lang.String, frobnicate/1] not found"


def test_division_by_zero():
    assert _runtime("return 1 / 0").cause.reason == "/ by zero"
    assert ev("return 1.0 / 0") == math.inf


def test_number_format():
    assert _runtime("return Integer.parseInt('x1')").cause.type == "number_format_exception"


def test_endless_loop_hits_the_step_limit():
    with pytest.raises(PainlessError) as info:
        compile_script("while (true) { }").execute({}, max_steps=1000)
    assert info.value.java_type == "painless_error"
    error = _runtime("int i = 0; for (;;) { i++; }")
    assert error.cause.type == "painless_error"
    assert error.cause.reason == ("The maximum number of statements that can be executed in a loop "
                                  "has been reached.")


def test_endless_recursion_is_an_error():
    error = _runtime("def f(def x) { return f(x); } return f(1);")
    assert error.cause.type == "stack_overflow_error"


def test_rendered_by_the_rest_layer():
    from mlcommons_emu.api.errors import _cause

    rendered = _cause(_runtime("return params.x.y", {}))
    assert rendered["type"] == "script_exception" and rendered["reason"] == "runtime error"
    assert rendered["caused_by"] == {"type": "null_pointer_exception", "reason": None}
    assert list(rendered) == ["type", "reason", "script_stack", "script", "lang", "position", "caused_by"]


# -- hypothesis: arithmetic and string building agree with Java semantics computed in Python ----

def _wrap(v: int, bits: int = 32) -> int:
    return ((v + 2 ** (bits - 1)) % 2 ** bits) - 2 ** (bits - 1)


def _jdiv(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


@st.composite
def int_expr(draw, depth=0):
    if depth > 3 or draw(st.booleans()):
        v = draw(st.integers(-2**31 + 1, 2**31 - 1))
        return f"({v})", v
    op = draw(st.sampled_from(["+", "-", "*", "/", "%"]))
    ls, lv = draw(int_expr(depth + 1))
    rs, rv = draw(int_expr(depth + 1))
    if op in "/%" and rv == 0:
        rs, rv = "(7)", 7
    if op == "+":
        v = _wrap(lv + rv)
    elif op == "-":
        v = _wrap(lv - rv)
    elif op == "*":
        v = _wrap(lv * rv)
    elif op == "/":
        v = _wrap(_jdiv(lv, rv))
    else:
        v = _wrap(lv - _jdiv(lv, rv) * rv)
    return f"({ls} {op} {rs})", v


@settings(max_examples=150, deadline=None)
@given(int_expr())
def test_int_arithmetic_matches_java(case):
    source, expected = case
    assert ev(f"int r = {source}; return r") == expected


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["+", "-", "*"]),
                          st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: round(f, 3))), min_size=1, max_size=6),
       st.integers(-1000, 1000))
def test_double_arithmetic_matches_java(ops, start):
    source = f"def r = {start}; "
    expected: float | int = start
    for op, value in ops:
        source += f"r = r {op} {value!r}; "
        expected = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[op](expected, value)
    source += "return '' + r"
    assert ev(source) == to_string(float(expected))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(alphabet="ab\"\\ é", max_size=5), st.integers(-10**6, 10**6),
                          st.booleans(), st.none()), max_size=8))
def test_string_building_matches_java(items):
    expected = "".join(to_string(i) for i in items)
    assert ev("def sb = new StringBuilder(); for (def x : params.items) { sb.append(x); } return sb.toString()",
              {"items": items}) == expected
    assert ev("String s = ''; for (def x : params.items) { s += x; } return s", {"items": items}) == expected
