"""HTTP semantics: RFC 9457 problems, bounded input, national ids, ETag/If-Match, request ids."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import Scope

from carework.config import Settings
from carework.http.route import AudienceRouter
from carework.nid import validate_nid
from carework.vocab import Role
from tests.factories import World, create_plan, make_nid

PLANS = "/api/v1/dps/plans"
PROBLEM = "application/problem+json"
MiB = 1024 * 1024
TOO_LARGE = "https://carework.example/problems/payload-too-large"


# --- helpers -----------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert "detail" in problem
    return problem


def error_locs(problem: dict[str, Any]) -> list[list[str | int]]:
    errors = problem["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert set(error) >= {"loc", "msg", "type"}
    return [error["loc"] for error in errors]


def plan_body(world: World, **extra: Any) -> dict[str, Any]:
    return {
        "patient": {"nid": world.nid, "name": "Ola Pasient"},
        "nav_office": world.nav_office,
        "title": "Tilbake i arbeid",
        **extra,
    }


async def plans_of_patient(client: httpx.AsyncClient, world: World) -> list[Any]:
    response = await client.post(
        f"{PLANS}/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def a_plan(client: httpx.AsyncClient, world: World) -> str:
    if not world.plans:
        await create_plan(client, world)
    return world.plans[0]


async def a_goal(client: httpx.AsyncClient, world: World, domain: str = "treatment") -> str:
    plan_id = await a_plan(client, world)
    actor = world.clinician if domain == "treatment" else world.advisor
    side = "dps" if domain == "treatment" else "nav"
    response = await client.post(
        f"/api/v1/{side}/plans/{plan_id}/goals",
        json={"domain": domain, "title": "Et mål"},
        headers=actor.headers,
    )
    assert response.status_code == 201, response.text
    goal_id: str = response.json()["id"]
    return goal_id


async def an_activity(client: httpx.AsyncClient, world: World) -> str:
    plan_id = await a_plan(client, world)
    response = await client.post(
        f"{PLANS}/{plan_id}/activities",
        json={"kind": "therapy", "title": "Samtaleterapi"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text
    activity_id: str = response.json()["id"]
    return activity_id


# --- problems for the framework's own errors ---------------------------------------------------


# ``/`` is not among them: it sends a browser to the pages (tests/test_ui.py).
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/dps/plans/00000000-0000-0000-0000-000000000000/nope", "/nope"]
)
async def test_unknown_route_is_404_problem(
    client: httpx.AsyncClient, world: World, path: str
) -> None:
    response = await client.get(path, headers=world.clinician.headers)
    assert_problem(response, 404)


async def test_wrong_method_is_405_problem_with_allow(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.delete(PLANS, headers=world.clinician.headers)
    problem = assert_problem(response, 405)
    assert "DELETE" in problem["detail"]
    # Starlette names only the first matching route's methods in Allow (here POST, not GET).
    allowed = {m.strip() for m in response.headers["allow"].split(",")}
    assert allowed & {"GET", "POST"}
    assert "DELETE" not in allowed


def test_an_audience_router_is_not_tried_outside_its_prefix() -> None:
    """A NAV read is not held against each DPS route (``http.route.AudienceRouter``)."""
    tried_routes: list[str] = []

    class Noted(APIRoute):
        def matches(self, scope: Scope) -> tuple[Match, Scope]:
            tried_routes.append(scope["path"])
            return super().matches(scope)

    dps = AudienceRouter(prefix="/api/v1/dps", tag="dps", roles=(Role.clinician,))
    dps.route_class = Noted
    dps.add_api_route("/plans/{plan_id}", lambda plan_id: None, methods=["GET"])
    app = FastAPI()
    app.include_router(dps)
    tried = app.router.routes[-1]

    def match(path: str, root_path: str = "") -> Match:
        scope = {"type": "http", "method": "GET", "path": path, "root_path": root_path}
        return tried.matches(scope)[0]

    assert match("/api/v1/dps/plans/1") is Match.FULL
    assert match("/behind/proxy/api/v1/dps/plans/1", root_path="/behind/proxy") is Match.FULL
    assert match("/api/v1/nav/plans/1") is Match.NONE
    assert match("/api/v1/dpsx/plans/1") is Match.NONE
    assert tried_routes == ["/api/v1/dps/plans/1", "/behind/proxy/api/v1/dps/plans/1"]


async def test_plan_id_that_is_no_uuid_is_422_problem(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(f"{PLANS}/not-a-uuid", headers=world.clinician.headers)
    problem = assert_problem(response, 422)
    assert ["path", "plan_id"] in error_locs(problem)


async def test_malformed_json_is_422_problem(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        PLANS,
        content=b'{"title": "unterminated',
        headers={**world.clinician.headers, "Content-Type": "application/json"},
    )
    problem = assert_problem(response, 422)
    assert error_locs(problem)[0][0] == "body"
    assert await plans_of_patient(client, world) == []


# --- unknown fields ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "loc"),
    [
        ("top", ["body", "colour"]),
        ("patient", ["body", "patient", "colour"]),
        ("server-owned", ["body", "version"]),
    ],
)
async def test_unknown_fields_are_rejected_on_create(
    client: httpx.AsyncClient, world: World, where: str, loc: list[str]
) -> None:
    body = plan_body(world)
    if where == "top":
        body["colour"] = "blue"
    elif where == "patient":
        body["patient"]["colour"] = "blue"
    else:
        body["version"] = 7
    response = await client.post(PLANS, json=body, headers=world.clinician.headers)
    problem = assert_problem(response, 422)
    assert loc in error_locs(problem)
    assert await plans_of_patient(client, world) == []


async def test_unknown_fields_are_rejected_on_patch(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = await a_plan(client, world)
    response = await client.patch(
        f"{PLANS}/{plan_id}",
        json={"title": "Nytt navn", "version": 99},
        headers={**world.clinician.headers, "If-Match": '"1"'},
    )
    problem = assert_problem(response, 422)
    assert ["body", "version"] in error_locs(problem)
    after = await client.get(f"{PLANS}/{plan_id}", headers=world.clinician.headers)
    assert after.json()["title"] == "Tilbake i arbeid"
    assert after.headers["etag"] == '"1"'


# --- body size ---------------------------------------------------------------------------------


def padded_plan_body(world: World, size: int) -> bytes:
    """A valid plan body padded with JSON whitespace to exactly ``size`` bytes."""
    raw = json.dumps(plan_body(world)).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


async def test_body_over_1_mib_with_content_length_is_413(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    assert settings.max_body_bytes == MiB
    headers = {**world.clinician.headers, "Content-Type": "application/json"}

    response = await client.post(PLANS, content=padded_plan_body(world, MiB + 1), headers=headers)
    assert response.request.headers["content-length"] == str(MiB + 1)
    assert assert_problem(response, 413)["type"] == TOO_LARGE
    assert await plans_of_patient(client, world) == []

    # Exactly at the limit the same body is fine.
    response = await client.post(PLANS, content=padded_plan_body(world, MiB), headers=headers)
    assert response.status_code == 201, response.text


async def test_streamed_body_over_1_mib_without_content_length_is_413(
    client: httpx.AsyncClient, world: World
) -> None:
    body = padded_plan_body(world, 2 * MiB)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = await client.post(
        PLANS,
        content=chunks(),
        headers={**world.clinician.headers, "Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    # The same problem as when Content-Length gives it away, not a 400 from the body parser.
    assert assert_problem(response, 413)["type"] == TOO_LARGE
    assert await plans_of_patient(client, world) == []


# --- text field limits -------------------------------------------------------------------------

Send = Callable[[httpx.AsyncClient, World, str], Awaitable[httpx.Response]]


async def _plan_title(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    return await client.post(
        PLANS, json=plan_body(world, title=text), headers=world.clinician.headers
    )


async def _plan_main_goal(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    return await client.post(
        PLANS, json=plan_body(world, main_goal=text), headers=world.clinician.headers
    )


async def _patient_name(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    body = plan_body(world)
    body["patient"]["name"] = text
    return await client.post(PLANS, json=body, headers=world.clinician.headers)


async def _plan_title_patch(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    plan_id = await a_plan(client, world)
    current = await client.get(f"{PLANS}/{plan_id}", headers=world.clinician.headers)
    return await client.patch(
        f"{PLANS}/{plan_id}",
        json={"title": text},
        headers={**world.clinician.headers, "If-Match": current.headers["etag"]},
    )


async def _goal_title(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    plan_id = await a_plan(client, world)
    return await client.post(
        f"{PLANS}/{plan_id}/goals",
        json={"domain": "treatment", "title": text},
        headers=world.clinician.headers,
    )


async def _goal_description(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    plan_id = await a_plan(client, world)
    return await client.post(
        f"{PLANS}/{plan_id}/goals",
        json={"domain": "treatment", "title": "Bedre søvn", "description": text},
        headers=world.clinician.headers,
    )


async def _note_text(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    plan_id = await a_plan(client, world)
    goal_id = await a_goal(client, world)
    return await client.post(
        f"{PLANS}/{plan_id}/goals/{goal_id}/notes",
        json={"text": text, "visibility": "shared"},
        headers=world.clinician.headers,
    )


async def _activity_title(client: httpx.AsyncClient, world: World, text: str) -> httpx.Response:
    plan_id = await a_plan(client, world)
    return await client.post(
        f"{PLANS}/{plan_id}/activities",
        json={"kind": "therapy", "title": text},
        headers=world.clinician.headers,
    )


# id -> (limit, location of the error, send, field in the response that holds the text)
LIMITS: dict[str, tuple[int, list[str], Send, str | None]] = {
    "plan title": (200, ["body", "title"], _plan_title, "title"),
    "plan main_goal": (2000, ["body", "main_goal"], _plan_main_goal, "main_goal"),
    "patient name": (200, ["body", "patient", "name"], _patient_name, None),
    "plan title on PATCH": (200, ["body", "title"], _plan_title_patch, "title"),
    "goal title": (200, ["body", "title"], _goal_title, "title"),
    "goal description": (4000, ["body", "description"], _goal_description, "description"),
    "note text": (10000, ["body", "text"], _note_text, "text"),
    "activity title": (200, ["body", "title"], _activity_title, "title"),
}


@pytest.mark.parametrize(("limit", "loc", "send", "field"), LIMITS.values(), ids=LIMITS.keys())
async def test_text_field_max_length(
    client: httpx.AsyncClient,
    world: World,
    limit: int,
    loc: list[str],
    send: Send,
    field: str | None,
) -> None:
    too_long = await send(client, world, "å" * (limit + 1))
    assert loc in error_locs(assert_problem(too_long, 422))

    at_limit = await send(client, world, "å" * limit)
    assert at_limit.status_code in (200, 201), at_limit.text
    if field is not None:
        assert at_limit.json()[field] == "å" * limit


# --- national id numbers -----------------------------------------------------------------------

_W1 = (3, 7, 6, 1, 8, 9, 4, 5, 2)
_W2 = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)


def with_check_digits(first_nine: str) -> str | None:
    """Append the two mod-11 check digits, or None if the base has no valid control digit."""
    digits = first_nine
    for weights in (_W1, _W2):
        k = 11 - sum(w * int(d) for w, d in zip(weights, digits, strict=True)) % 11
        if k == 10:
            return None
        digits += str(0 if k == 11 else k)
    return digits


def impossible_date_nid() -> str:
    # Month 13 with correct check digits: only the date makes it invalid.
    for individual in range(100, 500):
        nid = with_check_digits(f"011399{individual:03d}")
        if nid is not None:
            return nid
    raise AssertionError("unreachable")


def bad_nids() -> dict[str, str]:
    valid = make_nid()
    assert with_check_digits(valid[:9]) == valid  # the helper agrees with the factory
    return {
        "wrong second check digit": valid[:10] + str((int(valid[10]) + 1) % 10),
        "wrong first check digit": valid[:9] + str((int(valid[9]) + 1) % 10) + valid[10],
        "10 digits": valid[:10],
        "12 digits": valid + "7",
        "letters": valid[:6] + "ABCDE",
        "spaces": valid[:6] + " " + valid[6:],
        "impossible date": impossible_date_nid(),
    }


BAD_NID_CASES = list(bad_nids())


@pytest.mark.parametrize("case", BAD_NID_CASES)
@pytest.mark.parametrize("where", ["create", "search"])
async def test_invalid_national_id_is_422_without_echo(
    client: httpx.AsyncClient, world: World, case: str, where: str
) -> None:
    nid = bad_nids()[case]
    if where == "create":
        body = plan_body(world)
        body["patient"]["nid"] = nid
        response = await client.post(PLANS, json=body, headers=world.clinician.headers)
        loc = ["body", "patient", "nid"]
    else:
        response = await client.post(
            f"{PLANS}/search", json={"nid": nid}, headers=world.clinician.headers
        )
        loc = ["body", "nid"]

    problem = assert_problem(response, 422)
    assert loc in error_locs(problem)
    assert nid not in response.text
    assert nid.strip() not in json.dumps(problem)
    for value in response.headers.values():
        assert nid not in value


async def test_valid_d_number_is_accepted(client: httpx.AsyncClient, world: World) -> None:
    d_number = make_nid(d_number=True)
    assert int(d_number[0]) >= 4  # day + 40
    body = plan_body(world)
    body["patient"]["nid"] = d_number
    response = await client.post(PLANS, json=body, headers=world.clinician.headers)
    assert response.status_code == 201, response.text
    assert response.json()["patient"]["nid"] == d_number

    found = await client.post(
        f"{PLANS}/search", json={"nid": d_number}, headers=world.clinician.headers
    )
    assert [p["id"] for p in found.json()["items"]] == [response.json()["id"]]


# --- ETag and If-Match -------------------------------------------------------------------------


async def _plan_url(client: httpx.AsyncClient, world: World) -> str:
    return f"{PLANS}/{await a_plan(client, world)}"


async def _goal_url(client: httpx.AsyncClient, world: World) -> str:
    plan_id = await a_plan(client, world)
    return f"{PLANS}/{plan_id}/goals/{await a_goal(client, world)}"


async def _activity_url(client: httpx.AsyncClient, world: World) -> str:
    plan_id = await a_plan(client, world)
    return f"{PLANS}/{plan_id}/activities/{await an_activity(client, world)}"


ITEMS = {"plan": _plan_url, "goal": _goal_url, "activity": _activity_url}
Locate = Callable[[httpx.AsyncClient, World], Awaitable[str]]


@pytest.mark.parametrize("locate", ITEMS.values(), ids=ITEMS.keys())
async def test_if_match_protocol(client: httpx.AsyncClient, world: World, locate: Locate) -> None:
    url = await locate(client, world)
    auth = world.clinician.headers

    async def current() -> httpx.Response:
        response = await client.get(url, headers=auth)
        assert response.status_code == 200, response.text
        return response

    first = await current()
    assert first.headers["etag"] == '"1"'
    title = first.json()["title"]

    missing = await client.patch(url, json={"title": "Uten If-Match"}, headers=auth)
    assert_problem(missing, 428)

    star = await client.patch(url, json={"title": "Stjerne"}, headers={**auth, "If-Match": "*"})
    assert_problem(star, 428)

    changed = await client.patch(
        url, json={"title": "Første endring"}, headers={**auth, "If-Match": '"1"'}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["etag"] == '"2"'
    assert changed.json()["version"] == 2

    for stale in ('"1"', 'W/"2"', '"17"', "2", '"abc"'):
        refused = await client.patch(
            url, json={"title": "Tapt oppdatering"}, headers={**auth, "If-Match": stale}
        )
        assert_problem(refused, 412)

    after = await current()
    assert after.headers["etag"] == '"2"'
    assert after.json()["title"] == "Første endring" != title

    # A list of tags matches when any of them is current (RFC 9110 13.1.1).
    listed = await client.patch(
        url, json={"title": "Fra en liste"}, headers={**auth, "If-Match": '"7", W/"9", "2"'}
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["etag"] == '"3"'


async def test_precondition_failures_change_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    url = await _plan_url(client, world)
    auth = world.clinician.headers
    before = (await client.get(url, headers=auth)).json()

    await client.patch(url, json={"title": "A"}, headers=auth)
    await client.patch(url, json={"title": "B"}, headers={**auth, "If-Match": '"9"'})
    await client.patch(url, json={"title": "C"}, headers={**auth, "If-Match": "*"})

    after = (await client.get(url, headers=auth)).json()
    assert after == before


#: Tags no item can have. Each matches nothing, so the change is refused with 412; before, the
#: first three were 500s (``int`` refuses 5,000 digits; PostgreSQL a value past ``integer``).
IMPOSSIBLE_TAGS = {
    "5000 digits": '"' + "9" * 5000 + '"',
    "past integer": f'"{2**31}"',
    "past bigint": f'"{2**63}"',
    "negative": '"-1"',
    "not a number": '"1x"',
    "superscript two": '"\u00b2"',
    "empty": '""',
    "a lone quote": '"',
}


@pytest.mark.parametrize("tag", IMPOSSIBLE_TAGS.values(), ids=IMPOSSIBLE_TAGS.keys())
@pytest.mark.parametrize("locate", ITEMS.values(), ids=ITEMS.keys())
async def test_a_tag_no_item_can_have_is_412_and_changes_nothing(
    client: httpx.AsyncClient, world: World, locate: Locate, tag: str
) -> None:
    url = await locate(client, world)
    auth = world.clinician.headers
    before = await client.get(url, headers=auth)
    assert before.headers["etag"] == '"1"'

    # As bytes: a server reads header bytes as Latin-1, so b"\xb2" arrives as "²".
    refused = await client.patch(
        url, json={"title": "Aldri"}, headers={**auth, "If-Match": tag.encode("latin-1")}
    )
    assert_problem(refused, 412)
    after = await client.get(url, headers=auth)
    assert (after.headers["etag"], after.json()) == ('"1"', before.json())

    # Beside a current tag it is one more tag that does not match: the list still does.
    listed = await client.patch(
        url,
        json={"title": "Likevel"},
        headers={**auth, "If-Match": f'{tag}, "1"'.encode("latin-1")},
    )
    assert listed.status_code == 200, listed.text
    assert listed.headers["etag"] == '"2"'


async def etags(client: httpx.AsyncClient, world: World, plan_id: str, goal_id: str) -> set[str]:
    """The plan's and the goal's ETag as each side sees them: one value each, or a failure."""
    dps_plan = await client.get(f"/api/v1/dps/plans/{plan_id}", headers=world.clinician.headers)
    nav_plan = await client.get(f"/api/v1/nav/plans/{plan_id}", headers=world.advisor.headers)
    own_plan = await client.get("/api/v1/patient/plan", headers=world.patient.headers)
    for response in (dps_plan, nav_plan, own_plan):
        assert response.status_code == 200, response.text
    plan_tags = {r.headers["etag"] for r in (dps_plan, nav_plan, own_plan)}
    plan_tags |= {f'"{r.json()["version"]}"' for r in (dps_plan, nav_plan, own_plan)}

    dps_goal = await client.get(
        f"/api/v1/dps/plans/{plan_id}/goals/{goal_id}", headers=world.clinician.headers
    )
    nav_goal = await client.get(
        f"/api/v1/nav/plans/{plan_id}/goals/{goal_id}", headers=world.advisor.headers
    )
    in_own_plan = [g for g in own_plan.json()["goals"] if g["id"] == goal_id]
    assert len(in_own_plan) == 1
    goal_tags = {dps_goal.headers["etag"], nav_goal.headers["etag"]}
    goal_tags |= {f'"{dps_goal.json()["version"]}"', f'"{in_own_plan[0]["version"]}"'}

    assert len(plan_tags) == 1, plan_tags
    assert len(goal_tags) == 1, goal_tags
    return plan_tags | {f"goal:{t}" for t in goal_tags}


async def test_etag_is_the_same_in_every_sides_view(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = await a_plan(client, world)
    goal_id = await a_goal(client, world, domain="work")
    assert await etags(client, world, plan_id, goal_id) == {'"1"', 'goal:"1"'}

    # An ETag read by one side is good for the other: NAV changes its goal with DPS's tag.
    dps_tag = (
        await client.get(
            f"/api/v1/dps/plans/{plan_id}/goals/{goal_id}", headers=world.clinician.headers
        )
    ).headers["etag"]
    changed = await client.patch(
        f"/api/v1/nav/plans/{plan_id}/goals/{goal_id}",
        json={"title": "Arbeidstrening i butikk"},
        headers={**world.advisor.headers, "If-Match": dps_tag},
    )
    assert changed.status_code == 200, changed.text
    # And NAV changes the plan with the tag the patient's view showed.
    patient_tag = (await client.get("/api/v1/patient/plan", headers=world.patient.headers)).headers[
        "etag"
    ]
    changed = await client.patch(
        f"/api/v1/nav/plans/{plan_id}",
        json={"title": "Tilbake i jobb"},
        headers={**world.advisor.headers, "If-Match": patient_tag},
    )
    assert changed.status_code == 200, changed.text

    assert await etags(client, world, plan_id, goal_id) == {'"2"', 'goal:"2"'}


# --- request ids -------------------------------------------------------------------------------

MINTED = re.compile(r"^[0-9a-f]{32}$")


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/nope"])
async def test_safe_request_id_is_echoed(client: httpx.AsyncClient, path: str) -> None:
    given = "ehr-7f3a.trace_01"
    response = await client.get(path, headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given


@pytest.mark.parametrize(
    "given",
    ["has space", "<script>alert(1)</script>", "a" * 65, "semi;colon", "ok\tnot", ""],
    ids=["space", "markup", "too-long", "semicolon", "tab", "empty"],
)
async def test_unsafe_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": given})
    echoed = response.headers.get_list("x-request-id")
    assert len(echoed) == 1
    assert echoed[0] != given
    assert MINTED.match(echoed[0]), echoed


async def test_request_id_is_minted_when_absent(client: httpx.AsyncClient) -> None:
    first = await client.get("/healthz")
    second = await client.get("/healthz")
    ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
    assert all(MINTED.match(i) for i in ids)
    assert ids[0] != ids[1]


# --- national ids stay out of logs -------------------------------------------------------------


async def test_national_id_never_reaches_the_logs(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        caplog.set_level(logging.DEBUG, logger=name)
    wrong = world.nid[:10] + str((int(world.nid[10]) + 1) % 10)

    plan = await create_plan(client, world)
    found = await client.post(
        f"{PLANS}/search", json={"nid": world.nid}, headers=world.clinician.headers
    )
    assert [p["id"] for p in found.json()["items"]] == [plan["id"]]
    refused = await client.post(
        f"{PLANS}/search", json={"nid": wrong}, headers=world.clinician.headers
    )
    assert refused.status_code == 422
    own = await client.get("/api/v1/patient/plan", headers=world.patient.headers)
    assert own.status_code == 200

    assert caplog.records, "DEBUG logging captured nothing: the test would prove nothing"
    for record in caplog.records:
        seen = "\n".join(
            [record.getMessage(), repr(record.args), *(repr(v) for v in vars(record).values())]
        )
        for number in (world.nid, wrong):
            assert number not in seen, f"{record.name}: {record.getMessage()[:200]}"


def test_bad_nid_cases_are_distinct_and_really_bad() -> None:
    cases = bad_nids()
    assert len(set(cases.values())) == len(cases)
    for nid in cases.values():
        with pytest.raises(ValueError, match=r"digits|valid"):
            validate_nid(nid)
