"""An emulated OpenSearch security plugin: internal users, roles, Basic auth, permissions.

Off by default, as on a cluster without the security plugin: then no request carries a
user and ML Commons' access control is never in effect, whatever its settings say.  On,
every REST call must authenticate with HTTP Basic against the internal users; the user's
OpenSearch roles must grant the action's cluster permission (``no permissions for [...]``
otherwise), and ML Commons sees the user's name, backend roles and roles.

The users file is JSON (or YAML when PyYAML is installed and the name ends in .yml/.yaml)::

    {"users": {"alice": {"password": "...", "backend_roles": ["IT"], "roles": ["ml_full_access"]}},
     "roles": {"my_role": {"cluster_permissions": ["cluster:admin/opensearch/ml/predict"]}}}

The reserved roles ``all_access``, ``ml_full_access`` and ``ml_read_access`` are built in
with the permissions the security plugin ships for them.
"""
from __future__ import annotations

import base64
import binascii
import fnmatch
import hmac
import json
import re
from pathlib import Path
from typing import Any, Mapping

import attrs

from mlcommons_emu.domain.access import User
from mlcommons_emu.errors import EmulatorError

ML = "cluster:admin/opensearch/ml"

#: the security plugin's static roles (roles.yml) that matter for ML Commons
RESERVED_ROLES: dict[str, tuple[str, ...]] = {
    "all_access": ("*",),
    "ml_full_access": ("cluster:monitor/*", f"{ML}/*"),
    "ml_read_access": tuple(f"{ML}/{action}" for action in (
        "config/get", "connectors/get", "connectors/search", "controllers/get", "model_groups/search",
        "model_groups/get", "models/get", "models/search", "tasks/get", "tasks/search", "tools/get",
        "tools/list", "agents/get", "agents/search")),
    "cluster_monitor_only": ("cluster:monitor/*",),
}

#: (methods, path regex, action): the transport action each REST call executes
_ACTIONS: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = tuple(
    (frozenset(methods.split(",")), re.compile(f"^{pattern}/?$"), action)
    for methods, pattern, action in (
        ("GET,HEAD", r"/", "cluster:monitor/main"),
        ("GET", r"/_cluster/settings", "cluster:monitor/state"),
        ("PUT", r"/_cluster/settings", "cluster:admin/settings/update"),
        ("POST", r"/_plugins/_ml/connectors/_create", f"{ML}/create_connector"),
        ("GET,POST", r"/_plugins/_ml/connectors/_search", f"{ML}/connectors/search"),
        ("GET", r"/_plugins/_ml/connectors/[^/]+", f"{ML}/connectors/get"),
        ("PUT", r"/_plugins/_ml/connectors/[^/]+", f"{ML}/connectors/update"),
        ("DELETE", r"/_plugins/_ml/connectors/[^/]+", f"{ML}/connectors/delete"),
        ("POST", r"/_plugins/_ml/model_groups/_register", f"{ML}/register_model_group"),
        ("GET,POST", r"/_plugins/_ml/model_groups/_search", f"{ML}/model_groups/search"),
        ("GET", r"/_plugins/_ml/model_groups/[^/]+", f"{ML}/model_groups/get"),
        ("PUT", r"/_plugins/_ml/model_groups/[^/]+", f"{ML}/update_model_group"),
        ("DELETE", r"/_plugins/_ml/model_groups/[^/]+", f"{ML}/model_groups/delete"),
        ("POST", r"/_plugins/_ml/models/(_register|_upload|[^/]+/[^/]+/_register)", f"{ML}/register_model"),
        ("GET,POST", r"/_plugins/_ml/models/_search", f"{ML}/models/search"),
        ("POST", r"/_plugins/_ml/models/(_undeploy|_unload|[^/]+/_undeploy|[^/]+/_unload)", f"{ML}/undeploy_models"),
        ("POST", r"/_plugins/_ml/models/[^/]+/(_deploy|_load)", f"{ML}/deploy_model"),
        ("POST", r"/_plugins/_ml/models/[^/]+/(_predict|_batch_predict)", f"{ML}/predict"),
        ("GET", r"/_plugins/_ml/models/[^/]+", f"{ML}/models/get"),
        ("PUT", r"/_plugins/_ml/models/[^/]+", f"{ML}/models/update"),
        ("DELETE", r"/_plugins/_ml/models/[^/]+", f"{ML}/models/delete"),
        ("POST", r"/_plugins/_ml/_predict/[^/]+/[^/]+", f"{ML}/predict"),
        ("GET,POST", r"/_plugins/_ml/tasks/_search", f"{ML}/tasks/search"),
        ("POST", r"/_plugins/_ml/tasks/[^/]+/_cancel", f"{ML}/tasks/cancel"),
        ("GET", r"/_plugins/_ml/tasks/[^/]+", f"{ML}/tasks/get"),
        ("DELETE", r"/_plugins/_ml/tasks/[^/]+", f"{ML}/tasks/delete"),
        ("GET", r"/_plugins/_ml/profile(/models|/tasks)?(/[^/]+)?", f"{ML}/profile/nodes"),
        ("GET", r"/_plugins/_ml/([^/]+/)?stats(/[^/]+)?", f"{ML}/stats/nodes"),
        ("POST", r"/_plugins/_ml/controllers/[^/]+", f"{ML}/controllers/create"),
        ("GET", r"/_plugins/_ml/controllers/[^/]+", f"{ML}/controllers/get"),
        ("PUT", r"/_plugins/_ml/controllers/[^/]+", f"{ML}/controllers/update"),
        ("DELETE", r"/_plugins/_ml/controllers/[^/]+", f"{ML}/controllers/delete"),
        # the emulator's own /_emu namespace: only a role granting every action reaches it
        ("GET,POST,PUT,DELETE", r"/_emu(/.*)?", "cluster:admin/mlcommons_emu/admin"),
    )
)


class Unauthorized(EmulatorError):
    """No or wrong credentials: the security plugin's Basic challenge."""

    type = "unauthorized"
    status = 401


class SecurityError(EmulatorError):
    """The security plugin's OpenSearchSecurityException."""

    type = "security_exception"
    status = 403


@attrs.frozen
class Account:
    password: str
    user: User


@attrs.frozen
class SecurityConfig:
    """Internal users and role definitions."""

    accounts: Mapping[str, Account]
    roles: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)

    @classmethod
    def demo(cls) -> "SecurityConfig":
        """The demo configuration's single ``admin`` / ``admin`` user."""
        return cls.from_mapping({"users": {"admin": {"password": "admin", "backend_roles": ["admin"],
                                                      "roles": ["all_access"]}}})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "SecurityConfig":
        if not isinstance(data, Mapping) or not isinstance(data.get("users"), Mapping):
            raise ValueError('a security config needs a "users" object')
        accounts = {}
        for name, entry in data["users"].items():
            if not isinstance(entry, Mapping) or not isinstance(entry.get("password"), str):
                raise ValueError(f'security config: user "{name}" needs a "password" string')
            accounts[str(name)] = Account(entry["password"], User(
                name=str(name),
                backend_roles=tuple(str(r) for r in entry.get("backend_roles") or ()),
                roles=tuple(str(r) for r in entry.get("roles") or ()),
                custom_attribute_names=tuple(str(a) for a in entry.get("attributes") or ()),
            ))
        roles = {str(name): tuple(str(p) for p in (spec or {}).get("cluster_permissions") or ())
                 for name, spec in (data.get("roles") or {}).items()}
        return cls(accounts, roles)

    @classmethod
    def load(cls, path: str | Path) -> "SecurityConfig":
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yml", ".yaml")):
            import yaml  # optional: only YAML files need it

            return cls.from_mapping(yaml.safe_load(text))
        return cls.from_mapping(json.loads(text))

    def password(self, name: str) -> str:
        return self.accounts[name].password

    # authentication -------------------------------------------------------------------
    def authenticate(self, authorization: str | None) -> User:
        """HTTPBasicAuthenticator against the internal users; 401 otherwise."""
        if not authorization or not authorization.lower().startswith("basic "):
            raise Unauthorized("Unauthorized")
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):  # ValueError: a non-ASCII header
            raise Unauthorized("Unauthorized") from None
        name, sep, password = decoded.partition(":")
        account = self.accounts.get(name)
        if not sep or account is None or not hmac.compare_digest(account.password.encode(), password.encode()):
            raise Unauthorized("Unauthorized")
        return account.user

    # authorisation --------------------------------------------------------------------
    def permissions(self, user: User) -> tuple[str, ...]:
        granted: list[str] = []
        for role in user.roles:
            granted.extend(self.roles.get(role, RESERVED_ROLES.get(role, ())))
        return tuple(granted)

    def authorize(self, user: User, method: str, path: str) -> None:
        action = action_for(method, path)
        if action is None:
            return  # no handler: the router answers as it would for anyone
        if any(fnmatch.fnmatchcase(action, pattern) for pattern in self.permissions(user)):
            return
        raise SecurityError(f"no permissions for [{action}] and {user.describe()}")


def action_for(method: str, path: str) -> str | None:
    path = path.rstrip("/") or "/"
    for methods, pattern, action in _ACTIONS:
        if method in methods and pattern.match(path):
            return action
    return None


def basic_header(name: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{password}".encode("utf-8")).decode("ascii")
