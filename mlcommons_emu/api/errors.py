"""Turns EmulatorError into OpenSearch's error envelope; nothing else leaves as a 500 body."""
from __future__ import annotations

import logging
from typing import Any

from mlcommons_emu.api.messages import RestResponse
from mlcommons_emu.domain.settings import SettingUpdateError
from mlcommons_emu.errors import EmulatorError, RouterError

log = logging.getLogger("mlcommons_emu.api")


def _cause(exc: EmulatorError) -> dict[str, Any]:
    return {"type": exc.type, "reason": exc.reason}


def render(exc: EmulatorError) -> RestResponse:
    if isinstance(exc, RouterError):
        return RestResponse(exc.status, {"error": exc.reason, "status": exc.status})
    error: dict[str, Any] = {"root_cause": [_cause(exc)], "type": exc.type, "reason": exc.reason}
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
