"""The fuzz world (an emulator on its own loop, seeded with documents) and the oracle.

The oracle holds for every request, whatever it contains:

* the status is 2xx, 3xx or 4xx, or a 5xx that the emulated release really answers for
  that failure (``DELIBERATE_SERVER_ERRORS``, each with where it is recorded);
* an error body is OpenSearch's: the envelope ``{"error": {"root_cause": [...], "type",
  "reason"}, "status"}``, the router's ``{"error": "<text>", "status"}``, or no body at all
  for the HTTP layer's 413 and 417 and for any answer to HEAD (over HTTP, a compressed body
  that does not inflate may also close the connection unanswered, as OpenSearch does);
* no traceback or Python internals in the body;
* the body can be written as UTF-8 JSON, as the HTTP server writes it;
* a rejected request leaves every document, the cluster settings and the nodes' deployed
  models as they were, except for the side effects the real plugin has on that failure
  (``DELIBERATE_SIDE_EFFECTS``).
"""
from __future__ import annotations

import asyncio
import json
import os
import re
from typing import Any, Callable
from urllib.parse import urlencode

import attrs
from hypothesis import HealthCheck, Phase, settings

from mlcommons_emu import Emulator
from mlcommons_emu.api.messages import RestRequest, RestResponse
from mlcommons_emu.api.routes import encode
from mlcommons_emu.domain.release import NEWEST, Release
from tests.fuzz.strategies import Case, Ref
from tests.seed import body as seed_body

ML = "/_plugins/_ml"

# --- settings profiles ---------------------------------------------------------------------

#: HYPOTHESIS_PROFILE=ci-long runs every fuzz test with many more (random) examples
LONG = os.environ.get("HYPOTHESIS_PROFILE", "") == "ci-long"
LONG_FACTOR = 25


def fuzz_settings(examples: int) -> settings:
    """Bounded and reproducible by default; ``ci-long``: longer, random, failures printed as blobs."""
    return settings(
        max_examples=examples * LONG_FACTOR if LONG else examples,
        deadline=None,
        derandomize=not LONG,
        database=None,
        print_blob=LONG,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much, HealthCheck.large_base_example],
    )


# --- deliberate 5xx ------------------------------------------------------------------------

@attrs.frozen
class Deliberate:
    """A 5xx the emulated release answers on purpose, because the real one does."""

    type: str
    reason: str  # a regular expression matched against the whole reason
    since: tuple[int, int]
    until: tuple[int, int]
    where: str
    status: int = 500

    def allows(self, release: Release, status: int, type_: str, reason: str) -> bool:
        return (self.since <= (release.major, release.minor) <= self.until and status == self.status
                and type_ == self.type and re.fullmatch(self.reason, reason or "", re.S) is not None)


ALL = ((2, 9), (3, 8))
REST = "/work/shared/reference/ml-commons-rest.md"
SEMANTICS = "/work/shared/reference/ml-commons-semantics.md"

DELIBERATE_SERVER_ERRORS: tuple[Deliberate, ...] = (
    Deliberate("null_pointer_exception", "model group name must not be null", (2, 12), (3, 8),
               "plugin source: MLRegisterModelGroupInput uses Objects.requireNonNull(name, ...) "
               "from 2.12 (services/model_groups.py)"),
    Deliberate("m_l_resource_not_found_exception", "Model Group Response is empty for .*", (2, 11), (3, 8),
               f"{REST} 6.2 (unknown model_group_id on register)"),
    Deliberate("illegal_state_exception", r"Infinite loop in property interpolation of .*", *ALL,
               f"{SEMANTICS} 1.4 'Recursive resolution' (a self-referencing placeholder)"),
    Deliberate("string_index_out_of_bounds_exception", r"Range \[0, -2\) out of bounds for length 0", *ALL,
               "plugin source: Connector.validatePayload substring(0, length - 2) on an empty list "
               "when '${parameters' has no complete placeholder (connectors/templating.py)"),
    Deliberate("stream_constraints_exception",
               r"Document nesting depth \(1001\) exceeds the maximum allowed \(1000, from "
               r"`StreamReadConstraints.getMaxNestingDepth\(\)`\)", *ALL,
               "OpenSearch core: XContentConstraints DEFAULT_MAX_DEPTH 1000 (Jackson StreamReadConstraints); "
               "ExceptionsHelper.status maps StreamConstraintsException to 500 (api/body.py)"),
    Deliberate("stream_constraints_exception",
               r"Number value length \(\d+\) exceeds the maximum allowed \(1000, from "
               r"`StreamReadConstraints.getMaxNumberLength\(\)`\)", *ALL,
               "OpenSearch core: Jackson StreamReadConstraints default max number length 1000; "
               "500 as above (api/body.py)"),
    Deliberate("i_o_exception", "Create Connector request has empty body", *ALL,
               f"{REST} 4.1 (missing body); RestMLCreateConnectorAction keeps the IOException"),
    Deliberate("i_o_exception", "(Update )?[Mm]odel group request has empty body", (2, 9), (2, 11),
               f"{REST} 5.1 (empty body)"),
    Deliberate("illegal_state_exception", "Remote Inference is currently disabled.*", (2, 10), (3, 4),
               f"{REST} 4.1 / 12.2 (remote_inference.enabled false; 400 from 3.5)"),
    Deliberate("illegal_state_exception", "Can't get text on a START_(OBJECT|ARRAY)", (2, 9), (2, 9),
               f"{REST} 4.1 (2.9 connector parameters must be scalars)"),
    Deliberate("m_l_resource_not_found_exception", "Fail to find (connector|model|task)", (2, 9), (2, 18),
               f"{REST} 4.2, 6.3, 7.2, 7.4 (index missing)"),
    Deliberate("m_l_resource_not_found_exception", "Fail to find model group( index)?", (2, 9), (2, 18),
               f"{REST} 5.2, 5.4, 5.5 (index missing)"),
    Deliberate("m_l_validation_exception", "Failed to update Model Group", (2, 9), (2, 10),
               f"{REST} 5.2 (unknown id, 2.9-2.10)"),
    Deliberate("m_l_validation_exception",
               r"Cannot delete the model group when it has associated model versions", (2, 9), (2, 18),
               f"{REST} 5.4"),
    Deliberate("m_l_validation_exception", r"\d+ models are still using this connector.*", (2, 9), (2, 11),
               f"{REST} 4.5"),
    Deliberate("exception", "Model cannot be deleted in deploying or deployed state. Try undeploy model "
               "first then delete", (2, 9), (2, 11), f"{REST} 6.6"),
    Deliberate("exception", "Task cannot be deleted in running state.*", *ALL, f"{REST} 7.4"),
    Deliberate("status_exception", r"Failed to get data object from index \.plugins-ml-model", (2, 19), (3, 8),
               "plugin source: the remote-metadata SDK's get fails deploy with an "
               "OpenSearchStatusException(500) when the model index is missing (services/deployment.py)"),
    Deliberate("m_l_exception", r"Fail to execute \w+ in aws connector", *ALL,
               f"{SEMANTICS} 3.4 (a JSON-path miss or other error while post-processing) and "
               "Appendix C (response_filter miss before 3.7, unusable success body before 3.5)"),
    Deliberate("m_l_exception", "Fail to execute http connector", (2, 9), (2, 14),
               f"{REST} 6.9 (transport or IO failure calling the remote)"),
    Deliberate("illegal_state_exception", r"Streaming is currently disabled\. To enable it, update the setting "
               r'"plugins\.ml_commons\.stream_enabled" to true\.', (3, 3), (3, 8),
               "plugin source: RestMLPredictionStreamAction throws IllegalStateException while stream_enabled "
               "is off, its default (services/predict.py)"),
    Deliberate("i_o_exception", "Model meta request has empty body", *ALL,
               "plugin source: RestMLRegisterModelMetaAction keeps the IOException (services/models.py)"),
    Deliberate("status_exception", "Fail to search( model version)?", *ALL,
               "plugin source: MLSearchHandler / SearchModelGroupTransportAction wrap a search failure "
               "whose root cause is not an IllegalArgumentException as a 500 (services/search.py)"),
    Deliberate("status_exception", "Error communicating with remote model: .*", (2, 15), (3, 8),
               f"{REST} 6.9 (transport failure; MLSdkAsyncHttpResponseHandler wording from 2.15)"),
)


def deliberate(release: Release, status: int, body: Any) -> Deliberate | None:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None
    for entry in DELIBERATE_SERVER_ERRORS:
        if entry.allows(release, status, str(error.get("type")), str(error.get("reason"))):
            return entry
    return None


# --- the world -----------------------------------------------------------------------------

@attrs.frozen
class Snapshot:
    """Everything a rejected request must leave alone."""

    documents: dict[tuple[str, str], tuple[int, int, Any]]
    stored_settings: dict[str, Any]
    persistent: dict[str, Any]
    transient: dict[str, Any]
    deployed: dict[str, frozenset[str]]


class World:
    """One emulator on a private event loop, seeded with a connector, a group, models, tasks.

    ``ids`` lists the known ids of each kind; cases refer to them by position (:class:`Ref`).
    After a request that changed the store the world is rebuilt, so every case starts from
    the same documents and a failure replays (and shrinks) deterministically.
    """

    def __init__(self, release: str = NEWEST, **config: Any) -> None:
        self.version = release
        self.config = config
        self.release = Release.of(release)
        self.ids: dict[str, list[str]] = {}
        self.emulator: Emulator | None = None
        self.pristine: Snapshot | None = None
        self._runner = asyncio.Runner()
        self._server: Any = None
        self.serving = False
        self.port = 0

    def __enter__(self) -> "World":
        self.run(self._build())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.run(self._teardown())
        finally:
            self._runner.close()

    def run(self, coro: Any) -> Any:
        return self._runner.run(coro)

    async def _teardown(self) -> None:
        await self._stop_server()
        if self.emulator is not None:
            await self.emulator.stop()
            self.emulator = None

    async def _build(self) -> None:
        """A fresh emulator with the world's documents (ids differ, positions do not)."""
        await self._teardown()
        emulator = await Emulator(seed=5, opensearch_version=self.version, **self.config).start()
        self.emulator = emulator
        ids: dict[str, list[str]] = {"version": ["1"], "algorithm": ["remote", "text_embedding",
                                                                     "text_similarity", "kmeans"]}
        await self._admin("PUT", "/_cluster/settings", seed_body("trusted_endpoints"))
        connector = await self._admin("POST", f"{ML}/connectors/_create", seed_body("openai_chat_connector"))
        ids["connector_id"] = [connector["connector_id"]]
        group = await self._admin("POST", f"{ML}/model_groups/_register", {"name": "fuzz-world-group"})
        ids["model_group_id"] = [group["model_group_id"]]
        ids["model_id"], ids["task_id"] = [], []
        for name, query in (("deployed", "?deploy=true"), ("registered", "")):
            registered = await self._admin("POST", f"{ML}/models/_register{query}", {
                "name": name, "function_name": "remote", "connector_id": ids["connector_id"][0],
                "model_group_id": ids["model_group_id"][0]})
            ids["task_id"].append(registered["task_id"])
            model_id = registered.get("model_id")
            if model_id is None:  # 2.9-2.10 answer before the model exists
                model_id = (await self._admin("GET", f"{ML}/tasks/{registered['task_id']}"))["model_id"]
            ids["model_id"].append(model_id)
        inline = await self._admin("POST", f"{ML}/models/_register", {
            "name": "inline", "function_name": "remote", "connector": seed_body("openai_chat_connector")})
        ids["task_id"].append(inline["task_id"])
        self.ids = ids
        self.pristine = await self.snapshot()
        if self.serving:
            await self._start_server()

    # the HTTP server --------------------------------------------------------------------
    def serve(self) -> "World":
        """Also serve the emulator over HTTP on a loopback port (kept across rebuilds)."""
        self.serving = True
        self.run(self._start_server())
        return self

    async def _start_server(self) -> None:
        from aiohttp import web

        from mlcommons_emu.api.app import create_app

        await self._stop_server()
        runner = web.AppRunner(create_app(self.emulator), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._server = runner
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _stop_server(self) -> None:
        if self._server is not None:
            await self._server.cleanup()
            self._server = None

    def send_http(self, case: Case) -> "Outcome":
        return self.run(self._send_http(case))

    async def _send_http(self, case: Case) -> "Outcome":
        from tests.fuzz.wire import Connection, request_bytes

        request = self.resolve(case)
        before = await self.snapshot()
        connection = await Connection.open(self.port)
        try:
            await connection.send(request_bytes(request.method, request.uri, case.headers, request.body))
            raw = await connection.response()
            while raw.status == 100:  # Expect: 100-continue was honoured; the answer follows
                raw = await connection.response()
            response = http_response(request.method, raw)
        except asyncio.IncompleteReadError:
            raw, response = None, RestResponse(NO_ANSWER, None)  # closed without an answer
        finally:
            await connection.close()
        after = await self.snapshot()
        outcome = Outcome(self.release, request, response, before, after, bool(self.config.get("security")),
                          raw=raw)
        await self._restore()
        return outcome

    def check_http(self, case: Case) -> "Outcome":
        outcome = self.send_http(case)
        outcome.verify()
        return outcome

    async def _admin(self, method: str, path: str, payload: Any = None) -> Any:
        assert self.emulator is not None
        headers = {"Authorization": "Basic YWRtaW46YWRtaW4="} if self.config.get("security") else None
        response = await self.emulator.request(method, path, payload, headers=headers)
        assert response.status == 200, (method, path, response.status, response.body)
        return response.body

    # requests -----------------------------------------------------------------------------
    def resolve(self, case: Case) -> RestRequest:
        parts = []
        for segment in case.segments:
            if isinstance(segment, Ref):
                known = self.ids.get(segment.kind) or ["no-such-id"]
                parts.append(known[segment.index % len(known)])
            else:
                parts.append(segment)
        path = "/" + "/".join(parts)
        query = dict(case.query)
        uri = path + ("?" + urlencode(query, errors="surrogatepass") if query else "")
        body = case.body if isinstance(case.body, bytes) else case.body(self.ids)
        return RestRequest(method=case.method, path=path, query=query, headers=dict(case.headers),
                           body=body, raw_uri=uri)

    async def snapshot(self) -> Snapshot:
        assert self.emulator is not None
        context = self.emulator.context
        async with context.store.transaction() as tx:
            documents = {(d.index, d.doc_id): (d.version, d.seq_no, d.source) for d in await tx.all_documents()}
            stored = await tx.load_settings()
        deployed = {runtime.node_id: frozenset(runtime.models) for runtime in context.cluster.nodes}
        return Snapshot(documents, stored, dict(context.settings.persistent),
                        dict(context.settings.transient), deployed)

    def send(self, case: Case) -> "Outcome":
        return self.run(self._send(case))

    async def _send(self, case: Case) -> "Outcome":
        outcome = await self._exchange(self.resolve(case))
        await self._restore()
        return outcome

    async def _exchange(self, request: RestRequest) -> "Outcome":
        assert self.emulator is not None
        before = await self.snapshot()
        response = await self.emulator.handle(request)
        after = await self.snapshot()
        return Outcome(self.release, request, response, before, after, bool(self.config.get("security")))

    async def _restore(self) -> None:
        """Rebuild the world when the last request changed it."""
        if await self.snapshot() != self.pristine:
            await self._build()

    def check(self, case: Case) -> "Outcome":
        outcome = self.send(case)
        outcome.verify()
        return outcome

    def check_chain(self, steps: tuple[Case, ...]) -> list["Outcome"]:
        """Send the steps in order, each seeing the ids the earlier ones created."""
        return self.run(self._chain(steps))

    async def _chain(self, steps: tuple[Case, ...]) -> list["Outcome"]:
        outcomes = []
        try:
            for step in steps:
                request = self.resolve(step)
                latest = (self.ids.get("connector_id") or ["none"])[-1]
                request = attrs.evolve(request, body=request.body.replace(b"${latest_connector}", latest.encode()))
                outcome = await self._exchange(request)
                outcomes.append(outcome)
                outcome.verify()
                self._harvest(outcome.response)
        finally:
            await self._restore()
        return outcomes

    def _harvest(self, response: RestResponse) -> None:
        if response.status != 200 or not isinstance(response.body, dict):
            return
        for kind in ("connector_id", "model_group_id", "model_id", "task_id"):
            value = response.body.get(kind)
            if isinstance(value, str):
                self.ids.setdefault(kind, []).append(value)


# --- the oracle ----------------------------------------------------------------------------

#: the status recorded when the server closed the connection without answering
NO_ANSWER = 0
_INFLATED = ("gzip", "x-gzip", "deflate", "x-deflate")
_INTERNALS = ("Traceback (most recent call last)", "File \"", ".py\", line", "mlcommons_emu.", "sqlalchemy",
              "aiosqlite", " object at 0x", "<module>", "RecursionError", "UnicodeEncodeError",
              "UnicodeDecodeError", "KeyError", "TypeError", "AttributeError", "mlcommons-emu internal error")
_ROUTER_STATUSES = (400, 405, 406)


def http_response(method: str, raw: Any) -> RestResponse:
    """What the server wrote, read back as a RestResponse (the JSON body decoded)."""
    if not raw.body:
        return RestResponse(raw.status, None, raw.headers)
    text = raw.body.decode("utf-8")
    if raw.headers.get("content-type", "").startswith("text/plain"):
        return RestResponse(raw.status, text, raw.headers)
    return RestResponse(raw.status, json.loads(text), raw.headers)


@attrs.frozen
class Outcome:
    release: Release
    request: RestRequest
    response: RestResponse
    before: Snapshot
    after: Snapshot
    security: bool = False
    raw: Any = None  # the bytes-level response, over HTTP

    def verify(self) -> None:
        problems = self.problems()
        assert not problems, (f"{self.request.method} {self.request.uri} -> {self.response.status} "
                              f"{_short(self.response.body)}\n" + "\n".join(problems))

    def problems(self) -> list[str]:
        found = [*self._status_problems(), *self._shape_problems(), *self._leak_problems(),
                 *self._encoding_problems(), *self._wire_problems()]
        if self.response.status >= 400 or self.response.status == NO_ANSWER:
            found.extend(self._store_problems())
        return found

    def _status_problems(self) -> list[str]:
        status = self.response.status
        if status == NO_ANSWER:
            encoding = str(self.request.header("Content-Encoding") or "").strip().lower()
            return [] if encoding in _INFLATED else ["the connection was closed without an answer"]
        if status < 500:
            return []
        if deliberate(self.release, status, self.response.body) is not None:
            return []
        return [f"a {status} the emulated release does not answer on purpose"]

    def _shape_problems(self) -> list[str]:
        status, body = self.response.status, self.response.body
        if status < 400 or status == NO_ANSWER or (self.request.method == "HEAD" and self.raw is not None):
            return []  # a response to HEAD never carries a body
        if status in (413, 417):
            return [] if body is None else [f"the HTTP layer's {status} has an empty body"]
        if status == 401 and self.security:
            return [] if body == "Unauthorized" else ["the security plugin's 401 body is 'Unauthorized'"]
        if not isinstance(body, dict) or body.get("status") != status:
            return ["error body without the matching 'status'"]
        error = body.get("error")
        if isinstance(error, str):
            return [] if status in _ROUTER_STATUSES else [f"a router-style error body with status {status}"]
        if not isinstance(error, dict) or not isinstance(error.get("type"), str):
            return ["error body is not OpenSearch's envelope"]
        causes = error.get("root_cause")
        if not (isinstance(causes, list) and causes and all(isinstance(c, dict) and "type" in c for c in causes)):
            return ["envelope without root_cause"]
        if not isinstance(error.get("reason"), (str, type(None))):
            return ["envelope reason is not text"]
        return []

    def _leak_problems(self) -> list[str]:
        text = _text_of(self.response.body)
        sent = _text_of(self.request.body.decode("utf-8", "replace")) + self.request.uri + repr(self.request.headers)
        return [f"the body shows {marker!r}" for marker in _INTERNALS if marker in text and marker not in sent]

    def _encoding_problems(self) -> list[str]:
        try:
            data = encode(self.response)
            if data and not isinstance(self.response.body, str):
                json.loads(data.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - any failure here is a finding
            return [f"the body cannot be written as UTF-8 JSON: {exc!r}"]
        return []

    def _wire_problems(self) -> list[str]:
        if self.raw is None or not self.raw.body:
            return []
        content_type = self.raw.headers.get("content-type", "")
        if content_type == "application/json; charset=UTF-8" or (
                self.security and self.raw.status == 401 and content_type.startswith("text/plain")):
            return []
        return [f"a body sent as {content_type!r}"]

    def _store_problems(self) -> list[str]:
        if self.before == self.after:
            return []
        for allowance in DELIBERATE_SIDE_EFFECTS:
            if allowance.explains(self):
                return []
        return [f"a rejected request changed the store: {describe_diff(self.before, self.after)}"]


@attrs.frozen
class SideEffect:
    """A change a rejected request makes in the real plugin too."""

    name: str
    where: str
    explains: Callable[[Outcome], bool]


def _changed(before: Snapshot, after: Snapshot) -> tuple[set[Any], set[Any], set[Any]]:
    added = set(after.documents) - set(before.documents)
    removed = set(before.documents) - set(after.documents)
    changed = {k for k in set(before.documents) & set(after.documents) if before.documents[k] != after.documents[k]}
    return added, removed, changed


def _only_failed_register_tasks(outcome: Outcome) -> bool:
    before, after = outcome.before, outcome.after
    added, removed, changed = _changed(before, after)
    if removed or changed or not added or _settings_or_memory_changed(before, after):
        return False
    register = outcome.request.path.rstrip("/").endswith(("/_register", "/_upload"))
    return outcome.release >= (2, 11) and register and all(
        index == ".plugins-ml-task" and after.documents[(index, doc_id)][2].get("state") == "FAILED"
        and after.documents[(index, doc_id)][2].get("task_type") == "REGISTER_MODEL"
        for index, doc_id in added)


def _auto_deploy_before_the_failure(outcome: Outcome) -> bool:
    before, after = outcome.before, outcome.after
    added, removed, changed = _changed(before, after)
    if removed or outcome.release < (2, 13) or "_predict" not in outcome.request.path:
        return False
    if (before.stored_settings, before.persistent, before.transient) != (
            after.stored_settings, after.persistent, after.transient):
        return False
    model_ids = {doc_id for index, doc_id in changed if index == ".plugins-ml-model"}
    if len(model_ids) != 1 or any(index != ".plugins-ml-model" for index, _ in changed):
        return False
    (model_id,) = model_ids
    tasks_ok = all(index == ".plugins-ml-task" and after.documents[(index, doc_id)][2].get("task_type")
                   == "DEPLOY_MODEL" and after.documents[(index, doc_id)][2].get("model_id") == model_id
                   for index, doc_id in added)
    memory_ok = all(after.deployed[node] - before.deployed.get(node, frozenset()) <= {model_id}
                    and before.deployed.get(node, frozenset()) <= after.deployed[node] for node in after.deployed)
    return tasks_ok and memory_ok


def _settings_or_memory_changed(before: Snapshot, after: Snapshot) -> bool:
    return (before.stored_settings, before.persistent, before.transient, before.deployed) != (
        after.stored_settings, after.persistent, after.transient, after.deployed)


DELIBERATE_SIDE_EFFECTS: tuple[SideEffect, ...] = (
    SideEffect("register task marked FAILED",
               f"{REST} 6.2: from 2.11 group problems fail the register call and the task is marked FAILED",
               _only_failed_register_tasks),
    SideEffect("auto-deploy before a failing predict",
               f"{REST} 6.9 / 10.3: from 2.13 predict auto-deploys an undeployed remote model first",
               _auto_deploy_before_the_failure),
)


def describe_diff(before: Snapshot, after: Snapshot) -> str:
    added, removed, changed = _changed(before, after)
    parts = [f"added {sorted(added)}" if added else "", f"removed {sorted(removed)}" if removed else "",
             f"changed {sorted(changed)}" if changed else ""]
    if _settings_or_memory_changed(before, after):
        parts.append("settings or deployed models changed")
    return "; ".join(p for p in parts if p)


def _text_of(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _short(body: Any) -> str:
    text = _text_of(body)
    return text if len(text) < 600 else text[:600] + "..."
