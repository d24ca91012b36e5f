"""PainlessError and its rendering as OpenSearch's ``script_exception``."""
from __future__ import annotations

from typing import Sequence


class PainlessError(Exception):
    """A compile or runtime failure of a Painless script.

    ``position`` is the character offset the error points at; ``java_type`` the wire type of
    the Java exception Painless raised (``illegal_argument_exception`` for compile errors).
    """

    def __init__(self, reason: str | None, position: int = 0, *, compile_error: bool = False,
                 java_type: str = "illegal_argument_exception") -> None:
        super().__init__(reason)
        self.reason = reason
        self.position = position
        self.compile_error = compile_error
        self.java_type = java_type

    def to_script_error(self, source: str, statements: Sequence[int] = ()):
        """The emulator's ScriptError, shaped like OpenSearch's rendering.

        Compile errors (PainlessScriptEngine.convertToScriptException) show 25 characters
        either side of the offset, with ``... `` marks where the snippet is cut.  Runtime errors
        (PainlessScript.convertToScriptException) show the statement holding the offset, from
        its start to the next statement's start.
        """
        from mlcommons_emu import errors

        offset = max(0, min(self.position, len(source)))
        if self.compile_error:
            start = max(0, offset - 25)
            end = min(len(source), offset + 25)
            snippet = ("... " if start > 0 else "") + source[start:end] + (" ..." if end < len(source) else "")
            pointer = ("    " if start > 0 else "") + " " * (offset - start) + "^---- HERE"
            reason = "compile error"
        else:
            starts = sorted(s for s in statements if s <= offset)
            start = starts[-1] if starts else 0
            later = sorted(s for s in statements if s > start)
            end = later[0] if later else len(source)
            snippet = source[start:end]
            pointer = " " * (offset - start) + "^---- HERE"
            reason = "runtime error"
        cause = _CAUSES.get(self.java_type)
        if cause is None:
            cause = type(_class_name(self.java_type), (errors.EmulatorError,), {"type": self.java_type})
        cause_error = cause(self.reason or "")
        cause_error.reason = self.reason  # a Java exception without message renders "reason": null
        return errors.ScriptError(reason, script=source, lang="painless", script_stack=[snippet, pointer],
                                  position={"offset": offset, "start": start, "end": end},
                                  cause=cause_error)


def _class_name(wire: str) -> str:
    return "".join(part.capitalize() for part in wire.split("_"))


def _causes() -> dict:
    from mlcommons_emu import errors

    return {
        "illegal_argument_exception": errors.IllegalArgumentError,
        "null_pointer_exception": errors.NullPointerError,
        "string_index_out_of_bounds_exception": errors.StringIndexOutOfBoundsError,
        "illegal_state_exception": errors.IllegalStateError,
    }


class _LazyCauses(dict):
    def get(self, key, default=None):  # type: ignore[override]
        if not self:
            self.update(_causes())
        return super().get(key, default)


_CAUSES = _LazyCauses()
