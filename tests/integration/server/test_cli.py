"""`mlcommons-emu serve` as a user starts it: ready line, curl-like calls, clean stop, restart."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request


from tests.seed import body


def start(db: str, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlcommons_emu", "serve", "--port", "0", "--database", db, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    line = proc.stdout.readline()
    assert line.startswith("mlcommons-emu ready on http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() is not None else "")
    url = line.split(" on ", 1)[1].split(" ", 1)[0]
    return proc, url


def call(url: str, method: str, path: str, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None, response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def stop(proc: subprocess.Popen, sig=signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(30)


def test_serve_answers_like_opensearch_and_stops_cleanly(tmp_path):
    proc, url = start(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    try:
        status, info, headers = call(url, "GET", "/")
        assert status == 200 and info["version"]["distribution"] == "opensearch"
        assert headers["content-type"] == "application/json; charset=UTF-8"
        status, _, _ = call(url, "HEAD", "/")
        assert status == 200
    finally:
        assert stop(proc, signal.SIGINT) == 0


def test_state_survives_a_restart_on_the_same_file(tmp_path):
    db = f"sqlite:///{tmp_path / 'state.sqlite3'}"
    proc, url = start(db)
    try:
        _, created, _ = call(url, "POST", "/_plugins/_ml/connectors/_create", body("openai_chat_connector"))
        connector_id = created["connector_id"]
        _, group, _ = call(url, "POST", "/_plugins/_ml/model_groups/_register", body("model_group"))
        _, reg, _ = call(url, "POST", "/_plugins/_ml/models/_register",
                         body("register_model", model_group_id=group["model_group_id"], connector_id=connector_id))
        model_id = reg["model_id"]
        _, deployed, _ = call(url, "POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        call(url, "PUT", "/_cluster/settings", {"persistent": {"plugins.ml_commons.allow_custom_deployment_plan": True}})
        _, node_before, _ = call(url, "GET", "/")
    finally:
        assert stop(proc) == 0

    proc, url = start(db)
    try:
        status, connector, _ = call(url, "GET", f"/_plugins/_ml/connectors/{connector_id}")
        assert status == 200 and connector["name"] == "OpenAI Chat Connector"
        status, group_doc, _ = call(url, "GET", f"/_plugins/_ml/model_groups/{group['model_group_id']}")
        assert group_doc["latest_version"] == 1
        status, task, _ = call(url, "GET", f"/_plugins/_ml/tasks/{deployed['task_id']}")
        assert task["state"] == "COMPLETED"
        # 3.8 redeploys models that were deployed before the restart
        status, model, _ = call(url, "GET", f"/_plugins/_ml/models/{model_id}")
        assert model["model_state"] == "DEPLOYED"
        status, result, _ = call(url, "POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
        assert status == 200, result
        _, settings, _ = call(url, "GET", "/_cluster/settings")
        assert settings["persistent"]["plugins"]["ml_commons"]["allow_custom_deployment_plan"] == "true"
        _, info, _ = call(url, "GET", "/")
        assert info["cluster_uuid"] == node_before["cluster_uuid"]
    finally:
        assert stop(proc) == 0


def test_unsupported_version_is_refused():
    proc = subprocess.run([sys.executable, "-m", "mlcommons_emu", "serve", "--opensearch-version", "1.3.0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unsupported OpenSearch version 1.3.0" in proc.stderr


def test_providers_serve_answers_by_host_header():
    proc = subprocess.Popen([sys.executable, "-m", "mlcommons_emu", "providers", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert line.startswith("mlcommons-emu fake providers ready on http://127.0.0.1:"), line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        request = urllib.request.Request(
            url + "/v1/embeddings", method="POST",
            data=json.dumps({"model": "text-embedding-3-small", "input": "hi"}).encode(),
            headers={"Host": "api.openai.com", "Content-Type": "application/json",
                     "Authorization": "Bearer sk-test"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
        assert body["object"] == "list" and len(body["data"][0]["embedding"]) == 1536
    finally:
        assert stop(proc) == 0
