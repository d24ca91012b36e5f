"""Documents and master keys shared with a real cluster, and a wrong key failing where the plugin fails.

Ciphertexts are checked against an AWS Encryption SDK client built here, independently of
the emulator's cipher, with EncryptorImpl's parameters: a raw AES-256-GCM master key of
provider "Custom" and empty key id, commitment policy RequireEncryptRequireDecrypt.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlcommons_emu import Emulator
from mlcommons_emu.cli import MASTER_KEY_ENV, master_key_option
from mlcommons_emu.config import Config
from mlcommons_emu.connectors.crypto import CredentialCipher, CredentialDecryptError, generate_master_key
from mlcommons_emu.interop import INDICES, export_documents, import_documents
from tests.seed import body

CONFIG, GROUPS, CONNECTORS, MODELS = (".plugins-ml-config", ".plugins-ml-model-group",
                                      ".plugins-ml-connector", ".plugins-ml-model")
SECRET = "sk-interop-7c1f0e9d8b2a4c6e"
SUITE = "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"


# an SDK client of our own ------------------------------------------------------------------
def _master_key(raw: bytes, provider_id: str = "Custom") -> Any:
    from aws_encryption_sdk.identifiers import EncryptionKeyType, WrappingAlgorithm
    from aws_encryption_sdk.internal.crypto.wrapping_keys import WrappingKey
    from aws_encryption_sdk.key_providers.raw import RawMasterKey

    return RawMasterKey(provider_id=provider_id, key_id=b"", wrapping_key=WrappingKey(
        wrapping_algorithm=WrappingAlgorithm.AES_256_GCM_IV12_TAG16_NO_PADDING,
        wrapping_key=raw, wrapping_key_type=EncryptionKeyType.SYMMETRIC))


def _client() -> Any:
    import aws_encryption_sdk
    from aws_encryption_sdk.identifiers import CommitmentPolicy

    return aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)


def independent_encrypt(plaintext: str, master_key_b64: str, provider_id: str = "Custom") -> str:
    message, _header = _client().encrypt(source=plaintext.encode(),
                                         key_provider=_master_key(base64.b64decode(master_key_b64), provider_id))
    return base64.b64encode(message).decode()


def independent_decrypt(ciphertext_b64: str, master_key_b64: str) -> tuple[str, Any]:
    plaintext, header = _client().decrypt(source=base64.b64decode(ciphertext_b64),
                                          key_provider=_master_key(base64.b64decode(master_key_b64)))
    return plaintext.decode(), header


# cluster documents ---------------------------------------------------------------------------
def cluster_documents(master_key: str, credential: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    """What GET <index>/_search returns on a 3.x cluster for one connector and one model."""
    connector = body("openai_chat_connector")
    connector.update(version="1", credential=credential, created_time=1718000000000,
                     last_updated_time=1718000000000)
    connector["actions"][0]["action_type"] = "PREDICT"
    return {
        CONFIG: [{"_id": "master_key", "_source": {"master_key": master_key, "create_time": 1718000000000}}],
        GROUPS: [{"_id": "grp-from-cluster", "_source": {
            "name": "openai-models", "latest_version": 1, "access": "public",
            "created_time": 1718000000000, "last_updated_time": 1718000000000}}],
        CONNECTORS: [{"_id": "conn-from-cluster", "_source": connector}],
        MODELS: [{"_id": "model-from-cluster", "_source": {
            "name": "openAI-gpt-3.5-turbo", "model_group_id": "grp-from-cluster", "algorithm": "REMOTE",
            "model_version": "1", "model_state": "REGISTERED", "created_time": 1718000000000,
            "last_updated_time": 1718000000000, "is_hidden": False, "connector_id": "conn-from-cluster"}}],
    }


async def _deploy(emu: Emulator, model_id: str) -> dict[str, Any]:
    r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_deploy")
    assert r.status == 200 and r.body["status"] == "COMPLETED", r.body
    return (await emu.request("GET", f"/_plugins/_ml/tasks/{r.body['task_id']}")).body


async def _seed(emu: Emulator) -> dict[str, str]:
    """A standalone connector with its model, and a model with an inline connector."""
    connector = body("openai_chat_connector")
    connector["credential"] = {"openAI_key": SECRET}
    connector_id = (await emu.request("POST", "/_plugins/_ml/connectors/_create", connector)).body["connector_id"]
    group_id = (await emu.request("POST", "/_plugins/_ml/model_groups/_register", body("model_group"))).body[
        "model_group_id"]
    model_id = (await emu.request("POST", "/_plugins/_ml/models/_register", body(
        "register_model", model_group_id=group_id, connector_id=connector_id))).body["model_id"]
    inline = body("register_internal_connector", model_group_id=group_id)
    inline["connector"]["credential"] = {"openAI_key": SECRET}
    inline_id = (await emu.request("POST", "/_plugins/_ml/models/_register", inline)).body["model_id"]
    return {"connector": connector_id, "group": group_id, "model": model_id, "inline": inline_id}


# round trip ----------------------------------------------------------------------------------
async def test_export_then_import_into_a_fresh_emulator_deploys_and_predicts() -> None:
    async with Emulator(seed=3) as first:
        ids = await _seed(first)
        dump = json.loads(json.dumps(await export_documents(first)))
        connector_before = (await first.request("GET", f"/_plugins/_ml/connectors/{ids['connector']}")).body

    assert list(dump) == list(INDICES)
    assert [d["_id"] for d in dump[CONFIG]] == ["master_key"]
    [stored] = [d["_source"] for d in dump[CONNECTORS]]
    assert stored["credential"]["openAI_key"].startswith("AgV4")
    assert SECRET not in json.dumps(dump)

    async with Emulator(seed=4) as second:
        counts = await import_documents(second, dump)
        assert counts == {CONFIG: 1, GROUPS: 1, CONNECTORS: 1, MODELS: 2}
        assert (await second.request("GET", f"/_plugins/_ml/connectors/{ids['connector']}")).body == connector_before
        for model_id, predict in ((ids["model"], body("predict_messages")),
                                  (ids["inline"], {"parameters": {"prompt": "Say this is a test"}})):
            assert (await _deploy(second, model_id))["state"] == "COMPLETED"
            r = await second.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", predict)
            assert r.status == 200, r.body
            assert second.providers["openai"].recorder.last.headers["Authorization"] == f"Bearer {SECRET}"
        assert await export_documents(second) != dump  # deploys rewrote the model documents
        assert (await export_documents(second))[CONFIG] == dump[CONFIG]


async def test_documents_encrypted_by_an_independent_client_deploy_and_predict() -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    docs = cluster_documents(key, {"openAI_key": independent_encrypt(SECRET, key)})
    # as taken from a cluster: one _search response per index
    search = {index: {"hits": {"total": {"value": len(hits)}, "hits": [
        {"_index": index, "_id": h["_id"], "_score": 1.0, "_source": h["_source"]} for h in hits]}}
        for index, hits in docs.items()}
    async with Emulator() as emu:
        emu.providers["openai"].api_keys = frozenset({SECRET})  # any other key gets OpenAI's 401
        await import_documents(emu, search)
        assert (await _deploy(emu, "model-from-cluster"))["state"] == "COMPLETED"
        r = await emu.request("POST", "/_plugins/_ml/models/model-from-cluster/_predict", body("predict_messages"))
        assert r.status == 200, r.body
        assert emu.providers["openai"].recorder.last.headers["Authorization"] == f"Bearer {SECRET}"


async def test_ciphertexts_the_emulator_writes_decrypt_with_an_independent_client() -> None:
    key = generate_master_key()
    aws = body("sagemaker_connector")
    values = {"access_key": "AKIAINTEROPACCESS001", "secret_key": "interop/secret+key",
              "session_token": "interop-session-token-é"}
    aws["credential"] = values
    async with Emulator(master_key=key) as emu:
        ids = await _seed(emu)
        aws_id = (await emu.request("POST", "/_plugins/_ml/connectors/_create", aws)).body["connector_id"]
        dump = await export_documents(emu)

    assert dump[CONFIG][0]["_source"]["master_key"] == key
    connectors = {d["_id"]: d["_source"] for d in dump[CONNECTORS]}
    models = {d["_id"]: d["_source"] for d in dump[MODELS]}
    encrypted = [(connectors[ids["connector"]]["credential"]["openAI_key"], SECRET),
                 (models[ids["inline"]]["connector"]["credential"]["openAI_key"], SECRET)]
    encrypted += [(connectors[aws_id]["credential"][name], value) for name, value in values.items()]
    for ciphertext, plaintext in encrypted:
        decrypted, header = independent_decrypt(ciphertext, key)
        assert decrypted == plaintext
        assert header.algorithm.name == SUITE
        [data_key] = header.encrypted_data_keys
        assert data_key.key_provider.provider_id == "Custom"
        assert set(header.encryption_context) == {"aws-crypto-public-key"}  # no caller context


# a wrong master key --------------------------------------------------------------------------
TWO_NODES = "node-1,node-2"


async def test_wrong_master_key_fails_every_node_at_deploy_as_the_plugin_does(
        sqlite_file_url: str, caplog: pytest.LogCaptureFixture) -> None:
    key_a, key_b = generate_master_key(), generate_master_key()
    async with Emulator(database=sqlite_file_url, nodes=TWO_NODES, master_key=key_a) as emu:
        ids = await _seed(emu)
        await emu.request("PUT", "/_cluster/settings",
                          {"persistent": {"plugins.ml_commons.model_auto_deploy.enable": False}})

    with caplog.at_level(logging.DEBUG):
        async with Emulator(database=sqlite_file_url, nodes=TWO_NODES, master_key=key_b) as emu:
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("fail to decrypt at deploy" in w for w in warnings), warnings
            for model_id in (ids["model"], ids["inline"]):
                task = await _deploy(emu, model_id)
                # TransportDeployModelOnNodeAction reports getRootCauseMessage(e) per node: the
                # JCE's AEADBadTagException under CannotUnwrapDataKeyException
                assert task["state"] == "FAILED"
                assert json.loads(task["error"]) == {node: "Tag mismatch" for node in task["worker_node"]}
                assert len(task["worker_node"]) == 2
                model = (await emu.request("GET", f"/_plugins/_ml/models/{model_id}")).body
                assert model["model_state"] == "DEPLOY_FAILED"
                assert model["current_worker_node_count"] == 0
                r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
                assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
                    400, "illegal_argument_exception", "Model not ready yet. Please deploy the model first.")
            # with auto-deploy on, the call is dispatched anyway and the node's own deploy
            # fails: the MLException around the Encryption SDK's error
            await emu.request("PUT", "/_cluster/settings",
                              {"persistent": {"plugins.ml_commons.model_auto_deploy.enable": True}})
            r = await emu.request("POST", f"/_plugins/_ml/models/{ids['model']}/_predict", body("predict_messages"))
            assert (r.status, r.body["error"]["type"], r.body["error"]["reason"]) == (
                500, "m_l_exception", "com.amazonaws.encryptionsdk.exception.CannotUnwrapDataKeyException: "
                "Unable to decrypt any data keys")
            model = (await emu.request("GET", f"/_plugins/_ml/models/{ids['model']}")).body
            assert model["model_state"] == "DEPLOY_FAILED"
    assert SECRET not in caplog.text
    logged = _emulator_logs(caplog)
    assert key_a not in logged and key_b not in logged


@pytest.mark.parametrize(("credential", "node_error"), [
    ("sk-written-in-clear", "Illegal base64 character 2d"),
    ("c2stb3RoZ", "Last unit does not have enough valid bits"),
])
async def test_credential_that_is_no_ciphertext_fails_with_the_jvm_message(credential: str, node_error: str) -> None:
    key = generate_master_key()
    async with Emulator() as emu:
        await import_documents(emu, cluster_documents(key, {"openAI_key": credential}))
        task = await _deploy(emu, "model-from-cluster")
    assert (task["state"], json.loads(task["error"])) == ("FAILED", {task["worker_node"][0]: node_error})


def test_decrypt_failures_carry_the_plugin_texts() -> None:
    key, other = generate_master_key(), generate_master_key()
    cipher = CredentialCipher(key)
    cases = {
        "wrong key": (CredentialCipher(other).encrypt("x"), "Tag mismatch",
                      "com.amazonaws.encryptionsdk.exception.CannotUnwrapDataKeyException: "
                      "Unable to decrypt any data keys"),
        "other provider": (independent_encrypt("x", key, provider_id="Other"), "Unable to decrypt any data keys",
                           "com.amazonaws.encryptionsdk.exception.CannotUnwrapDataKeyException: "
                           "Unable to decrypt any data keys"),
        "not Base64": ("sk-abc", "Illegal base64 character 2d",
                       "java.lang.IllegalArgumentException: Illegal base64 character 2d"),
    }
    raw = bytearray(base64.b64decode(cipher.encrypt("x")))
    raw[-5] ^= 1
    cases["signature"] = (base64.b64encode(bytes(raw)).decode(), "Bad trailing signature",
                          "com.amazonaws.encryptionsdk.exception.BadCiphertextException: Bad trailing signature")
    for name, (ciphertext, root_cause, java_reason) in cases.items():
        with pytest.raises(CredentialDecryptError) as info:
            cipher.decrypt(ciphertext)
        assert (info.value.root_cause, info.value.java_reason) == (root_cause, java_reason), name
        assert info.value.reason.startswith("Failed to decrypt credential")
    # Java's decoder takes unpadded Base64 too
    assert cipher.decrypt(cipher.encrypt("padded").rstrip("=")) == "padded"


def _emulator_logs(caplog: pytest.LogCaptureFixture) -> str:
    """The emulator's own records, and every WARNING or worse.

    The database drivers' DEBUG/INFO traces echo the documents they store, the master
    key document included, as they echo everything else in the store.
    """
    return "\n".join(r.getMessage() for r in caplog.records
                     if r.name.startswith("mlcommons_emu") or r.levelno >= logging.WARNING)


# supplying the key ---------------------------------------------------------------------------
async def _stored_key(emu: Emulator) -> str:
    async with emu.context.store.transaction() as tx:
        return (await tx.get(CONFIG, "master_key")).source["master_key"]


async def test_supplied_key_precedence(sqlite_file_url: str, caplog: pytest.LogCaptureFixture) -> None:
    key = generate_master_key()
    async with Emulator(database=sqlite_file_url) as emu:
        generated = await _stored_key(emu)
        connector_id = (await _seed(emu))["connector"]
    assert generated != key
    with caplog.at_level(logging.WARNING):
        async with Emulator(database=sqlite_file_url, master_key=key) as emu:
            assert await _stored_key(emu) == key  # the document is replaced
    assert len([r for r in caplog.records if "master key" in r.getMessage()]) == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        async with Emulator(database=sqlite_file_url) as emu:  # no key: the stored one, now the supplied one
            assert await _stored_key(emu) == key
            async with emu.context.store.transaction() as tx:
                ciphertext = (await tx.get(CONNECTORS, connector_id)).source["credential"]["openAI_key"]
            with pytest.raises(CredentialDecryptError):
                emu.context.cipher().decrypt(ciphertext)
        async with Emulator(database=sqlite_file_url, master_key=key):
            pass  # the same key again: nothing to warn about
    assert not caplog.records
    assert key not in caplog.text and generated not in caplog.text


async def test_import_keeps_a_supplied_key(caplog: pytest.LogCaptureFixture) -> None:
    supplied, imported = generate_master_key(), generate_master_key()
    docs = cluster_documents(imported, {"openAI_key": independent_encrypt(SECRET, imported)})
    with caplog.at_level(logging.WARNING):
        async with Emulator(master_key=supplied) as emu:
            await import_documents(emu, docs)
            assert await _stored_key(emu) == supplied
            task = await _deploy(emu, "model-from-cluster")
    assert task["state"] == "FAILED"
    assert any("fail to decrypt at deploy" in r.getMessage() for r in caplog.records)
    assert supplied not in caplog.text and imported not in caplog.text


async def test_importing_a_new_key_warns_about_credentials_it_strands(caplog: pytest.LogCaptureFixture) -> None:
    key = generate_master_key()
    async with Emulator() as emu:
        await _seed(emu)
        with caplog.at_level(logging.WARNING):
            await import_documents(emu, cluster_documents(key, {"openAI_key": independent_encrypt(SECRET, key)}))
        assert await _stored_key(emu) == key
    [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "2 stored connector/model document(s)" in warning  # the seeded connector and inline model


@pytest.mark.parametrize(("docs", "message"), [
    ({".plugins-ml-task": []}, "unsupported index '.plugins-ml-task'"),
    ({CONNECTORS: [{"_source": {}}]}, ".plugins-ml-connector: a document has no _id"),
    ({CONFIG: [{"_id": "master_key", "_source": {"master_key": "c2hvcnQ="}}]},
     ".plugins-ml-config/master_key: master key must decode to exactly 32 bytes, got 5"),
    ({MODELS: [{"_id": "m1", "_source": {"model_state": "REGISTERED"}}]},
     ".plugins-ml-model/m1: not a model document: missing field 'name'"),
    ({CONNECTORS: [{"_id": "c1", "_source": {**body("openai_chat_connector"), "credential": {"k": 1}}}]},
     ".plugins-ml-connector/c1: credential must map names to encrypted string values"),
])
async def test_import_refuses_what_the_plugin_could_not_have_written(docs: dict, message: str) -> None:
    async with Emulator() as emu:
        before = await export_documents(emu)
        with pytest.raises(ValueError) as info:
            await import_documents(emu, {**docs, GROUPS: [{"_id": "g", "_source": {"name": "g", "latest_version": 0}}]})
        assert str(info.value).startswith(message)
        assert await export_documents(emu) == before


def test_bad_keys_are_refused_without_echoing_them(tmp_path: Path) -> None:
    short = base64.b64encode(b"k" * 16).decode()
    with pytest.raises(ValueError, match="exactly 32 bytes, got 16") as info:
        Config(master_key=short)
    assert short not in str(info.value)
    key_file = tmp_path / "key"
    key_file.write_text(short + "\n")
    with pytest.raises(ValueError, match=r"--master-key-file .*key: master key must decode") as info:
        master_key_option(str(key_file), {})
    assert short not in str(info.value)
    with pytest.raises(ValueError, match=r"\$MLCOMMONS_EMU_MASTER_KEY: master key is not valid Base64"):
        master_key_option(None, {MASTER_KEY_ENV: "not a key"})
    good = generate_master_key()
    key_file.write_text(good + "\n")
    assert master_key_option(str(key_file), {MASTER_KEY_ENV: generate_master_key()}) == good  # the file wins
    assert master_key_option(None, {MASTER_KEY_ENV: f" {good}\n"}) == good
    assert master_key_option(None, {}) is None


# the command line ----------------------------------------------------------------------------
def _cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlcommons_emu", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})})


async def test_cli_export_and_import_move_a_store(tmp_path: Path) -> None:
    source, target = f"sqlite:///{tmp_path / 'source.sqlite3'}", f"sqlite:///{tmp_path / 'target.sqlite3'}"
    async with Emulator(database=source) as emu:
        ids = await _seed(emu)

    exported = _cli("export", "--database", source)
    assert exported.returncode == 0, exported.stderr
    dump = json.loads(exported.stdout)
    assert len(dump[MODELS]) == 2 and SECRET not in exported.stdout
    (tmp_path / "dump.json").write_text(exported.stdout)
    imported = _cli("import", "--database", target, str(tmp_path / "dump.json"))
    assert imported.returncode == 0, imported.stderr

    async with Emulator(database=target) as emu:
        assert (await _deploy(emu, ids["model"]))["state"] == "COMPLETED"
        r = await emu.request("POST", f"/_plugins/_ml/models/{ids['model']}/_predict", body("predict_messages"))
        assert r.status == 200, r.body

    refused = _cli("import", "--database", target, "-", stdin=json.dumps({".plugins-ml-task": []}))
    assert refused.returncode == 2 and "unsupported index '.plugins-ml-task'" in refused.stderr


def test_cli_serve_refuses_a_bad_master_key(tmp_path: Path) -> None:
    bad = base64.b64encode(b"x" * 31).decode()
    result = _cli("serve", "--port", "0", "--database", f"sqlite:///{tmp_path / 'db.sqlite3'}",
                  env={MASTER_KEY_ENV: bad})
    assert result.returncode == 2
    assert "invalid master key in $MLCOMMONS_EMU_MASTER_KEY: master key must decode to exactly 32 bytes, got 31" \
        in result.stderr
    assert bad not in result.stderr + result.stdout
