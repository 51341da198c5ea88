"""A property of the access model, driven by Hypothesis: after any sequence of grants,
revocations, expiries, goals, activities and notes, NAV sees a treatment item exactly when an
active consent covers it (DESIGN.md, access model points 4 and 5).

The state machine keeps a plain Python model of which consents are active and what exists, and
after every step compares NAV's plan view and NAV's GET of each goal and activity against it.

Async under Hypothesis: the test itself is a plain sync function. It owns one event loop for its
whole run, with its own app (``create_app`` + lifespan, on the session's embedded database) and
an ``httpx.AsyncClient`` over ASGI; each step runs on that loop with ``run_until_complete``.
Every example starts from a fresh ``World`` (own DPS unit, NAV office and patient), so examples
never see each other's data.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text

from carework.app import create_app
from carework.config import Settings
from tests.domain_helpers import assert_problem, plan_url
from tests.factories import Actor, TokenMaker, World, create_plan, make_world

T = TypeVar("T")

TREATMENT_GOALS = "treatment_goals"
TREATMENT_NOTES = "treatment_notes"

#: A non-empty subset of the scopes, in any order.
scope_lists = st.lists(
    st.sampled_from([TREATMENT_GOALS, TREATMENT_NOTES]), min_size=1, max_size=2, unique=True
)
visibilities = st.sampled_from(["shared", "internal"])
dps_kinds = st.sampled_from(["therapy", "medication_review", "other"])
nav_kinds = st.sampled_from(["work_training", "ips_job_search", "course", "other"])

EXPIRE = text("UPDATE consent SET valid_until = now() - interval '1 second' WHERE id = :id")


class Env:
    """One event loop, one app and one client for a whole Hypothesis run."""

    def __init__(self, settings: Settings, tokens: TokenMaker) -> None:
        self.tokens = tokens
        self.loop = asyncio.new_event_loop()
        self.stack = AsyncExitStack()
        self.app = create_app(settings)
        self.client: httpx.AsyncClient = self.run(self._start())

    async def _start(self) -> httpx.AsyncClient:
        await self.stack.enter_async_context(self.app.router.lifespan_context(self.app))
        transport = httpx.ASGITransport(app=self.app)
        return await self.stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://carework.test")
        )

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        try:
            self.run(self.stack.aclose())
        finally:
            self.loop.close()


@pytest.fixture
def env(settings: Settings, tokens: TokenMaker) -> Iterator[Env]:
    environment = Env(settings, tokens)
    try:
        yield environment
    finally:
        environment.close()


# --- the model ---------------------------------------------------------------------------------


@dataclass
class ConsentModel:
    id: str
    scopes: frozenset[str]
    active: bool = True


@dataclass(frozen=True)
class GoalModel:
    id: str
    domain: str


@dataclass(frozen=True)
class ActivityModel:
    id: str
    side: str
    goal: GoalModel | None


@dataclass(frozen=True)
class NoteModel:
    id: str
    goal: GoalModel
    side: str
    visibility: str


class NavVisibility(RuleBasedStateMachine):
    consents = Bundle("consents")
    goals = Bundle("goals")

    def __init__(self, env: Env) -> None:
        super().__init__()
        self.env = env
        self.world: World = make_world(env.tokens)
        self.plan_id: str = env.run(create_plan(env.client, self.world))["id"]
        self.all_consents: list[ConsentModel] = []
        self.all_goals: list[GoalModel] = []
        self.activities: list[ActivityModel] = []
        self.notes: list[NoteModel] = []
        self.serial = itertools.count(1)

    # --- what the model says NAV may see ---

    def active_scopes(self) -> frozenset[str]:
        return frozenset().union(*(c.scopes for c in self.all_consents if c.active))

    def nav_sees_goal(self, goal: GoalModel) -> bool:
        return goal.domain != "treatment" or TREATMENT_GOALS in self.active_scopes()

    def nav_sees_activity(self, activity: ActivityModel) -> bool:
        if activity.goal is not None and not self.nav_sees_goal(activity.goal):
            return False
        return activity.side != "dps" or TREATMENT_GOALS in self.active_scopes()

    def nav_sees_note(self, note: NoteModel) -> bool:
        if not self.nav_sees_goal(note.goal):
            return False
        if note.visibility == "internal" and note.side != "nav":
            return False
        return note.goal.domain != "treatment" or TREATMENT_NOTES in self.active_scopes()

    # --- talking to the app ---

    def request(
        self, actor: Actor, method: str, url: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return self.env.run(self.env.client.request(method, url, json=body, headers=actor.headers))

    def created(self, response: httpx.Response) -> dict[str, Any]:
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def text(self, what: str) -> str:
        return f"{what} {next(self.serial)} {uuid.uuid4().hex[:6]}"

    @staticmethod
    def valid_until(expiring: bool) -> dict[str, str]:
        if not expiring:
            return {}
        return {"valid_until": (datetime.now(UTC) + timedelta(hours=2)).isoformat()}

    # --- steps ---

    @initialize(target=goals)
    def seed(self) -> MultipleResults[GoalModel]:
        """Every example starts with something to hide: a treatment goal with a shared note and
        a DPS activity, beside a work goal with a shared note."""
        treatment = self._add_goal(self.world.clinician, "treatment")
        work = self._add_goal(self.world.advisor, "work")
        self.team_member_adds_note(treatment, "clinician", "shared")
        self.team_member_adds_note(work, "advisor", "shared")
        self.clinician_adds_activity("therapy")
        return multiple(treatment, work)

    @initialize(target=consents, scopes=st.none() | scope_lists)
    def seed_consent(self, scopes: list[str] | None) -> MultipleResults[ConsentModel]:
        """Some examples start under consent, so NAV can tie its work to a treatment goal early."""
        if scopes is None:
            return multiple()
        return multiple(self.patient_grants(scopes, expiring=False))

    @rule(target=consents, scopes=scope_lists, expiring=st.booleans())
    def patient_grants(self, scopes: list[str], expiring: bool) -> ConsentModel:
        body = {"scopes": scopes, **self.valid_until(expiring)}
        consent = self.created(
            self.request(self.world.patient, "POST", "/api/v1/patient/consents", body)
        )
        assert (consent["evidence"], consent["active"]) == ("digital", True)
        model = ConsentModel(consent["id"], frozenset(scopes))
        self.all_consents.append(model)
        return model

    @rule(
        target=consents,
        scopes=scope_lists,
        evidence=st.sampled_from(["verbal", "written"]),
        expiring=st.booleans(),
    )
    def clinician_records(self, scopes: list[str], evidence: str, expiring: bool) -> ConsentModel:
        body = {"scopes": scopes, "evidence": evidence, **self.valid_until(expiring)}
        url = f"/api/v1/dps/plans/{self.plan_id}/consents"
        consent = self.created(self.request(self.world.clinician, "POST", url, body))
        assert (consent["evidence"], consent["active"]) == (evidence, True)
        model = ConsentModel(consent["id"], frozenset(scopes))
        self.all_consents.append(model)
        return model

    @rule(consent=consents, by=st.sampled_from(["patient", "clinician"]))
    def revoke(self, consent: ConsentModel, by: str) -> None:
        if by == "patient":
            url = f"/api/v1/patient/consents/{consent.id}"
            response = self.request(self.world.patient, "DELETE", url)
        else:
            url = f"/api/v1/dps/plans/{self.plan_id}/consents/{consent.id}"
            response = self.request(self.world.clinician, "DELETE", url)
        assert response.status_code == 204, response.text
        consent.active = False

    @rule(consent=consents)
    def expire(self, consent: ConsentModel) -> None:
        """The clock passes the consent's end: a direct UPDATE, the app still decides."""

        async def update() -> None:
            async with self.env.app.state.engine.begin() as conn:
                result = await conn.execute(EXPIRE, {"id": uuid.UUID(consent.id)})
                assert result.rowcount == 1

        self.env.run(update())
        consent.active = False

    @rule(target=goals)
    def clinician_adds_treatment_goal(self) -> GoalModel:
        return self._add_goal(self.world.clinician, "treatment")

    @rule(target=goals, domain=st.sampled_from(["work", "education"]))
    def advisor_adds_work_goal(self, domain: str) -> GoalModel:
        return self._add_goal(self.world.advisor, domain)

    @rule(target=goals, domain=st.sampled_from(["treatment", "work"]))
    def patient_proposes_goal(self, domain: str) -> GoalModel:
        body = {"domain": domain, "title": self.text("Forslag")}
        goal = self.created(
            self.request(self.world.patient, "POST", "/api/v1/patient/plan/goals", body)
        )
        assert goal["status"] == "proposed"
        model = GoalModel(goal["id"], domain)
        self.all_goals.append(model)
        return model

    def _add_goal(self, actor: Actor, domain: str) -> GoalModel:
        body = {"domain": domain, "title": self.text(f"{domain} goal")}
        url = f"{plan_url(actor, self.plan_id)}/goals"
        model = GoalModel(self.created(self.request(actor, "POST", url, body))["id"], domain)
        self.all_goals.append(model)
        return model

    @rule(kind=dps_kinds)
    def clinician_adds_activity(self, kind: str) -> None:
        """A DPS activity is treatment whether or not it names a goal."""
        self._add_activity(self.world.clinician, kind, None)

    @rule(kind=dps_kinds, goal=goals)
    def clinician_links_activity(self, kind: str, goal: GoalModel) -> None:
        self._add_activity(self.world.clinician, kind, goal)

    @rule(kind=nav_kinds)
    def advisor_adds_activity(self, kind: str) -> None:
        self._add_activity(self.world.advisor, kind, None)

    @rule(kind=nav_kinds, goal=goals)
    def advisor_links_activity(self, kind: str, goal: GoalModel) -> None:
        """NAV may tie its activity only to a goal it can see; then it is as hidden as that goal."""
        self._add_activity(self.world.advisor, kind, goal)

    def _add_activity(self, actor: Actor, kind: str, goal: GoalModel | None) -> None:
        body = {"kind": kind, "title": self.text("Tiltak")}
        if goal is not None:
            body["goal_id"] = goal.id
        response = self.request(actor, "POST", f"{plan_url(actor, self.plan_id)}/activities", body)
        side = "dps" if actor is self.world.clinician else "nav"
        if side == "nav" and goal is not None and not self.nav_sees_goal(goal):
            assert_problem(response, 422)  # a goal NAV cannot see is no goal_id for NAV
            return
        activity = self.created(response)
        assert activity["responsible_side"] == side
        self.activities.append(ActivityModel(activity["id"], side, goal))

    @rule(goal=goals, writer=st.sampled_from(["clinician", "advisor"]), visibility=visibilities)
    def team_member_adds_note(self, goal: GoalModel, writer: str, visibility: str) -> None:
        actor: Actor = getattr(self.world, writer)
        side = "dps" if writer == "clinician" else "nav"
        url = f"{plan_url(actor, self.plan_id)}/goals/{goal.id}/notes"
        body = {"text": self.text("Notat"), "visibility": visibility}
        response = self.request(actor, "POST", url, body)
        if side == "nav" and not self.nav_sees_goal(goal):
            assert_problem(response, 404)  # a goal NAV cannot see takes no note from NAV
            return
        note = self.created(response)
        assert (note["author_side"], note["visibility"]) == (side, visibility)
        self.notes.append(NoteModel(note["id"], goal, side, visibility))

    @rule(goal=goals)
    def patient_adds_note(self, goal: GoalModel) -> None:
        url = f"/api/v1/patient/plan/goals/{goal.id}/notes"
        note = self.created(self.request(self.world.patient, "POST", url, {"text": "Bra uke"}))
        self.notes.append(NoteModel(note["id"], goal, "patient", "shared"))

    # --- the property -----------------------------------------------------------------------

    @invariant()
    def nav_sees_exactly_what_active_consent_allows(self) -> None:
        advisor = self.world.advisor
        base = plan_url(advisor, self.plan_id)
        scopes = sorted(self.active_scopes())

        response = self.request(advisor, "GET", f"{base}/consent")
        assert response.status_code == 200, response.text
        assert response.json()["scopes"] == scopes

        response = self.request(advisor, "GET", base)
        assert response.status_code == 200, response.text
        view = response.json()
        assert view["consent"] == scopes
        visible_goals = {g.id for g in self.all_goals if self.nav_sees_goal(g)}
        assert {g["id"] for g in view["goals"]} == visible_goals
        for goal in view["goals"]:
            assert {n["id"] for n in goal["notes"]} == self.expected_notes(goal["id"])
        visible_activities = {a.id for a in self.activities if self.nav_sees_activity(a)}
        assert {a["id"] for a in view["activities"]} == visible_activities

        for model in self.all_goals:
            response = self.request(advisor, "GET", f"{base}/goals/{model.id}")
            if model.id in visible_goals:
                assert response.status_code == 200, response.text
                notes = {n["id"] for n in response.json()["notes"]}
                assert notes == self.expected_notes(model.id)
            else:
                assert_problem(response, 404)
        for activity in self.activities:
            response = self.request(advisor, "GET", f"{base}/activities/{activity.id}")
            if activity.id in visible_activities:
                assert response.status_code == 200, response.text
            else:
                assert_problem(response, 404)

    def expected_notes(self, goal_id: str) -> set[str]:
        return {n.id for n in self.notes if n.goal.id == goal_id and self.nav_sees_note(n)}


def test_nav_sees_a_treatment_item_exactly_when_active_consent_covers_it(env: Env) -> None:
    run_state_machine_as_test(
        lambda: NavVisibility(env),
        settings=hypothesis_settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            database=None,  # no .hypothesis/ directory in the repository
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
