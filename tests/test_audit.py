"""The audit trail through the real app (DESIGN.md, access model point 6).

1. Every request on patient data writes exactly one event with the right fields, allowed,
   denied (401/403/404) or failed (409/412/422/428).
2. The event is written in the request's own transaction: when the audit write fails, the
   request fails and its work is gone (no unaudited access).
3. Reading the trail: the patient's access log and the auditor's event search.
4. Tampering with the table in SQL is found by ``GET /api/v1/audit/verify`` and
   ``carework audit verify`` (on a database of its own, so the rest of the suite stays intact).

The concurrent, multi-process part is in ``test_audit_live.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from carework.app import create_app
from carework.audit.chain import HASHED_FIELDS, event_hash, genesis
from carework.config import Settings
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.domain_helpers import assert_problem
from tests.factories import Actor, TokenMaker, World, create_plan, make_nid, make_world
from tests.live import child_env, run_cli

CLIENT_IP = "198.51.100.23"
DPS = "/api/v1/dps/plans"
NAV = "/api/v1/nav/plans"

Row = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Helpers


@pytest.fixture
async def caller(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The session app from a known client address; a 500 comes back as a response."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(CLIENT_IP, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://carework.test") as c:
        yield c


async def sql(app: FastAPI, statement: str, **params: Any) -> list[Row]:
    async with app.state.engine.begin() as conn:
        result = await conn.execute(text(statement), params)
        return [dict(r) for r in result.mappings().all()] if result.returns_rows else []


async def events_of(app: FastAPI, request_id: str) -> list[Row]:
    return await sql(app, "SELECT * FROM audit_event WHERE request_id = :r", r=request_id)


async def the_event(app: FastAPI, response: httpx.Response) -> Row:
    """The one event the response's request wrote (found by the X-Request-ID it echoed)."""
    request_id = response.headers["x-request-id"]
    events = await events_of(app, request_id)
    assert len(events) == 1, (response.status_code, events)
    return events[0]


def bearer(actor: Actor, **extra: str) -> dict[str, str]:
    return {**actor.headers, **extra}


@dataclass
class Scene:
    """A plan with a treatment goal (the clinician's) and a work goal (the advisor's)."""

    world: World
    plan_id: str
    goal_id: str
    work_goal_id: str
    plan_etag: str


@pytest.fixture
async def scene(caller: httpx.AsyncClient, world: World) -> Scene:
    plan = await create_plan(caller, world)
    goal = await caller.post(
        f"{DPS}/{plan['id']}/goals",
        json={"domain": "treatment", "title": "Sove bedre"},
        headers=world.clinician.headers,
    )
    assert goal.status_code == 201, goal.text
    work = await caller.post(
        f"{NAV}/{plan['id']}/goals",
        json={"domain": "work", "title": "Arbeidstrening"},
        headers=world.advisor.headers,
    )
    assert work.status_code == 201, work.text
    read = await caller.get(f"{DPS}/{plan['id']}", headers=world.clinician.headers)
    return Scene(world, plan["id"], goal.json()["id"], work.json()["id"], read.headers["etag"])


# --------------------------------------------------------------------------------------------
# 1. One event per request, with the right fields

Send = Callable[[httpx.AsyncClient, Scene], Awaitable[httpx.Response]]


@dataclass
class Case:
    send: Send
    status: int
    actor: str | None  # the World attribute of the caller; None: no token
    action: str
    outcome: str
    resource: str | None  # "plan" | "goal" | "work_goal" | "created:<type>" | None
    plan: Callable[[Scene], str | None] | None = None  # the plan_id, when not the scene's


def _get(path: str, actor: str | None) -> Send:
    async def send(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
        headers = getattr(s.world, actor).headers if actor else {}
        return await c.get(path.format(s=s), headers=headers)

    return send


def _post(path: str, actor: str, body: dict[str, Any]) -> Send:
    async def send(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
        return await c.post(path.format(s=s), json=body, headers=getattr(s.world, actor).headers)

    return send


def _patch(path: str, actor: str, body: dict[str, Any], if_match: str | None) -> Send:
    async def send(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
        headers = getattr(s.world, actor).headers
        if if_match is not None:
            headers = {**headers, "If-Match": if_match.format(s=s)}
        return await c.patch(path.format(s=s), json=body, headers=headers)

    return send


async def _create_second_plan(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
    body = {"patient": {"nid": s.world.nid, "name": "Ola"}, "nav_office": s.world.nav_office,
            "title": "En plan til", "status": "active"}  # fmt: skip
    return await c.post(DPS, json=body, headers=s.world.clinician.headers)


async def _create_plan(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
    body = {"patient": {"nid": make_nid(), "name": "Per"}, "nav_office": s.world.nav_office,
            "title": "Ny plan"}  # fmt: skip
    return await c.post(DPS, json=body, headers=s.world.clinician.headers)


async def _patient_plan(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
    return await c.get("/api/v1/patient/plan", headers=s.world.patient.headers)


async def _bad_token(c: httpx.AsyncClient, s: Scene) -> httpx.Response:
    return await c.get(f"{DPS}/{s.plan_id}", headers={"Authorization": "Bearer not.a.jwt"})


_UNKNOWN_PLAN = str(uuid.uuid4())

CASES: dict[str, Case] = {
    # reads
    "dps read plan": Case(_get(DPS + "/{s.plan_id}", "clinician"), 200, "clinician",
                          "read_plan", "allowed", "plan"),
    "nav read plan": Case(_get(NAV + "/{s.plan_id}", "advisor"), 200, "advisor",
                          "read_plan", "allowed", "plan"),
    "patient read plan": Case(_patient_plan, 200, "patient", "read_plan", "allowed", "plan"),
    "dps read goal": Case(_get(DPS + "/{s.plan_id}/goals/{s.goal_id}", "clinician"), 200,
                          "clinician", "read_goal", "allowed", "goal"),
    "nav read goal": Case(_get(NAV + "/{s.plan_id}/goals/{s.work_goal_id}", "advisor"), 200,
                          "advisor", "read_goal", "allowed", "work_goal"),
    # writes
    "create plan": Case(_create_plan, 201, "clinician", "create_plan", "allowed",
                        "created:plan"),
    "create goal": Case(_post(DPS + "/{s.plan_id}/goals", "clinician",
                              {"domain": "treatment", "title": "Mindre angst"}),
                        201, "clinician", "create_goal", "allowed", "created:goal"),
    "nav create goal": Case(_post(NAV + "/{s.plan_id}/goals", "advisor",
                                  {"domain": "education", "title": "Fagbrev"}),
                            201, "advisor", "create_goal", "allowed", "created:goal"),
    "patient proposes goal": Case(_post("/api/v1/patient/plan/goals", "patient",
                                        {"domain": "work", "title": "Jobbe deltid"}),
                                  201, "patient", "propose_goal", "allowed", "created:goal"),
    "add note": Case(_post(DPS + "/{s.plan_id}/goals/{s.goal_id}/notes", "clinician",
                           {"text": "Sover bedre", "visibility": "shared"}),
                     201, "clinician", "add_note", "allowed", "created:note"),
    "create activity": Case(_post(NAV + "/{s.plan_id}/activities", "advisor",
                                  {"kind": "work_training", "title": "Arbeidstrening"}),
                            201, "advisor", "create_activity", "allowed", "created:activity"),
    "patch plan": Case(_patch(DPS + "/{s.plan_id}", "clinician", {"title": "Ny tittel"},
                              "{s.plan_etag}"),
                       200, "clinician", "update_plan", "allowed", "plan"),
    "patch goal": Case(_patch(DPS + "/{s.plan_id}/goals/{s.goal_id}", "clinician",
                              {"title": "Sove hele natten"}, '"1"'),
                       200, "clinician", "update_goal", "allowed", "goal"),
    # denied
    "401 no token": Case(_get(DPS + "/{s.plan_id}", None), 401, None, "read_plan", "denied",
                         None),
    "401 bad token": Case(_bad_token, 401, None, "read_plan", "denied", None),
    "403 wrong role": Case(_get(DPS + "/{s.plan_id}", "patient"), 403, "patient",
                           "read_plan", "denied", None),
    "403 other side's goal": Case(_patch(DPS + "/{s.plan_id}/goals/{s.work_goal_id}",
                                         "clinician", {"title": "Ikke min"}, '"1"'),
                                  403, "clinician", "update_goal", "denied", "work_goal"),
    "404 out of scope": Case(_get(DPS + "/{s.plan_id}", "other_clinician"), 404,
                             "other_clinician", "read_plan", "denied", None),
    "404 nav out of scope": Case(_post(NAV + "/{s.plan_id}/goals", "other_advisor",
                                       {"domain": "work", "title": "X"}),
                                 404, "other_advisor", "create_goal", "denied", None),
    "404 no such plan": Case(_get(DPS + "/" + _UNKNOWN_PLAN, "clinician"), 404, "clinician",
                             "read_plan", "denied", None, lambda s: _UNKNOWN_PLAN),
    # failed
    "409 illegal goal move": Case(_patch(DPS + "/{s.plan_id}/goals/{s.goal_id}", "clinician",
                                         {"status": "proposed"}, '"1"'),
                                  409, "clinician", "update_goal", "failed", "goal"),
    "409 second open plan": Case(_create_second_plan, 409, "clinician", "create_plan",
                                 "failed", None, lambda s: None),
    # A failure names the resource the service got to before failing, if any.
    "412 stale etag": Case(_patch(DPS + "/{s.plan_id}", "clinician", {"title": "X"}, '"99"'),
                           412, "clinician", "update_plan", "failed", None),
    "428 no if-match": Case(_patch(DPS + "/{s.plan_id}", "clinician", {"title": "X"}, None),
                            428, "clinician", "update_plan", "failed", None),
    "422 unknown field": Case(_post(DPS + "/{s.plan_id}/goals", "clinician",
                                    {"domain": "treatment", "title": "X", "colour": "red"}),
                              422, "clinician", "create_goal", "failed", None),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
async def test_each_request_writes_one_event_with_who_what_and_outcome(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene, name: str
) -> None:
    case = CASES[name]
    response = await case.send(caller, scene)
    assert response.status_code == case.status, response.text

    event = await the_event(app, response)
    actor: Actor | None = getattr(scene.world, case.actor) if case.actor else None
    assert (event["actor_sub"], event["actor_name"], event["actor_role"], event["actor_org"]) == (
        (actor.sub, actor.name, actor.role, actor.org) if actor else (None, None, None, None)
    )
    assert event["action"] == case.action
    assert event["outcome"] == case.outcome
    assert event["status"] == case.status
    assert event["request_id"] == response.headers["x-request-id"]
    assert event["client_ip"] == CLIENT_IP

    body = response.json()
    if case.resource and case.resource.startswith("created:"):
        resource_type, resource_id = case.resource.removeprefix("created:"), body["id"]
        plan_id = body["id"] if resource_type == "plan" else scene.plan_id
    else:
        resource_type, resource_id = {
            "plan": ("plan", scene.plan_id),
            "goal": ("goal", scene.goal_id),
            "work_goal": ("goal", scene.work_goal_id),
            None: (None, None),
        }[case.resource]
        plan_id = case.plan(scene) if case.plan else scene.plan_id
    assert (str(event["plan_id"]) if event["plan_id"] else None) == plan_id
    assert (event["resource_type"], event["resource_id"]) == (resource_type, resource_id)

    # Allowed events about a plan are chained per plan; the rest go to the shared chains.
    if case.outcome == "allowed":
        assert event["chain"] == plan_id
    else:
        assert event["chain"].startswith("shared-")


async def test_a_caller_supplied_request_id_is_recorded(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene
) -> None:
    request_id = f"ehr-{uuid.uuid4().hex}"
    response = await caller.get(
        f"{DPS}/{scene.plan_id}",
        headers=bearer(scene.world.clinician, **{"X-Request-ID": request_id}),
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    assert (await the_event(app, response))["request_id"] == request_id


async def test_requests_without_patient_data_write_no_event(
    app: FastAPI, caller: httpx.AsyncClient
) -> None:
    response = await caller.get("/healthz")
    assert response.status_code == 200
    assert await events_of(app, response.headers["x-request-id"]) == []


async def test_the_session_database_chains_verify(caller: httpx.AsyncClient, scene: Scene) -> None:
    """Everything the tests above wrote, allowed and denied, forms intact chains."""
    response = await caller.get("/api/v1/audit/verify", headers=scene.world.auditor.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True, body
    assert body["first_broken"] is None
    assert body["events"] > 0


#: Text JSON escapes, text it does not, and text outside the BMP, in every audited string.
AWKWARD_TEXT = [
    'Åse "Ø" \\ Ærlig',
    "linje\nny\ttab\r",
    "kontroll\x01\x1f\x7f",
    "hjerne 🧠 og \u2028 skille",
    "/ slash </script>",
]


@pytest.mark.parametrize("text", AWKWARD_TEXT, ids=range(len(AWKWARD_TEXT)))
async def test_the_hash_made_in_sql_is_the_one_python_recomputes(
    app: FastAPI, caller: httpx.AsyncClient, tokens: TokenMaker, world: World, text: str
) -> None:
    """The append hashes in PostgreSQL; ``verify`` recomputes in Python. They must agree on
    every character a name, an organisation or a request id can hold."""
    plan = await create_plan(caller, world)
    actor = tokens.actor("clinician", org=world.dps_unit, name=text, sub=f"sub {text}"[:128])
    # A caller's request id is kept only if it is printable ASCII (see the middleware).
    for request_id in (None, f"req {text}"[:64] if text.isprintable() and text.isascii() else None):
        headers = bearer(actor, **({"X-Request-ID": request_id} if request_id else {}))
        response = await caller.get(f"/api/v1/dps/plans/{plan['id']}", headers=headers)
        assert response.status_code == 200, response.text
        event = await the_event(app, response)
        assert event["actor_name"] == text
        fields = {name: event[name] for name in HASHED_FIELDS}
        assert event["hash"] == event_hash(event["prev_hash"], fields)


# --------------------------------------------------------------------------------------------
# 2. No unaudited access: the audit write is part of the request's transaction

MUST_FAIL = "audit-must-fail"


@pytest.fixture
async def audit_write_fails(app: FastAPI) -> AsyncIterator[None]:
    """A trigger that refuses audit rows of request id ``audit-must-fail`` (only those)."""
    await sql(
        app,
        """
        CREATE FUNCTION test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NEW.request_id = 'audit-must-fail' THEN
                RAISE EXCEPTION 'audit write refused by the test';
            END IF;
            RETURN NEW;
        END $$
        """,
    )
    try:
        await sql(
            app,
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_event "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse_audit()",
        )
        yield
    finally:
        await sql(app, "DROP TRIGGER IF EXISTS test_refuse_audit ON audit_event")
        await sql(app, "DROP FUNCTION IF EXISTS test_refuse_audit()")


async def chain_head(app: FastAPI, chain: str) -> Row:
    [head] = await sql(app, "SELECT seq, hash FROM audit_chain_head WHERE chain = :c", c=chain)
    return head


def assert_server_error(response: httpx.Response) -> None:
    body = assert_problem(response, 500)
    assert body["correlation_id"] == MUST_FAIL
    assert response.headers.get("x-request-id") == MUST_FAIL


@pytest.mark.usefixtures("audit_write_fails")
async def test_a_write_whose_audit_event_fails_is_not_stored(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene
) -> None:
    clinician = scene.world.clinician
    head_before = await chain_head(app, scene.plan_id)
    url = f"{DPS}/{scene.plan_id}/goals"

    refused = await caller.post(
        url,
        json={"domain": "treatment", "title": "Uten spor"},
        headers=bearer(clinician, **{"X-Request-ID": MUST_FAIL}),
    )
    assert_server_error(refused)
    goals = await sql(app, "SELECT title FROM goal WHERE plan_id = :p", p=scene.plan_id)
    assert sorted(g["title"] for g in goals) == ["Arbeidstrening", "Sove bedre"]
    assert await events_of(app, MUST_FAIL) == []
    assert await chain_head(app, scene.plan_id) == head_before  # the head moved back too
    view = await caller.get(f"{DPS}/{scene.plan_id}", headers=clinician.headers)
    assert "Uten spor" not in [g["title"] for g in view.json()["goals"]]

    # The trigger refuses only that request id: the same write otherwise goes through.
    stored = await caller.post(
        url, json={"domain": "treatment", "title": "Med spor"}, headers=clinician.headers
    )
    assert stored.status_code == 201, stored.text
    assert (await the_event(app, stored))["resource_id"] == stored.json()["id"]
    assert len(await sql(app, "SELECT id FROM goal WHERE title = 'Med spor' "
                              "AND plan_id = :p", p=scene.plan_id)) == 1  # fmt: skip


@pytest.mark.usefixtures("audit_write_fails")
async def test_a_patch_whose_audit_event_fails_changes_nothing(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene
) -> None:
    clinician = scene.world.clinician
    refused = await caller.patch(
        f"{DPS}/{scene.plan_id}",
        json={"title": "Skulle ikke skje"},
        headers=bearer(clinician, **{"If-Match": scene.plan_etag, "X-Request-ID": MUST_FAIL}),
    )
    assert_server_error(refused)
    after = await caller.get(f"{DPS}/{scene.plan_id}", headers=clinician.headers)
    assert after.headers["etag"] == scene.plan_etag
    assert after.json()["title"] == "Tilbake i arbeid"


@pytest.mark.usefixtures("audit_write_fails")
async def test_a_read_whose_audit_event_fails_returns_no_data(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene
) -> None:
    for actor, url in [
        (scene.world.clinician, f"{DPS}/{scene.plan_id}"),
        (scene.world.clinician, f"{DPS}/{scene.plan_id}/goals/{scene.goal_id}"),
        (scene.world.patient, "/api/v1/patient/plan"),
    ]:
        refused = await caller.get(url, headers=bearer(actor, **{"X-Request-ID": MUST_FAIL}))
        assert_server_error(refused)
        assert "Sove bedre" not in refused.text
        assert "Tilbake i arbeid" not in refused.text
    assert await events_of(app, MUST_FAIL) == []


@pytest.mark.usefixtures("audit_write_fails")
async def test_a_denial_whose_audit_event_fails_still_fails(
    app: FastAPI, caller: httpx.AsyncClient, scene: Scene
) -> None:
    """A denial is written in a transaction of its own; if even that fails, so does the call."""
    refused = await caller.get(
        f"{DPS}/{scene.plan_id}",
        headers=bearer(scene.world.other_clinician, **{"X-Request-ID": MUST_FAIL}),
    )
    assert_server_error(refused)
    assert await events_of(app, MUST_FAIL) == []


# --------------------------------------------------------------------------------------------
# 3. Reading the trail


async def test_patient_access_log_shows_who_read_or_changed_the_plan_newest_first(
    caller: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(caller, world)
    plan_url = f"{DPS}/{plan['id']}"
    made = [("clinician", "create_plan")]

    async def step(
        actor: Actor, method: str, url: str, status: int, *, if_match: str | None = None, **kw: Any
    ) -> None:
        headers = bearer(actor, **({"If-Match": if_match} if if_match else {}))
        response = await caller.request(method, url, headers=headers, **kw)
        assert response.status_code == status, response.text

    await step(world.clinician, "GET", plan_url, 200)
    made.append(("clinician", "read_plan"))
    await step(world.advisor, "GET", f"{NAV}/{plan['id']}", 200)
    made.append(("advisor", "read_plan"))
    await step(world.clinician, "POST", f"{plan_url}/goals", 201,
               json={"domain": "treatment", "title": "Sove"})  # fmt: skip
    made.append(("clinician", "create_goal"))
    # Not in the log: the patient's own requests, denied attempts, failed attempts.
    await step(world.patient, "GET", "/api/v1/patient/plan", 200)
    await step(world.patient, "POST", "/api/v1/patient/plan/goals", 201,
               json={"domain": "work", "title": "Jobbe"})  # fmt: skip
    await step(world.other_clinician, "GET", plan_url, 404)
    await step(world.other_advisor, "GET", f"{NAV}/{plan['id']}", 404)
    await caller.get(plan_url)  # no token: 401
    await step(world.clinician, "PATCH", plan_url, 412, json={"title": "X"}, if_match='"42"')
    await step(world.advisor, "GET", f"{NAV}/{plan['id']}", 200)
    made.append(("advisor", "read_plan"))

    response = await caller.get("/api/v1/patient/access-log", headers=world.patient.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None
    expected = [
        {
            "actor_name": getattr(world, who).name,
            "role": getattr(world, who).role,
            "org": getattr(world, who).org,
            "action": action,
        }
        for who, action in reversed(made)
    ]
    assert [{k: item[k] for k in expected[0]} for item in body["items"]] == expected
    times = [item["at"] for item in body["items"]]
    assert times == sorted(times, reverse=True)
    assert all(item["at"].endswith(("Z", "+00:00")) for item in body["items"])

    # Paginated: two at a time, the same entries in the same order, no duplicates.
    pages: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await caller.get(
            "/api/v1/patient/access-log", params=params, headers=world.patient.headers
        )
        assert page.status_code == 200, page.text
        pages.extend(page.json()["items"])
        assert len(page.json()["items"]) <= 2
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == body["items"]

    # The other patient's log knows nothing of this plan.
    other_plan = await caller.post(
        DPS,
        json={
            "patient": {"nid": world.other_patient.pid, "name": "Other Patient"},
            "nav_office": world.nav_office,
            "title": "Egen plan",
        },
        headers=world.clinician.headers,
    )
    assert other_plan.status_code == 201, other_plan.text
    theirs = await caller.get("/api/v1/patient/access-log", headers=world.other_patient.headers)
    assert theirs.status_code == 200, theirs.text
    assert [item["action"] for item in theirs.json()["items"]] == ["create_plan"]


async def test_access_log_is_for_patients_only(caller: httpx.AsyncClient, world: World) -> None:
    await create_plan(caller, world)
    response = await caller.get("/api/v1/patient/access-log", headers=world.clinician.headers)
    assert_problem(response, 403)
    response = await caller.get("/api/v1/patient/access-log")
    assert_problem(response, 401)


async def _auditor_pages(
    caller: httpx.AsyncClient, auditor: Actor, limit: int, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await caller.get("/api/v1/audit/events", params=query, headers=auditor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def _order_key(item: dict[str, Any]) -> tuple[str, str]:
    return item["occurred_at"], item["id"]


@pytest.fixture
async def trail(app: FastAPI, caller: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Two plans of one DPS unit; a clinician and an advisor act on them, an outsider tries."""
    first = await create_plan(caller, world)
    second_body = {"patient": {"nid": make_nid(), "name": "Kari"}, "nav_office": world.nav_office,
                   "title": "Andre plan"}  # fmt: skip
    second = await caller.post(DPS, json=second_body, headers=world.clinician.headers)
    assert second.status_code == 201
    plans = [first["id"], second.json()["id"]]
    request_ids: list[str] = []
    for i in range(3):
        for plan_id in plans:
            for actor, base in [(world.clinician, DPS), (world.advisor, NAV)]:
                response = await caller.get(f"{base}/{plan_id}", headers=actor.headers)
                assert response.status_code == 200
                request_ids.append(response.headers["x-request-id"])
        denied = await caller.get(f"{DPS}/{plans[0]}", headers=world.other_clinician.headers)
        assert denied.status_code == 404
        request_ids.append(denied.headers["x-request-id"])
        goal = await caller.post(
            f"{DPS}/{plans[i % 2]}/goals",
            json={"domain": "treatment", "title": f"Mål {i}"},
            headers=world.clinician.headers,
        )
        assert goal.status_code == 201
        request_ids.append(goal.headers["x-request-id"])
    rows = await sql(
        app,
        "SELECT * FROM audit_event WHERE plan_id = ANY(CAST(:p AS uuid[])) "
        "ORDER BY occurred_at, id",
        p=plans,
    )
    return {"plans": plans, "rows": rows, "request_ids": request_ids}


async def test_auditor_finds_a_plans_events_oldest_first_across_pages(
    caller: httpx.AsyncClient, world: World, trail: dict[str, Any]
) -> None:
    assert set(trail["request_ids"]) <= {r["request_id"] for r in trail["rows"]}
    plan_id = trail["plans"][0]
    expected = [r for r in trail["rows"] if str(r["plan_id"]) == plan_id]
    assert {r["outcome"] for r in expected} == {"allowed", "denied"}

    whole = await _auditor_pages(caller, world.auditor, 200, plan_id=plan_id)
    paged = await _auditor_pages(caller, world.auditor, 3, plan_id=plan_id)
    assert paged == whole
    assert [item["id"] for item in whole] == [str(r["id"]) for r in expected]
    assert len({item["id"] for item in paged}) == len(paged)
    assert [_order_key(i) for i in paged] == sorted(_order_key(i) for i in paged)
    assert all(item["plan_id"] == plan_id for item in paged)
    first = whole[0]
    assert (first["action"], first["actor_sub"], first["outcome"]) == (
        "create_plan", world.clinician.sub, "allowed",
    )  # fmt: skip
    assert {"chain", "seq", "prev_hash", "hash", "request_id", "client_ip"} <= set(first)


async def test_auditor_filters_by_actor(
    caller: httpx.AsyncClient, world: World, trail: dict[str, Any]
) -> None:
    for actor in (world.clinician, world.advisor, world.other_clinician):
        expected = [str(r["id"]) for r in trail["rows"] if r["actor_sub"] == actor.sub]
        assert expected
        found = await _auditor_pages(caller, world.auditor, 4, actor=actor.sub)
        assert [item["id"] for item in found] == expected
        assert {item["actor_sub"] for item in found} == {actor.sub}
    assert await _auditor_pages(caller, world.auditor, 10, actor="nobody-" + uuid.uuid4().hex) == []


async def test_auditor_filters_by_plan_and_time_window(
    caller: httpx.AsyncClient, world: World, trail: dict[str, Any]
) -> None:
    rows = trail["rows"]
    start, end = rows[3]["occurred_at"], rows[-4]["occurred_at"]
    expected = [str(r["id"]) for r in rows if start <= r["occurred_at"] < end]
    assert 5 < len(expected) < len(rows)
    for tz in (0, 2):  # the same window, written in UTC and in UTC+2
        shift = timedelta(hours=tz)
        window = {
            "from": (start + shift).replace(tzinfo=_tz(tz)).isoformat(),
            "to": (end + shift).replace(tzinfo=_tz(tz)).isoformat(),
        }
        found = []
        for plan_id in trail["plans"]:
            found += await _auditor_pages(caller, world.auditor, 2, plan_id=plan_id, **window)
        assert sorted(item["id"] for item in found) == sorted(expected)
        # From and to are all it takes; other plans' events in the window come too.
        unfiltered = await _auditor_pages(caller, world.auditor, 200, **window)
        assert set(expected) <= {item["id"] for item in unfiltered}
    # A time without a zone is ambiguous: refused.
    naive = await caller.get(
        "/api/v1/audit/events",
        params={"from": start.replace(tzinfo=None).isoformat()},
        headers=world.auditor.headers,
    )
    assert_problem(naive, 422)


def _tz(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        _b64("{}"),
        _b64("[1, 2]"),
        _b64('["2026-01-01T00:00:00+00:00", "not-a-uuid"]'),
        "x" * 201,
    ],
)
async def test_a_bad_cursor_is_a_422_problem(
    caller: httpx.AsyncClient, world: World, cursor: str
) -> None:
    await create_plan(caller, world)
    for url, actor in [
        ("/api/v1/audit/events", world.auditor),
        ("/api/v1/patient/access-log", world.patient),
    ]:
        response = await caller.get(url, params={"cursor": cursor}, headers=actor.headers)
        assert_problem(response, 422)


async def test_only_the_auditor_reads_the_trail(caller: httpx.AsyncClient, world: World) -> None:
    for actor in (world.clinician, world.advisor, world.patient):
        for url in ("/api/v1/audit/events", "/api/v1/audit/verify"):
            assert_problem(await caller.get(url, headers=actor.headers), 403)
    assert_problem(await caller.get("/api/v1/audit/events"), 401)


# --------------------------------------------------------------------------------------------
# 4. Tamper evidence, on a database of its own


@dataclass
class TamperDb:
    url: str
    app: FastAPI
    client: httpx.AsyncClient
    auditor: Actor
    chain: str  # the plan whose chain the cases tamper with; its events have seq 1..6
    other_plan: str
    checkpoints: Path  # this database's (empty: checkpoints are tests/faults/'s)


@pytest.fixture(scope="module")
async def tamper_db(
    embedded_pg: EmbeddedPostgres,
    data_dir: Path,
    tokens: TokenMaker,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[TamperDb]:
    url = embedded_pg.create_database("cw_audit_tamper")
    await asyncio.to_thread(migrate.upgrade, url)
    checkpoints = tmp_path_factory.mktemp("tamper-checkpoints")
    app = create_app(
        Settings(
            database_url=url, dev_auth=True, data_dir=data_dir,
            audit_checkpoint_dir=checkpoints, audit_checkpoint_interval_seconds=0,
        )
    )  # fmt: skip
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50124))
        async with httpx.AsyncClient(transport=transport, base_url="http://tamper.test") as c:
            world = make_world(tokens)
            plans = []
            for _ in range(3):
                body = {"patient": {"nid": make_nid(), "name": "Ola"},
                        "nav_office": world.nav_office, "title": "Plan"}  # fmt: skip
                created = await c.post(DPS, json=body, headers=world.clinician.headers)
                assert created.status_code == 201
                plan_id = created.json()["id"]
                plans.append(plan_id)
                goal = await c.post(
                    f"{DPS}/{plan_id}/goals",
                    json={"domain": "treatment", "title": "Mål"},
                    headers=world.clinician.headers,
                )
                assert goal.status_code == 201
                for actor, base in [(world.clinician, DPS), (world.advisor, NAV),
                                    (world.clinician, DPS)]:  # fmt: skip
                    assert (await c.get(f"{base}/{plan_id}", headers=actor.headers)).is_success
                read = await c.get(
                    f"{DPS}/{plan_id}/goals/{goal.json()['id']}", headers=world.clinician.headers
                )
                assert read.status_code == 200
                assert (await c.get(f"{DPS}/{plan_id}")).status_code == 401
                denied = await c.get(f"{DPS}/{plan_id}", headers=world.other_clinician.headers)
                assert denied.status_code == 404
            db = TamperDb(url, app, c, world.auditor, plans[1], plans[2], checkpoints)
            seqs = await sql(app, "SELECT seq FROM audit_event WHERE chain = :c ORDER BY seq",
                             c=db.chain)  # fmt: skip
            assert [r["seq"] for r in seqs] == [1, 2, 3, 4, 5, 6]
            await sql(app, "CREATE TABLE pristine_event AS TABLE audit_event")
            await sql(app, "CREATE TABLE pristine_head AS TABLE audit_chain_head")
            yield db


@pytest.fixture
async def pristine(tamper_db: TamperDb) -> TamperDb:
    """The tamper database as it was made: each case tampers with an intact trail."""
    async with tamper_db.app.state.engine.begin() as conn:
        for statement in (
            "TRUNCATE audit_event, audit_chain_head",
            "INSERT INTO audit_event SELECT * FROM pristine_event",
            "INSERT INTO audit_chain_head SELECT * FROM pristine_head",
        ):
            await conn.execute(text(statement))
    return tamper_db


async def verify_http(db: TamperDb) -> dict[str, Any]:
    response = await db.client.get("/api/v1/audit/verify", headers=db.auditor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verify_cli(db: TamperDb) -> tuple[int, dict[str, Any]]:
    env = child_env(DATABASE_URL=db.url, CAREWORK_AUDIT_CHECKPOINT_DIR=str(db.checkpoints))
    result = await asyncio.to_thread(run_cli, "audit", "verify", env=env)
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr
    report: dict[str, Any] = json.loads(lines[0])
    return result.returncode, report


@pytest.mark.live
async def test_an_untouched_trail_verifies_over_http_and_on_the_command_line(
    pristine: TamperDb,
) -> None:
    [count] = await sql(pristine.app, "SELECT count(*) AS n FROM audit_event")
    body = await verify_http(pristine)
    report = {key: body[key] for key in ("ok", "events", "chains", "first_broken")}
    assert report == {"ok": True, "events": count["n"], "chains": body["chains"],
                      "first_broken": None}  # fmt: skip
    assert body["run"]["state"] == "done", body  # the run this call started, finished
    assert body["checkpoint"]["state"] == "none", body  # none written yet: nothing to compare
    assert body["chains"] >= 4  # three plans and at least one shared chain
    # The verify request itself is audited too: the command line sees one more event.
    returncode, report = await verify_cli(pristine)
    assert returncode == 0, report
    assert report["ok"] is True
    assert report["events"] == count["n"] + 1
    assert report["first_broken"] is None


async def _forged_row(db: TamperDb, chain: str, seq: int, prev_hash: str) -> None:
    """A row someone who knows the hashing writes into the table (the head is left alone)."""
    [template] = await sql(db.app, "SELECT * FROM audit_event WHERE chain = :c AND seq = 2",
                           c=db.chain)  # fmt: skip
    fields = {**template, "id": uuid.uuid4(), "chain": chain, "seq": seq,
              "actor_name": "Forged", "occurred_at": template["occurred_at"]}  # fmt: skip
    fields["prev_hash"] = prev_hash
    fields["hash"] = event_hash(prev_hash, fields)
    columns = ", ".join(fields)
    await sql(db.app, f"INSERT INTO audit_event ({columns}) VALUES "
              f"({', '.join(':' + c for c in fields)})", **fields)  # fmt: skip


async def _hash_at(db: TamperDb, seq: int) -> str:
    [row] = await sql(db.app, "SELECT hash FROM audit_event WHERE chain = :c AND seq = :s",
                      c=db.chain, s=seq)  # fmt: skip
    return str(row["hash"])


def _update(assignment: str, seq: int) -> Callable[[TamperDb], Awaitable[None]]:
    async def tamper(db: TamperDb) -> None:
        params = {"other": db.other_plan} if ":other" in assignment else {}
        await sql(db.app, f"UPDATE audit_event SET {assignment} "
                  "WHERE chain = :c AND seq = :s", c=db.chain, s=seq, **params)  # fmt: skip

    return tamper


def _statement(statement: str) -> Callable[[TamperDb], Awaitable[None]]:
    async def tamper(db: TamperDb) -> None:
        await sql(db.app, statement, c=db.chain)

    return tamper


async def _forge_in_the_middle(db: TamperDb) -> None:
    await _forged_row(db, db.chain, 3, await _hash_at(db, 2))


async def _forge_at_the_end(db: TamperDb) -> None:
    await _forged_row(db, db.chain, 7, await _hash_at(db, 6))


NEW_CHAIN = str(uuid.uuid4())


async def _forge_a_new_chain(db: TamperDb) -> None:
    await _forged_row(db, NEW_CHAIN, 1, genesis(NEW_CHAIN))


TAMPERING: dict[str, tuple[Callable[[TamperDb], Awaitable[None]], str | None, int]] = {
    # name: (tampering, the chain found broken (None: the tampered plan's), first broken seq)
    "change actor_name": (_update("actor_name = 'Someone Else'", 3), None, 3),
    "change action": (_update("action = 'read_goal'", 4), None, 4),
    "change occurred_at": (_update("occurred_at = occurred_at + interval '1 second'", 2),
                           None, 2),
    "change outcome": (_update("outcome = 'denied'", 5), None, 5),
    "move to another plan": (_update("plan_id = CAST(:other AS uuid)", 3), None, 3),
    "delete a middle row": (_statement("DELETE FROM audit_event WHERE chain = :c AND seq = 3"),
                            None, 3),
    # The chain now ends at 5, one short of its head.
    "delete the newest row": (_statement("DELETE FROM audit_event WHERE chain = :c AND seq = 6"),
                              None, 5),
    "delete the whole chain": (_statement("DELETE FROM audit_event WHERE chain = :c"), None, 1),
    "swap two seqs": (_statement(
        "UPDATE audit_event SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END "
        "WHERE chain = :c AND seq IN (2, 3)"), None, 2),
    "swap two times": (_statement(
        "UPDATE audit_event e SET occurred_at = o.occurred_at FROM audit_event o "
        "WHERE e.chain = :c AND o.chain = :c AND e.seq + o.seq = 5 AND e.seq IN (2, 3)"),
        None, 2),
    "insert a forged row in the middle": (_forge_in_the_middle, None, 4),
    "append a forged row": (_forge_at_the_end, None, 7),
    "forge a chain of its own": (_forge_a_new_chain, NEW_CHAIN, 1),
}  # fmt: skip


@pytest.mark.live
@pytest.mark.parametrize("name", list(TAMPERING))
async def test_tampering_is_found(pristine: TamperDb, name: str) -> None:
    tamper, broken_chain, broken_seq = TAMPERING[name]
    assert (await verify_http(pristine))["ok"] is True  # intact before

    await tamper(pristine)

    body = await verify_http(pristine)
    assert body["ok"] is False, body
    assert body["first_broken"]["chain"] == (broken_chain or pristine.chain), body
    assert body["first_broken"]["seq"] == broken_seq, body
    assert body["first_broken"]["reason"]
    returncode, report = await verify_cli(pristine)
    assert returncode == 1, report
    assert report["ok"] is False
    same = ("chain", "seq", "reason")  # (two rows share a seq: which one is "first" may vary)
    assert {k: report["first_broken"][k] for k in same} == {
        k: body["first_broken"][k] for k in same
    }
