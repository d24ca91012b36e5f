"""The built-in fakes together: one of each, and an HTTP gateway that serves them all by Host."""
from __future__ import annotations

from typing import Any, Mapping

from aiohttp import web

from mlcommons_emu.providers.base import ProviderRequest


def default_providers() -> dict[str, Any]:
    """A fresh fake of every supported provider, keyed by provider name."""
    from mlcommons_emu.providers.aleph_alpha import FakeAlephAlpha
    from mlcommons_emu.providers.azure_openai import FakeAzureOpenAI
    from mlcommons_emu.providers.bedrock import FakeBedrockRuntime
    from mlcommons_emu.providers.cohere import FakeCohere
    from mlcommons_emu.providers.comprehend import FakeComprehend
    from mlcommons_emu.providers.deepseek import FakeDeepSeek
    from mlcommons_emu.providers.gemini import FakeGemini
    from mlcommons_emu.providers.openai import FakeOpenAI
    from mlcommons_emu.providers.sagemaker import FakeSageMakerRuntime
    from mlcommons_emu.providers.textract import FakeTextract
    from mlcommons_emu.providers.vertexai import FakeVertexAI
    from mlcommons_emu.providers.yandex import FakeYandex

    fakes = [FakeOpenAI(), FakeCohere(), FakeBedrockRuntime(),
             FakeSageMakerRuntime(accept_any_endpoint=True), FakeAzureOpenAI(), FakeDeepSeek(),
             FakeGemini(), FakeVertexAI(), FakeComprehend(), FakeTextract(), FakeAlephAlpha(), FakeYandex()]
    return {fake.name: fake for fake in fakes}


def provider_for(providers: Mapping[str, Any], host: str) -> Any | None:
    host = host.lower()
    for provider in providers.values():
        if host in provider.hosts:
            return provider
    for provider in providers.values():
        matches = getattr(provider, "matches", None)
        if callable(matches) and matches(host):
            return provider
    return None


GATEWAY_KEY: web.AppKey[dict] = web.AppKey("providers")


def make_gateway_app(providers: Mapping[str, Any]) -> web.Application:
    """Serve every fake on one port, choosing the fake by the request's Host header.

    ``curl -H 'Host: api.openai.com' http://127.0.0.1:9300/v1/chat/completions ...``
    """

    async def dispatch(request: web.Request) -> web.StreamResponse:
        host = (request.host or "").split(":")[0]
        provider = provider_for(providers, host)
        if provider is None:
            return web.json_response(
                {"message": f"no fake provider answers host {host!r}; known: "
                            + ", ".join(sorted(providers))}, status=421)
        body = await request.read()
        reply = await provider.handle(ProviderRequest(
            method=request.method, url=f"https://{host}{request.path_qs}", headers=request.headers, body=body))
        headers = {k: v for k, v in reply.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding", "connection")}
        return web.Response(status=reply.status, body=reply.body, headers=headers)

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[GATEWAY_KEY] = dict(providers)
    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app
