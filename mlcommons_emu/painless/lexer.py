"""Tokenizer for the Painless subset connector scripts use; every token keeps its offset."""
from __future__ import annotations

from dataclasses import dataclass

from mlcommons_emu.painless.errors import PainlessError

_OPS = sorted("""
>>>= <<= >>= >>> === !== ?: ?. ++ -- += -= *= /= %= &= |= ^= == != <= >= && || << >> ->
{ } ( ) [ ] ; , . ? : = + - * / % ! ~ < > & | ^
""".split(), key=len, reverse=True)


@dataclass
class Token:
    kind: str  # "id", "num", "str", "op", "eof"
    value: object
    pos: int
    end: int
    text: str = ""


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
            continue
        if source.startswith("//", i):
            j = source.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if source.startswith("/*", i):
            j = source.find("*/", i + 2)
            if j < 0:
                raise PainlessError("unterminated comment", i, compile_error=True)
            i = j + 2
            continue
        if c.isalpha() or c == "_" or c == "$":
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "_$"):
                j += 1
            tokens.append(Token("id", source[i:j], i, j, source[i:j]))
            i = j
            continue
        if c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i
            if source.startswith(("0x", "0X"), i):
                j = i + 2
                while j < n and source[j] in "0123456789abcdefABCDEF":
                    j += 1
                text = source[i:j]
                value: object = ("int", int(text, 16))
            else:
                while j < n and source[j].isdigit():
                    j += 1
                is_float = False
                if j < n and source[j] == "." and j + 1 < n and source[j + 1].isdigit():
                    is_float = True
                    j += 1
                    while j < n and source[j].isdigit():
                        j += 1
                if j < n and source[j] in "eE":
                    k = j + 1
                    if k < n and source[k] in "+-":
                        k += 1
                    if k < n and source[k].isdigit():
                        is_float = True
                        j = k
                        while j < n and source[j].isdigit():
                            j += 1
                text = source[i:j]
                value = ("double", float(text)) if is_float else ("int", int(text))
            if j < n and source[j] in "lLdDfF":
                suffix = source[j].lower()
                j += 1
                kind = {"l": "long", "d": "double", "f": "float"}[suffix]
                if kind == "long" and value[0] != "int":
                    raise PainlessError("invalid number", i, compile_error=True)
                value = (kind, value[1] if kind == "long" else float(value[1]))
            tokens.append(Token("num", value, i, j, source[i:j]))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            out = []
            while True:
                if j >= n:
                    raise PainlessError("unterminated string", i, compile_error=True)
                ch = source[j]
                if ch == "\\" and j + 1 < n and source[j + 1] in ("\\", c):
                    # Painless string literals only know the escapes \\ and the quote
                    out.append(source[j + 1])
                    j += 2
                    continue
                if ch == c:
                    break
                out.append(ch)
                j += 1
            tokens.append(Token("str", "".join(out), i, j + 1, source[i:j + 1]))
            i = j + 1
            continue
        for op in _OPS:
            if source.startswith(op, i):
                tokens.append(Token("op", op, i, i + len(op), op))
                i += len(op)
                break
        else:
            raise PainlessError(f"unexpected character [{c}].", i, compile_error=True)
    tokens.append(Token("eof", None, n, n, "<EOF>"))
    return tokens
