"""A stateful conformance machine for the remote-model life cycle, against any ML Commons.

It registers connectors and models, deploys, predicts, undeploys and deletes, switches
``only_run_on_ml_node`` and, against an emulator, adds, stops and restarts nodes, in orders that
hypothesis chooses, and after every step checks what ML Commons guarantees: each model's
state is the one the steps imply, tasks complete, predict works exactly when a model is
deployed (or auto-deploys, from 2.13), deployed models cannot be deleted, and no connector
ever shows its credential.

By default the target is an emulator in this process.  Point it at a real cluster with the
``MLCOMMONS_CONFORMANCE_URL`` environment variable (``http://user:password@host:9200``) to
check that the emulator and that cluster agree; the connectors it creates call
``api.openai.com`` with a dummy key, so against a real cluster a predict answers with the
provider's 401, which the machine accepts as "reached the provider".

Run it from a test::

    from mlcommons_emu.testing.conformance import LifecycleMachine
    TestLifecycle = LifecycleMachine.TestCase
"""
from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

from mlcommons_emu.testing import strategies as mls

ML = "/_plugins/_ml"
ENV_URL = "MLCOMMONS_CONFORMANCE_URL"
#: the states in which a model answers predict from memory
SERVING = ("DEPLOYED", "PARTIALLY_DEPLOYED")


class TargetUnreachable(RuntimeError):
    """The cluster under test did not answer."""


class EmulatorTarget:
    """An emulator on a background thread (started once per options and process, reset per run)."""

    _threads: dict[str, Any] = {}

    def __init__(self, **options: Any) -> None:
        from mlcommons_emu.testing.server import EmulatorThread

        key = repr(sorted(options.items()))
        thread = EmulatorTarget._threads.get(key)
        if thread is None:
            thread = EmulatorTarget._threads[key] = EmulatorThread(serve_http=False, **options).start()
        else:
            thread.reset()
        self.thread = thread

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.thread.request_sync(method, path, body)
        return response.status, response.body


class HttpTarget:
    """A cluster at a URL, over plain HTTP(S) with optional Basic credentials in the URL."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{ENV_URL} must be an http(s) URL, got {url!r}")
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.base = f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json"}
        if parts.username:
            token = f"{parts.username}:{parts.password or ''}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(token).decode()
        self.created: list[tuple[str, str]] = []
        status, _ = self.request("GET", "/")
        if status >= 400:
            raise TargetUnreachable(f"the cluster at {self.base} answered {status} to GET /")

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as response:
                return response.status, _json(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
        except (urllib.error.URLError, OSError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise TargetUnreachable(f"cannot reach ML Commons at {self.base}: {reason}") from None

    def cleanup(self) -> None:
        """Undeploy and delete what the run created, so a real cluster is left as found."""
        for kind, ident in reversed(self.created):
            if kind == "model":
                self.request("POST", f"{ML}/models/{ident}/_undeploy")
                self.request("DELETE", f"{ML}/models/{ident}")
            else:
                self.request("DELETE", f"{ML}/connectors/{ident}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", "replace")


def target_from_environment(**emulator_options: Any) -> Any:
    """The cluster named by ``MLCOMMONS_CONFORMANCE_URL``, else an emulator with these options."""
    url = os.environ.get(ENV_URL)
    return HttpTarget(url) if url else EmulatorTarget(**emulator_options)


class LifecycleMachine(RuleBasedStateMachine):
    """Register -> deploy -> predict -> undeploy -> delete, in any order, with invariants."""

    connectors = Bundle("connectors")
    models = Bundle("models")
    #: Config options of the emulator used when no URL is given (e.g. an older release)
    emulator_options: dict[str, Any] = {}

    def __init__(self) -> None:
        super().__init__()
        self.target = target_from_environment(**self.emulator_options)
        status, info = self.target.request("GET", "/")
        number = info["version"]["number"].split("-")[0]
        self.release = tuple(int(p) for p in number.split(".")[:2])
        self.expected: dict[str, str] = {}
        self.registered = 0
        self.only_ml: dict[str, bool] = {}
        #: node faults need the emulator's /_emu namespace (a real cluster has none)
        self.steerable = self.call("GET", "/_emu/config")[0] == 200
        self.workers: dict[str, bool] = {}  # added node name -> running

    def teardown(self) -> None:
        cleanup = getattr(self.target, "cleanup", None)
        if cleanup is not None:
            cleanup()

    # helpers -----------------------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        return self.target.request(method, path, body)

    def _track(self, kind: str, ident: str) -> None:
        created = getattr(self.target, "created", None)
        if created is not None:
            created.append((kind, ident))

    # rules -------------------------------------------------------------------------------
    @rule(target=connectors, body=mls.connector_bodies(provider="openai"))
    def create_connector(self, body: dict[str, Any]) -> str:
        status, answer = self.call("POST", f"{ML}/connectors/_create", body)
        assert status == 200, answer
        connector_id = answer["connector_id"]
        self._track("connector", connector_id)
        status, stored = self.call("GET", f"{ML}/connectors/{connector_id}")
        assert status == 200, stored
        assert "credential" not in stored, "a connector showed its credential"
        assert stored["name"] == body["name"]
        return connector_id

    @rule(target=models, connector_id=connectors, name=mls.names)
    def register(self, connector_id: str, name: str) -> str:
        # a unique name: before 2.11 a second model of the same name (and no group id) is
        # refused, because its implicit group's name is taken
        self.registered += 1
        status, answer = self.call("POST", f"{ML}/models/_register", {
            "name": f"{name}-{self.registered}", "function_name": "remote", "connector_id": connector_id})
        assert status == 200, answer
        task_id = answer["task_id"]
        status, task = self.call("GET", f"{ML}/tasks/{task_id}")
        assert status == 200 and task["state"] == "COMPLETED", task
        model_id = answer.get("model_id") or task["model_id"]
        self._track("model", model_id)
        self.expected[model_id] = "REGISTERED"
        return model_id

    @rule(model_id=models)
    def deploy(self, model_id: str) -> None:
        if model_id not in self.expected:
            return
        status, answer = self.call("POST", f"{ML}/models/{model_id}/_deploy")
        assert status == 200, answer
        status, task = self.call("GET", f"{ML}/tasks/{answer['task_id']}")
        assert task["state"] == "COMPLETED", task
        self.expected[model_id] = "DEPLOYED"

    @rule(model_id=models)
    def undeploy(self, model_id: str) -> None:
        if model_id not in self.expected:
            return
        status, answer = self.call("POST", f"{ML}/models/{model_id}/_undeploy")
        assert status == 200, answer
        if self.expected[model_id] in SERVING:
            assert any(node.get("stats", {}).get(model_id) == "undeployed" for node in answer.values()), answer
        # the plugin marks the model UNDEPLOYED even when no node held it
        self.expected[model_id] = "UNDEPLOYED"

    @rule(model_id=models, payload=mls.predict_payloads("chat"))
    def predict(self, model_id: str, payload: dict[str, Any]) -> None:
        if model_id not in self.expected:
            return
        status, answer = self.call("POST", f"{ML}/models/{model_id}/_predict", payload)
        deployed = self.expected[model_id] in SERVING
        if deployed or self.release >= (2, 13):
            # a real provider with a dummy key answers 401; the emulator's fake answers 200
            assert status in (200, 401), answer
            if status == 200:
                # 2.9 leaves status_code out of the result
                assert answer["inference_results"][0].get("status_code", 200) == 200, answer
            if not deployed:
                self.expected[model_id] = "DEPLOYED"  # auto-deployed
        else:
            # before auto-deploy (2.13) predict on an undeployed model is refused
            assert 400 <= status < 600 and "error" in answer, answer

    @rule(model_id=consumes(models))
    def delete(self, model_id: str) -> None:
        if model_id not in self.expected:
            return
        status, answer = self.call("DELETE", f"{ML}/models/{model_id}")
        if self.expected[model_id] in SERVING:
            assert status in (400, 500), answer
            assert "undeploy model first" in answer["error"]["reason"], answer
            self.call("POST", f"{ML}/models/{model_id}/_undeploy")
            status, answer = self.call("DELETE", f"{ML}/models/{model_id}")
        assert status == 200 and answer["result"] == "deleted", answer
        del self.expected[model_id]
        status, _ = self.call("GET", f"{ML}/models/{model_id}")
        assert status == 404

    @rule(persistent=st.booleans(), value=st.booleans())
    def toggle_only_run_on_ml_node(self, persistent: bool, value: bool) -> None:
        scope = "persistent" if persistent else "transient"
        before = self._only_ml()
        status, answer = self.call("PUT", "/_cluster/settings", {
            scope: {"plugins.ml_commons.only_run_on_ml_node": value}})
        assert status == 200 and answer["acknowledged"] is True, answer
        self.only_ml[scope] = value
        if not before and self._only_ml() and self.release >= (2, 10):
            # switching it on undeploys every model from data nodes, remote ones included
            for model_id, state in self.expected.items():
                if state == "DEPLOYED":
                    _, model = self.call("GET", f"{ML}/models/{model_id}")
                    assert model["model_state"] in ("DEPLOYED", "PARTIALLY_DEPLOYED", "UNDEPLOYED"), model
                    self.expected[model_id] = model["model_state"]

    # node faults (an emulator target only) ------------------------------------------------
    @precondition(lambda self: self.steerable and len(self.workers) < 3)
    @rule()
    def add_worker(self) -> None:
        name = f"worker-{len(self.workers) + 1}"
        status, answer = self.call("POST", "/_emu/nodes", {"name": name, "roles": ["data", "ml"]})
        assert status == 200, answer
        self.workers[name] = True
        self._nodes_changed()

    @precondition(lambda self: self.steerable and any(self.workers.values()))
    @rule(data=st.data())
    def stop_worker(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, up in self.workers.items() if up)))
        status, answer = self.call("POST", f"/_emu/nodes/{name}/_stop")
        assert status == 200, answer
        self.workers[name] = False
        self._nodes_changed()

    @precondition(lambda self: self.steerable and not all(self.workers.values()))
    @rule(data=st.data())
    def start_worker(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, up in self.workers.items() if not up)))
        status, answer = self.call("POST", f"/_emu/nodes/{name}/_start")
        assert status == 200, answer
        self.workers[name] = True
        self._nodes_changed()

    def _nodes_changed(self) -> None:
        """A node left or joined: a model that was serving still is (the first node, which
        has every role, keeps it), fully or partially (a plan that grew with no redeploy, as
        in 2.9-2.11); the others are untouched by the sync-up."""
        for model_id, state in list(self.expected.items()):
            if state not in SERVING:
                continue
            _, model = self.call("GET", f"{ML}/models/{model_id}")
            assert model["model_state"] in SERVING, (model_id, model)
            self.expected[model_id] = model["model_state"]

    def _only_ml(self) -> bool:
        """The effective value: transient over persistent over the default (true)."""
        for scope in ("transient", "persistent"):
            if scope in self.only_ml:
                return self.only_ml[scope]
        return True

    # invariants --------------------------------------------------------------------------
    @invariant()
    def model_states_follow_the_steps(self) -> None:
        for model_id, state in self.expected.items():
            status, model = self.call("GET", f"{ML}/models/{model_id}")
            assert status == 200, model
            assert model["model_state"] == state, (model_id, model["model_state"], state)
            if state in SERVING:
                assert model["current_worker_node_count"] >= 1, model
