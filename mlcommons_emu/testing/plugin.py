"""pytest plugin (entry point ``pytest11``): ready ML Commons emulators for any test suite.

Fixtures (all function-scoped, each test sees a fresh cluster):

``mlcommons_server``
    an :class:`~mlcommons_emu.testing.EmulatorThread` with an HTTP port (``.url``); the
    emulator behind it is shared by the tests of a worker that ask for the same options and
    reset before each of them, which costs under a millisecond instead of a restart.
``mlcommons_emulator``
    the same object, for in-process use: ``await mlcommons_emulator.request(...)`` from async
    tests, ``.request_sync(...)`` from sync ones, ``.providers["openai"]`` for the fakes.
``mlcommons_client`` / ``mlcommons_inprocess_client`` / ``mlcommons_async_client``
    opensearch-py clients: over HTTP, with no socket, and ``AsyncOpenSearch`` with no socket.

Options come from the ``mlcommons`` marker (on a test, class or module) with the keyword
arguments of :class:`mlcommons_emu.Config`, plus ``faults`` and ``user``::

    @pytest.mark.mlcommons(opensearch_version="2.9.0", nodes="m:cluster_manager,ml1:ml")
    @pytest.mark.mlcommons(security="fixtures/security/users.json", user="alice")
    @pytest.mark.mlcommons(faults={"openai": [{"status": 429, "body": {"error": {"message": "slow down"}},
                                               "headers": {"Retry-After": "1"}}]})

Heavy imports happen inside the fixtures, so loading the plugin costs nothing.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

_MARKER = "mlcommons"
_THREADS_KEY = pytest.StashKey[dict]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{_MARKER}(**options): mlcommons-emu emulator options (Config fields, faults=, user=)")
    config.stash[_THREADS_KEY] = {}


def pytest_unconfigure(config: pytest.Config) -> None:
    threads = config.stash.get(_THREADS_KEY, {})
    for thread in threads.values():
        thread.stop()
    threads.clear()


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(_MARKER))):  # closest marker wins
        merged.update(marker.kwargs)
    return merged


@pytest.fixture
def mlcommons_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``mlcommons`` marker's options for this test (override to set suite-wide defaults)."""
    return _options(request)


@pytest.fixture
def mlcommons_server(request: pytest.FixtureRequest, mlcommons_options: dict[str, Any]) -> Iterator[Any]:
    from mlcommons_emu.config import Config
    from mlcommons_emu.testing.server import EmulatorThread

    options = dict(mlcommons_options)
    faults = options.pop("faults", None) or {}
    options.pop("user", None)
    threads = request.config.stash[_THREADS_KEY]
    key = repr(sorted((k, repr(v)) for k, v in options.items()))
    thread = threads.get(key)
    if thread is None:
        thread = threads[key] = EmulatorThread(Config(**options), serve_http=False).start()
    else:
        thread.reset()
    for provider, items in faults.items():
        for item in items:
            thread.providers[provider].script.fail(
                item.get("status", 500), item.get("body", b""), item.get("headers"),
                **({"path": item["path"]} if "path" in item else {}))
    yield thread


@pytest.fixture
def mlcommons_emulator(mlcommons_server: Any) -> Any:
    return mlcommons_server


def _credentials(server: Any, options: dict[str, Any]) -> tuple[str, str] | None:
    security = server.config.security
    if security is None:
        return None
    user = options.get("user")
    if user is None:
        user = next((name for name, a in security.accounts.items() if a.user.is_admin), None)
    if user is None:
        raise pytest.UsageError("security is on but no user is given (mlcommons marker user=...)")
    return user, security.password(user)


@pytest.fixture
def mlcommons_client(mlcommons_server: Any, mlcommons_options: dict[str, Any]) -> Iterator[Any]:
    from opensearchpy import OpenSearch

    client = OpenSearch(mlcommons_server.url, http_auth=_credentials(mlcommons_server, mlcommons_options))
    yield client
    client.close()


@pytest.fixture
def mlcommons_inprocess_client(mlcommons_server: Any, mlcommons_options: dict[str, Any]) -> Any:
    from opensearchpy import OpenSearch

    from mlcommons_emu.testing.opensearch import EmulatorConnection

    return OpenSearch(connection_class=EmulatorConnection, emulator=mlcommons_server,
                      http_auth=_credentials(mlcommons_server, mlcommons_options))


@pytest.fixture
def mlcommons_async_client(mlcommons_server: Any, mlcommons_options: dict[str, Any]) -> Any:
    from opensearchpy import AsyncOpenSearch

    from mlcommons_emu.testing.opensearch import AsyncEmulatorConnection

    return AsyncOpenSearch(connection_class=AsyncEmulatorConnection, emulator=mlcommons_server,
                           http_auth=_credentials(mlcommons_server, mlcommons_options))
