"""Authentication (basic users, API keys) and cluster-privilege authorization ("Security privileges")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from esml_simulator.errors import EsError
from esml_simulator.security.privileges import (
    Role,
    check_privileges,
    granting_privileges,
    grants,
    resolve_role,
)
from esml_simulator.versions import EsVersion

WWW_AUTHENTICATE = ['Basic realm="security", charset="UTF-8"', "ApiKey"]


@dataclass
class User:
    username: str
    password: str
    roles: tuple[Role, ...]
    #: added at run time (admin API); saved in the state file
    dynamic: bool = False

    @property
    def role_name(self) -> str:
        return ",".join(r.name for r in self.roles)

    @property
    def privileges(self) -> frozenset[str]:
        return frozenset().union(*(r.cluster for r in self.roles))


@dataclass
class ApiKey:
    id: str
    key: str
    name: str
    owner: str
    owner_privileges: frozenset[str]
    limited_to: frozenset[str] | None
    created_ms: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def allows(self, action: str, granting: list[str]) -> bool:
        owner_ok = grants(self.owner_privileges, action, granting)
        return owner_ok and (self.limited_to is None or grants(self.limited_to, action, granting))


@dataclass
class Principal:
    user: User | None
    api_key: ApiKey | None

    @property
    def username(self) -> str:
        if self.api_key is not None:
            return self.api_key.owner
        assert self.user is not None
        return self.user.username

    def allows(self, action: str, granting: list[str]) -> bool:
        if self.api_key is not None:
            return self.api_key.allows(action, granting)
        assert self.user is not None
        return grants(self.user.privileges, action, granting)

    def describe(self) -> str:
        if self.api_key is not None:
            return f"API key id [{self.api_key.id}] of user [{self.api_key.owner}]"
        assert self.user is not None
        return f"user [{self.user.username}] with effective roles [{self.user.role_name}]"


def unauthenticated(reason: str) -> EsError:
    return EsError(401, "security_exception", reason, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def _privileges_from_descriptors(descriptors: object) -> frozenset[str] | None:
    """The union of the descriptors' ``cluster`` lists (400 for an unknown privilege), or None without any."""
    if not isinstance(descriptors, dict) or not descriptors:
        return None
    privileges: set[str] = set()
    for descriptor in descriptors.values():
        if isinstance(descriptor, dict):
            try:
                privileges |= check_privileges(list(descriptor.get("cluster") or []))
            except ValueError as exc:
                raise EsError(400, "illegal_argument_exception", str(exc)) from None
    return frozenset(privileges)


class Security:
    """Users and API keys of one simulated cluster."""

    def __init__(self, enabled: bool, elastic_password: str = "changeme") -> None:  # noqa: S107
        self.enabled = enabled
        self.users: dict[str, User] = {"elastic": User("elastic", elastic_password, (resolve_role("superuser", ""),))}
        self.api_keys: dict[str, ApiKey] = {}

    def add_user(self, username: str, password: str, role: str, *, dynamic: bool = False) -> User:
        """``role``: a built-in role name or a comma-separated cluster privilege list (ValueError if unknown)."""
        user = User(username, password, (resolve_role(role, username),), dynamic)
        self.users[username] = user
        return user

    def add_api_key(
        self,
        key_id: str,
        key: str,
        role: str,
        *,
        name: str | None = None,
        owner: str = "elastic",
        created_ms: int = 0,
    ) -> ApiKey:
        api_key = ApiKey(key_id, key, name or key_id, owner, resolve_role(role, key_id).cluster, None, created_ms)
        self.api_keys[key_id] = api_key
        return api_key

    def create_api_key(self, creator: Principal, body: dict[str, Any], now_ms: int) -> ApiKey:
        owner_privileges = creator.api_key.owner_privileges if creator.api_key else creator.user.privileges  # type: ignore[union-attr]
        key = ApiKey(
            id=secrets.token_urlsafe(15)[:20],
            key=secrets.token_urlsafe(16)[:22],
            name=str(body.get("name", "")),
            owner=creator.username,
            owner_privileges=owner_privileges,
            limited_to=_privileges_from_descriptors(body.get("role_descriptors")),
            created_ms=now_ms,
            metadata=dict(body.get("metadata") or {}),
        )
        self.api_keys[key.id] = key
        return key

    def authenticate(self, authorization: str | None, uri: str) -> Principal:
        if not authorization:
            raise unauthenticated(f"missing authentication credentials for REST request [{uri}]")
        scheme, _, credentials = authorization.partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise unauthenticated(f"missing authentication credentials for REST request [{uri}]") from None
            username, _, password = decoded.partition(":")
            user = self.users.get(username)
            if user is None or not hmac.compare_digest(
                hashlib.sha256(user.password.encode()).digest(), hashlib.sha256(password.encode()).digest()
            ):
                raise unauthenticated(f"unable to authenticate user [{username}] for REST request [{uri}]")
            return Principal(user, None)
        if scheme == "apikey":
            try:
                decoded = base64.b64decode(credentials.strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            key_id, _, secret = decoded.partition(":")
            api_key = self.api_keys.get(key_id)
            if api_key is None or not hmac.compare_digest(api_key.key.encode(), secret.encode()):
                raise unauthenticated(
                    "unable to authenticate with provided credentials and anonymous access is not allowed "
                    "for this request"
                )
            return Principal(self.users.get(api_key.owner), api_key)
        raise unauthenticated(f"missing authentication credentials for REST request [{uri}]")

    def authorize(self, principal: Principal | None, action: str, version: EsVersion) -> None:
        if principal is None:
            return
        granting = granting_privileges(action, version)
        if principal.allows(action, granting):
            return
        reason = (
            f"action [{action}] is unauthorized for {principal.describe()}, "
            f"this action is granted by the cluster privileges [{','.join(granting)}]"
        )
        raise EsError(403, "security_exception", reason)

    def authenticate_response(self, principal: Principal) -> dict[str, Any]:
        user = self.users.get(principal.username)
        roles = [r.name for r in user.roles] if user else []
        realm = (
            {"name": "reserved", "type": "reserved"}
            if principal.username == "elastic"
            else {
                "name": "default_native",
                "type": "native",
            }
        )
        out: dict[str, Any] = {
            "username": principal.username,
            "roles": [] if principal.api_key else roles,
            "full_name": None,
            "email": None,
            "metadata": {"_reserved": True} if principal.username == "elastic" else {},
            "enabled": True,
            "authentication_realm": realm,
            "lookup_realm": realm,
            "authentication_type": "realm",
        }
        if principal.api_key is not None:
            out["authentication_realm"] = {"name": "_es_api_key", "type": "_es_api_key"}
            out["lookup_realm"] = {"name": "_es_api_key", "type": "_es_api_key"}
            out["authentication_type"] = "api_key"
            out["api_key"] = {"id": principal.api_key.id, "name": principal.api_key.name}
        return out

    # -- persistence -----------------------------------------------------------------------
    def dump_keys(self) -> list[dict[str, Any]]:
        return [
            {
                "id": k.id,
                "key": k.key,
                "name": k.name,
                "owner": k.owner,
                "owner_privileges": sorted(k.owner_privileges),
                "limited_to": None if k.limited_to is None else sorted(k.limited_to),
                "created_ms": k.created_ms,
                "metadata": k.metadata,
            }
            for k in self.api_keys.values()
        ]

    def dump_users(self) -> list[dict[str, Any]]:
        return [
            {"username": u.username, "password": u.password, "roles": [[r.name, sorted(r.cluster)] for r in u.roles]}
            for u in self.users.values()
            if u.dynamic
        ]

    def load_users(self, data: list[dict[str, Any]]) -> None:
        for item in data:
            roles = tuple(Role(str(name), frozenset(cluster)) for name, cluster in item["roles"])
            self.users[item["username"]] = User(item["username"], item["password"], roles, dynamic=True)

    def load_keys(self, data: list[dict[str, Any]]) -> None:
        for item in data:
            limited = item.get("limited_to")
            self.api_keys[item["id"]] = ApiKey(
                id=item["id"],
                key=item["key"],
                name=item["name"],
                owner=item["owner"],
                owner_privileges=frozenset(item["owner_privileges"]),
                limited_to=None if limited is None else frozenset(limited),
                created_ms=int(item["created_ms"]),
                metadata=dict(item.get("metadata") or {}),
            )
