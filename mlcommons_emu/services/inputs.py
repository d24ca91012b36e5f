"""Reading request bodies as the plugin's XContent parsers read them."""
from __future__ import annotations

from typing import Any, Mapping

from mlcommons_emu.connectors import templating
from mlcommons_emu.domain.connector import Connector, ConnectorAction
from mlcommons_emu.domain.release import Release
from mlcommons_emu.domain.states import FUNCTION_NAME_SINCE, FunctionName
from mlcommons_emu.errors import IllegalArgumentError, IllegalStateError, ParseError, ParsingError

_TOKEN = {dict: "START_OBJECT", list: "START_ARRAY"}


def text(value: Any, field: str) -> str | None:
    """``parser.text()``: scalars become their text; objects and arrays are refused."""
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        # the plugin's parser throws here (Can't get text on a START_OBJECT); answered as 400
        raise ParsingError(f"[{field}] Can't get text on a {_TOKEN[type(value)]}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def boolean(value: Any, field: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise IllegalArgumentError(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def string_list(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ParsingError(f"[{field}] expected an array, found {token_name(value)}")
    return [text(v, field) or "" for v in value]


def string_map(value: Any, field: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ParsingError(f"[{field}] expected an object, found {token_name(value)}")
    return {str(k): (text(v, field) if v is not None else None) for k, v in value.items()}  # type: ignore[misc]


def obj(value: Any, field: str) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ParsingError(f"[{field}] expected an object, found {token_name(value)}")
    return value


def token_name(value: Any) -> str:
    """The Jackson token a JSON value starts with, as parser errors name it."""
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    if isinstance(value, str):
        return "VALUE_STRING"
    if isinstance(value, bool):
        return "VALUE_BOOLEAN"
    if value is None:
        return "VALUE_NULL"
    return "VALUE_NUMBER"


def access_mode(value: Any, *, lower: bool) -> str | None:
    """AccessMode.from(): an unrecognised value silently becomes 'not specified'."""
    raw = text(value, "access_mode")
    if raw is None:
        return None
    candidate = raw.lower() if lower else raw
    return candidate if candidate in ("public", "private", "restricted") else None


def connector_parameters(value: Any, release: Release) -> dict[str, str]:
    params = obj(value, "parameters") or {}
    out: dict[str, str] = {}
    for key, item in params.items():
        if release < (2, 10) and isinstance(item, (dict, list)):
            # 2.9 read parameters with mapStrings(): the parser's IllegalStateException
            # escapes as a 500 (ml-commons-rest.md 4.1), reproduced on purpose
            raise IllegalStateError(f"Can't get text on a {_TOKEN[type(item)]}")
        converted = templating.to_parameter_string(item)
        out[str(key)] = converted if converted is not None else "null"
    return out


def _action_type(raw: str, release: Release) -> str:
    upper = raw.upper()
    known = ["PREDICT"]
    if release >= (2, 15):
        known.append("EXECUTE")
    if release >= (2, 16):
        known.append("BATCH_PREDICT")
    if release >= (2, 17):
        known += ["CANCEL_BATCH_PREDICT", "BATCH_PREDICT_STATUS"]
    if upper not in known:
        raise IllegalArgumentError(
            f"No enum constant org.opensearch.ml.common.connector.ConnectorAction.ActionType.{upper}")
    return upper


def connector_actions(value: Any, release: Release) -> tuple[ConnectorAction, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ParsingError(f"[actions] expected an array, found {token_name(value)}")
    null_suffix = "can't be null" if release >= (2, 19) else "can't null"
    actions = []
    for item in value:
        if not isinstance(item, dict):
            raise ParsingError(f"[actions] expected an object, found {token_name(item)}")
        action_type = text(item.get("action_type"), "action_type")
        method = text(item.get("method"), "method")
        url = text(item.get("url"), "url")
        if action_type is None:
            raise IllegalArgumentError(f"action type {null_suffix}")
        action_type = _action_type(action_type, release)
        if url is None:
            raise IllegalArgumentError(f"url {null_suffix}")
        if method is None:
            raise IllegalArgumentError(f"method {null_suffix}")
        actions.append(ConnectorAction(
            action_type=action_type, method=method, url=url,
            headers=string_map(item.get("headers"), "headers"),
            request_body=text(item.get("request_body"), "request_body"),
            pre_process_function=text(item.get("pre_process_function"), "pre_process_function"),
            post_process_function=text(item.get("post_process_function"), "post_process_function"),
            name=text(item.get("name"), "name") if release >= (3, 0) else None,
            supports_structured_output=bool(release >= (3, 7) and boolean(
                item.get("supports_structured_output"), "supports_structured_output")),
        ))
    return tuple(actions)


def client_config(value: Any, release: Release) -> dict[str, Any] | None:
    """ConnectorClientConfig: given members parsed, missing ones take the defaults."""
    if release < (2, 13) or value is None:
        return None
    config = obj(value, "client_config") or {}
    timeout_default = 30 if release >= (3, 6) else 30000
    out: dict[str, Any] = {
        "max_connection": 30, "connection_timeout": timeout_default, "read_timeout": timeout_default,
        "retry_backoff_millis": 200, "retry_timeout_seconds": 30, "max_retry_times": 0,
        "retry_backoff_policy": "constant",
    }
    if release >= (3, 8):
        out["skip_ssl_verification"] = False
    for key in list(out):
        item = config.get(key)
        if item is None:
            continue
        if key == "retry_backoff_policy":
            policy = str(item).lower()
            if policy not in ("constant", "exponential_equal_jitter", "exponential_full_jitter"):
                raise IllegalArgumentError(f"Unsupported retry backoff policy: {item}")
            out[key] = policy
        elif key == "skip_ssl_verification":
            out[key] = boolean(item, key)
        else:
            try:
                out[key] = int(item)
            except (TypeError, ValueError):
                raise IllegalArgumentError(f"Failed to parse value [{item}] for [{key}]") from None
    return out


PROTOCOLS = ("aws_sigv4", "http")


def parse_connector(body: Mapping[str, Any], release: Release) -> tuple[Connector, dict[str, Any]]:
    """MLCreateConnectorInput: the connector and the access fields, validated in order."""
    name = text(body.get("name"), "name")
    version = text(body.get("version"), "version")
    protocol = text(body.get("protocol"), "protocol")
    description = text(body.get("description"), "description")
    parameters = connector_parameters(body.get("parameters"), release)
    credential = string_map(body.get("credential"), "credential")
    actions = connector_actions(body.get("actions"), release)
    access = {
        "access_mode": access_mode(body.get("access_mode"), lower=False),
        "backend_roles": string_list(body.get("backend_roles"), "backend_roles"),
        "add_all_backend_roles": boolean(body.get("add_all_backend_roles"), "add_all_backend_roles"),
    }
    if name is None:
        raise IllegalArgumentError("Connector name is null")
    if version is None:
        raise IllegalArgumentError("Connector version is null")
    if protocol is None:
        raise IllegalArgumentError("Connector protocol is null")
    if release >= (2, 19) and not credential:
        raise IllegalArgumentError("Connector credential is null or empty list")
    if protocol not in PROTOCOLS:
        if release >= (2, 10):
            raise IllegalArgumentError(
                "Unsupported connector protocol. Please use one of [aws_sigv4, http, mcp_sse, mcp_streamable_http]"
                if release >= (3, 3) else
                "Unsupported connector protocol. Please use one of [aws_sigv4, http, mcp_sse]"
                if release >= (3, 0) else
                "Unsupported connector protocol. Please use one of [aws_sigv4, http]")
        raise IllegalArgumentError(f"Can't find class for type {protocol}")
    credential = credential or {}
    if protocol == "aws_sigv4":
        if "access_key" not in credential or "secret_key" not in credential:
            raise IllegalArgumentError("Missing credential")
        if "service_name" not in credential and "service_name" not in parameters:
            raise IllegalArgumentError("Missing service name")
        if "region" not in credential and "region" not in parameters:
            raise IllegalArgumentError("Missing region")
    connector = Connector(
        name=name, version=version, protocol=protocol, description=description,
        parameters=parameters, credential={k: v for k, v in credential.items() if v is not None},
        actions=actions or (), client_config=client_config(body.get("client_config"), release),
    )
    if actions is None:
        access["no_actions"] = True
    return connector, access


def access_fields_given(access: Mapping[str, Any]) -> bool:
    return (access.get("access_mode") is not None or access.get("add_all_backend_roles") is not None
            or bool(access.get("backend_roles")))


_TIME_UNITS = ("NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS")


def _java_text(value: Any, field: str) -> str:
    """``parser.text()``: Jackson gives ``"null"`` for a JSON null."""
    if value is None:
        return "null"
    return text(value, field) or ""


def rate_limiter(value: Mapping[str, Any], release: Any) -> dict[str, str]:
    """``MLRateLimiter.parse`` (a model's ``rate_limiter``, a controller's per-user ones):
    ``limit`` and ``unit`` as text; the limit must be a non-negative number from 2.13 (2.12
    stores any text); the unit a ``TimeUnit`` name."""
    out: dict[str, str] = {}
    for key, raw in value.items():
        if key == "limit":
            limit = _java_text(raw, "limit")
            if release >= (2, 13):
                try:
                    if float(limit) < 0:
                        raise ValueError
                except ValueError:
                    raise ParseError("Limit field must be a positive number.") from None
            out["limit"] = limit
        elif key == "unit":
            unit = _java_text(raw, "unit")
            if unit not in _TIME_UNITS:
                raise IllegalArgumentError(f"No enum constant java.util.concurrent.TimeUnit.{unit}")
            out["unit"] = unit
    return {k: out[k] for k in ("limit", "unit") if k in out}


def function_name(value: str, release: Any) -> FunctionName:
    """``FunctionName.from``: upper-cased; an unknown name, or one the release does not have
    yet, is ``Wrong function name``."""
    try:
        name = FunctionName(value.upper())
    except ValueError:
        raise IllegalArgumentError("Wrong function name") from None
    since = FUNCTION_NAME_SINCE.get(name)
    if since and release < since:
        raise IllegalArgumentError("Wrong function name")
    return name
