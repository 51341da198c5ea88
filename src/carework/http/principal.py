"""Who is calling: the bearer token, verified into a ``Principal`` once per request, and the
role check every audience router puts in front of all its routes (``serving``).

The token is verified once per request whoever asks first — the rate limiter
(``http.rate_limit``), the route's dependency, the pages' ``signed_in``, an idempotent POST's
owner — through ``verify_once``, which keeps the answer, a principal or a refusal, in the
request's scope."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import cookie_parser
from starlette.types import Scope

from carework.access.roles import ensure_role
from carework.auth.principal import Principal
from carework.auth.tokens import TokenVerifier
from carework.errors import MissingCredentials, Unauthorized
from carework.vocab import Role

_bearer = HTTPBearer(auto_error=False, description="A JWT from a trusted issuer.")
#: Where a request's verification is kept: ``(token, Principal | Unauthorized)``.
_VERIFIED = "carework.verified"


async def verify_once(scope: Scope, token: str) -> Principal:
    """The principal of this token, verified at most once per request (``TokenVerifier``
    also remembers good tokens across requests; a refused one is refused again here without
    a second check)."""
    state: dict[str, Any] = scope.setdefault("state", {})
    known = state.get(_VERIFIED)
    if known is not None and known[0] == token:
        if isinstance(known[1], Unauthorized):
            raise type(known[1])(known[1].detail)
        principal: Principal = known[1]
        return principal
    verifier: TokenVerifier = scope["app"].state.verifier
    try:
        principal = await verifier.verify(token)
    except Unauthorized as refused:
        state[_VERIFIED] = (token, refused)
        raise
    state[_VERIFIED] = (token, principal)
    return principal


def bearer_token(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer …``, as ``HTTPBearer`` reads it."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" and token else None
    return None


def cookie_token(scope: Scope, cookie: str) -> str | None:
    """The token kept in the pages' session cookie, read as ``Request.cookies`` reads it."""
    for name, value in scope["headers"]:
        if name == b"cookie":
            return cookie_parser(value.decode("latin-1")).get(cookie) or None
    return None


async def current_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise MissingCredentials("A bearer token is required.")
    principal = await verify_once(request.scope, credentials.credentials)
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
