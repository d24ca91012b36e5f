"""A deployed remote model on one node: renders, sends and unwraps one predict call."""
from __future__ import annotations

import asyncio
import functools
import ipaddress
import json
import random
import re
import time
from typing import Any, Mapping
from urllib.parse import urlsplit

import attrs

from mlcommons_emu.connectors import templating
from mlcommons_emu.connectors.transports.base import OutboundRequest, Transport, TransportError
from mlcommons_emu.domain.connector import Connector
from mlcommons_emu.domain.release import Release
from mlcommons_emu.errors import (
    IllegalArgumentError,
    MLError,
    RemoteConnectorThrottlingError,
    StatusError,
)


def _payload_bytes(payload: str, charset: str) -> bytes:
    """``payload.getBytes(Charset.forName(charset))`` as the connector executor sends it.

    Java replaces a character the charset cannot encode (a lone surrogate, say) with ``?``;
    an unknown or illegal charset name is Charset.forName's IllegalArgumentException, whose
    message is the name itself.
    """
    try:
        return payload.encode(charset, "replace")
    except (LookupError, ValueError, TypeError):
        raise IllegalArgumentError(charset) from None


@attrs.frozen
class RuntimeOptions:
    """Settings the runtime reads per call (they are dynamic in the plugin)."""

    trusted_endpoints: tuple[str, ...]
    private_ip_enabled: bool = False


def check_trusted_url(url: str, regexes: tuple[str, ...] | list[str], release: Release) -> None:
    """MLCommonsSettings trusted endpoints: a full match of one regex is required."""
    if not regexes and release >= (3, 7):
        raise IllegalArgumentError(
            "Trusted connector endpoints regex is not configured. Please set "
            "plugins.ml_commons.trusted_connector_endpoints_regex.")
    if _matches_any(url, tuple(regexes)):
        return
    if release >= (3, 2):
        raise IllegalArgumentError("Connector URL is not matching the trusted connector endpoint regex")
    raise IllegalArgumentError(
        f"Connector URL is not matching the trusted connector endpoint regex, URL is: {url}")


def _matches_any(url: str, regexes: tuple[str, ...]) -> bool:
    """Whether one regex fully matches the URL (cached: a connector calls the same URLs;
    a long URL, which may carry predict input in its query, is not kept)."""
    if len(url) > _CACHED_URL_LENGTH:
        return _matches_any_uncached(url, regexes)
    return _matches_any_cached(url, regexes)


def _matches_any_uncached(url: str, regexes: tuple[str, ...]) -> bool:
    for regex in regexes:
        try:
            # Java's Pattern.matches() is a full match; the lists use no Java-only syntax
            if re.fullmatch(regex, url):
                return True
        except re.error:
            continue
    return False


_CACHED_URL_LENGTH = 512
_matches_any_cached = functools.lru_cache(maxsize=1024)(_matches_any_uncached)


def _scheme_and_host(url: str) -> tuple[str, str]:
    if len(url) > _CACHED_URL_LENGTH:
        return _url_parts(url)
    return _url_parts_cached(url)


def _url_parts(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or ""


_url_parts_cached = functools.lru_cache(maxsize=1024)(_url_parts)


@functools.lru_cache(maxsize=1024)
def _is_private_host(host: str) -> bool:
    """Literal private addresses and localhost; names are not resolved (offline by design)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified


class DeployedRemoteModel:
    """What a node holds in memory after deploy (the plugin's RemoteModel + executor).

    Credentials are decrypted once, at deploy, and substituted into the predict action's
    headers then; later predicts reuse them, as RemoteConnectorExecutor does.  The plugin
    decrypts the headers of one action (``Connector.decrypt(action)``) and sends them with
    every action the executor runs; ``header_action`` names that action.
    """

    def __init__(self, model_id: str, connector: Connector, credentials: Mapping[str, str],
                 release: Release, model: Any = None, *, header_action: str = "PREDICT") -> None:
        self.model_id = model_id
        #: the node's in-memory copy of the model document (MLModelCacheHelper)
        self.model = model
        self.connector = connector
        self.release = release
        self._credentials = dict(credentials)
        action = connector.action(header_action)
        headers = dict(action.headers or {}) if action else {}
        headers = templating.resolve_credential_headers(headers, self._credentials)
        if release < (3, 7):
            # 2.9-3.6: headers get the connector's own parameters once, at deploy
            headers = templating.render_headers(headers, connector.parameters, predict_time_params=False)
        self._headers = headers
        self._static_headers: dict[str, str | None] | None = None

    async def predict(self, raw_parameters: Mapping[str, Any], transport: Transport,
                      options: RuntimeOptions) -> dict[str, Any]:
        """``parameters`` input: one outgoing call, one ``inference_results`` element."""
        return await self.execute_action(self._predict_action(), raw_parameters, transport, options)

    async def predict_documents(self, text_docs: list[Any], raw_parameters: Mapping[str, Any],
                                transport: Transport, options: RuntimeOptions, *,
                                query_text: str | None = None) -> list[dict[str, Any]]:
        """``text_docs`` (and similarity) input: the pre-process function turns documents
        into parameters, possibly over several calls, run in parallel, results in order."""
        from mlcommons_emu.connectors import processing

        release = self.release
        action = self._predict_action()
        pre_name = action.pre_process_function
        chunks = processing.split_documents(text_docs, self.connector.parameters, pre_name, release,
                                            similarity=query_text is not None)
        predict_params = self._predict_params(raw_parameters)
        prepared = []
        for chunk in chunks:
            # preparation errors (templates, payload) abort at once, before any call
            added = processing.pre_process(pre_name, chunk, release, query_text=query_text,
                                           params={**self.connector.parameters, **predict_params})
            params = templating.merge_parameters(self.connector.parameters, predict_params, added,
                                                 predict_wins=release >= (2, 12))
            prepared.append(self._prepare(action, params, options))
        outcomes = await asyncio.gather(
            *(self._send_with_retries(outbound, transport, action, params) for outbound, params in prepared),
            return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return list(outcomes)  # type: ignore[arg-type]

    async def execute_action(self, action: Any, raw_parameters: Mapping[str, Any], transport: Transport,
                             options: RuntimeOptions) -> dict[str, Any]:
        """One call of another connector action (BATCH_PREDICT, BATCH_PREDICT_STATUS,
        CANCEL_BATCH_PREDICT) with ``parameters`` input: the same parameter merge,
        templating, URL checks, headers and retries as predict
        (RemoteConnectorExecutor.executeAction with a RemoteInferenceInputDataSet)."""
        params = templating.merge_parameters(self.connector.parameters, self._predict_params(raw_parameters),
                                             predict_wins=self.release >= (2, 12))
        pre = action.pre_process_function
        if pre and params.get("pre_process_function.process_remote_inference_input") == "true":
            from mlcommons_emu.connectors import processing

            if processing.builtin_pre_process(pre, self.release) is None:
                # the script runs on the predict parameters; its output is layer 4 of P
                added = processing.script_pre_process_parameters(pre, self._predict_params(raw_parameters),
                                                                 self.release)
                params = templating.merge_parameters(self.connector.parameters,
                                                     self._predict_params(raw_parameters), added,
                                                     predict_wins=self.release >= (2, 12))
        outbound, params = self._prepare(action, params, options)
        return await self._send_with_retries(outbound, transport, action, params)

    def _predict_action(self) -> Any:
        action = self.connector.action("PREDICT")
        if action is None:
            raise IllegalArgumentError("no PREDICT action found")
        return action

    def _predict_params(self, raw_parameters: Mapping[str, Any]) -> dict[str, str | None]:
        release = self.release
        return templating.predict_parameters(
            raw_parameters, escape=release >= (2, 10), legacy_gson=release < (3, 3),
            org_json_only=release < (2, 12), honour_no_escape_params=release >= (3, 0))

    def _prepare(self, action: Any, params: dict[str, str | None],
                 options: RuntimeOptions) -> tuple[OutboundRequest, dict[str, str | None]]:
        """Render payload, URL and headers, check the URL, sign: the request to send."""
        release = self.release
        legacy_gson = release < (3, 3)  # StringUtils used a plain Gson until 3.3
        to_string_keys = release >= (2, 17)
        payload = templating.render_payload(
            action.request_body, params,
            invalid_payload_style="new" if release >= _INVALID_PAYLOAD_NEW else "old",
            allow_ndjson=release >= (3, 5), null_default_rewrite=release >= (2, 10),
            to_string_keys=to_string_keys, legacy_gson=legacy_gson,
            honour_skip_parameter=release >= (2, 17),
        )
        if action.request_body is not None and to_string_keys:
            # HttpConnector.createPayload adds the X.toString() keys to P in place, so the
            # URL and headers rendered afterwards see them
            params = templating.add_to_string_keys(params, legacy_gson=legacy_gson)
        url = templating.render_url(action.url, params)
        if release >= (3, 7):
            check_trusted_url(url, options.trusted_endpoints, release)
            headers = self._predict_time_headers(params)
        else:
            headers = dict(self._headers)
        self._check_url(url, options)
        method = action.method.upper()
        allowed = ("POST", "GET", "PUT", "DELETE") if release >= (3, 5) else ("POST", "GET")
        if method not in allowed:
            raise IllegalArgumentError("unsupported http method")
        if release >= (3, 5):
            payload = _clean_nova_payload(payload, params)
        body = _payload_bytes(payload or "", params.get("charset") or "utf-8")
        if method == "POST" and not body and action.action_type != "CANCEL_BATCH_PREDICT":
            # ConnectorUtils.buildSdkRequest lets a cancel-batch call go out without a body
            raise IllegalArgumentError("Content length is 0. Aborting request to remote model")
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        if self.connector.protocol == "aws_sigv4":
            headers = self._sign(method, url, headers, body)
        return OutboundRequest(method, url, headers, body), params

    def _predict_time_headers(self, params: dict[str, str | None]) -> dict[str, str | None]:
        """The headers of one call (3.7+).  With no ``${parameters.`` in any header they do
        not depend on the call: rendered and checked once, then copied."""
        if self._static_headers is not None:
            return dict(self._static_headers)
        headers = templating.render_headers(self._headers, params, predict_time_params=True)
        if not any(v is not None and "${parameters." in v for v in self._headers.values()):
            self._static_headers = dict(headers)
        return headers

    async def _send_once(self, outbound: OutboundRequest, transport: Transport, action: Any,
                         params: Mapping[str, str | None]) -> dict[str, Any]:
        try:
            response = await transport.send(outbound, timeout=self._read_timeout())
        except TransportError as exc:
            if self.release >= (2, 15):
                # MLSdkAsyncHttpResponseHandler (the async client arrived in 2.15)
                raise StatusError(f"Error communicating with remote model: {exc}", 500) from exc
            # HttpJsonConnectorExecutor before 2.15
            raise MLError("Fail to execute http connector") from exc
        return self._unwrap(response.status, response.headers, response.body, action, params)

    async def _send_with_retries(self, outbound: OutboundRequest, transport: Transport, action: Any,
                                 params: Mapping[str, str | None]) -> dict[str, Any]:
        """RemoteConnectorExecutor's retry loop (client_config, 2.13+).

        The same rendered request is re-sent; throttling is retried in every release with
        retries, 429 and 5xx only from 3.8.  The last attempt's error is the answer.
        """
        config = self.connector.client_config or {}
        max_retries = int(config.get("max_retry_times", 0)) if self.release >= (2, 13) else 0
        if max_retries == 0:
            return await self._send_once(outbound, transport, action, params)
        base = max(int(config.get("retry_backoff_millis", 200)), 0) / 1000.0
        budget = float(config.get("retry_timeout_seconds", 30))
        policy = str(config.get("retry_backoff_policy", "constant")).lower()
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return await self._send_once(outbound, transport, action, params)
            except (StatusError, MLError) as exc:
                attempt += 1
                retries_left = max_retries < 0 or attempt <= max_retries
                elapsed = time.monotonic() - started
                if not (self._is_retryable(exc) and retries_left and elapsed < budget):
                    raise
                delay = _backoff(policy, base, attempt - 1)
                await asyncio.sleep(min(delay, max(budget - elapsed, 0)))

    def _is_retryable(self, exc: Exception) -> bool:
        if isinstance(exc, RemoteConnectorThrottlingError):
            return True
        if self.release >= (3, 8) and isinstance(exc, StatusError):
            return exc.status == 429 or exc.status >= 500
        return False

    def _check_url(self, url: str, options: RuntimeOptions) -> None:
        scheme, host = _scheme_and_host(url)
        if scheme not in ("http", "https"):
            raise IllegalArgumentError(f"Protocol is not http or https: {scheme}")
        if not host:
            raise IllegalArgumentError(
                "Encountered error when trying to create uri from endpoint in ml connector. "
                "Please update the endpoint in connection configuration: ")
        private_allowed = options.private_ip_enabled and self.release >= (2, 15)
        if _is_private_host(host) and not private_allowed:
            if self.release >= (2, 15):
                raise IllegalArgumentError(f"Remote inference host name has private ip address: {host}")
            raise IllegalArgumentError(host)

    def _sign(self, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
        from mlcommons_emu.connectors import sigv4

        params = self.connector.parameters
        creds = self._credentials
        region = params.get("region") or creds.get("region")
        service = params.get("service_name") or creds.get("service_name")
        try:
            return sigv4.sign(
                method, url, headers, body, access_key=creds["access_key"], secret_key=creds["secret_key"],
                session_token=creds.get("session_token"), region=str(region), service=str(service))
        except Exception as exc:  # botocore raises a variety; none may escape untranslated
            raise MLError("Failed to sign the request to the remote model") from exc

    def _read_timeout(self) -> float:
        """Seconds; the defaults were 30000 until 3.5, still read as seconds (Appendix C)."""
        config = self.connector.client_config or {}
        default = 30 if self.release >= (3, 6) else 30000
        try:
            return float(config.get("read_timeout", default))
        except (TypeError, ValueError):
            return float(default)

    def _unwrap(self, status: int, headers: Mapping[str, str], body: bytes, action: Any,
                params: Mapping[str, str | None]) -> dict[str, Any]:
        release = self.release
        text = body.decode("utf-8", errors="replace")
        success = 200 <= status <= 300
        if not success and release >= (2, 11):
            lowered = {k.lower(): v for k, v in headers.items()}
            if lowered.get("x-amzn-errortype", "").startswith("ThrottlingException"):
                raise RemoteConnectorThrottlingError(
                    "Error from remote service: The request was denied due to remote server throttling. "
                    "To change the retry policy and behavior, please update the connector client_config.",
                    status)
            if not body:
                if release >= (3, 2):
                    raise StatusError(f"Remote service returned error status {status} with empty body", status)
                raise IllegalArgumentError("No response from model")
            raise StatusError(f"Error from remote service: {text}", status)
        if success and action is not None and action.action_type == "CANCEL_BATCH_PREDICT":
            # MLSdkAsyncHttpResponseHandler keeps only the status code of a cancel-batch call
            return {"status_code": status}
        if success and not body:
            if release >= (3, 2):
                raise StatusError("Remote service returned empty response body", 502)
            raise IllegalArgumentError("No response from model")
        post = action.post_process_function if action is not None else None
        if post:
            from mlcommons_emu.connectors import processing

            tensors = processing.post_process(post, text, params, release)
        else:
            tensors = [{"name": "response", "dataAsMap": _raw_response(text, params, release)}]
        element: dict[str, Any] = {}
        if tensors:
            element["output"] = tensors
        if release >= (2, 11):
            element["status_code"] = status
        return element


BEDROCK_NOVA_MODEL = "amazon.nova-2-multimodal-embeddings-v1:0"


def _clean_nova_payload(payload: str | None, params: Mapping[str, str | None]) -> str | None:
    """ConnectorUtils.cleanPayloadIfNeeded (3.5+): for the Nova multimodal embedding model,
    drop the ``singleEmbeddingParams`` sections whose value is null (``text.value``, or
    ``source.bytes`` of image/video/audio), so one connector serves every modality.  The
    cleaned payload is re-serialised compactly, nulls kept; any failure leaves it as is."""
    if payload is None or params.get("model") != BEDROCK_NOVA_MODEL:
        return payload
    try:
        root = json.loads(payload)
        single = root.get("singleEmbeddingParams")
    except (ValueError, AttributeError):
        return payload
    if not isinstance(single, dict):
        return payload
    for section in ("text", "image", "video", "audio"):
        field = single.get(section)
        if not isinstance(field, dict):
            continue
        if section == "text":
            present, value = "value" in field, field.get("value")
        else:
            source = field.get("source")
            present = isinstance(source, dict) and "bytes" in source
            value = source.get("bytes") if present else None
        if present and value is None:
            del single[section]
    return json.dumps(root, separators=(",", ":"), ensure_ascii=False)


#: The release whose payload check reads "Invalid payload: <payload>" (ConnectorUtils).
_INVALID_PAYLOAD_NEW = (2, 12)


def _backoff(policy: str, base: float, n: int) -> float:
    """Delay before retry ``n`` (0-based) for the connector's retry_backoff_policy."""
    if policy == "exponential_equal_jitter":
        ceiling = base * (2 ** n)
        return ceiling / 2 + random.uniform(0, ceiling / 2)
    if policy == "exponential_full_jitter":
        return random.uniform(0, base * (2 ** n))
    return base


def _raw_response(text: str, params: Mapping[str, str | None], release: Release) -> dict[str, Any]:
    """``dataAsMap`` of the one ``response`` tensor when no built-in post-process runs (2.8).

    With a ``response_filter`` the JsonPath selects the value first; a path the body does
    not have falls back to the whole body from 3.7 and was a 500 before.  A selected string
    holding JSON text is parsed (an LLM that answered JSON in ``content``).
    """
    rf = params.get("response_filter")
    if not rf or not rf.strip():
        return _parse_response(text, release)
    from mlcommons_emu.connectors import processing

    document = _parse_response(text, release)
    source = document["response"] if set(document) == {"response"} else document
    try:
        value = processing.json_path(source, rf)
    except processing.PathNotFoundError:
        if release >= (3, 7):
            return document
        raise MLError("Fail to execute PREDICT in aws connector") from None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"response": value}
    if isinstance(value, dict):
        return value
    return {"response": value}


def _parse_response(text: str, release: Release) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        if release >= (3, 5):
            raise IllegalArgumentError(f"Invalid JSON format: {text}") from None
        return {"response": text}
    if isinstance(value, list):
        return {"response": value}
    if not isinstance(value, dict):
        return {"response": value}
    if release < (3, 5):
        value = _gson_numbers(value)
    return value


def _gson_numbers(value: Any) -> Any:
    """Before 3.5 Gson parsed the body: every JSON number came back as a double."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_gson_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: _gson_numbers(v) for k, v in value.items()}
    return value
