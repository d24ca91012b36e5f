"""Test doubles for code that talks to ML Commons: a threaded emulator with an HTTP port,
no-socket connections for opensearch-py, hypothesis strategies and a pytest plugin.

    >>> from mlcommons_emu.testing import EmulatorThread
    >>> with EmulatorThread() as server:              # doctest: +SKIP
    ...     OpenSearch(server.url).info()
"""
from __future__ import annotations

from mlcommons_emu.testing.server import EmulatorThread

__all__ = ["EmulatorThread"]
