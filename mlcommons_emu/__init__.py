"""mlcommons_emu: an in-process emulator of the OpenSearch ML Commons remote-inference engine.

    >>> from mlcommons_emu import Emulator
    >>> async def demo():
    ...     async with Emulator() as emu:
    ...         r = await emu.request("GET", "/")
    ...         return r.body["version"]["distribution"]
"""
from __future__ import annotations

from mlcommons_emu.config import Config
from mlcommons_emu.domain.release import NEWEST, SEED, Release
from mlcommons_emu.emulator import Emulator

__all__ = ["Config", "Emulator", "NEWEST", "Release", "SEED"]
__version__ = "0.1.0"
