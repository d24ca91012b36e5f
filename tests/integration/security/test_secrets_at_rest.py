"""No plaintext credential survives anywhere but in the request that set it.

A whole session over real HTTP on a SQLite file, with every logger at DEBUG: connectors
with distinctive secrets (an http bearer key, aws_sigv4 access/secret/session keys, an
inline connector), register, deploy, predict, every read API, and
the failures that carry provider or template text back (a template typo, provider 401
and 500 faults, a rejected signature).  Then no secret may appear in the database
files, in any log record (tracebacks included), or in any response status line, header
or body.  The master key is never in a response nor in a record of the emulator's own
loggers or any WARNING (the database drivers' DEBUG/INFO traces echo the documents they
store, its ``.plugins-ml-config`` document included, as they echo the ciphertexts).
"""
from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from mlcommons_emu.config import Config
from mlcommons_emu.testing.server import EmulatorThread
from tests.seed import body

OPENAI_KEY = "sk-scan-OPENAI-7f3a9c1e5b2d4a6019"
INLINE_KEY = "sk-scan-INLINE-0c1d2e3f4a5b6c7d88"
SECOND_KEY = "sk-scan-SECOND-aa11bb22cc33dd4477"
TYPO_KEY = "sk-scan-TYPO-5e6f7a8b9c0d1e2f66"
AWS_ACCESS_KEY = "AKIASCANACCESSKEY7Q2Z"
AWS_SECRET_KEY = "scan/SECRET+key-9f8e7d6c5b4a3928170655"
AWS_SESSION_TOKEN = "scan-SESSION-token-IQoJb3JpZ2luX2VjEJr-4242"
WRONG_SECRET_KEY = "scan/WRONG+secret-0123456789abcdefABCD"
MASTER_KEY = "c2Nhbi1NQVNURVIta2V5LTMyLWJ5dGVzLWxvbmchISE="
SECRETS = (OPENAI_KEY, INLINE_KEY, SECOND_KEY, TYPO_KEY, AWS_ACCESS_KEY, AWS_SECRET_KEY,
           AWS_SESSION_TOKEN, WRONG_SECRET_KEY)


class Transcript:
    """Every response of the session, as the client received it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.responses: list[str] = []

    def call(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, reason, headers, raw = response.status, response.reason, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, reason, headers, raw = error.code, error.reason, error.headers, error.read()
        self.responses.append(f"{status} {reason}\n{headers}\n{raw.decode('utf-8', 'replace')}")
        return status, json.loads(raw) if raw else None


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))  # message, arguments and traceback


@pytest.fixture
def debug_logs() -> Iterator[_Records]:
    """Every logger of the process at DEBUG into one handler, restored afterwards."""
    handler = _Records()
    root = logging.getLogger()
    loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
    saved = [(lg, lg.level, lg.disabled) for lg in loggers] + [(root, root.level, root.disabled)]
    for lg, _level, _disabled in saved:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if not lg.propagate:
            lg.addHandler(handler)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        for lg, level, disabled in saved:
            lg.setLevel(level)
            lg.disabled = disabled
            if handler in lg.handlers:
                lg.removeHandler(handler)


def _register(t: Transcript, payload: dict[str, Any], query: str = "") -> str:
    status, registered = t.call("POST", f"/_plugins/_ml/models/_register{query}", payload)
    assert status == 200, registered
    return registered["model_id"]


def _openai_connector(key: str, **changes: Any) -> dict[str, Any]:
    connector = body("openai_chat_connector")
    connector["credential"] = {"openAI_key": key}
    connector.update(changes)
    return connector


def _sagemaker_connector(secret: str) -> dict[str, Any]:
    connector = body("sagemaker_connector")
    connector["credential"] = {"access_key": AWS_ACCESS_KEY, "secret_key": secret,
                               "session_token": AWS_SESSION_TOKEN}
    return connector


def _session(server: EmulatorThread) -> Transcript:
    t = Transcript(server.url)
    # only the keys the connectors hold get through: the decrypted values reach the provider
    server.providers["openai"].api_keys = frozenset({OPENAI_KEY, INLINE_KEY, SECOND_KEY, TYPO_KEY})
    t.call("PUT", "/_cluster/settings", body("trusted_endpoints"))
    _, group = t.call("POST", "/_plugins/_ml/model_groups/_register", body("model_group"))
    group_id = group["model_group_id"]

    connectors = {}
    for name, payload in {
        "openai": _openai_connector(OPENAI_KEY),
        "sagemaker": _sagemaker_connector(AWS_SECRET_KEY),
        "wrong_secret": _sagemaker_connector(WRONG_SECRET_KEY),
        "second_openai": _openai_connector(SECOND_KEY),
    }.items():
        status, created = t.call("POST", "/_plugins/_ml/connectors/_create", payload)
        assert status == 200, created
        connectors[name] = created["connector_id"]

    typo = body("openai_chat_connector")
    typo["credential"] = {"openAI_key": TYPO_KEY}
    typo["actions"][0]["request_body"] = typo["actions"][0]["request_body"].replace(
        "parameters.messages", "parameters.mesages")
    header_typo = _openai_connector(TYPO_KEY)
    header_typo["actions"][0]["headers"] = {"Authorization": "Bearer ${credential.openAI_kye}"}

    models = {name: _register(t, {"name": name, "function_name": "remote", "model_group_id": group_id,
                                  "connector_id": connector_id})
              for name, connector_id in connectors.items()}
    inline_model = body("register_internal_connector", model_group_id=group_id)
    inline_model["connector"]["credential"] = {"openAI_key": INLINE_KEY}
    models["inline"] = _register(t, inline_model)
    inline = t.call("GET", f"/_plugins/_ml/models/{models['inline']}")[1]
    assert "credential" not in inline["connector"]
    for name, connector in (("body_typo", typo), ("header_typo", header_typo)):
        models[name] = _register(t, {"name": name, "function_name": "remote", "model_group_id": group_id,
                                     "connector": connector})
    models["deployed_at_register"] = _register(
        t, {**inline_model, "name": "deployed-at-register"}, "?deploy=true")

    deploy_tasks = []
    for model_id in models.values():
        status, deployed = t.call("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
        assert status == 200, deployed
        deploy_tasks.append(deployed["task_id"])

    chat, sagemaker = body("predict_messages"), {"parameters": {"inputs": "hello"}}
    completion = {"parameters": {"prompt": "Say this is a test"}}
    assert t.call("POST", f"/_plugins/_ml/models/{models['openai']}/_predict", chat)[0] == 200
    assert t.call("POST", f"/_plugins/_ml/models/{models['second_openai']}/_predict", chat)[0] == 200
    assert t.call("POST", f"/_plugins/_ml/models/{models['sagemaker']}/_predict", sagemaker)[0] == 200
    assert t.call("POST", f"/_plugins/_ml/models/{models['inline']}/_predict", completion)[0] == 200
    assert server.providers["openai"].recorder.requests[0].headers["Authorization"] == f"Bearer {OPENAI_KEY}"

    # failures that carry provider or template text back to the caller
    assert t.call("POST", f"/_plugins/_ml/models/{models['wrong_secret']}/_predict", sagemaker)[0] == 403
    assert t.call("POST", f"/_plugins/_ml/models/{models['body_typo']}/_predict", chat)[0] == 400
    assert t.call("POST", f"/_plugins/_ml/models/{models['header_typo']}/_predict", chat)[0] == 401
    openai = server.providers["openai"]
    openai.script.fail(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                       "code": "invalid_api_key"}})
    assert t.call("POST", f"/_plugins/_ml/models/{models['openai']}/_predict", chat)[0] == 401
    openai.script.fail(500, {"error": {"message": "The server had an error", "type": "server_error"}})
    assert t.call("POST", f"/_plugins/_ml/models/{models['inline']}/_predict", completion)[0] == 500
    server.providers["sagemaker"].script.fail(500, {"message": "internal failure"})
    assert t.call("POST", f"/_plugins/_ml/models/{models['sagemaker']}/_predict", sagemaker)[0] == 500

    # every read API
    for connector_id in connectors.values():
        t.call("GET", f"/_plugins/_ml/connectors/{connector_id}")
    for model_id in models.values():
        t.call("GET", f"/_plugins/_ml/models/{model_id}")
    for task_id in deploy_tasks:
        t.call("GET", f"/_plugins/_ml/tasks/{task_id}")
    for kind in ("connectors", "models", "model_groups", "tasks"):
        t.call("POST", f"/_plugins/_ml/{kind}/_search", {"query": {"match_all": {}}, "size": 100})
    t.call("GET", "/_cluster/settings?include_defaults=true")
    return t


def test_no_plaintext_secret_at_rest_in_logs_or_responses(tmp_path: Path, debug_logs: _Records) -> None:
    database = tmp_path / "state.sqlite3"
    config = Config(database=f"sqlite:///{database}", seed=5, master_key=MASTER_KEY,
                    aws_credentials={AWS_ACCESS_KEY: (AWS_SECRET_KEY, AWS_SESSION_TOKEN)})
    with EmulatorThread(config) as server:
        transcript = _session(server)

    files = sorted(tmp_path.glob("state.sqlite3*"))
    assert database in files
    stored = b"".join(path.read_bytes() for path in files)
    assert b"AgV4" in stored  # the credentials are there, as ciphertexts
    assert any("sqlalchemy.engine" in text for text in debug_logs.texts)  # DEBUG really was on

    for secret in SECRETS:
        assert secret.encode() not in stored, f"{secret} in the database files"
        leaks = [text for text in debug_logs.texts if secret in text]
        assert not leaks, f"{secret} logged: {leaks[0][:300]}"
        answered = [text for text in transcript.responses if secret in text]
        assert not answered, f"{secret} in a response: {answered[0][:300]}"
    assert not [text for text in transcript.responses if MASTER_KEY in text]
    assert not [text for text in debug_logs.texts if MASTER_KEY in text
                and (" mlcommons_emu" in text or not text.startswith(("DEBUG ", "INFO ")))]
