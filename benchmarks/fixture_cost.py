"""Per-test cost of the pytest plugin's fixtures, measured through a real pytest run: what
``mlcommons_emulator`` (in process) and ``mlcommons_client`` (opensearch-py over HTTP) add to
the setup and teardown of a test, against the same phases of tests that use no fixture.

The benchmark writes a test module to a temporary directory and runs it with
``python -m pytest -q -p no:cacheprovider -p mlcommons_emu.testing.plugin`` in a subprocess
(``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, so the plugin is loaded exactly once, by ``-p``, and no
other installed plugin adds to the figures). A conftest in that directory records every
phase's ``report.duration`` (``pytest_runtest_logreport``) into a JSON file.

The module has, in rounds of ``BLOCK`` tests per group so drift hits every group alike:

* ``baseline``: tests that take no fixture and do nothing.
* ``inproc``: tests that take ``mlcommons_emulator`` and use ``request_sync``.
* ``http``: tests that take ``mlcommons_client`` (the same shared emulator, over HTTP).
* ``fresh``: one test per round whose own fixture starts a new ``EmulatorThread`` with an
  HTTP port and an opensearch-py client, and stops both at teardown: what a test pays
  without the shared emulator.

Every emulator test first asserts a fresh cluster (no connector, no model, empty settings),
so the figure is of a real isolation; every other one then leaves state behind, like
``benchmarks/isolation.py`` (a connector, a model registered with ``deploy=true``, a
transient setting), so half the resets have work to do. Only setup + teardown count (a test's
own requests run in its call phase). The conftest also times ``EmulatorThread.reset`` (it
wraps it, so it imports ``mlcommons_emu.testing.server`` before the first test), to tell the
reset from the rest of the fixtures' setup. The first test of each group is left out of the
medians and reported as "first start": the in-process one starts the shared emulator, the HTTP
one its port.

Per-test fixture cost = median(setup + teardown of a group) - median(setup + teardown of the
baseline). The in-process cost is compared with a 1 ms budget (**target <= 1**), the HTTP
one with the same budget (reported only) and with the fresh-emulator cost (reported only).
Run alone: ``python -m benchmarks.fixture_cost [--quick]``.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
import time
from typing import Any

from benchmarks._common import PYTHON, child_env, median, percentile, ratio, seed_body

NAME = "fixture_cost"
TARGET = "<= 1"
BUDGET_MS = 1.0
BLOCK = 10
GROUPS = ("baseline", "inproc", "http")

CONFTEST = textwrap.dedent('''\
    """Written by mlcommons_emu's benchmarks/fixture_cost.py: records every phase's duration."""
    import json
    import os
    import time

    import pytest

    from mlcommons_emu.testing import server as _server

    _RECORDS = []
    _RESET = []
    _reset = _server.EmulatorThread.reset


    def _timed_reset(self):
        t0 = time.perf_counter()
        _reset(self)
        _RESET.append(time.perf_counter() - t0)


    _server.EmulatorThread.reset = _timed_reset


    def pytest_runtest_logreport(report):
        reset = _RESET.pop() if report.when == "setup" and _RESET else None
        _RESET.clear()
        _RECORDS.append({"nodeid": report.nodeid, "when": report.when, "duration": report.duration,
                         "outcome": report.outcome, "reset": reset})


    def pytest_sessionfinish(session):
        with open(os.environ["MLCEMU_FIXTURE_COST_OUT"], "w") as f:
            json.dump(_RECORDS, f)


    @pytest.fixture
    def fresh_client():
        """A new emulator with an HTTP port for this test only, stopped at teardown."""
        from opensearchpy import OpenSearch

        from mlcommons_emu.testing.server import EmulatorThread

        thread = EmulatorThread().start()
        client = OpenSearch(thread.url)
        yield client
        client.close()
        thread.stop()
''')

INI = textwrap.dedent('''\
    [pytest]
    filterwarnings =
        ignore::DeprecationWarning:aws_encryption_sdk.*
''')

HEAD = textwrap.dedent('''\
    """Written by mlcommons_emu's benchmarks/fixture_cost.py."""
    import json

    CONNECTOR = json.loads({connector!r})
    MATCH_ALL = {{"query": {{"match_all": {{}}}}}}
    SETTING = {{"transient": {{"plugins.ml_commons.only_run_on_ml_node": False}}}}


    def _inproc(emu, dirty):
        r = emu.request_sync("POST", "/_plugins/_ml/connectors/_search", MATCH_ALL)
        assert r.status == 200 and r.body["hits"]["total"]["value"] == 0, r.body
        r = emu.request_sync("POST", "/_plugins/_ml/models/_search", MATCH_ALL)
        assert r.status == 200 and r.body["hits"]["total"]["value"] == 0, r.body
        r = emu.request_sync("GET", "/_cluster/settings")
        assert r.body == {{"persistent": {{}}, "transient": {{}}}}, r.body
        if dirty:
            r = emu.request_sync("POST", "/_plugins/_ml/connectors/_create", CONNECTOR)
            assert r.status == 200, r.body
            r = emu.request_sync("POST", "/_plugins/_ml/models/_register?deploy=true", {{
                "name": "m", "function_name": "remote", "connector_id": r.body["connector_id"]}})
            assert r.status == 200, r.body
            r = emu.request_sync("PUT", "/_cluster/settings", SETTING)
            assert r.status == 200, r.body


    def _http(client, dirty):
        call = client.transport.perform_request
        r = call("POST", "/_plugins/_ml/connectors/_search", body=MATCH_ALL)
        assert r["hits"]["total"]["value"] == 0, r
        r = call("POST", "/_plugins/_ml/models/_search", body=MATCH_ALL)
        assert r["hits"]["total"]["value"] == 0, r
        r = call("GET", "/_cluster/settings")
        assert r == {{"persistent": {{}}, "transient": {{}}}}, r
        if dirty:
            r = call("POST", "/_plugins/_ml/connectors/_create", body=CONNECTOR)
            r = call("POST", "/_plugins/_ml/models/_register", params={{"deploy": "true"}}, body={{
                "name": "m", "function_name": "remote", "connector_id": r["connector_id"]}})
            assert r["model_id"], r
            call("PUT", "/_cluster/settings", body=SETTING)
''')


def _test_module(rounds: int) -> str:
    connector = json.dumps(seed_body("openai_chat_connector"))
    parts = [HEAD.format(connector=connector)]
    for rnd in range(rounds):
        for i in range(BLOCK):
            parts.append(f"\ndef test_r{rnd:03d}_baseline_{i}():\n    pass\n")
        for i in range(BLOCK):
            parts.append(f"\ndef test_r{rnd:03d}_inproc_{i}(mlcommons_emulator):\n"
                         f"    _inproc(mlcommons_emulator, dirty={bool(i % 2)})\n")
        for i in range(BLOCK):
            parts.append(f"\ndef test_r{rnd:03d}_http_{i}(mlcommons_client):\n"
                         f"    _http(mlcommons_client, dirty={bool(i % 2)})\n")
        parts.append(f"\ndef test_r{rnd:03d}_fresh_0(fresh_client):\n    _http(fresh_client, dirty=True)\n")
    return "".join(parts)


def _run_pytest(rounds: int) -> tuple[list[dict[str, Any]], float]:
    """The phase records in run order, and pytest's wall time in seconds."""
    with tempfile.TemporaryDirectory(prefix="mlcemu-bench-") as tmp:
        with open(os.path.join(tmp, "pytest.ini"), "w") as f:
            f.write(INI)
        with open(os.path.join(tmp, "conftest.py"), "w") as f:
            f.write(CONFTEST)
        with open(os.path.join(tmp, "test_fixture_cost.py"), "w") as f:
            f.write(_test_module(rounds))
        out = os.path.join(tmp, "phases.json")
        env = child_env()
        env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        env["MLCEMU_FIXTURE_COST_OUT"] = out
        argv = [PYTHON, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "mlcommons_emu.testing.plugin",
                "test_fixture_cost.py"]
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=tmp, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"pytest exited with {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
        with open(out) as f:
            return json.load(f), wall


def _analyse(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Setup + teardown (ms) per test, by group; the first test of a group apart."""
    tests: dict[str, dict[str, float]] = {}
    resets: dict[str, float] = {}
    order: list[str] = []
    failed = [r["nodeid"] for r in records if r["outcome"] != "passed"]
    for r in records:
        if r["nodeid"] not in tests:
            tests[r["nodeid"]] = {}
            order.append(r["nodeid"])
        tests[r["nodeid"]][r["when"]] = r["duration"] * 1000
        if r.get("reset") is not None:
            resets[r["nodeid"]] = r["reset"] * 1000
    samples: dict[str, list[float]] = {g: [] for g in (*GROUPS, "fresh")}
    setup_ms: dict[str, list[float]] = {g: [] for g in samples}
    teardown_ms: dict[str, list[float]] = {g: [] for g in samples}
    reset_ms: dict[str, list[float]] = {g: [] for g in samples}
    beyond_ms: dict[str, list[float]] = {g: [] for g in samples}  # setup - reset
    first: dict[str, float] = {}
    after_dirty: list[float] = []
    after_clean: list[float] = []
    previous_dirty: bool | None = None  # the last test on the shared emulator left state behind
    for nodeid in order:
        name = nodeid.rsplit("::", 1)[-1]
        _, _, group, index = name.split("_")
        phases = tests[nodeid]
        total = phases.get("setup", 0.0) + phases.get("teardown", 0.0)
        if group not in first:
            first[group] = total
        else:
            samples[group].append(total)
            setup_ms[group].append(phases.get("setup", 0.0))
            teardown_ms[group].append(phases.get("teardown", 0.0))
            if nodeid in resets:
                reset_ms[group].append(resets[nodeid])
                beyond_ms[group].append(phases.get("setup", 0.0) - resets[nodeid])
            if group == "inproc" and previous_dirty is not None:
                (after_dirty if previous_dirty else after_clean).append(total)
        if group in ("inproc", "http"):
            previous_dirty = bool(int(index) % 2)
    base = median(samples["baseline"])
    figures: dict[str, Any] = {"failed_tests": failed, "baseline_median_ms": base,
                               "baseline_p99_ms": percentile(samples["baseline"], 99)}
    for group in ("inproc", "http", "fresh"):
        figures[f"{group}_median_ms"] = median(samples[group])
        figures[f"{group}_p99_ms"] = percentile(samples[group], 99)
        figures[f"{group}_setup_median_ms"] = median(setup_ms[group])
        figures[f"{group}_teardown_median_ms"] = median(teardown_ms[group])
        figures[f"{group}_cost_ms"] = median(samples[group]) - base
        figures[f"{group}_first_start_ms"] = first[group]
        if reset_ms[group]:
            figures[f"{group}_reset_median_ms"] = median(reset_ms[group])
            figures[f"{group}_setup_beyond_reset_median_ms"] = median(beyond_ms[group])
    figures["inproc_after_dirty_cost_ms"] = median(after_dirty) - base
    figures["inproc_after_clean_cost_ms"] = median(after_clean) - base
    figures["baseline_first_ms"] = first["baseline"]
    figures["samples_ms"] = samples
    return figures


def run(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    rounds = rounds or (6 if quick else 20)
    records, wall = _run_pytest(rounds)
    figures = _analyse(records)
    figures["pytest_wall_s"] = wall
    if figures["failed_tests"]:
        raise RuntimeError(f"tests failed in the generated module: {figures['failed_tests'][:5]}")
    return {
        "benchmark": NAME,
        "params": {"rounds": rounds, "block": BLOCK,
                   "tests": {"baseline": rounds * BLOCK, "inproc": rounds * BLOCK, "http": rounds * BLOCK,
                             "fresh": rounds},
                   "runner": "python -m pytest -q -p no:cacheprovider -p mlcommons_emu.testing.plugin "
                             "(PYTEST_DISABLE_PLUGIN_AUTOLOAD=1)",
                   "measured": "report.duration of setup + teardown; first test of each group apart",
                   "subject": "mlcommons_emulator / mlcommons_client tests, every other one leaving a connector, "
                              "a deployed model and a transient setting behind",
                   "baseline": f"tests with no fixture; {BUDGET_MS:g} ms budget; fresh EmulatorThread + HTTP per test"},
        "figures": figures,
        "ratios": [
            ratio("pytest fixture per-test cost, in process (median)", figures["inproc_cost_ms"], BUDGET_MS,
                  "ms", target=TARGET),
            ratio("pytest fixture per-test cost, HTTP client (median)", figures["http_cost_ms"], BUDGET_MS,
                  "ms", target=None),
            ratio("HTTP fixture vs fresh EmulatorThread per test", figures["http_cost_ms"],
                  figures["fresh_cost_ms"], "ms", target=None),
        ],
    }


if __name__ == "__main__":
    from benchmarks._report import main_single

    raise SystemExit(main_single(run))
