"""Who is calling: the bearer token, verified into a ``Principal`` once per request, and the
role check every audience router puts in front of all its routes (``serving``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from carework.access.roles import ensure_role
from carework.auth.principal import Principal
from carework.auth.tokens import TokenVerifier
from carework.errors import MissingCredentials
from carework.vocab import Role

_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer.")


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingCredentials("A bearer token is required.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(credentials.credentials)
    request.state.principal = principal
    return principal


#: The caller of a route. Which roles may call it is its router's (``serving``), checked
#: before anything else runs; FastAPI verifies the token once per request for both.
Caller = Annotated[Principal, Depends(current_principal)]


def serving(*roles: Role) -> Any:
    """The router dependency that admits these roles only (403 for any other)."""

    async def role_check(principal: Caller) -> None:
        ensure_role(principal, *roles)

    role_check.__name__ = f"serving_{'_'.join(role.value for role in roles)}"
    return Depends(role_check)
