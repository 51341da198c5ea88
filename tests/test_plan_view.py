"""One read model (``readmodel``) for every surface: the API's answer, the web pages and FHIR
show the same plan, item for item, for every audience and every consent state — agreements,
read receipts and whose move it is included — and FHIR's version moves whenever anything in
the CarePlan does.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from carework.readmodel.schemas import DpsPlanRead, NavPlanRead, PatientPlanRead
from tests.domain_helpers import (
    add_activity,
    add_goal,
    add_note,
    assert_created,
    patch,
    plan_url,
    propose_goal,
)
from tests.factories import Actor, World, create_plan

SCHEMAS: dict[str, type[BaseModel]] = {
    "clinician": DpsPlanRead,
    "nav_advisor": NavPlanRead,
    "patient": PatientPlanRead,
}


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


async def _api(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> dict[str, Any]:
    url = "/api/v1/patient/plan" if actor.role == "patient" else plan_url(actor, plan_id)
    response = await client.get(url, headers=actor.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _page_goals(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> list[str]:
    """The goal ids the actor's web page shows, in page order."""
    path = "/ui/me" if actor.role == "patient" else f"/ui/plans/{plan_id}"
    response = await client.get(path, headers={"Cookie": f"carework_ui={actor.token}"})
    assert response.status_code == 200, response.text
    return re.findall(r'<article class="goal" id="goal-([0-9a-f-]+)"', response.text)


@pytest.mark.parametrize(
    "scopes", [[], ["treatment_goals"], ["treatment_goals", "treatment_notes"]], ids=str
)
async def test_every_surface_shows_the_same_view_for_every_audience(
    client: httpx.AsyncClient, world: World, scopes: list[str]
) -> None:
    plan_id = await _full_plan(client, world)
    if scopes:
        await _grant(client, world.patient, scopes)
    seen: dict[str, int] = {}
    for actor in (world.clinician, world.advisor, world.patient):
        body = await _api(client, actor, plan_id)
        SCHEMAS[actor.role].model_validate(body)
        goal_ids = [g["id"] for g in body["goals"]]
        # The page lays goals out by domain: the same goals, column by column.
        domains = {g["id"]: g["domain"] for g in body["goals"]}
        by_column = sorted(goal_ids, key=lambda g: ["treatment", "work", "education"].index(
            domains[g]))  # fmt: skip
        assert await _page_goals(client, actor, plan_id) == by_column, actor.role
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

    # FHIR is the clinician's view: the same goals, notes and activities.
    care_plan = (await client.get(f"/fhir/r4/CarePlan/{plan_id}",
                                  headers=world.clinician.headers)).json()  # fmt: skip
    clinician = await _api(client, world.clinician, plan_id)
    contained = [r for r in care_plan["contained"] if r["resourceType"] == "Goal"]
    assert [g["id"] for g in contained] == [g["id"] for g in clinician["goals"]]
    assert [len(g.get("note", [])) for g in contained] == [len(g["notes"]) for g in
                                                           clinician["goals"]]  # fmt: skip
    assert [a["id"] for a in care_plan["activity"]] == [a["id"] for a in clinician["activities"]]


async def test_agreements_and_whose_move_reach_the_pages(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    goal = await add_goal(client, world.advisor, plan_id, "work")
    url = f"{plan_url(world.advisor, plan_id)}/goals/{goal['id']}/agreement"
    agreed = await client.put(url, headers={**world.advisor.headers, "If-Match": '"1"'})
    assert agreed.status_code == 200, agreed.text
    assert [a["party"] for a in agreed.json()["agreed_by"]] == ["nav"]
    assert agreed.json()["waiting_for"] == ["patient", "dps"]
    for actor in (world.clinician, world.advisor, world.patient):
        path = "/ui/me" if actor.role == "patient" else f"/ui/plans/{plan_id}"
        html = (await client.get(path, headers={"Cookie": f"carework_ui={actor.token}"})).text
        card = html[html.index(f'id="goal-{goal["id"]}"') :]
        card = card[: card.index("</article>")]
        assert "Enige: NAV" in card, actor.role
        assert "Venter på: Pasient, DPS" in card, actor.role


async def test_a_care_plan_changes_version_whenever_anything_in_it_changes(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = str((await create_plan(client, world))["id"])
    goal = await add_goal(client, world.clinician, plan_id, "treatment")
    url = f"/fhir/r4/CarePlan/{plan_id}"

    async def version() -> tuple[str, str]:
        response = await client.get(url, headers=world.clinician.headers)
        assert response.status_code == 200, response.text
        meta = response.json()["meta"]
        assert response.headers["etag"] == f'W/"{meta["versionId"]}"'
        return meta["versionId"], meta["lastUpdated"]

    versions = [await version()]
    assert await version() == versions[0], "the same content keeps its version"
    goal_url = f"{plan_url(world.clinician, plan_id)}/goals/{goal['id']}"
    assert (await patch(client, world.clinician, goal_url, 1, {"title": "Sove bedre"})).is_success
    versions.append(await version())  # a contained goal changed; the plan itself did not
    await add_note(client, world.clinician, plan_id, goal["id"], "Bedre uke.")
    versions.append(await version())
    await add_activity(client, world.clinician, plan_id, "therapy")
    versions.append(await version())
    assert len({v for v, _ in versions}) == len(versions)
    assert [t for _, t in versions] == sorted(t for _, t in versions)


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
        assert schema.model_validate(body).model_dump(mode="json").keys() == body.keys()
