"""Routes for meetings (issue 7). DPS and NAV mount ``meeting_routes`` with their own principal;
the patient's and the auditor's routes (if any) are module-level routers.

No ``from __future__ import annotations`` here: FastAPI must see the closure's real types.
"""

from typing import Any

from fastapi import APIRouter

from carework.api.route import UnitOfWorkRoute

patient_router = APIRouter(route_class=UnitOfWorkRoute)
audit_router = APIRouter(route_class=UnitOfWorkRoute)


def meeting_routes(*, side: str, caller: Any) -> APIRouter:
    """Build the meeting routes for one side (``dps`` or ``nav``)."""
    router = APIRouter(route_class=UnitOfWorkRoute)
    return router
