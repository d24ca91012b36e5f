"""Turns EmulatorError into OpenSearch's error envelope; nothing else leaves as a 500 body."""
from __future__ import annotations

import logging
from typing import Any

from mlcommons_emu.api.messages import RestResponse
from mlcommons_emu.domain.settings import SettingUpdateError
from mlcommons_emu.errors import EmulatorError, RouterError, ScriptError, SearchPhaseError

log = logging.getLogger("mlcommons_emu.api")


def _cause(exc: EmulatorError) -> dict[str, Any]:
    out: dict[str, Any] = {"type": exc.type, "reason": exc.reason}
    if isinstance(exc, ScriptError):
        # ScriptException.metadataToXContent: stack, script, lang, position, then the cause
        out["script_stack"] = exc.script_stack
        out["script"] = exc.script
        out["lang"] = exc.lang
        if exc.position is not None:
            out["position"] = exc.position
        if exc.cause is not None:
            out["caused_by"] = {"type": exc.cause.type, "reason": exc.cause.reason}
        return out
    for key, value in exc.metadata.items():
        if key == "failed_shards" and isinstance(exc, SearchPhaseError):
            value = [{**shard, "reason": _cause(exc.shard_error)} for shard in value]
        out[key] = value
    if exc.caused_by is not None:
        out["caused_by"] = _cause(exc.caused_by)
    return out


def _root_causes(exc: EmulatorError) -> list[dict[str, Any]]:
    """OpenSearchException.guessRootCauses: a search phase failure's are its shards' own.

    The emulator's chains end in non-OpenSearch exceptions (a parser's, an argument's), so
    the root cause is the outermost error, without its cause."""
    if isinstance(exc, SearchPhaseError):
        return _root_causes(exc.shard_error)
    cause = _cause(exc)
    cause.pop("caused_by", None)
    return [cause]


def render(exc: EmulatorError) -> RestResponse:
    if isinstance(exc, RouterError):
        return RestResponse(exc.status, {"error": exc.reason, "status": exc.status})
    error: dict[str, Any] = {"root_cause": _root_causes(exc), **_cause(exc)}
    if isinstance(exc, SettingUpdateError):
        error["root_cause"] = [_cause(exc.cause)]
        error["caused_by"] = _cause(exc.cause)
    return RestResponse(exc.status, {"error": error, "status": exc.status})


def render_unexpected(exc: BaseException) -> RestResponse:
    """A bug in the emulator: logged with its traceback, answered without one."""
    log.error("unexpected error while serving a request", exc_info=exc)
    reason = "mlcommons-emu internal error"
    error = {"root_cause": [{"type": "exception", "reason": reason}], "type": "exception", "reason": reason}
    return RestResponse(500, {"error": error, "status": 500})
