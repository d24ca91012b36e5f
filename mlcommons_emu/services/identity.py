"""Who is calling: the security plugin's user for the request being served.

The dispatcher sets the caller for the duration of one request; background work spawned
from it (a deploy started by ``?deploy=true``) inherits it, as the plugin's thread context
is carried into its listeners.
"""
from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

from mlcommons_emu.domain import settings as s
from mlcommons_emu.domain.access import User

if TYPE_CHECKING:
    from mlcommons_emu.services.context import Context

CALLER: contextvars.ContextVar[User | None] = contextvars.ContextVar("mlcommons_emu_caller", default=None)


def caller() -> User | None:
    return CALLER.get()


def model_access_user(ctx: "Context") -> User | None:
    """The caller when model access control is in effect (a user and the setting on)."""
    user = CALLER.get()
    if user is not None and ctx.setting(s.MODEL_ACCESS_CONTROL_ENABLED):
        return user
    return None


def connector_access_user(ctx: "Context") -> User | None:
    """The caller when connector access control is in effect."""
    user = CALLER.get()
    if user is not None and ctx.setting(s.CONNECTOR_ACCESS_CONTROL_ENABLED):
        return user
    return None
