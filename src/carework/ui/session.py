"""Signing in and out, and where a signed-in person lands."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request, Response
from fastapi.responses import HTMLResponse

from carework import demo
from carework.auth.dev_keys import mint_dev_token
from carework.auth.tokens import TokenVerifier
from carework.config import Settings
from carework.http.params import Session
from carework.ui import signout
from carework.ui.forms import one
from carework.ui.pages import page, redirect
from carework.ui.route import COOKIE, SESSION_SECONDS, Posted, SignedIn, public_router
from carework.vocab import Role

router = public_router


@router.get("/", operation_id="ui_home")
async def home(principal: SignedIn) -> Response:
    return redirect("/ui/me" if principal.role is Role.patient else "/ui/plans")


@router.get("/login", operation_id="ui_login_page", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return page(request, "login.html", None, dev=settings.dev_auth_enabled, people=demo.PEOPLE)


@router.post("/login", operation_id="ui_login")
async def login(request: Request, form: Posted) -> Response:
    settings: Settings = request.app.state.settings
    person = demo.BY_KEY.get(one(form, "person") or "")
    if person is not None and settings.dev_auth_enabled:
        token = mint_dev_token(
            settings.dev_key_file, role=person.role.value, sub=person.sub, org=person.org,
            name=person.name, pid=person.pid, ttl=SESSION_SECONDS,
        )  # fmt: skip
    else:
        token = one(form, "token") or ""
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
    verifier: TokenVerifier = request.app.state.verifier
    request.state.principal = await verifier.verify(token)  # refused: back to the sign-in page
    response = redirect("/ui/")
    response.set_cookie(
        COOKIE, token, max_age=SESSION_SECONDS, path="/ui", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout", operation_id="ui_logout")
async def logout(request: Request, session: Session) -> Response:
    """Ends the session on the server too: the old cookie is refused from now on."""
    token = request.cookies.get(COOKIE)
    if token:
        await signout.sign_out(session, token, fallback=timedelta(seconds=SESSION_SECONDS))
    response = redirect("/ui/login")
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response
