"""Scale: get, predict and search latency with 100, 10,000 and 100,000 models stored, on
SQLite (temporary database files) and PostgreSQL, against the same calls on a store of 100
models measured alongside, in the same event loop.

On each backend two emulators run: the growing store and a reference store of 100 models.
In each, one model is registered and deployed through the API (the seed's OpenAI chat
connector, as in ``predict_inprocess``); its stored document is then copied, straight into
the store's document table in bulk, with varied names, states (half ``DEPLOYED``) and times.
The growing store is filled incrementally to 100, then 10,000, then 100,000 models. At each
size, in process (``await emu.request(...)``), after an untimed warm-up of both:

- ``GET /_plugins/_ml/models/<id>`` of a random stored model, a different one per call;
- ``POST /_plugins/_ml/models/<id>/_predict`` on the deployed model (the fake OpenAI answers);
- ``POST /_plugins/_ml/models/_search`` with a ``term`` query on ``model_state``, ``size``
  10: the first search after the fill (documents read and parsed) and repeated ones.

The two stores take turns in blocks of calls, so drift (CPU frequency, other load) hits both
alike. Figures are medians (p99 recorded). **Target: get and predict with 100,000 models
stored <= 1.3x the same with 100**, per backend; the same ratio against the growing store's
own figures at 100 (earlier in the run, drift included) and search at scale are reported
only. On PostgreSQL the gets are measured once more after ``ANALYZE`` of the table
(reported): the difference tells stale statistics and cached plans apart from scale.

PostgreSQL is used when it answers (URL from ``MLCOMMONS_EMU_BENCH_POSTGRES_URL``, else
``MLCOMMONS_EMU_TEST_POSTGRES_URL``, else the local default below), in schemas of its own
that are dropped afterwards; otherwise its part is recorded as skipped, with the reason.
The copies are inserted with one multi-row ``INSERT`` per batch and their sequence numbers
reserved in one step: ``Transaction.put`` (one document per call, several statements each)
took about 0.5 ms a document on SQLite and 2.6 ms on PostgreSQL here, minutes for 100,000.
Run alone: ``python -m benchmarks.scale [--quick]``.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import tempfile
import time
from typing import Any

from benchmarks._common import median, percentile, ratio, seed_body

NAME = "scale"
TARGET = "<= 1.3"
SIZES = (100, 10_000, 100_000)
BLOCK = 25
BATCH = 5_000
SEARCH = {"query": {"term": {"model_state": "DEPLOYED"}}, "size": 10}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
COPY_ID = "scale-model-{:06d}"


def _postgres_url() -> str:
    return (os.environ.get("MLCOMMONS_EMU_BENCH_POSTGRES_URL") or os.environ.get("MLCOMMONS_EMU_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES_URL)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# filling the store ----------------------------------------------------------------------
async def _reserve_seq_nos(tx: Any, index: str, n: int) -> int:
    """Take ``n`` consecutive sequence numbers of ``index`` at once; the first of them."""
    from sqlalchemy import text, update

    from mlcommons_emu.store import tables

    if tx.conn.dialect.name == "postgresql":
        name = tx.sequence(index)  # exists: the registered model was written through it
        first = int((await tx.conn.execute(text(f"SELECT nextval('{name}')"))).scalar_one())
        await tx.conn.execute(text(f"SELECT setval('{name}', {first + n - 1}, true)"))
        return first
    t = tables.indices
    top = (await tx.conn.execute(update(t).where(t.c.index_name == index)
                                 .values(next_seq_no=t.c.next_seq_no + n).returning(t.c.next_seq_no))).scalar_one()
    return int(top) - n


def _copy_rows(template: dict[str, Any], start: int, stop: int, first_seq_no: int) -> list[dict[str, Any]]:
    """Document-table rows of copies ``start``..``stop - 1``, as ``ModelRepository.put`` fills them."""
    from mlcommons_emu.store import rows

    out = []
    for i in range(start, stop):
        when = 1_700_000_000_000 + i * 60_000
        state = "DEPLOYED" if i % 2 else "REGISTERED"
        doc = {**template, "name": f"scale model {i}", "model_state": state,
               "created_time": when, "last_updated_time": when}
        out.append({"index_name": rows.MODEL_INDEX, "doc_id": COPY_ID.format(i), "version": 1,
                    "seq_no": first_seq_no + i - start, "primary_term": 1,
                    "source": json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
                    "name": doc["name"], "model_group_id": doc.get("model_group_id"),
                    "connector_id": doc.get("connector_id"), "model_id": None, "state": state})
    return out


async def fill_copies(emu: Any, template: dict[str, Any], start: int, stop: int) -> None:
    """Copies ``start``..``stop - 1`` of the template document, in one transaction."""
    from sqlalchemy import insert

    from mlcommons_emu.store import rows, tables

    async with emu.context.transaction() as repos:
        first = await _reserve_seq_nos(repos.tx, rows.MODEL_INDEX, stop - start)
        for lo in range(start, stop, BATCH):
            hi = min(stop, lo + BATCH)
            await repos.tx.conn.execute(insert(tables.documents), _copy_rows(template, lo, hi, first + lo - start))


# measuring ------------------------------------------------------------------------------
@dataclasses.dataclass
class Side:
    """One emulator with its deployed model and the ids of the models it stores."""

    emu: Any
    model_id: str
    ids: list[str]


@dataclasses.dataclass
class _Samples:
    get_ns: list[int] = dataclasses.field(default_factory=list)
    predict_ns: list[int] = dataclasses.field(default_factory=list)
    search_ms: list[float] = dataclasses.field(default_factory=list)

    def figures(self) -> dict[str, float]:
        get_us = [v / 1000 for v in self.get_ns]
        predict_us = [v / 1000 for v in self.predict_ns]
        out = {"get_us_median": median(get_us), "get_us_p99": percentile(get_us, 99)}
        if predict_us:
            out.update(predict_us_median=median(predict_us), predict_us_p99=percentile(predict_us, 99))
        if self.search_ms:
            out.update(search_ms_median=median(self.search_ms), search_ms_p99=percentile(self.search_ms, 99))
        return out


async def timed_gets(side: Side, n: int, rng: random.Random, out: list[int]) -> None:
    """``n`` gets of random stored models, each a different one while there are enough."""
    clock = time.perf_counter_ns
    for doc_id in rng.sample(side.ids, n) if len(side.ids) >= n else rng.choices(side.ids, k=n):
        t0 = clock()
        r = await side.emu.request("GET", f"/_plugins/_ml/models/{doc_id}")
        out.append(clock() - t0)
        assert r.status == 200, r.body


async def _predicts(side: Side, n: int, out: list[int]) -> None:
    path = f"/_plugins/_ml/models/{side.model_id}/_predict"
    body = seed_body("predict_messages")
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        r = await side.emu.request("POST", path, body)
        out.append(clock() - t0)
        assert r.status == 200 and r.body["inference_results"][0]["status_code"] == 200, r.body


async def _search(side: Side, out: list[float]) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = await side.emu.request("POST", "/_plugins/_ml/models/_search", SEARCH)
    out.append((time.perf_counter() - t0) * 1000)
    assert r.status == 200, r.body
    return dict(r.body["hits"]["total"])


async def _at_size(big: Side, ref: Side, calls: int, warmup: int, search_calls: int,
                   rng: random.Random) -> dict[str, Any]:
    """Latencies on the growing store and, in alternating blocks, on the 100-model one."""
    first: list[float] = []
    hits = await _search(big, first)
    for side in (big, ref):
        await timed_gets(side, warmup, rng, [])
        await _predicts(side, warmup, [])
        await _search(side, [])
    on_big, on_ref = _Samples(), _Samples()
    done = 0
    while done < calls:
        n = min(BLOCK, calls - done)
        await timed_gets(big, n, rng, on_big.get_ns)
        await timed_gets(ref, n, rng, on_ref.get_ns)
        await _predicts(big, n, on_big.predict_ns)
        await _predicts(ref, n, on_ref.predict_ns)
        done += n
    for _ in range(search_calls):
        await _search(big, on_big.search_ms)
        await _search(ref, on_ref.search_ms)
    return {"models": len(big.ids), "first_search_ms": first[0], "search_hits": hits, **on_big.figures(),
            "alongside_100": on_ref.figures()}


async def start_side(stack: contextlib.AsyncExitStack, database: str,
                     schema: str | None) -> tuple[Side, dict[str, Any]]:
    """An emulator with the seed's deployed model; the model's stored document."""
    from benchmarks.predict_inprocess import setup
    from mlcommons_emu import Emulator
    from mlcommons_emu.store import rows

    emu = await stack.enter_async_context(Emulator(database=database, database_schema=schema))
    model_id = await setup(emu)
    async with emu.context.transaction() as repos:
        stored = await repos.tx.get(rows.MODEL_INDEX, model_id)
    assert stored is not None
    return Side(emu, model_id, [model_id]), stored.source


def grow(side: Side, size: int) -> tuple[int, int]:
    """The copies to add for ``size`` models in all: (first, stop); records their ids."""
    first, stop = len(side.ids) - 1, size - 1
    side.ids.extend(COPY_ID.format(i) for i in range(first, stop))
    return first, stop


async def _analyzed(big: Side, ref: Side, schema: str, calls: int, rng: random.Random) -> dict[str, Any]:
    """PostgreSQL only: gets again after ``ANALYZE`` of the big store's table (what autovacuum
    would run in time), to tell the table statistics and cached plans apart from scale."""
    from sqlalchemy import text

    async with big.emu.context.store.engine.begin() as conn:
        await conn.execute(text(f'ANALYZE "{schema}".mlc_documents'))
    on_big, on_ref = _Samples(), _Samples()
    for lo in range(0, calls, BLOCK):
        await timed_gets(big, min(BLOCK, calls - lo), rng, on_big.get_ns)
        await timed_gets(ref, min(BLOCK, calls - lo), rng, on_ref.get_ns)
    return {**on_big.figures(), "alongside_100": on_ref.figures()}


async def _backend(databases: tuple[str, str], schemas: tuple[str | None, str | None], sizes: tuple[int, ...],
                   calls: int, warmup: int, search_calls: int) -> dict[str, Any]:
    """The growing store (databases[0]) and the 100-model reference store (databases[1])."""
    rng = random.Random(7)
    out: dict[str, Any] = {"sizes": {}}
    async with contextlib.AsyncExitStack() as stack:
        t0 = time.perf_counter()
        big, template = await start_side(stack, databases[0], schemas[0])
        ref, ref_template = await start_side(stack, databases[1], schemas[1])
        await fill_copies(ref.emu, ref_template, *grow(ref, sizes[0]))
        await _search(ref, [])  # what the process pays once (imports, first parse) is not a size's
        out["setup_s"] = time.perf_counter() - t0
        for size in sizes:
            first, stop = grow(big, size)
            t0 = time.perf_counter()
            await fill_copies(big.emu, template, first, stop)
            fill_s = time.perf_counter() - t0
            figures = await _at_size(big, ref, calls, warmup, search_calls, rng)
            out["sizes"][size] = {"fill_s": fill_s, "fill_added": stop - first,
                                  "fill_docs_per_s": (stop - first) / fill_s if fill_s else 0.0, **figures}
        if schemas[0] is not None:
            out["after_analyze"] = await _analyzed(big, ref, schemas[0], calls, rng)
    return out


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


async def _postgres_unreachable(url: str) -> str | None:
    """Why PostgreSQL cannot be used (None: it answers)."""
    from sqlalchemy import text

    from mlcommons_emu.store.engine import Store

    try:
        store = Store(url)
    except Exception as exc:  # noqa: BLE001 - a bad URL or a missing driver: skipped, with the reason
        return _reason(exc)
    try:
        async def probe() -> None:
            async with store.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        await asyncio.wait_for(probe(), timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means: skipped
        return _reason(exc)
    finally:
        await store.close()
    return None


async def _drop_schema(url: str, schema: str) -> None:
    from mlcommons_emu.store.engine import Store

    store = Store(url, schema=schema)
    try:
        await store.drop_namespace()
    finally:
        await store.close()


async def _postgres(url: str, sizes: tuple[int, ...], calls: int, warmup: int, search_calls: int) -> dict[str, Any]:
    reason = await _postgres_unreachable(url)
    if reason is not None:
        return {"skipped": f"PostgreSQL at {_shown(url)} is not reachable: {reason}"}
    schemas = (f"mlc_bench_scale_{os.getpid()}", f"mlc_bench_scale_{os.getpid()}_ref")
    for schema in schemas:
        await _drop_schema(url, schema)
    try:
        result = await _backend((url, url), schemas, sizes, calls, warmup, search_calls)
    finally:
        for schema in schemas:
            await _drop_schema(url, schema)
    return {"database": _shown(url), "schemas": list(schemas), **result}


def _ratios(backend: str, figures: dict[str, Any], sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    small, large = figures["sizes"][sizes[0]], figures["sizes"][sizes[-1]]
    alongside = large["alongside_100"]
    big = f"{sizes[-1] // 1000}k"
    out = [
        ratio(f"{backend}: get, {big} vs {sizes[0]} models alongside (median)", large["get_us_median"],
              alongside["get_us_median"], "us", target=TARGET),
        ratio(f"{backend}: predict, {big} vs {sizes[0]} models alongside (median)", large["predict_us_median"],
              alongside["predict_us_median"], "us", target=TARGET),
        ratio(f"{backend}: get, {big} vs {sizes[0]} models earlier, same store", large["get_us_median"],
              small["get_us_median"], "us", target=None),
        ratio(f"{backend}: predict, {big} vs {sizes[0]} models earlier, same store", large["predict_us_median"],
              small["predict_us_median"], "us", target=None),
        ratio(f"{backend}: search, {big} vs {sizes[0]} models alongside (median)", large["search_ms_median"],
              alongside["search_ms_median"], "ms", target=None),
        ratio(f"{backend}: first search after fill, {big} vs {sizes[0]}", large["first_search_ms"],
              small["first_search_ms"], "ms", target=None),
    ]
    if "after_analyze" in figures:
        analyzed = figures["after_analyze"]
        out.append(ratio(f"{backend}: get, {big} after ANALYZE vs {sizes[0]} alongside", analyzed["get_us_median"],
                         analyzed["alongside_100"]["get_us_median"], "us", target=None))
    return out


def run(quick: bool = False, calls: int | None = None, search_calls: int | None = None,
        postgres_url: str | None = None) -> dict[str, Any]:
    calls = calls or (50 if quick else 200)
    search_calls = search_calls or (3 if quick else 20)
    warmup = 10 if quick else 30
    sizes = SIZES
    url = postgres_url or _postgres_url()
    started = time.perf_counter()
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlc-bench-scale-") as tmp:
        databases = (f"sqlite:///{os.path.join(tmp, 'scale.db')}", f"sqlite:///{os.path.join(tmp, 'reference.db')}")
        figures["sqlite"] = asyncio.run(_backend(databases, (None, None), sizes, calls, warmup, search_calls))
        figures["postgresql"] = asyncio.run(_postgres(url, sizes, calls, warmup, search_calls))
    figures["elapsed_s"] = time.perf_counter() - started
    ratios = _ratios("sqlite", figures["sqlite"], sizes)
    if "skipped" not in figures["postgresql"]:
        ratios += _ratios("postgresql", figures["postgresql"], sizes)
    return {
        "benchmark": NAME,
        "params": {"sizes": list(sizes), "calls": calls, "block": BLOCK, "warmup": warmup,
                   "search_calls": search_calls, "search": SEARCH,
                   "databases": {"sqlite": "temporary files (sqlite:///<tmp>/scale.db, reference.db)",
                                 "postgresql": f"{_shown(url)}, schemas mlc_bench_scale_<pid>[_ref], dropped after"},
                   "fill": f"copies of the deployed model's document, multi-row INSERTs of {BATCH}, half DEPLOYED",
                   "subject": "get / predict / search latency with the largest number of models stored",
                   "baseline": "the same call on a store of 100 models, in alternating blocks (and the "
                               "same store when it held 100 models, earlier in the run)"},
        "figures": figures,
        "ratios": ratios,
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
