"""Recursive-descent parser: Painless source -> a tree of tuples ``(kind, pos, ...)``.

Names are resolved while parsing, so an unknown variable is a compile error (as in Painless,
``cannot resolve symbol [name]``) pointing at its offset.
"""
from __future__ import annotations

from typing import Any

from mlcommons_emu.painless.errors import PainlessError
from mlcommons_emu.painless.lexer import Token, tokenize

TYPES = {
    "def", "String", "int", "long", "double", "float", "boolean", "byte", "short", "char", "void",
    "List", "Map", "ArrayList", "HashMap", "LinkedHashMap", "TreeMap", "StringBuilder", "Object",
    "Integer", "Long", "Double", "Float", "Boolean", "Number", "Set", "HashSet", "Collection",
    "Iterator", "Map.Entry", "Character", "CharSequence",
    "Exception", "RuntimeException", "IllegalArgumentException", "IllegalStateException",
    "UnsupportedOperationException", "NullPointerException",
}
STATICS = {"Math", "Integer", "Long", "Double", "Float", "String", "Boolean", "Objects", "Character",
           "Collections", "Arrays"}
ASSIGN = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", ">>>="}
BINARY = [
    ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!=", "===", "!=="], ["<", "<=", ">", ">=", "instanceof"],
    ["<<", ">>", ">>>"], ["+", "-"], ["*", "/", "%"],
]


class Parser:
    def __init__(self, source: str, *, escape_helper: bool = True) -> None:
        self.source = source
        self.escape_helper = escape_helper
        self.tokens = tokenize(source)
        self.i = 0
        self.scopes: list[set[str]] = []
        self.functions: dict[str, Any] = {}
        self.calls: list[tuple[str, int, int]] = []
        self.statements: list[int] = []

    # -- token helpers -----------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def at(self, value: str, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind in ("op", "id") and t.value == value

    def next(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, value: str) -> Token:
        if not self.at(value):
            self.fail()
        return self.next()

    def fail(self, token: Token | None = None):
        t = token or self.tok
        if t.kind == "eof":
            raise PainlessError("unexpected end of script.", t.pos, compile_error=True)
        raise PainlessError(f"invalid sequence of tokens near [{t.text}].", t.pos, compile_error=True)

    def ident(self) -> Token:
        if self.tok.kind != "id":
            self.fail()
        return self.next()

    # -- scopes ------------------------------------------------------------------------------
    def declare(self, name: str, token: Token) -> None:
        if any(name in s for s in self.scopes):
            raise PainlessError(f"variable [{name}] is already defined", token.pos, compile_error=True)
        self.scopes[-1].add(name)

    def known(self, name: str) -> bool:
        return any(name in s for s in self.scopes)

    # -- types -------------------------------------------------------------------------------
    def is_type_start(self, k: int = 0) -> bool:
        t = self.peek(k)
        if t.kind != "id":
            return False
        if t.value in TYPES:
            return True
        return False

    def type_len(self, k: int = 0) -> int:
        """Tokens in a type starting at k (0 if none): Name ('.' Name)? ('[' ']')*."""
        if not self.is_type_start(k):
            return 0
        n = 1
        if self.peek(k).value == "Map" and self.at(".", k + 1) and self.peek(k + 2).value == "Entry":
            n = 3
        while self.at("[", k + n) and self.at("]", k + n + 1):
            n += 2
        return n

    def parse_type(self) -> str:
        n = self.type_len()
        if not n:
            self.fail()
        name = "".join(str(self.next().value) for _ in range(n))
        return name

    def is_declaration(self) -> bool:
        n = self.type_len()
        return bool(n) and self.peek(n).kind == "id"

    # -- program -----------------------------------------------------------------------------
    def parse_program(self) -> tuple:
        self.scopes.append({"params"})
        # functions come first in a Painless script: TYPE NAME '(' ...
        bodies = []
        while True:
            n = self.type_len()
            if n and self.peek(n).kind == "id" and self.at("(", n + 1):
                bodies.append(self.parse_function())
            else:
                break
        statements = []
        while self.tok.kind != "eof":
            statements.append(self.parse_statement())
        for name, arity, pos in self.calls:
            fn = self.functions.get(name)
            if fn is None and name == "escape" and arity == 1 and self.escape_helper:
                continue  # ML Commons prepends its escape() helper (2.12+)
            if fn is None or len(fn[2]) != arity:
                raise PainlessError(f"Unknown call [{name}] with [{arity}] arguments.", pos, compile_error=True)
        return ("block", 0, statements)

    def parse_function(self) -> None:
        self.statements.append(self.tok.pos)
        self.parse_type()
        name_tok = self.ident()
        self.expect("(")
        names: list[tuple[str, str]] = []
        saved = self.scopes
        self.scopes = [set()]
        while not self.at(")"):
            ptype = self.parse_type()
            pname = self.ident()
            self.declare(pname.value, pname)
            names.append((pname.value, ptype))
            if not self.at(")"):
                self.expect(",")
        self.expect(")")
        self.functions[name_tok.value] = None  # allows recursion
        self.functions[name_tok.value] = ("fn", name_tok.pos, names, None)
        body = self.parse_block(new_scope=False)
        self.functions[name_tok.value] = ("fn", name_tok.pos, names, body)
        self.scopes = saved

    def parse_block(self, new_scope: bool = True) -> tuple:
        t = self.expect("{")
        if new_scope:
            self.scopes.append(set())
        out = []
        while not self.at("}"):
            if self.tok.kind == "eof":
                self.fail()
            out.append(self.parse_statement())
        self.next()
        if new_scope:
            self.scopes.pop()
        return ("block", t.pos, out)

    def parse_body(self) -> tuple:
        """A loop or branch body: a block or one statement, in its own scope."""
        if self.at("{"):
            return self.parse_block()
        self.scopes.append(set())
        stmt = self.parse_statement()
        self.scopes.pop()
        return stmt

    def parse_statement(self) -> tuple:
        t = self.tok
        self.statements.append(t.pos)
        if self.at("{"):
            return self.parse_block()
        if self.at(";"):
            self.next()
            return ("block", t.pos, [])
        if t.kind == "id":
            kw = t.value
            if kw == "if":
                self.next()
                self.expect("(")
                cond = self.parse_expr()
                self.expect(")")
                then = self.parse_body()
                other = None
                if self.at("else"):
                    self.next()
                    other = self.parse_body()
                return ("if", t.pos, cond, then, other)
            if kw == "while":
                self.next()
                self.expect("(")
                cond = self.parse_expr()
                self.expect(")")
                return ("while", t.pos, cond, self.parse_body())
            if kw == "do":
                self.next()
                body = self.parse_body()
                self.expect("while")
                self.expect("(")
                cond = self.parse_expr()
                self.expect(")")
                self.end_statement()
                return ("do", t.pos, body, cond)
            if kw == "for":
                return self.parse_for()
            if kw in ("break", "continue"):
                self.next()
                self.end_statement()
                return (kw, t.pos)
            if kw == "return":
                self.next()
                value = None
                if not self.at(";") and not self.at("}") and self.tok.kind != "eof":
                    value = self.parse_expr()
                self.end_statement()
                return ("return", t.pos, value)
            if kw == "throw":
                self.next()
                value = self.parse_expr()
                self.end_statement()
                return ("throw", t.pos, value)
            if self.is_declaration():
                decl = self.parse_declaration()
                self.end_statement()
                return decl
        expr = self.parse_expr()
        self.end_statement()
        return ("expr", t.pos, expr)

    def end_statement(self) -> None:
        # Painless lets the last statement of a block or script omit its semicolon
        if self.at(";"):
            self.next()
        elif not (self.at("}") or self.tok.kind == "eof"):
            self.fail()

    def parse_declaration(self) -> tuple:
        start = self.tok
        type_name = self.parse_type()
        items = []
        while True:
            name = self.ident()
            init = None
            if self.at("="):
                self.next()
                init = self.parse_expr()
            self.declare(name.value, name)
            items.append((name.value, init, name.pos))
            if not self.at(","):
                break
            self.next()
        return ("decl", start.pos, type_name, items)

    def parse_for(self) -> tuple:
        t = self.next()
        self.expect("(")
        self.scopes.append(set())
        # for-each: (TYPE name : expr) or (name in expr)
        n = self.type_len()
        typed = bool(n) and self.peek(n).kind == "id" and self.at(":", n + 1)
        if typed or (self.tok.kind == "id" and self.at("in", 1)):
            type_name = self.parse_type() if typed else "def"
            name = self.ident()
            self.next()  # ":" or "in"
            iterable = self.parse_expr()
            self.expect(")")
            self.declare(name.value, name)
            body = self.parse_body()
            self.scopes.pop()
            return ("foreach", t.pos, type_name, name.value, iterable, body)
        init = None
        if not self.at(";"):
            init = self.parse_declaration() if self.is_declaration() else ("expr", self.tok.pos, self.parse_expr())
        self.expect(";")
        cond = None if self.at(";") else self.parse_expr()
        self.expect(";")
        update = None if self.at(")") else self.parse_expr()
        self.expect(")")
        body = self.parse_body()
        self.scopes.pop()
        return ("for", t.pos, init, cond, update, body)

    # -- expressions -------------------------------------------------------------------------
    def parse_expr(self) -> tuple:
        return self.parse_assign()

    def parse_assign(self) -> tuple:
        left = self.parse_conditional()
        if self.tok.kind == "op" and self.tok.value in ASSIGN:
            op = self.next()
            if left[0] not in ("var", "field", "index"):
                raise PainlessError("invalid assignment: cannot assign a value to this expression",
                                    op.pos, compile_error=True)
            right = self.parse_assign()
            return ("assign", op.pos, op.value, left, right)
        return left

    def parse_conditional(self) -> tuple:
        cond = self.parse_binary(0)
        if self.at("?"):
            t = self.next()
            a = self.parse_assign()
            self.expect(":")
            b = self.parse_assign()
            return ("cond", t.pos, cond, a, b)
        if self.at("?:"):
            t = self.next()
            b = self.parse_assign()
            return ("elvis", t.pos, cond, b)
        return cond

    def parse_binary(self, level: int) -> tuple:
        if level == len(BINARY):
            return self.parse_unary()
        left = self.parse_binary(level + 1)
        while self.tok.kind in ("op", "id") and self.tok.value in BINARY[level]:
            op = self.next()
            if op.value == "instanceof":
                type_name = self.parse_type()
                left = ("instanceof", op.pos, left, type_name)
                continue
            right = self.parse_binary(level + 1)
            left = ("bin", op.pos, op.value, left, right)
        return left

    def parse_unary(self) -> tuple:
        t = self.tok
        if t.kind == "op" and t.value in ("!", "~", "-", "+"):
            self.next()
            operand = self.parse_unary()
            if t.value == "-" and operand[0] == "num":
                kind, value = operand[2]
                return ("num", t.pos, (kind, -value))
            return ("unary", t.pos, t.value, operand)
        if t.kind == "op" and t.value in ("++", "--"):
            self.next()
            target = self.parse_unary()
            return ("incdec", t.pos, t.value, target, True)
        if t.kind == "op" and t.value == "(":
            n = self.type_len(1)
            if n and self.at(")", n + 1):
                self.next()
                type_name = self.parse_type()
                self.expect(")")
                operand = self.parse_unary()
                return ("cast", t.pos, type_name, operand)
        return self.parse_postfix(self.parse_primary())

    def parse_args(self) -> list:
        self.expect("(")
        args = []
        while not self.at(")"):
            args.append(self.parse_expr())
            if not self.at(")"):
                self.expect(",")
        self.next()
        return args

    def parse_postfix(self, node: tuple) -> tuple:
        while True:
            t = self.tok
            if self.at(".") or self.at("?."):
                self.next()
                name = self.ident()
                safe = t.value == "?."
                if self.at("("):
                    node = ("call", name.pos, node, name.value, self.parse_args(), safe)
                else:
                    node = ("field", name.pos, node, name.value, safe)
            elif self.at("["):
                self.next()
                index = self.parse_expr()
                self.expect("]")
                node = ("index", t.pos, node, index)
            elif self.at("++") or self.at("--"):
                self.next()
                node = ("incdec", t.pos, t.value, node, False)
            else:
                return node

    def parse_primary(self) -> tuple:
        t = self.tok
        if t.kind == "num":
            self.next()
            return ("num", t.pos, t.value)
        if t.kind == "str":
            self.next()
            return ("const", t.pos, t.value)
        if t.kind == "op" and t.value == "(":
            self.next()
            e = self.parse_expr()
            self.expect(")")
            return e
        if t.kind == "op" and t.value == "[":
            return self.parse_collection()
        if t.kind == "id":
            if t.value in ("true", "false"):
                self.next()
                return ("const", t.pos, t.value == "true")
            if t.value == "null":
                self.next()
                return ("const", t.pos, None)
            if t.value == "new":
                return self.parse_new()
            if self.at("(", 1) and not self.known(t.value):
                self.next()
                args = self.parse_args()
                self.calls.append((t.value, len(args), t.pos))
                return ("fcall", t.pos, t.value, args)
            if self.known(t.value):
                self.next()
                return ("var", t.pos, t.value)
            if t.value in STATICS and self.at(".", 1):
                self.next()
                self.next()
                name = self.ident()
                if self.at("("):
                    return ("static", name.pos, t.value, name.value, self.parse_args())
                return ("staticfield", name.pos, t.value, name.value)
            # an unknown name, possibly dotted (a type name Painless could not find)
            parts = [t.value]
            k = 1
            while self.at(".", k) and self.peek(k + 1).kind == "id":
                parts.append(self.peek(k + 1).value)
                k += 2
            raise PainlessError(f"cannot resolve symbol [{'.'.join(parts)}]", t.pos, compile_error=True)
        self.fail()

    def parse_collection(self) -> tuple:
        t = self.next()
        if self.at(":") and self.at("]", 1):
            self.next()
            self.next()
            return ("map", t.pos, [])
        if self.at("]"):
            self.next()
            return ("list", t.pos, [])
        first = self.parse_expr()
        if self.at(":"):
            self.next()
            pairs = [(first, self.parse_expr())]
            while self.at(","):
                self.next()
                k = self.parse_expr()
                self.expect(":")
                pairs.append((k, self.parse_expr()))
            self.expect("]")
            return ("map", t.pos, pairs)
        items = [first]
        while self.at(","):
            self.next()
            items.append(self.parse_expr())
        self.expect("]")
        return ("list", t.pos, items)

    def parse_new(self) -> tuple:
        t = self.next()
        name = self.ident()
        if name.value not in TYPES:
            raise PainlessError(f"cannot resolve type [{name.value}]", name.pos, compile_error=True)
        if self.at("["):
            dims = []
            if self.at("]", 1):
                # new T[] {a, b}
                while self.at("[") and self.at("]", 1):
                    self.next()
                    self.next()
                self.expect("{")
                items = []
                while not self.at("}"):
                    items.append(self.parse_expr())
                    if not self.at("}"):
                        self.expect(",")
                self.next()
                return ("arrayinit", t.pos, name.value, items)
            while self.at("["):
                self.next()
                dims.append(self.parse_expr())
                self.expect("]")
            return ("newarray", t.pos, name.value, dims)
        args = self.parse_args()
        return ("new", t.pos, name.value, args)


def parse(source: str, *, escape_helper: bool = True) -> Parser:
    parser = Parser(source, escape_helper=escape_helper)
    parser.tree = parser.parse_program()  # type: ignore[attr-defined]
    return parser
