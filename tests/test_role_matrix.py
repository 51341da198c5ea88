"""The role matrix: every endpoint x every caller -> allowed, 401, 403 or 404.

The table below is the access model of DESIGN.md written out route by route. Columns:

- ``clinician``, ``nav_advisor``, ``patient``, ``auditor``: a caller of that role who is *in*
  scope (the plan's DPS unit, the plan's NAV office, the plan's own patient);
- ``no_token``: no ``Authorization`` header at all;
- ``out_of_scope``: the route's own role from outside the plan (a clinician of another DPS unit,
  an advisor of another NAV office, a patient whose national id has no plan). The auditor's
  routes have no plan scope: there it is an auditor of another organisation, allowed alike.

Each case builds what the route needs through the API as the owning side, then calls the route as
the caller under test with a valid body (and a current ``If-Match`` on PATCH), so the status
reflects access and nothing else. ``test_table_names_every_route`` keeps the table honest: a route
the app serves but the table does not name, or the other way round, fails the suite.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.domain_helpers import served_routes
from tests.factories import Actor, TokenMaker, World, create_plan, unique

#: DESIGN.md, access model 1: each router serves exactly one role.
ROUTER_ROLE = {
    "/api/v1/dps/": "clinician",
    "/api/v1/nav/": "nav_advisor",
    "/api/v1/patient/": "patient",
    "/api/v1/audit/": "auditor",
    "/fhir/r4/": "clinician",
}

CALLERS = ("clinician", "nav_advisor", "patient", "auditor", "no_token", "out_of_scope")


@dataclass(frozen=True)
class Row:
    route: str  # "METHOD /path/template", as the app declares it
    clinician: int
    nav_advisor: int
    patient: int
    auditor: int
    no_token: int
    out_of_scope: int

    @property
    def method(self) -> str:
        return self.route.split(" ", 1)[0]

    @property
    def path(self) -> str:
        return self.route.split(" ", 1)[1]

    @property
    def audience(self) -> str:
        """``dps``, ``nav``, ``patient`` or ``audit``: the path segment after ``/api/v1/``;
        ``fhir`` for the FHIR routes."""
        return "fhir" if self.path.startswith("/fhir/") else self.path.split("/")[3]

    @property
    def role(self) -> str:
        """The one role this route's router serves."""
        return next(role for prefix, role in ROUTER_ROLE.items() if self.path.startswith(prefix))

    def expected(self, caller: str) -> int:
        return int(getattr(self, caller))


R = Row

# fmt: off
MATRIX: list[Row] = [
    #  route                                                          clin  adv  pat  aud anon  out
    R("POST /api/v1/dps/plans",                                       201, 403, 403, 403, 401, 201),
    R("GET /api/v1/dps/plans",                                        200, 403, 403, 403, 401, 200),
    R("POST /api/v1/dps/plans/search",                                200, 403, 403, 403, 401, 200),
    R("GET /api/v1/dps/plans/{plan_id}",                              200, 403, 403, 403, 401, 404),
    R("PATCH /api/v1/dps/plans/{plan_id}",                            200, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/pdf",                          200, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/goals",                       201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/goals/{goal_id}",              200, 403, 403, 403, 401, 404),
    R("PATCH /api/v1/dps/plans/{plan_id}/goals/{goal_id}",            200, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/goals/{goal_id}/notes",       201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/goals/{goal_id}/notes",        200, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/activities",                  201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/activities/{activity_id}",     200, 403, 403, 403, 401, 404),
    R("PATCH /api/v1/dps/plans/{plan_id}/activities/{activity_id}",   200, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/team",                        201, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/consents",                    201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/consents",                     200, 403, 403, 403, 401, 404),
    R("DELETE /api/v1/dps/plans/{plan_id}/consents/{consent_id}",     204, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/history",                      200, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/events",                                       200, 403, 403, 403, 401, 200),
    R("POST /api/v1/nav/plans",                                       403, 201, 403, 403, 401, 201),
    R("GET /api/v1/nav/plans",                                        403, 200, 403, 403, 401, 200),
    R("POST /api/v1/nav/plans/search",                                403, 200, 403, 403, 401, 200),
    R("GET /api/v1/nav/plans/{plan_id}",                              403, 200, 403, 403, 401, 404),
    R("PATCH /api/v1/nav/plans/{plan_id}",                            403, 200, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/pdf",                          403, 200, 403, 403, 401, 404),
    R("POST /api/v1/nav/plans/{plan_id}/goals",                       403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/goals/{goal_id}",              403, 200, 403, 403, 401, 404),
    R("PATCH /api/v1/nav/plans/{plan_id}/goals/{goal_id}",            403, 200, 403, 403, 401, 404),
    R("POST /api/v1/nav/plans/{plan_id}/goals/{goal_id}/notes",       403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/goals/{goal_id}/notes",        403, 200, 403, 403, 401, 404),
    R("POST /api/v1/nav/plans/{plan_id}/activities",                  403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/activities/{activity_id}",     403, 200, 403, 403, 401, 404),
    R("PATCH /api/v1/nav/plans/{plan_id}/activities/{activity_id}",   403, 200, 403, 403, 401, 404),
    R("POST /api/v1/nav/plans/{plan_id}/team",                        403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/consent",                      403, 200, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/history",                      403, 200, 403, 403, 401, 404),
    R("GET /api/v1/nav/events",                                       403, 200, 403, 403, 401, 200),
    R("GET /api/v1/patient/plan",                                     403, 403, 200, 403, 401, 404),
    R("GET /api/v1/patient/plan/pdf",                                 403, 403, 200, 403, 401, 404),
    R("POST /api/v1/patient/plan/goals",                              403, 403, 201, 403, 401, 404),
    R("POST /api/v1/patient/plan/goals/{goal_id}/notes",              403, 403, 201, 403, 401, 404),
    R("GET /api/v1/patient/plan/goals/{goal_id}/notes",               403, 403, 200, 403, 401, 404),
    R("POST /api/v1/patient/consents",                                403, 403, 201, 403, 401, 404),
    R("GET /api/v1/patient/consents",                                 403, 403, 200, 403, 401, 404),
    R("DELETE /api/v1/patient/consents/{consent_id}",                 403, 403, 204, 403, 401, 404),
    R("GET /api/v1/patient/access-log",                               403, 403, 200, 403, 401, 404),
    # The auditor reads the whole trail: no plan scope, so an auditor of another organisation
    # is as allowed as any (``out_of_scope`` repeats the allowed code).
    R("GET /api/v1/audit/events",                                     403, 403, 403, 200, 401, 200),
    R("GET /api/v1/audit/verify",                                     403, 403, 403, 200, 401, 200),
    R("POST /api/v1/audit/verifications",                             403, 403, 403, 202, 401, 202),
    R("GET /api/v1/audit/verifications/{verification_id}",            403, 403, 403, 200, 401, 200),
    R("GET /fhir/r4/CarePlan/{plan_id}",                              200, 403, 403, 403, 401, 404),
    R("GET /fhir/r4/Goal",                                            200, 403, 403, 403, 401, 404),
    # Reviews, the EHR status check and quality indicators.
    R("POST /api/v1/dps/plans/status",                                200, 403, 403, 403, 401, 200),
    R("POST /api/v1/dps/plans/{plan_id}/evaluations",                 201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/evaluations",                  200, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/goals/{goal_id}/achievements", 200, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/reviews/overdue",                              200, 403, 403, 403, 401, 200),
    R("GET /api/v1/dps/indicators",                                   200, 403, 403, 403, 401, 200),
    R("POST /api/v1/nav/plans/status",                                403, 200, 403, 403, 401, 200),
    R("POST /api/v1/nav/plans/{plan_id}/evaluations",                 403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/evaluations",                  403, 200, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/goals/{goal_id}/achievements", 403, 200, 403, 403, 401, 404),
    R("GET /api/v1/nav/reviews/overdue",                              403, 200, 403, 403, 401, 200),
    R("GET /api/v1/nav/indicators",                                   403, 200, 403, 403, 401, 200),
    R("GET /api/v1/audit/indicators",                                 403, 403, 403, 200, 401, 200),
    # Three-way agreements and read receipts.
    R("PUT /api/v1/dps/plans/{plan_id}/goals/{goal_id}/agreement",     200, 403, 403, 403, 401, 404),  # noqa: E501
    R("PUT /api/v1/dps/plans/{plan_id}/activities/{activity_id}/agreement", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/dps/plans/{plan_id}/goals/{goal_id}/agreement",  200, 403, 403, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/dps/plans/{plan_id}/activities/{activity_id}/agreement", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/dps/plans/{plan_id}/seen",                         204, 403, 403, 403, 401, 404),  # noqa: E501
    R("PUT /api/v1/nav/plans/{plan_id}/goals/{goal_id}/agreement",     403, 200, 403, 403, 401, 404),  # noqa: E501
    R("PUT /api/v1/nav/plans/{plan_id}/activities/{activity_id}/agreement", 403, 200, 403, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/nav/plans/{plan_id}/goals/{goal_id}/agreement",  403, 200, 403, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/nav/plans/{plan_id}/activities/{activity_id}/agreement", 403, 200, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/nav/plans/{plan_id}/seen",                         403, 204, 403, 403, 401, 404),  # noqa: E501
    R("PUT /api/v1/patient/plan/goals/{goal_id}/agreement",            403, 403, 200, 403, 401, 404),  # noqa: E501
    R("PUT /api/v1/patient/plan/activities/{activity_id}/agreement",   403, 403, 200, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/patient/plan/goals/{goal_id}/agreement",         403, 403, 200, 403, 401, 404),  # noqa: E501
    R("DELETE /api/v1/patient/plan/activities/{activity_id}/agreement", 403, 403, 200, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/patient/plan/seen",                                403, 403, 204, 403, 401, 404),  # noqa: E501
    # Joint meetings and entered in error.
    R("POST /api/v1/dps/plans/{plan_id}/meetings",                    201, 403, 403, 403, 401, 404),
    R("GET /api/v1/dps/plans/{plan_id}/meetings",                     200, 403, 403, 403, 401, 404),
    R("PATCH /api/v1/dps/plans/{plan_id}/meetings/{meeting_id}",      200, 403, 403, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/meetings/{meeting_id}/release", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/nav/plans/{plan_id}/meetings",                    403, 201, 403, 403, 401, 404),
    R("GET /api/v1/nav/plans/{plan_id}/meetings",                     403, 200, 403, 403, 401, 404),
    R("PATCH /api/v1/nav/plans/{plan_id}/meetings/{meeting_id}",      403, 200, 403, 403, 401, 404),
    R("POST /api/v1/nav/plans/{plan_id}/meetings/{meeting_id}/release", 403, 200, 403, 403, 401, 404),  # noqa: E501
    R("GET /api/v1/patient/plan/meetings",                            403, 403, 200, 403, 401, 404),
    R("POST /api/v1/dps/plans/{plan_id}/goals/{goal_id}/entered-in-error", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/dps/plans/{plan_id}/activities/{activity_id}/entered-in-error", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/dps/plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error", 200, 403, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/nav/plans/{plan_id}/goals/{goal_id}/entered-in-error", 403, 200, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/nav/plans/{plan_id}/activities/{activity_id}/entered-in-error", 403, 200, 403, 403, 401, 404),  # noqa: E501
    R("POST /api/v1/nav/plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error", 403, 200, 403, 403, 401, 404),  # noqa: E501
]
# fmt: on

#: Served by the app but not patient data, so not part of the matrix.
NOT_PATIENT_DATA = frozenset({"/healthz", "/readyz", "/metrics"})

PROBLEM_JSON = "application/problem+json"


# --- what each route needs ---------------------------------------------------------------------


@dataclass
class Ctx:
    client: httpx.AsyncClient
    world: World
    side: str  # "dps" | "nav" for the shared plan routes, else "patient", "audit" or "fhir"

    @property
    def owner(self) -> Actor:
        """The side that builds the test data: the route's own side (DPS for patient routes)."""
        return self.world.advisor if self.side == "nav" else self.world.clinician

    @property
    def owner_side(self) -> str:
        return "nav" if self.side == "nav" else "dps"

    @property
    def base(self) -> str:
        return f"/api/v1/{self.owner_side}/plans"

    @property
    def goal_domain(self) -> str:
        return "work" if self.side == "nav" else "treatment"

    @property
    def activity_kind(self) -> str:
        return "work_training" if self.side == "nav" else "therapy"

    @property
    def team_role(self) -> str:
        return "nav_advisor" if self.side == "nav" else "clinician"

    @property
    def own_unit(self) -> str:
        return self.world.nav_office if self.side == "nav" else self.world.dps_unit

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post(url, json=body, headers=self.owner.headers)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def etag(self, url: str) -> str:
        response = await self.client.get(url, headers=self.owner.headers)
        assert response.status_code == 200, response.text
        return response.headers["etag"]

    async def plan(self) -> str:
        return str((await create_plan(self.client, self.world))["id"])

    async def goal(self, plan_id: str) -> str:
        body = {"domain": self.goal_domain, "title": "Fast jobb innen ett år"}
        return str((await self.post(f"{self.base}/{plan_id}/goals", body))["id"])

    async def activity(self, plan_id: str, goal_id: str) -> str:
        body = {"goal_id": goal_id, "kind": self.activity_kind, "title": "Ukentlig oppfølging"}
        return str((await self.post(f"{self.base}/{plan_id}/activities", body))["id"])

    async def consent(self, plan_id: str) -> str:
        """A consent given in person, recorded by the clinician: NAV never grants one."""
        body = {"scopes": ["treatment_goals"], "evidence": "written"}
        response = await self.client.post(
            f"/api/v1/dps/plans/{plan_id}/consents", json=body, headers=self.world.clinician.headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["id"])


@dataclass
class Call:
    """One request of the route under test, and what a 2xx answer must show."""

    url: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    plan_id: str | None = None  # the world's plan, when there is one
    #: Runs on a 2xx answer; ``insider`` is False for an out-of-scope caller.
    check: Callable[[httpx.Response, Actor, bool], None] | None = None


Scenario = Callable[[Ctx], Awaitable[Call]]


def _lists_plan(plan_id: str) -> Callable[[httpx.Response, Actor, bool], None]:
    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        listed = {item["id"] for item in response.json()["items"]}
        assert (plan_id in listed) is insider, (plan_id, listed)

    return check


def _is(key: str, value: Any) -> Callable[[httpx.Response, Actor, bool], None]:
    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        assert response.json()[key] == value, response.json()

    return check


async def s_create_plan(ctx: Ctx) -> Call:
    other_unit = "dps_unit" if ctx.side == "nav" else "nav_office"
    other_value = ctx.world.dps_unit if ctx.side == "nav" else ctx.world.nav_office
    body = {
        "patient": {"nid": ctx.world.nid, "name": "Ola Pasient"},
        other_unit: other_value,
        "title": "Tilbake i arbeid",
    }

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        # The caller's own unit was left out: the plan lands in the caller's organisation.
        own_column = "nav_office" if ctx.side == "nav" else "dps_unit"
        assert response.json()[own_column] == actor.org
        assert response.headers["location"] == f"{ctx.base}/{response.json()['id']}"
        assert response.headers["etag"] == '"1"'

    return Call(ctx.base, body, check=check)


async def s_list_plans(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    return Call(f"{ctx.base}?limit=200", plan_id=plan_id, check=_lists_plan(plan_id))


async def s_search_plans(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"nid": ctx.world.nid}
    return Call(f"{ctx.base}/search", body, plan_id=plan_id, check=_lists_plan(plan_id))


async def s_read_plan(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    return Call(f"{ctx.base}/{plan_id}", plan_id=plan_id, check=_is("id", plan_id))


def _is_pdf(response: httpx.Response, actor: Actor, insider: bool) -> None:
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


async def s_read_plan_pdf(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    return Call(f"{ctx.base}/{plan_id}/pdf", plan_id=plan_id, check=_is_pdf)


async def s_update_plan(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"{ctx.base}/{plan_id}"
    if_match = {"If-Match": await ctx.etag(url)}
    body = {"title": "Tilbake i arbeid, steg to"}
    return Call(url, body, if_match, plan_id, check=_is("version", 2))


async def s_create_goal(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"domain": ctx.goal_domain, "title": "Fullføre kurs", "description": "Høsten"}
    return Call(f"{ctx.base}/{plan_id}/goals", body, plan_id=plan_id, check=_is("status", "active"))


async def s_read_goal(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    url = f"{ctx.base}/{plan_id}/goals/{goal_id}"
    return Call(url, plan_id=plan_id, check=_is("id", goal_id))


async def s_update_goal(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"{ctx.base}/{plan_id}/goals/{await ctx.goal(plan_id)}"
    if_match = {"If-Match": await ctx.etag(url)}
    return Call(url, {"status": "on_hold"}, if_match, plan_id, check=_is("status", "on_hold"))


async def s_add_note(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"{ctx.base}/{plan_id}/goals/{await ctx.goal(plan_id)}/notes"
    body = {"text": "Godt møte i dag.", "visibility": "shared"}
    return Call(url, body, plan_id=plan_id, check=_is("visibility", "shared"))


async def s_list_notes(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    url = f"{ctx.base}/{plan_id}/goals/{goal_id}/notes"
    written = [
        (await ctx.post(url, {"text": text, "visibility": "shared"}))["id"]
        for text in ("Først.", "Så.")
    ]

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        assert [n["id"] for n in response.json()["items"]] == written[::-1], response.json()

    if ctx.side == "patient":
        url = f"/api/v1/patient/plan/goals/{goal_id}/notes"
    return Call(url, plan_id=plan_id, check=check)


async def s_create_activity(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    body = {"goal_id": goal_id, "kind": ctx.activity_kind, "title": "Oppstart", "status": "planned"}
    url = f"{ctx.base}/{plan_id}/activities"
    return Call(url, body, plan_id=plan_id, check=_is("responsible_side", ctx.owner_side))


async def s_read_activity(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    activity_id = await ctx.activity(plan_id, await ctx.goal(plan_id))
    url = f"{ctx.base}/{plan_id}/activities/{activity_id}"
    return Call(url, plan_id=plan_id, check=_is("id", activity_id))


async def s_update_activity(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    activity_id = await ctx.activity(plan_id, await ctx.goal(plan_id))
    url = f"{ctx.base}/{plan_id}/activities/{activity_id}"
    if_match = {"If-Match": await ctx.etag(url)}
    body = {"status": "in_progress"}
    return Call(url, body, if_match, plan_id, check=_is("status", "in_progress"))


async def s_add_team_member(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"sub": unique("member"), "name": "Per Team", "role": ctx.team_role, "org": ctx.own_unit}
    return Call(
        f"{ctx.base}/{plan_id}/team", body, plan_id=plan_id, check=_is("side", ctx.owner_side)
    )


async def s_patient_read_plan(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    return Call("/api/v1/patient/plan", plan_id=plan_id, check=_is("id", plan_id))


async def s_patient_read_plan_pdf(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    return Call("/api/v1/patient/plan/pdf", plan_id=plan_id, check=_is_pdf)


async def s_patient_propose_goal(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"domain": "education", "title": "Ta fagbrev"}
    return Call(
        "/api/v1/patient/plan/goals", body, plan_id=plan_id, check=_is("status", "proposed")
    )


async def s_patient_add_note(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    url = f"/api/v1/patient/plan/goals/{goal_id}/notes"
    return Call(url, {"text": "Det går bedre nå."}, plan_id=plan_id, check=_is("goal_id", goal_id))


def _lists_consent(consent_id: str) -> Callable[[httpx.Response, Actor, bool], None]:
    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        items = response.json()["items"]
        assert [(c["id"], c["active"]) for c in items] == [(consent_id, True)], items

    return check


def _no_content(response: httpx.Response, actor: Actor, insider: bool) -> None:
    assert response.content == b"", response.content


async def s_record_consent(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"scopes": ["treatment_goals", "treatment_notes"], "evidence": "verbal"}

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        consent = response.json()
        assert (consent["plan_id"], consent["evidence"], consent["active"]) == (
            plan_id,
            "verbal",
            True,
        )

    return Call(f"/api/v1/dps/plans/{plan_id}/consents", body, plan_id=plan_id, check=check)


async def s_list_consents(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    consent_id = await ctx.consent(plan_id)
    url = f"/api/v1/dps/plans/{plan_id}/consents"
    return Call(url, plan_id=plan_id, check=_lists_consent(consent_id))


async def s_revoke_consent(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"/api/v1/dps/plans/{plan_id}/consents/{await ctx.consent(plan_id)}"
    return Call(url, plan_id=plan_id, check=_no_content)


async def s_nav_read_consent(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    await ctx.consent(plan_id)
    url = f"/api/v1/nav/plans/{plan_id}/consent"
    return Call(url, plan_id=plan_id, check=_is("scopes", ["treatment_goals"]))


async def s_patient_grant_consent(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"scopes": ["treatment_goals"]}

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        consent = response.json()
        assert (consent["plan_id"], consent["evidence"], consent["active"]) == (
            plan_id,
            "digital",
            True,
        )
        assert consent["granted_by_name"] == actor.name

    return Call("/api/v1/patient/consents", body, plan_id=plan_id, check=check)


async def s_patient_list_consents(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    consent_id = await ctx.consent(plan_id)
    return Call("/api/v1/patient/consents", plan_id=plan_id, check=_lists_consent(consent_id))


async def s_patient_revoke_consent(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"/api/v1/patient/consents/{await ctx.consent(plan_id)}"
    return Call(url, plan_id=plan_id, check=_no_content)


async def s_patient_access_log(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    await ctx.etag(f"{ctx.base}/{plan_id}")  # the clinician reads the plan

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        readers = {(e["actor_name"], e["role"], e["org"]) for e in response.json()["items"]}
        clinician = ctx.world.clinician
        assert (clinician.name, "clinician", clinician.org) in readers, readers

    return Call("/api/v1/patient/access-log", plan_id=plan_id, check=check)


async def s_audit_events(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        events = response.json()["items"]
        assert {e["plan_id"] for e in events} == {plan_id}, events
        assert ctx.world.clinician.sub in {e["actor_sub"] for e in events}, events

    return Call(f"/api/v1/audit/events?plan_id={plan_id}&limit=200", plan_id=plan_id, check=check)


async def s_audit_verify(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        # Other test modules tamper with the shared trail on purpose, so ``ok`` is theirs to
        # assert; here the answer's shape and that it counted the events are checked.
        report = response.json()
        assert isinstance(report["ok"], bool), report
        assert report["events"] >= 1, report

    return Call("/api/v1/audit/verify", plan_id=plan_id, check=check)


async def s_audit_start_verification(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        run = response.json()
        assert run["state"] in {"running", "done"}, run
        assert response.headers["location"] == f"/api/v1/audit/verifications/{run['id']}"

    return Call("/api/v1/audit/verifications", plan_id=plan_id, check=check)


async def s_audit_read_verification(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    started = await ctx.client.post(
        "/api/v1/audit/verifications", headers=ctx.world.auditor.headers
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        run = response.json()
        assert run["id"] == run_id, run
        assert run["state"] in {"running", "done"}, run

    return Call(f"/api/v1/audit/verifications/{run_id}", plan_id=plan_id, check=check)


async def s_read_history(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    await ctx.goal(plan_id)

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        events = response.json()["items"]
        assert {e["plan_id"] for e in events} == {plan_id}, events
        assert "goal" in {e["resource_type"] for e in events}, events

    return Call(f"{ctx.base}/{plan_id}/history", plan_id=plan_id, check=check)


async def s_read_feed(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        # The world's unit and office are new: the feed holds this plan exactly for insiders.
        listed = {e["plan_id"] for e in response.json()["items"]}
        assert (plan_id in listed) is insider, (plan_id, listed)

    return Call(f"/api/v1/{ctx.side}/events?limit=200", plan_id=plan_id, check=check)


async def s_fhir_care_plan(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        assert response.headers["content-type"].startswith("application/fhir+json")
        assert (response.json()["resourceType"], response.json()["id"]) == ("CarePlan", plan_id)

    return Call(f"/fhir/r4/CarePlan/{plan_id}", plan_id=plan_id, check=check)


async def s_fhir_goals(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        bundle = response.json()
        assert bundle["resourceType"] == "Bundle", bundle
        assert [e["resource"]["id"] for e in bundle["entry"]] == [goal_id], bundle

    return Call(f"/fhir/r4/Goal?plan={plan_id}", plan_id=plan_id, check=check)


async def _meeting(ctx: Ctx, plan_id: str, *, minutes: str | None = None) -> str:
    """A joint meeting the owning side calls, with draft minutes if given (version 2 then)."""
    body = {
        "scheduled_at": "2031-05-01T10:00:00+02:00",
        "location": "NAV-kontoret",
        "agenda": "Oppstart",
        "participants": [{"name": "Kari Klinikk", "role": "psykolog", "side": "dps"}],
    }
    meeting_id = str((await ctx.post(f"{ctx.base}/{plan_id}/meetings", body))["id"])
    if minutes is not None:
        response = await ctx.client.patch(
            f"{ctx.base}/{plan_id}/meetings/{meeting_id}",
            json={"minutes": minutes},
            headers={**ctx.owner.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 200, response.text
    return meeting_id


async def s_create_meeting(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    body = {"scheduled_at": "2031-05-01T10:00:00+02:00", "agenda": "Arbeid og behandling"}
    url = f"{ctx.base}/{plan_id}/meetings"
    return Call(url, body, plan_id=plan_id, check=_is("created_by_side", ctx.owner_side))


async def s_list_meetings(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    meeting_id = await _meeting(ctx, plan_id)

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        assert [m["id"] for m in response.json()["items"]] == [meeting_id], response.json()

    if ctx.side == "patient":  # the patient reads the meetings DPS called on their plan
        return Call("/api/v1/patient/plan/meetings", plan_id=plan_id, check=check)
    return Call(f"{ctx.base}/{plan_id}/meetings", plan_id=plan_id, check=check)


async def s_update_meeting(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"{ctx.base}/{plan_id}/meetings/{await _meeting(ctx, plan_id)}"
    body = {"minutes": "Enighet om arbeidstrening."}
    return Call(url, body, {"If-Match": '"1"'}, plan_id, check=_is("minutes", body["minutes"]))


async def s_release_meeting(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    meeting_id = await _meeting(ctx, plan_id, minutes="Enighet om oppstart.")
    action = {
        "title": "Oppstart",
        "kind": ctx.activity_kind,
        "responsible_side": ctx.owner_side,
        "responsible_person": "Per Ansvarlig",
    }

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        released = response.json()
        assert released["minutes_status"] == "released", released
        assert len(released["activity_ids"]) == 1, released

    url = f"{ctx.base}/{plan_id}/meetings/{meeting_id}/release"
    return Call(url, {"actions": [action]}, {"If-Match": '"2"'}, plan_id, check=check)


async def s_mark_goal_entered_in_error(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    if_match = {"If-Match": await ctx.etag(f"{ctx.base}/{plan_id}/goals/{goal_id}")}
    url = f"{ctx.base}/{plan_id}/goals/{goal_id}/entered-in-error"
    return Call(url, {"reason": "Feil pasient"}, if_match, plan_id, check=_is("version", 2))


async def s_mark_activity_entered_in_error(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    activity_id = await ctx.activity(plan_id, await ctx.goal(plan_id))
    if_match = {"If-Match": await ctx.etag(f"{ctx.base}/{plan_id}/activities/{activity_id}")}
    url = f"{ctx.base}/{plan_id}/activities/{activity_id}/entered-in-error"
    return Call(url, {"reason": "Registrert to ganger"}, if_match, plan_id, check=_is("version", 2))


async def s_mark_note_entered_in_error(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    body = {"text": "Skrevet på feil mål.", "visibility": "shared"}
    note_id = (await ctx.post(f"{ctx.base}/{plan_id}/goals/{goal_id}/notes", body))["id"]
    url = f"{ctx.base}/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error"
    return Call(url, {"reason": "Feil mål"}, plan_id=plan_id, check=_is("id", note_id))


PARTY = {"clinician": "dps", "nav_advisor": "nav", "patient": "patient"}


def _agreement_by(present: bool) -> Callable[[httpx.Response, Actor, bool], None]:
    """The answer is the item, and the caller's side is (or is no longer) among its agreers."""

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        item = response.json()
        assert (PARTY[actor.role] in {a["party"] for a in item["agreed_by"]}) is present, item
        assert response.headers["etag"] == f'"{item["version"]}"'

    return check


async def _agreement(ctx: Ctx, kind: str, *, withdraw: bool) -> Call:
    """A goal (or an activity on it) of the owning side; to withdraw, the caller's side has
    agreed first."""
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    item = (
        f"goals/{goal_id}"
        if kind == "goal"
        else f"activities/{await ctx.activity(plan_id, goal_id)}"
    )
    if_match = {"If-Match": await ctx.etag(f"{ctx.base}/{plan_id}/{item}")}
    if ctx.side == "patient":
        url, agreer = f"/api/v1/patient/plan/{item}/agreement", ctx.world.patient
    else:
        url, agreer = f"{ctx.base}/{plan_id}/{item}/agreement", ctx.owner
    if not withdraw:
        return Call(url, headers=if_match, plan_id=plan_id, check=_agreement_by(True))
    response = await ctx.client.put(url, headers={**agreer.headers, **if_match})
    assert response.status_code == 200, response.text
    return Call(url, plan_id=plan_id, check=_agreement_by(False))


async def s_agree_to_goal(ctx: Ctx) -> Call:
    return await _agreement(ctx, "goal", withdraw=False)


async def s_withdraw_goal_agreement(ctx: Ctx) -> Call:
    return await _agreement(ctx, "goal", withdraw=True)


async def s_agree_to_activity(ctx: Ctx) -> Call:
    return await _agreement(ctx, "activity", withdraw=False)


async def s_withdraw_activity_agreement(ctx: Ctx) -> Call:
    return await _agreement(ctx, "activity", withdraw=True)


async def s_mark_plan_seen(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = "/api/v1/patient/plan/seen" if ctx.side == "patient" else f"{ctx.base}/{plan_id}/seen"
    return Call(url, plan_id=plan_id, check=_no_content)


async def _evaluated_goal(ctx: Ctx) -> tuple[str, str]:
    """A plan with a goal of the owning side, assessed once by that side."""
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    body = {"held_on": "2025-01-01", "goals": [{"goal_id": goal_id, "achievement": "improving"}]}
    await ctx.post(f"{ctx.base}/{plan_id}/evaluations", body)
    return plan_id, goal_id


async def s_plan_status(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        found = response.json()
        assert (found["active_plan"], found["plan_id"]) == (
            (True, plan_id) if insider else (False, None)
        ), found

    url = f"/api/v1/{ctx.side}/plans/status"
    return Call(url, {"nid": ctx.world.nid}, plan_id=plan_id, check=check)


async def s_record_evaluation(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    goal_id = await ctx.goal(plan_id)
    body = {"held_on": "2025-01-01", "goals": [{"goal_id": goal_id, "achievement": "achieved"}]}

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        found = response.json()
        assert found["recorded_by_side"] == ctx.owner_side, found
        assert [(g["goal_id"], g["achievement"]) for g in found["goals"]] == [(goal_id, "achieved")]

    return Call(f"{ctx.base}/{plan_id}/evaluations", body, plan_id=plan_id, check=check)


async def s_list_evaluations(ctx: Ctx) -> Call:
    plan_id, goal_id = await _evaluated_goal(ctx)

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        (found,) = response.json()["items"]
        assert [g["goal_id"] for g in found["goals"]] == [goal_id], found

    return Call(f"{ctx.base}/{plan_id}/evaluations", plan_id=plan_id, check=check)


async def s_goal_achievements(ctx: Ctx) -> Call:
    plan_id, goal_id = await _evaluated_goal(ctx)

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        items = response.json()["items"]
        assert [(i["held_on"], i["achievement"]) for i in items] == [("2025-01-01", "improving")]

    url = f"{ctx.base}/{plan_id}/goals/{goal_id}/achievements"
    return Call(url, plan_id=plan_id, check=check)


async def s_overdue_reviews(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()
    url = f"{ctx.base}/{plan_id}"
    response = await ctx.client.patch(
        url,
        json={"next_review_date": "2025-01-01"},
        headers={**ctx.owner.headers, "If-Match": await ctx.etag(url)},
    )
    assert response.status_code == 200, response.text
    return Call(f"/api/v1/{ctx.side}/reviews/overdue", plan_id=plan_id, check=_lists_plan(plan_id))


async def s_unit_indicators(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        report = response.json()
        assert report["org"] == actor.org, report
        # One plan in the unit: every figure rests on too few patients to show.
        assert {i["suppressed"] for i in report["indicators"]} == {True}, report

    return Call(f"/api/v1/{ctx.side}/indicators", plan_id=plan_id, check=check)


async def s_audit_indicators(ctx: Ctx) -> Call:
    plan_id = await ctx.plan()

    def check(response: httpx.Response, actor: Actor, insider: bool) -> None:
        report = response.json()
        assert report["org"] == ctx.world.dps_unit, report
        assert {i["suppressed"] for i in report["indicators"]} == {True}, report

    url = f"/api/v1/audit/indicators?org={ctx.world.dps_unit}"
    return Call(url, plan_id=plan_id, check=check)


#: Keyed by route with the side written as ``{side}``: DPS and NAV share the plan routes.
SCENARIOS: dict[str, Scenario] = {
    "POST /api/v1/{side}/plans": s_create_plan,
    "GET /api/v1/{side}/plans": s_list_plans,
    "POST /api/v1/{side}/plans/search": s_search_plans,
    "GET /api/v1/{side}/plans/{plan_id}": s_read_plan,
    "GET /api/v1/{side}/plans/{plan_id}/pdf": s_read_plan_pdf,
    "PATCH /api/v1/{side}/plans/{plan_id}": s_update_plan,
    "POST /api/v1/{side}/plans/{plan_id}/goals": s_create_goal,
    "GET /api/v1/{side}/plans/{plan_id}/goals/{goal_id}": s_read_goal,
    "PATCH /api/v1/{side}/plans/{plan_id}/goals/{goal_id}": s_update_goal,
    "POST /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/notes": s_add_note,
    "GET /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/notes": s_list_notes,
    "GET /api/v1/patient/plan/goals/{goal_id}/notes": s_list_notes,
    "POST /api/v1/{side}/plans/{plan_id}/activities": s_create_activity,
    "GET /api/v1/{side}/plans/{plan_id}/activities/{activity_id}": s_read_activity,
    "PATCH /api/v1/{side}/plans/{plan_id}/activities/{activity_id}": s_update_activity,
    "POST /api/v1/{side}/plans/{plan_id}/team": s_add_team_member,
    "GET /api/v1/patient/plan": s_patient_read_plan,
    "GET /api/v1/patient/plan/pdf": s_patient_read_plan_pdf,
    "POST /api/v1/patient/plan/goals": s_patient_propose_goal,
    "POST /api/v1/patient/plan/goals/{goal_id}/notes": s_patient_add_note,
    "POST /api/v1/{side}/plans/{plan_id}/consents": s_record_consent,
    "GET /api/v1/{side}/plans/{plan_id}/consents": s_list_consents,
    "DELETE /api/v1/{side}/plans/{plan_id}/consents/{consent_id}": s_revoke_consent,
    "GET /api/v1/{side}/plans/{plan_id}/consent": s_nav_read_consent,
    "POST /api/v1/patient/consents": s_patient_grant_consent,
    "GET /api/v1/patient/consents": s_patient_list_consents,
    "DELETE /api/v1/patient/consents/{consent_id}": s_patient_revoke_consent,
    "GET /api/v1/patient/access-log": s_patient_access_log,
    "GET /api/v1/audit/events": s_audit_events,
    "GET /api/v1/audit/verify": s_audit_verify,
    "POST /api/v1/audit/verifications": s_audit_start_verification,
    "GET /api/v1/audit/verifications/{verification_id}": s_audit_read_verification,
    "GET /api/v1/{side}/plans/{plan_id}/history": s_read_history,
    "GET /api/v1/{side}/events": s_read_feed,
    "GET /fhir/r4/CarePlan/{plan_id}": s_fhir_care_plan,
    "GET /fhir/r4/Goal": s_fhir_goals,
    "POST /api/v1/{side}/plans/status": s_plan_status,
    "POST /api/v1/{side}/plans/{plan_id}/evaluations": s_record_evaluation,
    "GET /api/v1/{side}/plans/{plan_id}/evaluations": s_list_evaluations,
    "GET /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/achievements": s_goal_achievements,
    "GET /api/v1/{side}/reviews/overdue": s_overdue_reviews,
    "GET /api/v1/{side}/indicators": s_unit_indicators,
    "GET /api/v1/audit/indicators": s_audit_indicators,
    "PUT /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/agreement": s_agree_to_goal,
    "DELETE /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/agreement": s_withdraw_goal_agreement,
    "PUT /api/v1/{side}/plans/{plan_id}/activities/{activity_id}/agreement": s_agree_to_activity,
    "DELETE /api/v1/{side}/plans/{plan_id}/activities/{activity_id}/agreement": (
        s_withdraw_activity_agreement
    ),
    "POST /api/v1/{side}/plans/{plan_id}/seen": s_mark_plan_seen,
    "PUT /api/v1/patient/plan/goals/{goal_id}/agreement": s_agree_to_goal,
    "DELETE /api/v1/patient/plan/goals/{goal_id}/agreement": s_withdraw_goal_agreement,
    "PUT /api/v1/patient/plan/activities/{activity_id}/agreement": s_agree_to_activity,
    "DELETE /api/v1/patient/plan/activities/{activity_id}/agreement": (
        s_withdraw_activity_agreement
    ),
    "POST /api/v1/patient/plan/seen": s_mark_plan_seen,
    "POST /api/v1/{side}/plans/{plan_id}/meetings": s_create_meeting,
    "GET /api/v1/{side}/plans/{plan_id}/meetings": s_list_meetings,
    "PATCH /api/v1/{side}/plans/{plan_id}/meetings/{meeting_id}": s_update_meeting,
    "POST /api/v1/{side}/plans/{plan_id}/meetings/{meeting_id}/release": s_release_meeting,
    "GET /api/v1/patient/plan/meetings": s_list_meetings,
    "POST /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/entered-in-error": (
        s_mark_goal_entered_in_error
    ),
    "POST /api/v1/{side}/plans/{plan_id}/activities/{activity_id}/entered-in-error": (
        s_mark_activity_entered_in_error
    ),
    "POST /api/v1/{side}/plans/{plan_id}/goals/{goal_id}/notes/{note_id}/entered-in-error": (
        s_mark_note_entered_in_error
    ),
}


def scenario_for(row: Row) -> Scenario:
    key = row.route.replace("/api/v1/dps/", "/api/v1/{side}/").replace(
        "/api/v1/nav/", "/api/v1/{side}/"
    )
    return SCENARIOS[key]


def caller_for(world: World, row: Row, caller: str, tokens: TokenMaker) -> Actor | None:
    if caller == "out_of_scope":
        outsiders = {
            "clinician": world.other_clinician,
            "nav_advisor": world.other_advisor,
            "patient": world.other_patient,
        }
        if row.role == "auditor":
            return tokens.actor("auditor", org=unique("datatilsynet"))
        return outsiders[row.role]
    return {
        "clinician": world.clinician,
        "nav_advisor": world.advisor,
        "patient": world.patient,
        "auditor": world.auditor,
        "no_token": None,
    }[caller]


# --- checks --------------------------------------------------------------------------------------


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert isinstance(body.get("type"), str), body
    assert body["type"]
    assert isinstance(body.get("title"), str), body
    assert body["title"]
    assert body.get("status") == status, body
    return body


async def owner_snapshot(client: httpx.AsyncClient, world: World, plan_id: str | None) -> Any:
    """What the plan's owners can see: a denied call must change none of it."""
    seen: list[Any] = []
    for actor, side in ((world.clinician, "dps"), (world.advisor, "nav")):
        response = await client.post(
            f"/api/v1/{side}/plans/search", json={"nid": world.nid}, headers=actor.headers
        )
        assert response.status_code == 200, response.text
        seen.append(response.json())
    if plan_id is not None:
        response = await client.get(f"/api/v1/dps/plans/{plan_id}", headers=world.clinician.headers)
        assert response.status_code == 200, response.text
        seen.append((response.headers["etag"], response.json()))
    return seen


async def send(
    client: httpx.AsyncClient, row: Row, call: Call, url: str, actor: Actor | None
) -> httpx.Response:
    headers = dict(call.headers)
    if actor is not None:
        headers.update(actor.headers)
    return await client.request(row.method, url, json=call.body, headers=headers)


# --- the matrix ----------------------------------------------------------------------------------


CASES = [
    pytest.param(row, caller, id=f"{row.route} as {caller}") for row in MATRIX for caller in CALLERS
]


@pytest.mark.parametrize(("row", "caller"), CASES)
async def test_role_matrix(
    client: httpx.AsyncClient, world: World, tokens: TokenMaker, row: Row, caller: str
) -> None:
    side = row.audience
    call = await scenario_for(row)(Ctx(client, world, side))
    actor = caller_for(world, row, caller, tokens)
    expected = row.expected(caller)
    before = None if expected < 400 else await owner_snapshot(client, world, call.plan_id)

    response = await send(client, row, call, call.url, actor)

    assert response.status_code == expected, (row.route, caller, response.text)
    if expected < 400:
        assert call.check is not None
        assert actor is not None
        call.check(response, actor, caller != "out_of_scope")
        return
    body = assert_problem(response, expected)
    if expected == 401:
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert await owner_snapshot(client, world, call.plan_id) == before, "a denied call changed data"
    if expected == 404 and call.plan_id is not None and call.plan_id in call.url:
        # Out of scope reads exactly like a plan that does not exist.
        missing = await send(
            client, row, call, call.url.replace(call.plan_id, str(uuid.uuid4())), actor
        )
        assert missing.status_code == 404
        assert assert_problem(missing, 404) == body


# --- the table against the app -------------------------------------------------------------------


def test_table_names_every_route(app: FastAPI) -> None:
    # /ui is the browser frontend: cookie sign-in and redirects instead of 401/403, with a
    # table of its own in tests/test_ui_routes.py; it runs the same services and routes.
    served = {
        r
        for r in served_routes(app)
        if r.split(" ", 1)[1] not in NOT_PATIENT_DATA and not r.split(" ", 1)[1].startswith("/ui")
    }
    named = {row.route for row in MATRIX}
    assert sorted(served - named) == [], "routes the role matrix does not name"
    assert sorted(named - served) == [], "routes in the role matrix the app does not serve"


def test_table_is_well_formed() -> None:
    routes = [row.route for row in MATRIX]
    assert len(routes) == len(set(routes)), "a route is named twice"
    for row in MATRIX:
        assert row.method in {"GET", "POST", "PATCH", "PUT", "DELETE"}, row.route
        assert scenario_for(row) is not None
        allowed = [c for c in CALLERS[:4] if row.expected(c) < 400]
        assert allowed == [row.role], row.route
        assert {row.expected(c) for c in CALLERS[:4] if c != row.role} == {403}, row.route
        assert row.no_token == 401, row.route
        if row.role == "auditor":
            # The trail has no plan scope: an auditor of another organisation is an auditor.
            assert row.out_of_scope == row.expected(row.role), row.route
        elif "{plan_id}" in row.path or row.audience == "patient":
            # Anything inside a plan: from outside it reads as not there.
            assert row.out_of_scope == 404, row.route
        else:
            # Creating, listing, searching plans and the feed: allowed, only the answer is
            # scoped. A plan named in the query (FHIR ``Goal?plan=``) reads as not there.
            assert row.out_of_scope in {row.expected(row.role), 404}, row.route


# --- outside the table: authentication comes before everything else ------------------------------


PATCH_ROWS = [row for row in MATRIX if row.method == "PATCH"]


@pytest.mark.parametrize("row", PATCH_ROWS, ids=[row.route for row in PATCH_ROWS])
@pytest.mark.parametrize("caller", ["no_token", "patient"])
async def test_patch_without_if_match_is_refused_by_role_first(
    client: httpx.AsyncClient, world: World, tokens: TokenMaker, row: Row, caller: str
) -> None:
    """A missing If-Match is a 428 only for a caller allowed to try: 401/403 come first."""
    call = await scenario_for(row)(Ctx(client, world, row.audience))
    response = await send(
        client, row, Call(call.url, call.body), call.url, caller_for(world, row, caller, tokens)
    )
    assert_problem(response, row.expected(caller))
