"""The plan read built in PostgreSQL (``plans.view``) against the one built from ORM objects
(``plans.service.load_view`` + ``api._common.plan_read``, which the web pages and FHIR use):
the same plan, item for item, for every audience and every consent state, in exactly the
response schema's keys.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from carework.api._common import plan_read
from carework.auth.principal import Principal
from carework.db.session import unit_of_work
from carework.plans import service, view
from carework.plans.schemas import DpsPlanRead, NavPlanRead, PatientPlanRead
from carework.vocab import Role
from tests.domain_helpers import add_activity, add_goal, add_note, assert_created, propose_goal
from tests.factories import Actor, World, create_plan

SCHEMAS: dict[str, type[BaseModel]] = {
    "clinician": DpsPlanRead,
    "nav_advisor": NavPlanRead,
    "patient": PatientPlanRead,
}


def _principal(actor: Actor) -> Principal:
    return Principal(sub=actor.sub, name=actor.name, role=Role(actor.role), org=actor.org,
                     pid=actor.pid)  # fmt: skip


async def _both(app: FastAPI, actor: Actor, plan_id: str) -> tuple[BaseModel, BaseModel]:
    schema, principal = SCHEMAS[actor.role], _principal(actor)
    async with unit_of_work(app.state.sessionmaker) as session:
        if actor.role == "patient":
            built = await view.read_own_plan(session, principal, schema)
            orm = await service.read_own_plan(session, principal)
        else:
            built = await view.read_plan(session, principal, schema, uuid.UUID(plan_id))
            orm = await service.read_plan(session, principal, uuid.UUID(plan_id))
    assert built.version == orm.plan.version
    return schema.model_validate_json(built.body, by_name=True), plan_read(schema, orm)  # type: ignore[arg-type]


#: Shown only by the SQL view (the web pages do not show them): compared in their own tests.
SQL_ONLY = frozenset({"agreed_by", "seen_by", "waiting_for"})


def _without(value: Any, keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value


def _keys(value: Any) -> Any:
    """The key structure of a JSON value (lists by their first item)."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(value[0])] if value else []
    return None


async def _full_plan(client: httpx.AsyncClient, world: World) -> str:
    """Goals on all three sides, notes shared and internal from both sides, a patient's
    proposal, activities of both sides, tied to goals and not, and a second team member."""
    plan_id = str((await create_plan(client, world))["id"])
    clinician, advisor = world.clinician, world.advisor
    treatment = await add_goal(client, clinician, plan_id, "treatment", target_date="2027-03-01")
    work = await add_goal(client, advisor, plan_id, "work")
    education = await add_goal(client, advisor, plan_id, "education")
    await propose_goal(client, world.patient, "treatment", "Sove bedre")
    # NAV cannot see the treatment goal yet (no consent), so only DPS writes there.
    for goal, actors in ((treatment, (clinician,)), (work, (clinician, advisor))):
        for actor in actors:
            for visibility in ("shared", "internal"):
                await add_note(client, actor, plan_id, goal["id"], f"{visibility} note",
                               visibility)  # fmt: skip
    await add_activity(client, clinician, plan_id, "therapy", goal_id=treatment["id"])
    await add_activity(client, clinician, plan_id, "medication_review")
    await add_activity(client, advisor, plan_id, "work_training", goal_id=work["id"],
                       start="2027-01-01")  # fmt: skip
    await add_activity(client, advisor, plan_id, "course", goal_id=education["id"])
    await add_activity(client, advisor, plan_id, "benefit_follow_up")
    response = await client.post(
        f"/api/v1/nav/plans/{plan_id}/team",
        json={"sub": "nav-2", "name": "Nina Veileder", "role": "nav_advisor",
              "org": world.nav_office},
        headers=advisor.headers,
    )  # fmt: skip
    assert_created(response)
    return plan_id


async def _grant(client: httpx.AsyncClient, patient: Actor, scopes: list[str]) -> str:
    response = await client.post(
        "/api/v1/patient/consents", json={"scopes": scopes}, headers=patient.headers
    )
    return str(assert_created(response)["id"])


@pytest.mark.parametrize(
    "scopes", [[], ["treatment_goals"], ["treatment_goals", "treatment_notes"]], ids=str
)
async def test_the_sql_view_is_the_orm_view_for_every_audience(
    app: FastAPI, client: httpx.AsyncClient, world: World, scopes: list[str]
) -> None:
    plan_id = await _full_plan(client, world)
    if scopes:
        await _grant(client, world.patient, scopes)
    seen: dict[str, int] = {}
    for actor in (world.clinician, world.advisor, world.patient):
        built, orm = await _both(app, actor, plan_id)
        body = built.model_dump(mode="json")
        assert _without(body, SQL_ONLY) == _without(orm.model_dump(mode="json"), SQL_ONLY)
        assert _keys(_without(body, SQL_ONLY)) == _keys(
            _without(orm.model_dump(mode="json"), SQL_ONLY)
        )
        seen[actor.role] = len(body["goals"]) + len(body["activities"])
        seen[f"{actor.role} notes"] = sum(len(g["notes"]) for g in body["goals"])
    # The rules bite: NAV sees less without consent, the patient no internal notes.
    assert seen["clinician"] == 9
    assert seen["nav_advisor"] == (9 if scopes else 5)
    assert seen["patient"] == 9
    assert seen["clinician notes"] == 5  # all shared + DPS's own internal ones
    assert seen["patient notes"] == 3  # shared only
    # Shared + NAV's own internal on the work goal; the treatment goal's shared note only
    # with treatment_notes.
    assert seen["nav_advisor notes"] == {0: 3, 1: 3, 2: 4}[len(scopes)]


async def test_the_http_answer_is_exactly_the_schema(
    client: httpx.AsyncClient, world: World
) -> None:
    """Every key the schema names, no other; an ETag of the version; plain JSON."""
    plan_id = await _full_plan(client, world)
    for actor in (world.clinician, world.advisor):
        side = "dps" if actor.role == "clinician" else "nav"
        response = await client.get(f"/api/v1/{side}/plans/{plan_id}", headers=actor.headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        body = response.json()
        assert response.headers["etag"] == f'"{body["version"]}"'
        schema = SCHEMAS[actor.role]
        assert list(body) == list(schema.model_fields)
        assert list(body["goals"][0]) == list(
            schema.model_fields["goals"].annotation.__args__[0].model_fields
        )  # type: ignore[union-attr]
        assert (
            schema.model_validate(body, by_name=True).model_dump(mode="json").keys() == body.keys()
        )
