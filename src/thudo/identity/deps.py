"""Who is calling, and what they may do: permissions declared on routes as typed dependencies.

Partner systems call the APIs with OAuth 2.0 access tokens from the e-ID provider
(client credentials): the token's scopes are the actor's permissions, the client's unit
its unit (identity/tokens.py). The admin token (`THUDO_ADMIN_TOKEN`) is a development and
test convenience granting every scope; in production it grants nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from fastapi import Request

from thudo.core.errors import DomainError, Message


@dataclass(frozen=True)
class Actor:
    kind: str  # "system" | "client" | "staff" | "citizen"
    id: str
    name: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    unit_code: str | None = None
    client_id: str | None = None
    personal_id: str | None = None
    # Staff: (permission, unit code) for every permission of every active role grant.
    grants: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    account_id: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"

    def can(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def units_for(self, scope: str) -> frozenset[str]:
        """The units in which a staff member holds a permission (empty for others)."""
        return frozenset(unit for permission, unit in self.grants if permission == scope)


def unauthorized() -> DomainError:
    return DomainError(
        code="unauthorized",
        status=401,
        title=Message("Chưa xác thực", "Unauthorized"),
        detail=Message(
            "Cần mã truy cập hợp lệ (Authorization: Bearer …).",
            "A valid access token is required (Authorization: Bearer …).",
        ),
        headers={"WWW-Authenticate": 'Bearer realm="thudo"'},
    )


def forbidden(scope: str) -> DomainError:
    return DomainError(
        code="forbidden",
        status=403,
        title=Message("Không có quyền truy cập", "Forbidden"),
        detail=Message(f"Cần quyền {scope}.", f"The {scope} permission is required."),
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


SESSION_COOKIE = "thudo_session"


async def current_actor(request: Request) -> Actor:
    token = _bearer(request)
    if token is None:
        # A browser signed in to the portal: a citizen, or staff with her roles' permissions.
        from thudo.identity.staff import actor_from_session_cookie

        actor = await actor_from_session_cookie(request)
        if actor is None:
            raise unauthorized()
        return actor
    settings = request.app.state.settings
    admin = settings.admin_token
    if (
        settings.admin_token_accepted
        and admin is not None
        and hmac.compare_digest(token.encode(), admin.get_secret_value().encode())
    ):
        return Actor(
            kind="system", id="admin-token", name="Quản trị hệ thống", scopes=frozenset({"*"})
        )
    from thudo.identity.tokens import actor_from_bearer

    actor = await actor_from_bearer(request, token)
    if actor is None:
        raise unauthorized()
    return actor


def require(scope: str) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency that authenticates the caller and checks one permission."""

    async def dependency(request: Request) -> Actor:
        actor = await current_actor(request)
        if not actor.can(scope):
            raise forbidden(scope)
        units = actor.units_for(scope)
        if units and actor.unit_code not in units:
            # Audit rows name the unit whose role allowed this action.
            actor = replace(actor, unit_code=min(units))
        return actor

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return dependency
