"""Deterministic in-process fake of the DeepSeek API (OpenAI-compatible chat completions).

DeepSeek's server is written in Rust: a body that does not deserialize into its request
type is rejected with serde's message, prefixed with the JSON path and suffixed with the
position (``Failed to deserialize the JSON body into the target type: messages[1]: missing
field `content` at line 8 column 5``).  This fake parses the body with a small
position-tracking scanner so those messages (path, wording and position) come out the same
way.  Positions follow serde: the line and 1-based byte column of the last character
consumed when the error was detected (the closing brace of the object for a missing field,
the last character of the offending value for a type error).

Error texts marked ``# verbatim`` were observed from the real service; ``# UNSURE`` ones keep
DeepSeek's envelope and status but their wording is a best guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from json.decoder import scanstring
from typing import Any

from .base import (
    ListedHosts,
    ProviderRequest,
    ProviderResponse,
    Recorder,
    Script,
    delayed,
    fault,
    received,
    rejects_key,
)
from .openai import count_tokens

__all__ = ["DeepSeekAPIError", "FakeDeepSeek"]

AUTH_FORMAT_MESSAGE = "Authentication Fails (auth header format should be Bearer sk-...)"  # verbatim
INVALID_KEY_MESSAGE = "Authentication Fails, Your api key: ****{tail} is invalid"  # verbatim
MODEL_NOT_EXIST_MESSAGE = "Model Not Exist"  # verbatim
DESERIALIZE_PREFIX = "Failed to deserialize the JSON body into the target type: "  # verbatim
MAX_TOKENS_MESSAGE = "Invalid max_tokens value, the valid range of max_tokens is [1, {limit}]"  # verbatim
INSUFFICIENT_BALANCE_MESSAGE = "Insufficient Balance"  # verbatim (402, type unknown_error)
PARSE_PREFIX = "Failed to parse the request body as JSON: "  # UNSURE (axum's syntax-error text)
RANGE_MESSAGE = "Invalid {param} value, the valid range of {param} is {range}"  # UNSURE (modelled on max_tokens)
EMPTY_MESSAGES_MESSAGE = "Empty input messages"  # UNSURE
REASONER_LOGPROBS_MESSAGE = "deepseek-reasoner does not support the parameter `{param}`"  # UNSURE
NOT_FOUND_MESSAGE = "Not Found"  # UNSURE
RATE_LIMIT_MESSAGE = "Rate Limit Reached"  # UNSURE (DeepSeek documents 429 under this name)
SERVER_ERROR_MESSAGE = "Server Error"  # UNSURE
OVERLOADED_MESSAGE = "Server Overloaded"  # UNSURE

GREETING_REPLY = "Hello! How can I assist you today? 😊"

# model -> max_tokens upper bound
_MODELS: dict[str, int] = {"deepseek-chat": 8192, "deepseek-reasoner": 65536}
_REASONER = "deepseek-reasoner"
_ROLES = ("system", "user", "assistant", "tool")
_GREETINGS = frozenset(
    {"hello", "hi", "hey", "hello there", "hi there", "hey there", "greetings", "good morning",
     "good afternoon", "good evening"}
)
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_WS = " \t\n\r"
_U32_MAX = 2**32 - 1


class DeepSeekAPIError(Exception):
    """An error in DeepSeek's OpenAI-style envelope (code is always invalid_request_error)."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": None, "code": self.code}}


# ----------------------------------------------------------- position-aware JSON scanner


class _Syntax(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class _Scanner:
    """Parses JSON and records, per value path, the index just after the value."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.ends: dict[tuple[Any, ...], int] = {}

    def parse(self) -> Any:
        i = self._ws(0)
        value, i = self._value(i, ())
        i = self._ws(i)
        if i < len(self.s):
            raise _Syntax("trailing characters", i + 1)
        return value

    def _ws(self, i: int) -> int:
        while i < len(self.s) and self.s[i] in _WS:
            i += 1
        return i

    def _value(self, i: int, path: tuple[Any, ...]) -> tuple[Any, int]:
        s = self.s
        if i >= len(s):
            raise _Syntax("EOF while parsing a value", len(s))
        c = s[i]
        if c == "{":
            value, end = self._object(i, path)
        elif c == "[":
            value, end = self._array(i, path)
        elif c == '"':
            value, end = self._string(i)
        elif c in "-0123456789":
            m = _NUMBER_RE.match(s, i)
            if m is None or m.end() == i:
                raise _Syntax("invalid number", i + 1)
            text = m.group(0)
            value = float(text) if any(ch in text for ch in ".eE") else int(text)
            end = m.end()
        else:
            for literal, v in (("true", True), ("false", False), ("null", None)):
                if s.startswith(literal, i):
                    value, end = v, i + len(literal)
                    break
            else:
                raise _Syntax("expected value", i + 1)
        self.ends[path] = end
        return value, end

    def _string(self, i: int) -> tuple[str, int]:
        try:
            return scanstring(self.s, i + 1, True)
        except json.JSONDecodeError as exc:
            if "Unterminated" in exc.msg:
                raise _Syntax("EOF while parsing a string", len(self.s)) from None
            if "control character" in exc.msg.lower():
                raise _Syntax("control character (\\u0000-\\u001F) found while parsing a string", exc.pos + 1) from None
            raise _Syntax("invalid escape", exc.pos + 1) from None

    def _object(self, i: int, path: tuple[Any, ...]) -> tuple[dict[str, Any], int]:
        s, out = self.s, {}
        i = self._ws(i + 1)
        if i < len(s) and s[i] == "}":
            return out, i + 1
        while True:
            if i >= len(s):
                raise _Syntax("EOF while parsing an object", len(s))
            if s[i] != '"':
                raise _Syntax("key must be a string", i + 1)
            key, i = self._string(i)
            i = self._ws(i)
            if i >= len(s):
                raise _Syntax("EOF while parsing an object", len(s))
            if s[i] != ":":
                raise _Syntax("expected `:`", i + 1)
            value, i = self._value(self._ws(i + 1), path + (key,))
            out[key] = value
            i = self._ws(i)
            if i >= len(s):
                raise _Syntax("EOF while parsing an object", len(s))
            if s[i] == "}":
                return out, i + 1
            if s[i] != ",":
                raise _Syntax("expected `,` or `}`", i + 1)
            i = self._ws(i + 1)
            if i < len(s) and s[i] == "}":
                raise _Syntax("trailing comma", i + 1)

    def _array(self, i: int, path: tuple[Any, ...]) -> tuple[list[Any], int]:
        s, out = self.s, []
        i = self._ws(i + 1)
        if i < len(s) and s[i] == "]":
            return out, i + 1
        while True:
            value, i = self._value(i, path + (len(out),))
            out.append(value)
            i = self._ws(i)
            if i >= len(s):
                raise _Syntax("EOF while parsing a list", len(s))
            if s[i] == "]":
                return out, i + 1
            if s[i] != ",":
                raise _Syntax("expected `,` or `]`", i + 1)
            i = self._ws(i + 1)
            if i < len(s) and s[i] == "]":
                raise _Syntax("trailing comma", i + 1)


def _line_col(text: str, end: int) -> tuple[int, int]:
    """serde's position for an error detected after consuming text[:end]."""
    line = text.count("\n", 0, end) + 1
    start = text.rfind("\n", 0, end) + 1
    return line, len(text[start:end].encode("utf-8"))


def _unexpected(v: Any) -> str:
    """serde's description of a JSON value in "invalid type" messages."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"boolean `{'true' if v else 'false'}`"
    if isinstance(v, int):
        return f"integer `{v}`"
    if isinstance(v, float):
        return f"floating point `{v!r}`"
    if isinstance(v, str):
        return "string " + json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "sequence"
    return "map"


class _Serde(Exception):
    def __init__(self, path: str, message: str, end: int) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.end = end


# ---------------------------------------------------------------------------- helpers


def _excerpt(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


def _truncate_tokens(text: str, limit: int | None) -> tuple[str, bool]:
    if limit is None:
        return text, False
    if limit <= 0:
        return "", bool(text)
    for i, m in enumerate(_TOKEN_RE.finditer(text), start=1):
        if i == limit:
            cut = text[: m.end()]
            return cut, len(cut.rstrip()) < len(text.rstrip())
    return text, False


def _uuid(digest: bytes) -> str:
    b = bytearray(digest[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _stream_pieces(text: str) -> list[str]:
    return re.findall(r"\s*\S+\s*$|\s*\S+", text) or [""]


# ---------------------------------------------------------------------------- provider


class FakeDeepSeek(ListedHosts):
    """Strict, deterministic stand-in for https://api.deepseek.com.

    api_keys: when given, only these bearer keys are accepted (others get DeepSeek's
    "Authentication Fails, Your api key: ****xxxx is invalid"); by default any non-empty key
    passes but an unresolved ``${credential.*}`` placeholder.  Prompt caching is not simulated:
    every prompt token is a cache miss, so the same request always gets the same usage block.
    """

    name = "deepseek"
    hosts: tuple[str, ...] = ("api.deepseek.com",)
    paths: tuple[str, ...] = ("/chat/completions", "/v1/chat/completions")

    def __init__(self, *, api_keys: Iterable[str] | None = None, recorder_size: int = 1000) -> None:
        self.recorder = Recorder(recorder_size)
        self.script = Script()
        self.api_keys: frozenset[str] | None = frozenset(api_keys) if api_keys is not None else None

    # -------------------------------------------------------------- entry

    async def handle(self, request: ProviderRequest) -> ProviderResponse:
        request, scripted = await received(self, request)
        if scripted is not None:
            return scripted
        try:
            return self._dispatch(request)
        except DeepSeekAPIError as err:
            return ProviderResponse.json(err.status, err.body(), self._headers(request))

    def _dispatch(self, request: ProviderRequest) -> ProviderResponse:
        if request.path not in self.paths or request.method != "POST":
            raise DeepSeekAPIError(404, NOT_FOUND_MESSAGE)
        self._authenticate(request)
        body = self._deserialize(request.body)
        return self._chat(body, request)

    def _authenticate(self, request: ProviderRequest) -> None:
        auth = request.headers.get("Authorization", "").strip()
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise DeepSeekAPIError(401, AUTH_FORMAT_MESSAGE, type="authentication_error")
        if rejects_key(key, self.api_keys):
            raise DeepSeekAPIError(
                401, INVALID_KEY_MESSAGE.format(tail=key[-4:]), type="authentication_error"
            )

    # ------------------------------------------------------- deserialisation

    def _deserialize(self, raw: bytes) -> dict[str, Any]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DeepSeekAPIError(400, PARSE_PREFIX + "invalid unicode code point at line 1 column 1") from None
        scanner = _Scanner(text)
        try:
            body = scanner.parse()
        except _Syntax as exc:
            line, col = _line_col(text, exc.pos)
            raise DeepSeekAPIError(400, f"{PARSE_PREFIX}{exc.message} at line {line} column {col}") from None
        try:
            self._check_request(body, scanner.ends)
        except _Serde as exc:
            line, col = _line_col(text, exc.end)
            prefix = f"{exc.path}: " if exc.path else ""
            # UNSURE: 400 (observed recently) vs 422 (axum's default for data errors).
            raise DeepSeekAPIError(400, f"{DESERIALIZE_PREFIX}{prefix}{exc.message} at line {line} column {col}") from None
        return body

    def _check_request(self, body: Any, ends: dict[tuple[Any, ...], int]) -> None:
        if not isinstance(body, dict):
            raise _Serde("", f"invalid type: {_unexpected(body)}, expected struct ChatCompletionRequest", ends[()])

        def bad(key: str, expected: str) -> _Serde:
            return _Serde(key, f"invalid type: {_unexpected(body[key])}, expected {expected}", ends[(key,)])

        # serde visits fields in document order; the first bad one wins.
        for key, v in body.items():
            if v is None and key not in ("model", "messages"):
                continue  # Option<T>
            if key == "model" and not isinstance(v, str):
                raise bad(key, "a string")
            if key == "messages":
                if not isinstance(v, list):
                    raise bad(key, "a sequence")
                for i, msg in enumerate(v):
                    self._check_message(msg, i, ends)
            is_number = isinstance(v, (int, float)) and not isinstance(v, bool)
            if key in ("temperature", "top_p", "frequency_penalty", "presence_penalty") and not is_number:
                raise bad(key, "f32")
            if key in ("max_tokens", "top_logprobs"):
                if not is_number or isinstance(v, float):
                    raise bad(key, "u32")
                if not 0 <= v <= _U32_MAX:
                    raise _Serde(key, f"invalid value: integer `{v}`, expected u32", ends[(key,)])
            if key in ("stream", "logprobs") and not isinstance(v, bool):
                raise bad(key, "a boolean")
            if key == "stop" and not (
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
            ):
                raise _Serde(key, "data did not match any variant of untagged enum Stop", ends[(key,)])
            if key in ("response_format", "stream_options") and not isinstance(v, dict):
                raise bad(key, f"struct {'ResponseFormat' if key == 'response_format' else 'StreamOptions'}")
            if key == "response_format" and v.get("type") not in ("text", "json_object"):
                t = v.get("type")
                if t is None:
                    raise _Serde(key, "missing field `type`", ends[(key,)])
                raise _Serde(
                    f"{key}.type", f"unknown variant `{t}`, expected `text` or `json_object`",
                    ends.get((key, "type"), ends[(key,)]),
                )
            if key == "tools" and not isinstance(v, list):
                raise bad(key, "a sequence")
        for required in ("model", "messages"):
            if required not in body or body[required] is None:
                if required in body:
                    raise bad(required, "a string" if required == "model" else "a sequence")
                raise _Serde("", f"missing field `{required}`", ends[()])

    @staticmethod
    def _check_message(msg: Any, i: int, ends: dict[tuple[Any, ...], int]) -> None:
        path = f"messages[{i}]"
        end = ends[("messages", i)]
        # Messages are an internally tagged enum (on "role"): serde buffers the whole
        # object, so every error inside one is reported at its closing brace.
        if not isinstance(msg, dict):
            raise _Serde(path, f"invalid type: {_unexpected(msg)}, expected internally tagged enum Message", end)
        role = msg.get("role")
        if "role" not in msg:
            raise _Serde(path, "missing field `role`", end)
        if not isinstance(role, str):
            raise _Serde(path, f"invalid type: {_unexpected(role)}, expected variant identifier", end)
        if role not in _ROLES:
            expected = ", ".join(f"`{r}`" for r in _ROLES)
            raise _Serde(path, f"unknown variant `{role}`, expected one of {expected}", end)
        content = msg.get("content")
        if role in ("system", "user"):
            # Content is an untagged enum: a string or an array of text parts.
            if content is None and "content" not in msg:
                raise _Serde(path, "missing field `content`", end)
            ok = isinstance(content, str) or (
                isinstance(content, list)
                and all(
                    isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
                    for p in content
                )
            )
            if not ok:
                raise _Serde(path, "data did not match any variant of untagged enum ChatCompletionRequestContent", end)
        else:
            if content is None and not (role == "assistant" and msg.get("tool_calls")):
                if "content" not in msg:
                    raise _Serde(path, "missing field `content`", end)
                if role == "tool":
                    raise _Serde(path, "invalid type: null, expected a string", end)
            if content is not None and not isinstance(content, str):
                raise _Serde(path, f"invalid type: {_unexpected(content)}, expected a string", end)
        if role == "tool" and not isinstance(msg.get("tool_call_id"), str):
            if "tool_call_id" not in msg:
                raise _Serde(path, "missing field `tool_call_id`", end)
            raise _Serde(path, f"invalid type: {_unexpected(msg['tool_call_id'])}, expected a string", end)
        for key in ("name", "reasoning_content"):
            v = msg.get(key)
            if v is not None and not isinstance(v, str):
                raise _Serde(path, f"invalid type: {_unexpected(v)}, expected a string", end)

    # ---------------------------------------------------------------- chat

    def _chat(self, body: dict[str, Any], request: ProviderRequest) -> ProviderResponse:
        model = body["model"]
        if model not in _MODELS:
            raise DeepSeekAPIError(400, MODEL_NOT_EXIST_MESSAGE)
        messages = body["messages"]
        if not messages:
            raise DeepSeekAPIError(400, EMPTY_MESSAGES_MESSAGE)
        limit = _MODELS[model]
        max_tokens = body.get("max_tokens")
        if max_tokens is not None and not 1 <= max_tokens <= limit:
            raise DeepSeekAPIError(400, MAX_TOKENS_MESSAGE.format(limit=limit))
        for param, lo, hi in (("temperature", 0, 2), ("top_p", 0, 1),
                              ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2)):
            v = body.get(param)
            if v is not None and not lo <= v <= hi:
                raise DeepSeekAPIError(400, RANGE_MESSAGE.format(param=param, range=f"[{lo}, {hi}]"))
        reasoner = model == _REASONER
        if reasoner:
            for param in ("logprobs", "top_logprobs"):
                if body.get(param):
                    raise DeepSeekAPIError(400, REASONER_LOGPROBS_MESSAGE.format(param=param))
        stops = body.get("stop")
        stops = [stops] if isinstance(stops, str) else list(stops or [])

        users = [m for m in messages if m["role"] == "user"]
        prompt = _content_text((users[-1] if users else messages[-1]).get("content"))
        if prompt.strip().lower().rstrip("!.?, ") in _GREETINGS:
            answer = GREETING_REPLY
        else:
            answer = f'This is a deterministic response from the fake DeepSeek service to: "{_excerpt(prompt) or "your message"}"'
        if isinstance(body.get("response_format"), dict) and body["response_format"].get("type") == "json_object":
            answer = json.dumps({"response": answer}, ensure_ascii=False)
        hits = [answer.find(s) for s in stops if s and s in answer]
        if hits:
            answer = answer[: min(hits)]

        reasoning = ""
        if reasoner:
            reasoning = (
                f'The user wrote: "{_excerpt(prompt, 120) or "nothing"}". '
                "I should give a short, direct answer."
            )
        reasoning_tokens = count_tokens(reasoning)
        truncated = False
        if max_tokens is not None:
            if reasoner and max_tokens <= reasoning_tokens:
                reasoning, _ = _truncate_tokens(reasoning, max_tokens)
                reasoning_tokens = count_tokens(reasoning)
                answer, truncated = "", True
            else:
                answer, truncated = _truncate_tokens(answer, max_tokens - reasoning_tokens)
        finish = "length" if truncated else "stop"
        completion_tokens = count_tokens(answer) + reasoning_tokens
        prompt_tokens = 1 + sum(2 + count_tokens(_content_text(m.get("content"))) for m in messages)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        }
        if reasoner:
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
        usage["prompt_cache_hit_tokens"] = 0
        usage["prompt_cache_miss_tokens"] = prompt_tokens

        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.sha256(f"deepseek-chat\n{canonical}".encode()).digest()
        completion_id = _uuid(digest)
        created = 1_735_000_000 + int.from_bytes(digest[:4], "big") % 40_000_000
        fingerprint = "fp_" + hashlib.sha256(f"fingerprint:{model}".encode()).hexdigest()[:10] + "_prod0820_fp8_kvcache"
        message: dict[str, Any] = {"role": "assistant", "content": answer}
        if reasoner:
            message["reasoning_content"] = reasoning

        if body.get("stream"):
            include_usage = isinstance(body.get("stream_options"), dict) and bool(body["stream_options"].get("include_usage"))
            return self._stream(request, completion_id, created, model, fingerprint, answer, reasoning, finish,
                                usage if include_usage else None, reasoner)
        payload = {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": usage,
            "system_fingerprint": fingerprint,
        }
        return ProviderResponse.json(200, payload, self._headers(request))

    def _stream(self, request: ProviderRequest, completion_id: str, created: int, model: str, fingerprint: str,
                answer: str, reasoning: str, finish: str, usage: dict[str, Any] | None, reasoner: bool) -> ProviderResponse:
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
            c: dict[str, Any] = {
                "id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": fingerprint,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if usage is not None:
                c["usage"] = None
            return c

        first: dict[str, Any] = {"role": "assistant", "content": None if reasoner else ""}
        if reasoner:
            first["reasoning_content"] = ""
        chunks = [chunk(first)]
        if reasoner:
            chunks += [chunk({"content": None, "reasoning_content": p}) for p in _stream_pieces(reasoning) if p]
        chunks += [chunk({"content": p, "reasoning_content": None} if reasoner else {"content": p})
                   for p in _stream_pieces(answer) if p]
        last = chunk({"content": ""} if not reasoner else {"content": "", "reasoning_content": None}, finish)
        if usage is not None:
            last["usage"] = usage
        chunks.append(last)
        data = b"".join(b"data: " + json.dumps(c, ensure_ascii=False).encode("utf-8") + b"\n\n" for c in chunks)
        data += b"data: [DONE]\n\n"
        return ProviderResponse(200, self._headers(request, "text/event-stream; charset=utf-8"), data)

    @staticmethod
    def _headers(request: ProviderRequest, content_type: str = "application/json") -> dict[str, str]:
        h = hashlib.sha256(f"{request.method} {request.path}\n".encode() + request.body).hexdigest()
        return {"Content-Type": content_type, "x-ds-trace-id": h[:32]}

    # ------------------------------------------------------- canned replies for Script

    @staticmethod
    def error_response(
        status: int, message: str, *, type: str = "invalid_request_error", code: str = "invalid_request_error",
        headers: Mapping[str, str] | None = None,
    ) -> ProviderResponse:
        """Any error in DeepSeek's envelope."""
        return ProviderResponse.json(status, DeepSeekAPIError(status, message, type=type, code=code).body(),
                                     dict(headers or {}))

    @classmethod
    def rate_limit_response(cls, *, retry_after: int | None = 1) -> ProviderResponse:
        """429 (Retry-After only when given)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return cls.error_response(429, RATE_LIMIT_MESSAGE, type="rate_limit_error", headers=headers)

    @classmethod
    def insufficient_balance_response(cls) -> ProviderResponse:
        """402: the account has run out of credit (not retryable)."""
        return cls.error_response(402, INSUFFICIENT_BALANCE_MESSAGE, type="unknown_error")

    @classmethod
    def server_error_response(cls) -> ProviderResponse:
        return cls.error_response(500, SERVER_ERROR_MESSAGE, type="server_error")

    @classmethod
    def overloaded_response(cls) -> ProviderResponse:
        return cls.error_response(503, OVERLOADED_MESSAGE, type="server_error")

    fault = staticmethod(fault)

    delayed = staticmethod(delayed)
