"""Which side of the plan each role is on. Everything else in ``access`` builds on this."""

from __future__ import annotations

from carework.auth.principal import Principal
from carework.errors import Forbidden
from carework.vocab import Role, Side

SIDE_OF_ROLE: dict[Role, Side] = {
    Role.clinician: Side.dps,
    Role.nav_advisor: Side.nav,
    Role.patient: Side.patient,
}


def ensure_role(principal: Principal, *roles: Role) -> Principal:
    """Each audience router serves its roles only; any other gets 403."""
    if principal.role not in roles:
        served = " or ".join(role.value for role in roles)
        raise Forbidden(f"This endpoint is for the {served} role.")
    return principal


def side_of(principal: Principal) -> Side:
    side = SIDE_OF_ROLE.get(principal.role)
    if side is None:
        raise Forbidden("This role takes no part in plans.")
    return side
