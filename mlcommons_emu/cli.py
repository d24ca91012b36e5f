"""Command line: ``mlcommons-emu serve`` runs the emulator as an HTTP server.

Example::

    mlcommons-emu serve --port 9200 --database sqlite:///state.sqlite3
    curl -s http://127.0.0.1:9200/

``mlcommons-emu export`` and ``mlcommons-emu import`` move the connector, model group,
model and master-key documents of a store to and from a JSON dump (see
mlcommons_emu.interop).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from mlcommons_emu.config import SERVER_DEFAULT_DATABASE, Config
from mlcommons_emu.domain.release import NEWEST

#: environment variable holding the master key when --master-key-file is not given
MASTER_KEY_ENV = "MLCOMMONS_EMU_MASTER_KEY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlcommons-emu", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator as an OpenSearch-compatible HTTP server")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=9200, help="port to listen on (default 9200; 0 picks one)")
    serve.add_argument("--database", default=SERVER_DEFAULT_DATABASE,
                       help="SQLAlchemy URL of the store (default: a SQLite file in the current directory)")
    serve.add_argument("--database-schema", default=None,
                       help="PostgreSQL schema for the emulator's tables (default: the connection's)")
    serve.add_argument("--opensearch-version", default=NEWEST,
                       help=f"OpenSearch / ML Commons release to emulate, 2.9 to 3.8 (default {NEWEST})")
    serve.add_argument("--nodes", default=None,
                       help="cluster shape, e.g. 'manager:cluster_manager,ml-1:ml,data-1:data' "
                            "(default: one node with every role)")
    serve.add_argument("--seed", type=int, default=None, help="seed for reproducible ids")
    serve.add_argument("--allow-network", action="store_true",
                       help="let connectors whose host has no built-in fake call the real endpoint")
    serve.add_argument("--route", action="append", default=[], metavar="HOST=TARGET",
                       help="send calls for HOST (or *.suffix) to 'fake', 'network' or a base URL "
                            "such as http://127.0.0.1:9300; repeatable")
    serve.add_argument("--max-content-length", default="100mb", metavar="SIZE",
                       help="http.max_content_length: larger request bodies get 413 (default 100mb)")
    serve.add_argument("--max-header-size", default="8kb", metavar="SIZE",
                       help="http.max_header_size: larger request headers get 400 (default 8kb)")
    serve.add_argument("--security", nargs="?", const="demo", default=None, metavar="USERS_FILE",
                       help="turn on the emulated security plugin: HTTP Basic auth against the users "
                            "and roles of USERS_FILE (JSON, or YAML; see fixtures/security/users.json); "
                            "without a file, the demo user admin/admin")
    serve.add_argument("--master-key-file", default=None, metavar="PATH",
                       help="file holding the encryption master key (Base64 of 32 bytes, e.g. the "
                            "master_key of a cluster's .plugins-ml-config document); it replaces the "
                            f"stored key. Default: ${MASTER_KEY_ENV}, else the stored (or a new) key")
    serve.add_argument("--fail-inflight-tasks", action="store_true",
                       help="at start, mark register/deploy tasks left CREATED or RUNNING by a "
                            "previous process (a crash) FAILED; default: leave them, as the plugin does")
    serve.add_argument("--progression", choices=("immediate", "latency", "manual"), default="immediate",
                       help="how register and deploy tasks progress: done before the reply (default), "
                            "after --task-latency-ms, or when stepped through /_emu/tasks")
    serve.add_argument("--task-latency-ms", type=int, default=None, metavar="MS",
                       help="the 'latency' progression's task duration (default 200)")
    serve.add_argument("--shared", action="store_true",
                       help="one cluster with every other process started with --shared on the same "
                            "PostgreSQL database (see docs/scale-out.md)")
    serve.add_argument("--log-level", default="WARNING")

    export = commands.add_parser("export", help="write the connector, model group, model and master-key "
                                                "documents of a store as JSON to stdout")
    _store_arguments(export)
    load = commands.add_parser("import", help="index the documents of a JSON dump (from export, or "
                                              "_search responses of a cluster) into a store")
    _store_arguments(load)
    load.add_argument("dump", help="the JSON file ('-' reads stdin)")

    providers = commands.add_parser("providers", help="the built-in fake providers on their own")
    provider_commands = providers.add_subparsers(dest="providers_command", required=True)
    gateway = provider_commands.add_parser(
        "serve", help="serve every fake on one port, chosen by the Host header")
    gateway.add_argument("--host", default="127.0.0.1")
    gateway.add_argument("--port", type=int, default=9300)
    return parser


def _store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=SERVER_DEFAULT_DATABASE,
                        help="SQLAlchemy URL of the store (default: the SQLite file serve uses)")
    parser.add_argument("--database-schema", default=None,
                        help="PostgreSQL schema for the emulator's tables (default: the connection's)")


def master_key_option(path: str | None, environ: Mapping[str, str]) -> str | None:
    """The master key from --master-key-file, else from $MLCOMMONS_EMU_MASTER_KEY, else None.

    Surrounding whitespace (a trailing newline) is ignored.  Raises ValueError naming the
    source, never the value, when the file cannot be read or the key is not Base64 of
    exactly 32 bytes.
    """
    from mlcommons_emu.connectors.crypto import validate_master_key

    if path is not None:
        source = f"--master-key-file {path}"
        try:
            value = Path(path).read_text(encoding="utf-8", errors="replace").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {source}: {exc.strerror or exc}") from None
    else:
        source, value = f"${MASTER_KEY_ENV}", environ.get(MASTER_KEY_ENV, "").strip()
        if not value:
            return None
    try:
        return validate_master_key(value)
    except ValueError as exc:
        raise ValueError(f"invalid master key in {source}: {exc}") from None


async def export_store(database: str, schema: str | None) -> dict[str, Any]:
    """The dump of a store, read without starting an emulator (nothing is written)."""
    from mlcommons_emu.interop import read_documents
    from mlcommons_emu.store.engine import Store

    store = Store(database, schema=schema)
    try:
        await store.create_schema()
        async with store.transaction() as tx:
            return await read_documents(tx)
    finally:
        await store.close()


async def import_store(database: str, schema: str | None, docs: Mapping[str, Any]) -> dict[str, int]:
    """Index a dump into a store without starting an emulator; the next start uses it."""
    from mlcommons_emu.domain.clock import SystemClock
    from mlcommons_emu.interop import warn_stranded, write_documents
    from mlcommons_emu.store.engine import Store

    store = Store(database, schema=schema)
    try:
        await store.create_schema()
        async with store.transaction() as tx:
            counts, stranded = await write_documents(tx, docs, now=SystemClock()())
    finally:
        await store.close()
    if stranded:
        warn_stranded(stranded)
    return counts


def _run_export(args: argparse.Namespace) -> int:
    dump = asyncio.run(export_store(args.database, args.database_schema))
    json.dump(dump, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.dump == "-" else Path(args.dump).read_text(encoding="utf-8")
        docs = json.loads(text)
        counts = asyncio.run(import_store(args.database, args.database_schema, docs))
    except OSError as exc:
        print(f"mlcommons-emu: cannot read {args.dump}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # json.JSONDecodeError included
        print(f"mlcommons-emu: {args.dump}: {exc}", file=sys.stderr)
        return 2
    print(", ".join(f"{index}: {n}" for index, n in counts.items()), file=sys.stderr)
    return 0


def _routes(values: list[str]) -> dict[str, str]:
    routes = {}
    for value in values:
        host, sep, target = value.partition("=")
        if not sep or not host or not target:
            raise ValueError(f"--route needs HOST=TARGET, got {value!r}")
        routes[host.strip()] = target.strip()
    return routes


async def serve_providers(host: str, port: int) -> None:
    from aiohttp import web

    from mlcommons_emu.providers.registry import default_providers, make_gateway_app

    providers = default_providers()
    runner = web.AppRunner(make_gateway_app(providers), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if getattr(site, "_server", None) else port
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"mlcommons-emu fake providers ready on http://{host}:{bound} "
          f"({', '.join(sorted(providers))}; chosen by the Host header)", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def serve(config: Config, host: str, port: int) -> None:
    from aiohttp import web

    from mlcommons_emu.api.app import create_app
    from mlcommons_emu.emulator import Emulator

    emulator = Emulator(config)
    await emulator.start()
    runner = web.AppRunner(create_app(emulator), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"mlcommons-emu ready on http://{host}:{bound} (OpenSearch {config.opensearch_version}, "
          f"store {config.database})", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "providers":
        try:
            asyncio.run(serve_providers(args.host, args.port))
        except OSError as exc:
            print(f"mlcommons-emu: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
                  file=sys.stderr)
            return 1
        return 0
    if args.command in ("export", "import"):
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        return _run_export(args) if args.command == "export" else _run_import(args)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    kwargs = dict(database=args.database, database_schema=args.database_schema,
                  opensearch_version=args.opensearch_version,
                  seed=args.seed, allow_network=args.allow_network,
                  max_content_length=args.max_content_length, max_header_size=args.max_header_size,
                  fail_inflight_tasks_on_restart=args.fail_inflight_tasks,
                  progression=args.progression, shared=args.shared)
    if args.task_latency_ms is not None:
        kwargs["task_latency_ms"] = args.task_latency_ms
    try:
        kwargs["routes"] = _routes(args.route)
    except ValueError as exc:
        print(f"mlcommons-emu: {exc}", file=sys.stderr)
        return 2
    if args.nodes:
        kwargs["nodes"] = args.nodes
    if args.security:
        kwargs["security"] = True if args.security == "demo" else args.security
    try:
        kwargs["master_key"] = master_key_option(args.master_key_file, os.environ)
        config = Config(**kwargs)
    except (ValueError, OSError) as exc:
        print(f"mlcommons-emu: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, args.host, args.port))
    except OSError as exc:
        print(f"mlcommons-emu: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
