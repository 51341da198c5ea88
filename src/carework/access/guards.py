"""FastAPI dependencies that turn the bearer token into a role-checked ``Principal``."""

from __future__ import annotations

from typing import Annotated

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


AnyPrincipal = Annotated[Principal, Depends(current_principal)]


def _role(role: Role) -> object:
    async def dependency(principal: AnyPrincipal) -> Principal:
        return ensure_role(principal, role)

    dependency.__name__ = f"require_{role.value}"
    return Depends(dependency)


ClinicianPrincipal = Annotated[Principal, _role(Role.clinician)]
AdvisorPrincipal = Annotated[Principal, _role(Role.nav_advisor)]
PatientPrincipal = Annotated[Principal, _role(Role.patient)]
AuditorPrincipal = Annotated[Principal, _role(Role.auditor)]
