"""An offline Painless interpreter for ML Commons connector pre-/post-process scripts.

``compile_script(source)`` parses a script (raising :class:`PainlessError` with a character
``position`` for a compile error); ``Script.execute(params)`` runs it in a sandbox (no I/O, a
loop/step limit) with Java semantics.  ``PainlessError.to_script_error`` renders a failure as
OpenSearch's ``script_exception``.
"""
from __future__ import annotations

from typing import Any

from mlcommons_emu.painless.errors import PainlessError
from mlcommons_emu.painless.interpreter import DEFAULT_MAX_STEPS, Interpreter, escape
from mlcommons_emu.painless.parser import parse
from mlcommons_emu.painless.values import to_json_value, to_string


class Script:
    def __init__(self, source: str, *, escape_helper: bool = True) -> None:
        self.source = source
        parser = parse(source, escape_helper=escape_helper)
        self.tree = parser.tree
        self.functions = parser.functions
        self.statements = sorted(set(parser.statements))

    def execute(self, params: dict | None = None, *, max_steps: int = DEFAULT_MAX_STEPS) -> Any:
        interp = Interpreter(self.functions, max_steps)
        try:
            return interp.run_main(self.tree, params if params is not None else {})
        except RecursionError:
            raise PainlessError(None, 0, java_type="stack_overflow_error") from None

    def script_error(self, error: PainlessError):
        return error.to_script_error(self.source, self.statements)


def compile_script(source: str, *, escape_helper: bool = True) -> Script:
    """Parse ``source``; ``escape_helper`` makes an undefined ``escape(x)`` call the helper
    ML Commons prepends (2.12+)."""
    return Script(source, escape_helper=escape_helper)


def run(source: str, params: dict | None = None, *, max_steps: int = DEFAULT_MAX_STEPS,
        escape_helper: bool = True) -> Any:
    """Compile and execute; any PainlessError becomes the emulator's ScriptError."""
    try:
        script = compile_script(source, escape_helper=escape_helper)
    except PainlessError as exc:
        raise exc.to_script_error(source) from None
    try:
        return script.execute(params, max_steps=max_steps)
    except PainlessError as exc:
        raise script.script_error(exc) from None


__all__ = ["PainlessError", "Script", "compile_script", "escape", "run", "to_json_value", "to_string",
           "DEFAULT_MAX_STEPS"]
