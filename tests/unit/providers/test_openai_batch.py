"""The fake OpenAI Files and Batch APIs, through handle() and over real loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer

from mlcommons_emu.providers.base import ProviderRequest, ProviderResponse, make_app
from mlcommons_emu.providers.openai import (
    BATCH_ENDPOINTS,
    SAMPLE_BATCH_FILE_ID,
    SAMPLE_BATCH_INPUT,
    FakeOpenAI,
)

BASE = "https://api.openai.com"
AUTH = {"Authorization": "Bearer sk-test-123"}
BOUNDARY = "fakeopenaiboundary"
#: the batch object as ML Commons' OpenAI batch blueprint shows it, field for field
BATCH_FIELDS = [
    "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status",
    "output_file_id", "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at",
    "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at", "request_counts", "metadata",
]


def err(message: str, param: str | None = None, code: str | None = None,
        type: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def line(custom_id: str, url: str = "/v1/chat/completions", **body: Any) -> str:
    payload = body or {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"Say {custom_id}"}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": url, "body": payload})


def multipart(fields: dict[str, str], file: tuple[str, bytes] | None) -> tuple[dict[str, str], bytes]:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    if file is not None:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + file[1] + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    return {**AUTH, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}, body


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI()


async def call(fake: FakeOpenAI, method: str, path: str, body: Any = None, *,
               headers: dict[str, str] | None = None, raw: bytes | None = None) -> ProviderResponse:
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    return await fake.handle(ProviderRequest(method, BASE + path, AUTH if headers is None else headers, data))


async def upload(fake: FakeOpenAI, content: bytes, filename: str = "input.jsonl", purpose: str = "batch") -> Any:
    headers, body = multipart({"purpose": purpose}, (filename, content))
    return await call(fake, "POST", "/v1/files", headers=headers, raw=body)


async def create(fake: FakeOpenAI, file_id: str = SAMPLE_BATCH_FILE_ID, endpoint: str = "/v1/embeddings",
                 **extra: Any) -> ProviderResponse:
    body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra}
    return await call(fake, "POST", "/v1/batches", body)


async def retrieve(fake: FakeOpenAI, batch_id: str) -> dict[str, Any]:
    resp = await call(fake, "GET", f"/v1/batches/{batch_id}")
    assert resp.status == 200, resp.text
    return resp.json_body()


# ------------------------------------------------------------------------------ files


async def test_upload_answers_the_file_object(fake: FakeOpenAI) -> None:
    content = (line("a") + "\n").encode()
    resp = await upload(fake, content)
    assert resp.status == 200, resp.text
    obj = resp.json_body()
    assert list(obj) == ["object", "id", "purpose", "filename", "bytes", "created_at", "expires_at",
                         "status", "status_details"]
    assert obj["object"] == "file" and obj["id"].startswith("file-") and len(obj["id"]) == 29
    assert (obj["purpose"], obj["filename"], obj["bytes"], obj["status"]) == ("batch", "input.jsonl", len(content),
                                                                              "processed")
    assert obj["expires_at"] == obj["created_at"] + 30 * 24 * 3600
    got = await call(fake, "GET", f"/v1/files/{obj['id']}")
    assert got.json_body() == obj
    body = await call(fake, "GET", f"/v1/files/{obj['id']}/content")
    assert (body.status, body.body, body.headers["Content-Type"]) == (200, content, "application/octet-stream")


async def test_the_blueprint_sample_file_is_there_from_the_start(fake: FakeOpenAI) -> None:
    resp = await call(fake, "GET", f"/v1/files/{SAMPLE_BATCH_FILE_ID}/content")
    assert resp.body == SAMPLE_BATCH_INPUT
    assert [json.loads(x)["url"] for x in SAMPLE_BATCH_INPUT.splitlines()] == ["/v1/embeddings"] * 2
    empty = FakeOpenAI(sample_batch_file=False)
    assert (await call(empty, "GET", f"/v1/files/{SAMPLE_BATCH_FILE_ID}")).status == 404


async def test_upload_validation(fake: FakeOpenAI) -> None:
    headers, body = multipart({}, ("input.jsonl", b"{}"))
    assert (await call(fake, "POST", "/v1/files", headers=headers, raw=body)).json_body() == err(
        "Missing required parameter: 'purpose'.", "purpose", "missing_required_parameter")
    headers, body = multipart({"purpose": "batch"}, None)
    assert (await call(fake, "POST", "/v1/files", headers=headers, raw=body)).json_body() == err(
        "Missing required parameter: 'file'.", "file", "missing_required_parameter")
    resp = await upload(fake, b"{}", purpose="training")
    assert resp.status == 400 and resp.json_body()["error"]["param"] == "purpose"
    resp = await upload(fake, b"{}", filename="input.json")
    assert (resp.status, resp.json_body()) == (400, err("Invalid file format for Batch API. Must be .jsonl"))


async def test_upload_needs_a_multipart_body(fake: FakeOpenAI) -> None:
    resp = await call(fake, "POST", "/v1/files", raw=b"{}", headers={**AUTH, "Content-Type": "application/json"})
    assert resp.status == 400
    assert resp.json_body()["error"]["message"].startswith(
        "Invalid Content-Type header (application/json), expected multipart/form-data.")


async def test_unknown_file_is_404(fake: FakeOpenAI) -> None:
    for path in ("/v1/files/file-nope", "/v1/files/file-nope/content"):
        resp = await call(fake, "GET", path)
        assert (resp.status, resp.json_body()) == (404, err("No such File object: file-nope", "id"))


# ---------------------------------------------------------------------------- batches


async def test_create_answers_a_validating_batch_shaped_like_the_blueprint(fake: FakeOpenAI) -> None:
    resp = await create(fake, metadata={"job": "nightly"})
    assert resp.status == 200, resp.text
    batch = resp.json_body()
    assert list(batch) == BATCH_FIELDS
    assert batch["id"].startswith("batch_") and len(batch["id"]) == 30
    assert (batch["object"], batch["status"], batch["endpoint"], batch["input_file_id"]) == (
        "batch", "validating", "/v1/embeddings", SAMPLE_BATCH_FILE_ID)
    assert batch["expires_at"] == batch["created_at"] + 24 * 3600
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["metadata"] == {"job": "nightly"}
    assert fake.batch(batch["id"]) == batch


@pytest.mark.parametrize(("body", "status", "expected"), [
    ({"endpoint": "/v1/embeddings", "completion_window": "24h"}, 400,
     err("Missing required parameter: 'input_file_id'.", "input_file_id", "missing_required_parameter")),
    ({"input_file_id": SAMPLE_BATCH_FILE_ID, "completion_window": "24h"}, 400,
     err("Missing required parameter: 'endpoint'.", "endpoint", "missing_required_parameter")),
    ({"input_file_id": SAMPLE_BATCH_FILE_ID, "endpoint": "/v1/images", "completion_window": "24h"}, 400,
     err("Invalid value: '/v1/images'. Supported values are: " + ", ".join(f"'{e}'" for e in BATCH_ENDPOINTS[:-1])
         + f", and '{BATCH_ENDPOINTS[-1]}'.", "endpoint", "invalid_value")),
    ({"input_file_id": SAMPLE_BATCH_FILE_ID, "endpoint": "/v1/embeddings", "completion_window": "1h"}, 400,
     err("Invalid value: '1h'. Supported values are: '24h'.", "completion_window", "invalid_value")),
    ({"input_file_id": 7, "endpoint": "/v1/embeddings", "completion_window": "24h"}, 400,
     err("Invalid type for 'input_file_id': expected a string, but got an integer instead.", "input_file_id",
         "invalid_type")),
    ({"input_file_id": SAMPLE_BATCH_FILE_ID, "endpoint": "/v1/embeddings", "completion_window": "24h",
      "priority": "high"}, 400, err("Unrecognized request argument supplied: priority")),
    ({"input_file_id": "file-nope", "endpoint": "/v1/embeddings", "completion_window": "24h"}, 404,
     err("No such File object: file-nope", "input_file_id")),
])
async def test_create_validation(fake: FakeOpenAI, body: dict[str, Any], status: int,
                                 expected: dict[str, Any]) -> None:
    resp = await call(fake, "POST", "/v1/batches", body)
    assert (resp.status, resp.json_body()) == (status, expected)
    assert fake.batch_ids == []


async def test_create_refuses_a_file_not_meant_for_batches(fake: FakeOpenAI) -> None:
    other = fake.upload_file(b"{}", filename="notes.jsonl", purpose="user_data")
    resp = await create(fake, other["id"])
    assert resp.status == 400 and resp.json_body()["error"]["param"] == "input_file_id"


async def test_each_retrieve_moves_the_batch_one_step(fake: FakeOpenAI) -> None:
    batch_id = (await create(fake)).json_body()["id"]
    steps = [await retrieve(fake, batch_id) for _ in range(4)]
    assert [s["status"] for s in steps] == ["in_progress", "finalizing", "completed", "completed"]
    assert steps[0]["request_counts"] == {"total": 2, "completed": 0, "failed": 0}
    assert steps[1]["request_counts"] == {"total": 2, "completed": 2, "failed": 0}
    done = steps[2]
    assert done["created_at"] < done["in_progress_at"] < done["finalizing_at"] < done["completed_at"]
    assert done["error_file_id"] is None
    output = (await call(fake, "GET", f"/v1/files/{done['output_file_id']}")).json_body()
    assert (output["purpose"], output["filename"]) == ("batch_output", f"{batch_id}_output.jsonl")
    records = [json.loads(x) for x in fake.file_content(done["output_file_id"]).splitlines()]
    assert [list(r) for r in records] == [["id", "custom_id", "response", "error"]] * 2
    first = records[0]
    assert first["id"].startswith("batch_req_") and first["custom_id"] == "request-1" and first["error"] is None
    assert first["response"]["status_code"] == 200 and first["response"]["request_id"].startswith("req_")
    direct = await call(fake, "POST", "/v1/embeddings",
                        {"model": "text-embedding-ada-002", "input": "What is the meaning of life?"})
    assert first["response"]["body"] == direct.json_body()


async def test_failing_lines_go_to_the_error_file(fake: FakeOpenAI) -> None:
    content = "\n".join([line("ok"), line("bad", model="gpt-4o-mini", messages=[])]) + "\n"
    file_id = fake.upload_file(content)["id"]
    batch_id = (await create(fake, file_id, "/v1/chat/completions")).json_body()["id"]
    done = fake.advance_batch(batch_id)
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [failed] = [json.loads(x) for x in fake.file_content(done["error_file_id"]).splitlines()]
    assert failed["custom_id"] == "bad"
    assert failed["response"]["status_code"] == 400
    assert failed["response"]["body"]["error"]["code"] == "empty_array"
    [ok] = [json.loads(x) for x in fake.file_content(done["output_file_id"]).splitlines()]
    assert ok["response"]["body"]["object"] == "chat.completion"


@pytest.mark.parametrize(("content", "codes"), [
    ("", ["empty_file"]),
    ("{not json\n", ["invalid_json_line"]),
    (line("a") + "\n" + line("a") + "\n", ["duplicate_custom_id"]),
    (line("a") + "\n" + line("b", url="/v1/embeddings") + "\n", ["url_mismatch"]),
    (line("a") + "\n" + line("b", model="gpt-4o", messages=[{"role": "user", "content": "x"}]) + "\n",
     ["model_mismatch"]),
    (json.dumps({"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {}}) + "\n",
     ["invalid_value"]),
])
async def test_an_invalid_input_file_fails_the_batch(fake: FakeOpenAI, content: str, codes: list[str]) -> None:
    file_id = fake.upload_file(content)["id"]
    batch_id = (await create(fake, file_id, "/v1/chat/completions")).json_body()["id"]
    failed = await retrieve(fake, batch_id)
    assert failed["status"] == "failed" and failed["failed_at"] is not None
    assert failed["errors"]["object"] == "list"
    assert [e["code"] for e in failed["errors"]["data"]] == codes
    assert list(failed["errors"]["data"][0]) == ["code", "message", "param", "line"]
    assert (await retrieve(fake, batch_id))["status"] == "failed"


async def test_cancel(fake: FakeOpenAI) -> None:
    batch_id = (await create(fake)).json_body()["id"]
    await retrieve(fake, batch_id)
    resp = await call(fake, "POST", f"/v1/batches/{batch_id}/cancel")
    assert resp.status == 200
    assert resp.json_body()["status"] == "cancelling" and resp.json_body()["cancelling_at"] is not None
    again = await call(fake, "POST", f"/v1/batches/{batch_id}/cancel")
    assert again.json_body()["status"] == "cancelling"
    cancelled = await retrieve(fake, batch_id)
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] is not None
    refused = await call(fake, "POST", f"/v1/batches/{batch_id}/cancel")
    assert (refused.status, refused.json_body()) == (409, err("Cannot cancel a batch with status 'cancelled'."))


async def test_expiry_sends_the_unrun_lines_to_the_error_file(fake: FakeOpenAI) -> None:
    batch_id = (await create(fake)).json_body()["id"]
    await retrieve(fake, batch_id)
    expired = fake.expire_batch(batch_id)
    assert expired["status"] == "expired" and expired["expired_at"] is not None
    records = [json.loads(x) for x in fake.file_content(expired["error_file_id"]).splitlines()]
    assert [(r["response"], r["error"]["code"]) for r in records] == [(None, "batch_expired")] * 2
    with pytest.raises(ValueError):
        fake.expire_batch(batch_id)


async def test_unknown_batch_is_404(fake: FakeOpenAI) -> None:
    for method, path in (("GET", "/v1/batches/batch_nope"), ("POST", "/v1/batches/batch_nope/cancel")):
        resp = await call(fake, method, path)
        assert (resp.status, resp.json_body()) == (404, err("No batch found with id 'batch_nope'."))


async def test_list_is_newest_first_with_limit_and_cursor(fake: FakeOpenAI) -> None:
    ids = [(await create(fake)).json_body()["id"] for _ in range(3)]
    page = (await call(fake, "GET", "/v1/batches?limit=2")).json_body()
    assert page["object"] == "list"
    assert [b["id"] for b in page["data"]] == ids[::-1][:2]
    assert (page["first_id"], page["last_id"], page["has_more"]) == (ids[2], ids[1], True)
    rest = (await call(fake, "GET", f"/v1/batches?limit=2&after={ids[1]}")).json_body()
    assert [b["id"] for b in rest["data"]] == [ids[0]] and rest["has_more"] is False
    assert [b["status"] for b in page["data"]] == ["validating"] * 2  # listing does not advance
    resp = await call(fake, "GET", "/v1/batches?limit=0")
    assert resp.status == 400 and resp.json_body()["error"]["code"] == "integer_below_min_value"


async def test_same_calls_give_the_same_ids_and_times() -> None:
    first, second = FakeOpenAI(), FakeOpenAI()
    a = [(await create(f)).json_body() for f in (first, second)]
    assert a[0] == a[1]
    assert fake_done(first, a[0]["id"]) == fake_done(second, a[1]["id"])


def fake_done(fake: FakeOpenAI, batch_id: str) -> tuple[dict[str, Any], bytes]:
    done = fake.advance_batch(batch_id)
    return done, fake.file_content(done["output_file_id"])


# ------------------------------------------------------------ auth, routing, script


async def test_files_and_batches_need_the_api_key() -> None:
    fake = FakeOpenAI(api_keys=["sk-good"])
    resp = await call(fake, "GET", "/v1/batches", headers={})
    assert resp.status == 401
    resp = await call(fake, "POST", "/v1/batches", {}, headers={"Authorization": "Bearer sk-bad-key-123456"})
    assert (resp.status, resp.json_body()["error"]["code"]) == (401, "invalid_api_key")
    assert fake.batch_ids == []


async def test_wrong_method_on_a_batch_is_405_with_allow(fake: FakeOpenAI) -> None:
    resp = await call(fake, "DELETE", "/v1/batches/batch_x")
    assert resp.status == 405
    assert resp.headers["Allow"] == "GET"
    assert resp.json_body() == err("Invalid method for URL (DELETE /v1/batches/batch_x)")


async def test_script_and_recorder_cover_the_batch_routes(fake: FakeOpenAI) -> None:
    fake.script.fail(500, FakeOpenAI.server_error_response().json_body(), path="/v1/batches")
    resp = await create(fake)
    assert resp.status == 500
    assert fake.batch_ids == []
    assert (await create(fake)).status == 200
    assert [r.path for r in fake.recorder.requests] == ["/v1/batches", "/v1/batches"]


# ------------------------------------------------------------------------------- http


async def test_http_upload_with_a_real_multipart_client(fake: FakeOpenAI) -> None:
    async with TestClient(TestServer(make_app(fake))) as client:
        form = FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", (line("a") + "\n").encode(), filename="requests.jsonl",
                       content_type="application/jsonl")
        resp = await client.post("/v1/files", data=form, headers=AUTH)
        assert resp.status == 200, await resp.text()
        uploaded = await resp.json()
        assert uploaded["filename"] == "requests.jsonl"
        resp = await client.post("/v1/batches", headers=AUTH, json={
            "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"})
        batch = await resp.json()
        assert batch["status"] == "validating"
        resp = await client.get(f"/v1/files/{uploaded['id']}/content", headers=AUTH)
        assert await resp.read() == (line("a") + "\n").encode()
