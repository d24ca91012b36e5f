"""Access modes, owners and backend-role rules of connectors and model groups.

Pure functions over plain values: who the caller is (:class:`User`), what a resource
records (``owner`` / ``access`` / ``backend_roles``), and whether an operation may go on.
The messages are ML Commons' own (ConnectorAccessControlHelper, ModelAccessControlHelper,
MLModelGroupManager, TransportUpdateModelGroupAction); the services decide the exception
class each release wraps them in.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import attrs

from mlcommons_emu.errors import IllegalArgumentError

PUBLIC, PRIVATE, RESTRICTED = "public", "private", "restricted"
MODES = (PUBLIC, PRIVATE, RESTRICTED)
ADMIN_ROLE = "all_access"


@attrs.frozen
class User:
    """The security plugin's user object as ML Commons reads it from the thread context."""

    name: str
    backend_roles: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    custom_attribute_names: tuple[str, ...] = ()
    requested_tenant: str | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles

    def owner_document(self, release: Any) -> dict[str, Any]:
        """``owner`` as the plugin indexes it (commons ``User.toXContent``).

        ``user_requested_tenant_access`` joined the object in 3.1.
        """
        doc: dict[str, Any] = {
            "name": self.name,
            "backend_roles": list(self.backend_roles),
            "roles": list(self.roles),
            "custom_attribute_names": list(self.custom_attribute_names),
            "user_requested_tenant": self.requested_tenant,
        }
        if release >= (3, 1):
            doc["user_requested_tenant_access"] = "WRITE"
        return doc

    def describe(self) -> str:
        """How the security plugin prints a user in its denials."""
        return (f"User [name={self.name}, backend_roles=[{', '.join(self.backend_roles)}], "
                f"requestedTenant={self.requested_tenant or 'null'}]")


def _owner_name(owner: Any) -> str | None:
    return owner.get("name") if isinstance(owner, Mapping) else None


def _overlap(user: User, roles: Iterable[str] | None) -> bool:
    return bool(set(user.backend_roles) & set(roles or ()))


# connectors -------------------------------------------------------------------------------
@attrs.frozen
class Grant:
    """What a create/update stores: resolved mode, role list, owner."""

    access: str
    backend_roles: tuple[str, ...]


def resolve_connector_access(user: User, mode: str | None, roles: list[str] | None,
                             add_all: bool | None) -> Grant:
    """MLCreateConnectorInput checks when connector access control is in effect."""
    if user.is_admin and add_all:
        raise IllegalArgumentError("Admin can't add all backend roles")
    if mode is None:
        mode = RESTRICTED if roles or add_all else PRIVATE
    if mode in (PUBLIC, PRIVATE):
        if roles or add_all:
            raise IllegalArgumentError(
                "You can specify backend roles only for a connector with the restricted access mode.")
        return Grant(mode, ())
    if add_all:
        if roles:
            raise IllegalArgumentError(
                "You can't specify backend roles and add all backend roles to true at same time.")
        if not user.backend_roles:
            raise IllegalArgumentError("You must have at least one backend role to create a connector.")
        return Grant(RESTRICTED, user.backend_roles)
    if not roles:
        raise IllegalArgumentError(
            "You must specify at least one backend role or make the connector public/private for "
            "registering it.")
    if not user.is_admin and not set(roles) <= set(user.backend_roles):
        raise IllegalArgumentError("You don't have the backend roles specified.")
    return Grant(RESTRICTED, tuple(roles))


def connector_allowed(user: User, doc: Mapping[str, Any]) -> bool:
    """ConnectorAccessControlHelper.hasPermission (access control in effect)."""
    if user.is_admin or not doc.get("owner"):
        return True
    access = doc.get("access")
    if access == PUBLIC:
        return True
    if access == PRIVATE:
        return _owner_name(doc.get("owner")) == user.name
    if access == RESTRICTED:
        return _overlap(user, doc.get("backend_roles"))
    return False


# model groups -----------------------------------------------------------------------------
def resolve_group_access(user: User, mode: str | None, roles: list[str] | None,
                         add_all: bool | None) -> Grant:
    """MLModelGroupManager.validateRequestForAccessControl at group creation."""
    both = "You cannot specify backend roles and add all backend roles at the same time."
    if mode is None:
        if roles and add_all:
            raise IllegalArgumentError(both)
        mode = RESTRICTED if roles or add_all else PRIVATE
    if mode in (PUBLIC, PRIVATE):
        if roles or add_all:
            raise IllegalArgumentError(
                "You can specify backend roles only for a model group with the restricted access mode.")
        return Grant(mode, ())
    if user.is_admin and add_all:
        raise IllegalArgumentError("Admin users cannot add all backend roles to a model group.")
    if not user.is_admin and not user.backend_roles:
        raise IllegalArgumentError("You must have at least one backend role to register a restricted model group.")
    if not roles and not add_all:
        raise IllegalArgumentError(
            "You must specify one or more backend roles or add all backend roles to register a restricted "
            "model group.")
    if roles and add_all:
        raise IllegalArgumentError(both)
    if add_all:
        return Grant(RESTRICTED, user.backend_roles)
    if not user.is_admin and not set(roles or ()) <= set(user.backend_roles):
        raise IllegalArgumentError("You don't have the backend roles specified.")
    return Grant(RESTRICTED, tuple(roles or ()))


class EmptyRestrictedGroup(Exception):
    """A restricted group without backend roles: the plugin's helper fails internally."""


def group_allowed(user: User, doc: Mapping[str, Any]) -> bool:
    """ModelAccessControlHelper.checkModelGroupPermission (access control in effect)."""
    if user.is_admin or not doc.get("owner"):
        return True
    access = doc.get("access")
    if access == RESTRICTED:
        if not doc.get("backend_roles"):
            raise EmptyRestrictedGroup("Backend roles shouldn't be null")
        return _overlap(user, doc.get("backend_roles"))
    if access == PRIVATE:
        return _owner_name(doc.get("owner")) == user.name
    return access == PUBLIC or access is None


def group_visible(user: User, doc: Mapping[str, Any]) -> bool:
    """The search filter ModelAccessControlHelper.addUserBackendRolesFilter builds."""
    if user.is_admin:
        return True
    access = doc.get("access")
    return (access == PUBLIC or _overlap(user, doc.get("backend_roles"))
            or (access == PRIVATE and _owner_name(doc.get("owner")) == user.name)
            or not doc.get("owner") and access in (None, PUBLIC))


def connector_visible(user: User, doc: Mapping[str, Any]) -> bool:
    """The search filter ConnectorAccessControlHelper.addUserBackendRolesFilter builds."""
    if user.is_admin:
        return True
    access = doc.get("access")
    return (access == PUBLIC or _overlap(user, doc.get("backend_roles"))
            or (access == PRIVATE and _owner_name(doc.get("owner")) == user.name))


def validate_group_update(user: User, doc: Mapping[str, Any], mode: str | None, roles: list[str] | None,
                          add_all: bool | None) -> None:
    """TransportUpdateModelGroupAction.validateRequestForAccessControl, in its order."""
    owner = _owner_name(doc.get("owner"))
    is_owner = owner is not None and owner == user.name
    current = doc.get("access")
    if (mode is not None or roles is not None or add_all is not None) and not (user.is_admin or is_owner):
        raise IllegalArgumentError("Only owner or admin can update access control data.")
    has_role = current == PUBLIC or (current == RESTRICTED and _overlap(user, doc.get("backend_roles")))
    if not user.is_admin and not is_owner and not has_role:
        raise IllegalArgumentError("You don't have permission to update this model group.")
    if is_owner and not user.is_admin and current == RESTRICTED and not _overlap(user, doc.get("backend_roles")):
        raise IllegalArgumentError(
            "You don't have the specified backend role to update this model group. For more information, "
            "contact your administrator.")
    if mode in (PUBLIC, PRIVATE):
        if roles or add_all:
            raise IllegalArgumentError(
                "You can specify backend roles only for a model group with the restricted access mode.")
        return
    if user.is_admin and add_all:
        raise IllegalArgumentError("Admin users cannot add all backend roles to a model group.")
    if add_all and not user.backend_roles:
        raise IllegalArgumentError("You don't have any backend roles.")
    if not roles and add_all is False:
        raise IllegalArgumentError("You have to specify backend roles when add all backend roles is set to false.")
    if roles and add_all:
        raise IllegalArgumentError("You cannot specify backend roles and add all backend roles at the same time.")
    if mode == RESTRICTED and not roles and not add_all:
        raise IllegalArgumentError(
            "You must specify one or more backend roles or add all backend roles to register a restricted "
            "model group.")
    if roles and not user.is_admin and not set(roles) <= set(user.backend_roles):
        raise IllegalArgumentError("You don't have the backend roles specified.")


def apply_group_update(source: dict[str, Any], user: User | None, mode: str | None, roles: list[str] | None,
                       add_all: bool | None) -> None:
    """How the update rewrites the stored access fields (in place, as the plugin's map)."""
    if mode is not None:
        source["access"] = mode
        if mode != RESTRICTED:
            source["backend_roles"] = []
    elif roles is not None or add_all:
        source["access"] = RESTRICTED
    if roles is not None:
        source["backend_roles"] = list(roles)
    if add_all and user is not None:
        source["backend_roles"] = list(user.backend_roles)
