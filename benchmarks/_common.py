"""Helpers shared by the benchmarks: statistics, seed bodies, subprocess servers, ratio records.

Nothing here imports ``mlcommons_emu``: the baselines must not pay for it.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = ROOT / "fixtures" / "seed"
PYTHON = sys.executable


# statistics ---------------------------------------------------------------------------
def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-pct * len(ordered) // 100))))
    return float(ordered[rank - 1])


def ratio(name: str, subject: float, baseline: float, unit: str, *, target: str | None,
          enforced_now: bool = True, higher_is_better: bool = False) -> dict[str, Any]:
    """One figure: subject / baseline, measured side by side, with its recorded target.

    ``target`` is written like ``"<= 1.5"`` or ``">= 0.5"`` (None: reported only).
    Targets are recorded, never asserted.
    """
    value = subject / baseline if baseline else float("inf")
    met: bool | None = None
    if target is not None:
        op, bound = target.split()
        met = value <= float(bound) if op == "<=" else value >= float(bound)
    return {"name": name, "subject": subject, "baseline": baseline, "unit": unit,
            "ratio": value, "target": target, "met": met, "target_is_current": enforced_now,
            "higher_is_better": higher_is_better}


# seed fixtures ------------------------------------------------------------------------
def seed_body(name: str, **values: str) -> Any:
    """A body from fixtures/seed with ``${key}`` placeholders filled in."""
    text = (SEED_DIR / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text)


# sockets and processes ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get_status(port: int, path: str = "/", timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` on 127.0.0.1:port, or None when nothing answers yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (ConnectionError, OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class Server:
    """A server subprocess on a loopback port; ``start`` returns seconds until GET / gave 200."""

    def __init__(self, argv: list[str], port: int, *, cwd: str | None = None, env: dict[str, str] | None = None):
        self.argv, self.port, self.cwd = argv, port, cwd
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()

    def start(self, timeout: float = 60.0, poll: float = 0.002) -> float:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        while True:
            if get_status(self.port) == 200:
                return time.perf_counter() - t0
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited with {self.proc.returncode}: {self.stderr()}")
            if time.perf_counter() - t0 > timeout:
                message = f"{self.argv} did not answer GET / within {timeout}s: {self.stderr()}"
                self.stop()
                raise RuntimeError(message)
            time.sleep(poll)

    def stderr(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        """SIGTERM (both servers stop cleanly on it), then SIGKILL after 10 s; idempotent."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self._stderr.closed:
            self._stderr.close()

    def __enter__(self) -> Server:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def emulator_argv(port: int, database: str) -> list[str]:
    return [PYTHON, "-m", "mlcommons_emu", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--database", database]


# The baseline server: aiohttp and nothing else, started like the emulator (a python process
# given a port), answering GET / with a root-info-like JSON body and, for the throughput
# benchmark, every other route with a fixed body of a chosen byte size.
BARE_SERVER = textwrap.dedent('''\
    """Bare aiohttp baseline written by mlcommons_emu's benchmarks."""
    import argparse
    import json

    from aiohttp import web

    ROOT = json.dumps({
        "name": "bare-node-1", "cluster_name": "bare", "cluster_uuid": "7XsPmCX3QxybQ_QyMT7mOw",
        "version": {"distribution": "opensearch", "number": "3.8.0", "build_type": "tar",
                    "build_hash": "bare", "build_date": "2026-01-01T00:00:00.000000Z",
                    "build_snapshot": False, "lucene_version": "10.3.1",
                    "minimum_wire_compatibility_version": "2.19.0",
                    "minimum_index_compatibility_version": "2.0.0"},
        "tagline": "The OpenSearch Project: https://opensearch.org/",
    }, separators=(",", ":")).encode()
    CONTENT_TYPE = "application/json; charset=UTF-8"


    def main():
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--body-size", type=int, default=0)
        parser.add_argument("--sqlite", help="also open this SQLite file with SQLAlchemy first")
        args = parser.parse_args()
        if args.sqlite:
            # the floor of the design's libraries: SQLAlchemy imported, a schema created and
            # one row written before the first answer
            import sqlalchemy as sa

            metadata = sa.MetaData()
            table = sa.Table("documents", metadata, sa.Column("doc_id", sa.String(64), primary_key=True),
                             sa.Column("source", sa.Text, nullable=False))
            engine = sa.create_engine(f"sqlite:///{args.sqlite}")
            metadata.create_all(engine)
            with engine.begin() as conn:
                conn.execute(sa.insert(table).values(doc_id="cluster_uuid", source="{}"))
        size = max(args.body_size, 12)
        filler = b'{"pad":"' + b"x" * (size - 10) + b'"}'

        async def root(request):
            return web.Response(body=ROOT, headers={"content-type": CONTENT_TYPE})

        async def other(request):
            await request.read()
            return web.Response(body=filler, headers={"content-type": CONTENT_TYPE})

        app = web.Application()
        app.router.add_get("/", root)
        app.router.add_route("*", "/{tail:.*}", other)
        web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


    if __name__ == "__main__":
        main()
''')


def write_bare_server(directory: str) -> str:
    path = os.path.join(directory, "bare_server.py")
    with open(path, "w") as f:
        f.write(BARE_SERVER)
    return path


def bare_argv(script: str, port: int, body_size: int = 0, sqlite: str | None = None) -> list[str]:
    argv = [PYTHON, script, "--port", str(port)]
    if body_size:
        argv += ["--body-size", str(body_size)]
    if sqlite:
        argv += ["--sqlite", sqlite]
    return argv


def child_env() -> dict[str, str]:
    """The environment for child pythons: the project importable, no stray coverage/tracing.

    Bytecode caching is on in the children even when this shell turns it off
    (``PYTHONDONTWRITEBYTECODE``): the installed dependencies already have their ``.pyc``
    files from pip, so without it only the emulator's own modules would be compiled from
    source on every start, which no installed copy does.  The untimed warm-up run writes
    them (``__pycache__`` is git-ignored)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
