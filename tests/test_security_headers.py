"""Security headers (DESIGN.md, "Operations and faults"): every route the app serves, asked
signed in and signed out, answers with the headers it must have — ``no-store`` wherever patient
data may be (errors included), ``nosniff`` everywhere, and on ``/ui`` a CSP without inline
script or style, ``frame-ancestors`` and ``no-referrer``. Static assets and ``/healthz`` may be
cached. The frame ancestors come from ``CAREWORK_FRAME_ANCESTORS``, and nothing else fits in.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from starlette.routing import Mount

from carework.app import create_app
from carework.config import Settings
from tests.factories import Actor, World, create_plan

ORIGIN = "http://carework.test"
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def may_be_cached(path: str) -> bool:
    return path.startswith("/ui/static/") or path == "/healthz"


def is_page(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


def check_headers(response: httpx.Response, csp: str = DEFAULT_CSP) -> None:
    """The headers ``response`` must have for its path."""
    path = response.request.url.path
    where = f"{response.request.method} {path} -> {response.status_code}"
    headers = response.headers
    assert headers.get_list("x-content-type-options") == ["nosniff"], where
    if may_be_cached(path):
        assert "no-store" not in headers.get("cache-control", ""), where
    else:
        assert headers.get_list("cache-control") == ["no-store"], where
    if is_page(path):
        assert headers.get_list("content-security-policy") == [csp], where
        assert headers.get_list("referrer-policy") == ["no-referrer"], where


def test_the_policy_allows_nothing_inline() -> None:
    directives = dict(d.split(" ", 1) for d in DEFAULT_CSP.split("; "))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert "unsafe" not in DEFAULT_CSP
    assert directives["frame-ancestors"] == "'none'"


def _caller(path: str, world: World) -> Actor:
    if path.startswith(("/api/v1/nav/",)):
        return world.advisor
    if path.startswith(("/api/v1/patient/", "/ui/me")):
        return world.patient
    if path.startswith("/api/v1/audit/"):
        return world.auditor
    return world.clinician


def _served(app: FastAPI) -> list[tuple[str, str]]:
    """Every ``(method, path template)`` the app answers, the static mount as one file."""
    served = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, Mount):
            served.append(("GET", f"{context.path}/carework.css"))
            continue
        assert context.path is not None
        served += [(method, context.path) for method in sorted(context.methods or ())]
    return served


async def test_every_route_answers_with_its_headers(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    # Signing out ends the session on the server: it goes last, the pages before it signed in.
    served = sorted(_served(app), key=lambda route: route[1] == "/ui/logout")
    assert len(served) > 100
    statuses: dict[str, set[int]] = {}
    for method, template in served:
        path = re.sub(r"\{plan_id\}", plan["id"], template)
        path = re.sub(r"\{[a-z_]+\}", lambda _: str(uuid.uuid4()), path)
        actor = _caller(path, world)
        signed_in = (
            {"Cookie": f"carework_ui={actor.token}", "Origin": ORIGIN}
            if is_page(path)
            else actor.headers
        )
        for headers in (signed_in, {}):
            body = {"data": {}} if is_page(path) else {"json": {}}
            response = await client.request(
                method, path, headers={**headers, "If-Match": '"1"'}, **body
            )
            check_headers(response)
            statuses.setdefault(f"{method} {template}", set()).add(response.status_code)
    # Patient data itself, and the refusals, were among the answers checked.
    assert 200 in statuses["GET /api/v1/dps/plans/{plan_id}"]
    assert 200 in statuses["GET /ui/plans/{plan_id}"]
    assert 200 in statuses["GET /ui/static/carework.css"]
    assert {401, 403, 404, 422} <= set().union(*statuses.values())


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/ui/nowhere", 404),
        ("GET", "/api/v1/dps/nowhere", 404),
        ("DELETE", "/healthz", 405),
        ("GET", "/ui/static/nothing.js", 404),
    ],
)
async def test_answers_no_route_gave_have_them_too(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    response = await client.request(method, path)
    assert response.status_code == status
    check_headers(response)


async def test_a_body_too_large_is_refused_with_them(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/dps/plans", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    check_headers(response)


async def test_an_unexpected_error_and_a_route_cache_control_get_them(
    settings: Settings,
) -> None:
    """A 500 is sent from outside every middleware; a route's own Cache-Control gives way."""
    app = create_app(settings)

    async def boom() -> None:
        raise RuntimeError("boom")

    async def cacheable() -> Response:
        return Response("{}", headers={"Cache-Control": "public, max-age=3600"})

    for prefix in ("/api/v1/dps", "/ui"):
        app.add_api_route(f"{prefix}/test-boom", boom)
        app.add_api_route(f"{prefix}/test-cacheable", cacheable)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        for prefix in ("/api/v1/dps", "/ui"):
            failed = await client.get(f"{prefix}/test-boom")
            assert failed.status_code == 500
            check_headers(failed)
            cached = await client.get(f"{prefix}/test-cacheable")
            assert cached.status_code == 200
            check_headers(cached)


async def test_frame_ancestors_come_from_the_setting(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAREWORK_FRAME_ANCESTORS", "https://ehr.example.no   https://*.dips.no")
    configured = Settings(database_url=settings.database_url, data_dir=settings.data_dir)
    assert configured.frame_ancestors == "https://ehr.example.no https://*.dips.no"
    app = create_app(configured)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        response = await client.get("/ui/nowhere")  # (no lifespan here: no database)
    framed = DEFAULT_CSP.removesuffix("'none'") + "https://ehr.example.no https://*.dips.no"
    check_headers(response, framed)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "*",
        "https://ehr.example.no; script-src 'unsafe-inline'",
        "https://ehr.example.no,https://other.example.no",
        "'none' https://ehr.example.no",
        "javascript:alert(1)",
        "https://ehr.example.no/path",
        "'unsafe-inline'",
    ],
)
def test_frame_ancestors_refuse_anything_but_origins(value: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="frame_ancestors"):
        Settings(frame_ancestors=value, data_dir=tmp_path)
