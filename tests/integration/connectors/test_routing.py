"""Provider routing: fakes by default, any host sent to a base URL on request."""
from __future__ import annotations

import json

from aiohttp import web

from mlcommons_emu import Emulator
from mlcommons_emu.providers.registry import default_providers, make_gateway_app
from tests.seed import body


async def test_every_default_host_is_answered_in_process(emulator):
    transport = emulator.context.transport
    for host in ("api.openai.com", "api.cohere.ai", "api.cohere.com", "bedrock-runtime.us-east-1.amazonaws.com",
                 "runtime.sagemaker.us-west-2.amazonaws.com", "my-resource.openai.azure.com", "api.deepseek.com"):
        assert transport.provider_for(host) is not None, host
    assert transport.provider_for("api.example.com") is None


async def test_a_route_sends_calls_to_the_provider_gateway_with_the_original_host():
    providers = default_providers()
    runner = web.AppRunner(make_gateway_app(providers))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with Emulator(routes={"api.openai.com": f"http://127.0.0.1:{port}"}) as emu:
            connector_id = (await emu.request("POST", "/_plugins/_ml/connectors/_create",
                                              body("openai_chat_connector"))).body["connector_id"]
            model_id = (await emu.request("POST", "/_plugins/_ml/models/_register", {
                "name": "m", "function_name": "remote", "connector_id": connector_id})).body["model_id"]
            r = await emu.request("POST", f"/_plugins/_ml/models/{model_id}/_predict", body("predict_messages"))
            assert r.status == 200, r.body
            # answered by the gateway's fake, not the emulator's own
            assert emu.providers["openai"].recorder.last is None
            sent = providers["openai"].recorder.last
            assert sent.headers["Host"] == "api.openai.com"
            assert json.loads(sent.body)["model"] == "gpt-3.5-turbo"
    finally:
        await runner.cleanup()


async def test_gateway_refuses_unknown_hosts():
    from aiohttp.test_utils import TestClient, TestServer

    async with TestClient(TestServer(make_gateway_app(default_providers()))) as client:
        r = await client.post("/v1/chat/completions", headers={"Host": "api.example.com"}, json={})
        assert r.status == 421
        assert "no fake provider answers host 'api.example.com'" in (await r.json())["message"]
