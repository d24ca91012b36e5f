"""Project-wide fixtures: the store backends, an emulator per test, and a network guard."""
from __future__ import annotations

import ipaddress
import os
import socket

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=50, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
#: the long CI run; the fuzz tests (tests/fuzz) scale their own example counts by it
settings.register_profile("ci-long", max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

POSTGRES_URL = os.environ.get("MLCOMMONS_EMU_TEST_POSTGRES_URL")
#: every test process gets its own schema, so concurrent runs can share the database
POSTGRES_SCHEMA = f"mlc_test_{os.getpid()}"
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


def _is_loopback(address: object) -> bool:
    if isinstance(address, (str, bytes)):  # unix socket path
        return True
    if not isinstance(address, tuple) or not address:
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may open a socket to anything but loopback."""
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: object) -> object:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"test tried to reach the network: {address!r}")
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A fresh, empty store per test: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        return "sqlite://"
    return _fresh_postgres()


def _fresh_postgres() -> str:
    import asyncio

    from mlcommons_emu.store.engine import Store

    async def reset() -> None:
        store = Store(POSTGRES_URL, schema=POSTGRES_SCHEMA)
        await store.create_schema()
        await store.drop_schema()
        await store.close()

    asyncio.run(reset())
    return POSTGRES_URL  # type: ignore[return-value]


def store_options(url: str) -> dict:
    """Emulator keyword arguments that place a test's store (its PostgreSQL schema)."""
    return {"database_schema": POSTGRES_SCHEMA} if url == POSTGRES_URL else {}


async def fresh_store(url: str) -> None:
    """Empty the test's PostgreSQL schema, for a test that starts several emulators in turn
    (an in-memory SQLite store is new with every emulator anyway)."""
    if url != POSTGRES_URL:
        return
    from mlcommons_emu.store.engine import Store

    store = Store(url, schema=POSTGRES_SCHEMA)
    await store.create_schema()
    await store.drop_schema()
    await store.close()


@pytest.fixture
def sqlite_file_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'state.sqlite3'}"


@pytest.fixture
async def emulator(database_url: str):
    from mlcommons_emu import Emulator

    async with Emulator(database=database_url, seed=7, **store_options(database_url)) as emu:
        yield emu
