"""How a page request runs, who is signed in, and which roles each group of pages serves.

Every page runs in ``UnitOfWorkRoute`` (one session, one audit event per request), so a page
view is audited exactly like an API read; then a refusal becomes something a person can act
on — the sign-in page, or the page the form came from with a clear message, never a
problem+json body in the browser. The signed-in person is a bearer token kept in an HttpOnly,
SameSite=Strict cookie and verified on every request by the app's ``TokenVerifier``; the
``Principal`` built from it goes to the same services (and so the same access policy) as the
API. Like the API's audience routers, each router checks the role for all of its pages
(``care_router``, ``patient_router``); form posts must also come from this origin.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from starlette.routing import Match

from carework.access.roles import ensure_role
from carework.auth.principal import Principal
from carework.errors import (
    CareworkError,
    Conflict,
    Forbidden,
    MissingCredentials,
    PreconditionFailed,
    RuleViolation,
    Unauthorized,
    Unavailable,
)
from carework.http.principal import verify_once
from carework.http.route import Handler, UnitOfWorkRoute
from carework.ui import signout
from carework.ui.forms import Form, read_form
from carework.ui.pages import ERRORS, UNAVAILABLE, error_page, redirect
from carework.ui.refill import FormRefused, Refill
from carework.vocab import Role

COOKIE = "carework_ui"
SESSION_SECONDS = 8 * 3600


#: Refusals the person can fix on the form itself: shown on its page again, typed values kept.
FIXABLE = (RuleViolation, PreconditionFailed, Conflict)


class SignedOut(Unauthorized):
    """A cookie from a page session that was signed out."""


class CrossSiteRefused(Forbidden):
    """A form post from another origin."""


class UiRoute(UnitOfWorkRoute):
    """``UnitOfWorkRoute`` (the work is rolled back and the refusal audited), and then the
    refusal as a page; a database that cannot serve as a 503 page with Retry-After."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except Unavailable as exc:
                # Not a redirect, even after a post: the page it would lead to fails too.
                response = error_page(request, 503, UNAVAILABLE)
                response.headers["Retry-After"] = str(exc.retry_after)
                return response
            except CrossSiteRefused:
                return error_page(request, 403, "Skjemaet kom ikke fra denne nettsiden.")
            except Unauthorized as exc:
                return redirect("/ui/login", **_why_signed_out(request, exc))
            except CareworkError as exc:
                if request.method == "POST":
                    again = await _form_again(request, exc) if isinstance(exc, FIXABLE) else None
                    return again or redirect(_page_of(request), feil=exc.slug)
                return error_page(request, exc.status, ERRORS.get(exc.slug, "Noe gikk galt."))

        return run


async def _form_again(request: Request, refused: CareworkError) -> Response | None:
    """The form's page again, rendered as its own GET (its own unit of work and audit event,
    the refused post's already rolled back), with what was typed and the fields to fix; the
    status is the refusal's. None where the form has no page to come back to."""
    path = _page_of(request)
    if path == "/ui/login":
        return None
    form: Form = getattr(request.state, "form", None) or {}
    errors = refused.fields if isinstance(refused, FormRefused) else {}
    state = {k: v for k, v in request.scope.get("state", {}).items() if k != "session"}
    state["refill"] = Refill.of(request.url.path, form, errors)
    scope = {
        **request.scope, "method": "GET", "path": path, "raw_path": path.encode(),
        "query_string": urlencode({"feil": refused.slug}).encode(), "state": state,
    }  # fmt: skip
    routes = [*public_router.routes, *care_router.routes, *patient_router.routes]
    for route in routes:
        if isinstance(route, UiRoute) and route.methods and "GET" in route.methods:
            match, child = route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                response = await route.get_route_handler()(Request(scope, request.receive))
                if response.status_code == 200:
                    response.status_code = refused.status
                return response
    return None


def _why_signed_out(request: Request, exc: Unauthorized) -> dict[str, str]:
    """What the sign-in page says: a refused sign-in, a session that ended, or nothing (never
    signed in). An expired session must not read like a wrong password."""
    if request.url.path == "/ui/login":
        return {"feil": "unauthorized"}
    if isinstance(exc, SignedOut):
        return {"feil": "signed-out"}
    if isinstance(exc, MissingCredentials):
        return {"feil": "unauthorized"} if request.method == "POST" else {}
    return {"feil": "expired"}


def _page_of(request: Request) -> str:
    """Where a form's page is: the answer to a post goes back there."""
    plan_id = request.path_params.get("plan_id")
    if plan_id:
        return f"/ui/plans/{plan_id}"
    for prefix in ("/ui/me", "/ui/login"):
        if request.url.path.startswith(prefix):
            return prefix
    return "/ui/plans"


async def signed_in(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise MissingCredentials("Not signed in.")
    principal = await verify_once(request.scope, token)
    if await signout.is_signed_out(request.state.session, token):
        raise SignedOut("This page session was signed out.")
    request.state.principal = principal  # the audit event names who it was
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]


async def care_team(principal: SignedIn) -> Principal:
    """Clinicians and advisors; the patient has their own page (``/ui/me``)."""
    return ensure_role(principal, Role.clinician, Role.nav_advisor)


async def the_patient(principal: SignedIn) -> Principal:
    return ensure_role(principal, Role.patient)


async def same_origin(request: Request) -> None:
    """A form post must come from this origin: the CSRF defence, on top of the SameSite=Strict
    cookie, checked by every router for every post."""
    if request.method in ("GET", "HEAD"):
        return
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None or urlsplit(source).netloc != request.headers.get("host"):
        raise CrossSiteRefused("Cross-site form post.")


#: The fields of the form posted (``forms.one``, ``forms.filled``).
Posted = Annotated[Form, Depends(read_form)]


def _pages(prefix: str, *checks: Any) -> APIRouter:
    return APIRouter(
        prefix=prefix, route_class=UiRoute, include_in_schema=False,
        dependencies=[*checks, Depends(same_origin)],
    )  # fmt: skip


#: Sign-in, sign-out and the landing redirect: any visitor.
public_router = _pages("/ui")
#: The care team's pages: clinicians and advisors.
care_router = _pages("/ui", Depends(care_team))
#: The patient's own pages.
patient_router = _pages("/ui/me", Depends(the_patient))
