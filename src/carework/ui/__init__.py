"""``/ui``: the thin web frontend — server-rendered pages over the same services, access rules
and read model as the API.

``route`` runs every page (unit of work, audit, refusals as pages) and holds the routers, each
with the roles it serves; ``session`` signs people in and out; ``care`` holds the care team's
pages, ``patient`` the patient's; ``plan_context`` asks ``access`` what a plan page may offer;
``forms``, ``pages`` and ``labels`` read forms, render templates and speak Norwegian.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from carework.ui import care, error_pages, patient, session
from carework.ui.pages import HERE

ROUTERS = (session.router, care.router, patient.router)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")
    error_pages.install(app)
