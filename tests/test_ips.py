"""IPS (individual placement and support): job-search outcomes and employers on the IPS kinds,
follow-along support without an end date, the employment specialist on NAV's side of the team,
and the first employer contact the plan view reports."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.domain_helpers import (
    add_activity,
    assert_problem,
    patch,
    plan_url,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, TokenMaker, World, create_plan, unique


def activities_url(actor: Actor, plan_id: str) -> str:
    return f"{plan_url(actor, plan_id)}/activities"


async def history(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{plan_url(actor, plan_id)}/history", headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


@pytest.mark.parametrize("kind", ["ips_job_search", "ips_employer_contact", "ips_follow_along"])
async def test_ips_kinds_record_outcome_and_employer(
    client: httpx.AsyncClient, world: World, kind: str
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(
        client, world.advisor, plan_id, kind, outcome="interview", employer="Rema 1000 Grünerløkka"
    )
    assert (activity["outcome"], activity["employer"]) == ("interview", "Rema 1000 Grünerløkka")
    assert activity["responsible_side"] == "nav"
    (shown,) = (await read_plan(client, world.clinician, plan_id))["activities"]
    assert (shown["outcome"], shown["employer"]) == ("interview", "Rema 1000 Grünerløkka")
    created = [
        e for e in await history(client, world.advisor, plan_id) if e["type"] == "activity.created"
    ]
    assert created[-1]["data"]["outcome"] == "interview"
    assert "Rema" not in str(created[-1]["data"])  # the employer stays out of the feed


@pytest.mark.parametrize(
    ("who", "kind", "field"),
    [
        ("clinician", "therapy", {"outcome": "hired"}),
        ("advisor", "work_training", {"employer": "Kiwi"}),
        ("advisor", "course", {"outcome": "application_sent"}),
    ],
)
async def test_other_kinds_take_no_outcome_or_employer(
    client: httpx.AsyncClient, world: World, who: str, kind: str, field: dict[str, str]
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    actor: Actor = getattr(world, who)
    response = await client.post(
        activities_url(actor, plan_id),
        json={"kind": kind, "title": "Tiltak", **field},
        headers=actor.headers,
    )
    assert_problem(response, 422)
    assert (await read_plan(client, world.clinician, plan_id))["activities"] == []


async def test_unknown_outcome_is_refused(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    response = await client.post(
        activities_url(world.advisor, plan_id),
        json={"kind": "ips_job_search", "title": "Søknad", "outcome": "ghosted"},
        headers=world.advisor.headers,
    )
    assert_problem(response, 422)


async def test_outcome_change_is_in_the_change_event(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(client, world.advisor, plan_id, "ips_job_search")
    assert activity["outcome"] is None
    url = f"{activities_url(world.advisor, plan_id)}/{activity['id']}"
    response = await patch(client, world.advisor, url, 1, {"outcome": "offer", "employer": "Kiwi"})
    assert response.status_code == 200, response.text
    assert (response.json()["outcome"], response.json()["employer"]) == ("offer", "Kiwi")
    response = await patch(client, world.advisor, url, 2, {"title": "Søknad sendt"})
    assert response.status_code == 200, response.text

    updates = [
        e for e in await history(client, world.advisor, plan_id) if e["type"] == "activity.updated"
    ]
    assert updates[0]["data"]["outcome"] == "offer"
    assert "outcome" in updates[0]["data"]["changed"]
    assert "outcome" not in updates[1]["data"]  # unchanged: not repeated


async def test_patching_an_outcome_onto_another_kind_is_refused(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(client, world.advisor, plan_id, "work_training")
    url = f"{activities_url(world.advisor, plan_id)}/{activity['id']}"
    assert_problem(await patch(client, world.advisor, url, 1, {"outcome": "hired"}), 422)
    response = await client.get(url, headers=world.advisor.headers)
    assert (response.json()["outcome"], response.json()["version"]) == (None, 1)


async def test_follow_along_has_no_end_date(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    response = await client.post(
        activities_url(world.advisor, plan_id),
        json={"kind": "ips_follow_along", "title": "Oppfølging i jobb", "end": "2031-12-31"},
        headers=world.advisor.headers,
    )
    assert_problem(response, 422)
    activity = await add_activity(
        client, world.advisor, plan_id, "ips_follow_along", start="2031-06-01"
    )
    url = f"{activities_url(world.advisor, plan_id)}/{activity['id']}"
    assert_problem(await patch(client, world.advisor, url, 1, {"end": "2031-12-31"}), 422)
    # Other NAV kinds keep their end dates.
    await add_activity(client, world.advisor, plan_id, "ips_job_search", end="2031-12-31")


async def test_dps_does_not_run_ips_kinds(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    response = await client.post(
        activities_url(world.clinician, plan_id),
        json={"kind": "ips_employer_contact", "title": "Kontakt"},
        headers=world.clinician.headers,
    )
    assert_problem(response, 403)


# --- the employment specialist ------------------------------------------------------------------


async def test_nav_names_an_employment_specialist_who_then_has_the_plan_in_scope(
    client: httpx.AsyncClient, world: World, tokens: TokenMaker
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    # An IPS specialist from another office signs in through NAV's login.
    specialist = tokens.actor("nav_advisor", org=unique("nav-ips"), name="Ida Jobbspesialist")
    response = await client.get(plan_url(specialist, plan_id), headers=specialist.headers)
    assert_problem(response, 404)

    body = {"sub": specialist.sub, "name": specialist.name, "role": "employment_specialist"}
    response = await client.post(
        f"{plan_url(world.advisor, plan_id)}/team",
        json={**body, "org": specialist.org},
        headers=world.advisor.headers,
    )
    assert response.status_code == 201, response.text
    assert (response.json()["role"], response.json()["side"]) == ("employment_specialist", "nav")

    response = await client.get(plan_url(specialist, plan_id), headers=specialist.headers)
    assert response.status_code == 200, response.text
    roles = {(m["name"], m["role"], m["side"]) for m in response.json()["team"]}
    assert (specialist.name, "employment_specialist", "nav") in roles
    patient_team = (await read_patient_plan(client, world.patient))["team"]
    assert {"employment_specialist"} <= {m["role"] for m in patient_team}


async def test_dps_does_not_name_the_employment_specialist(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    body = {"sub": unique("ips"), "name": "Ida", "role": "employment_specialist", "org": "x"}
    response = await client.post(
        f"{plan_url(world.clinician, plan_id)}/team", json=body, headers=world.clinician.headers
    )
    assert_problem(response, 403)
    bad = {**body, "role": "job_coach"}
    response = await client.post(
        f"{plan_url(world.advisor, plan_id)}/team", json=bad, headers=world.advisor.headers
    )
    assert_problem(response, 422)


# --- first employer contact ---------------------------------------------------------------------


async def test_first_employer_contact_is_the_earliest_ips_contact(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    assert (await read_plan(client, world.advisor, plan_id))["first_employer_contact"] is None
    # Neither an ordinary activity nor a job search without an outcome is a contact.
    await add_activity(client, world.advisor, plan_id, "work_training", start="2031-01-05")
    await add_activity(client, world.advisor, plan_id, "ips_job_search", start="2031-01-10")
    assert (await read_plan(client, world.advisor, plan_id))["first_employer_contact"] is None

    await add_activity(client, world.advisor, plan_id, "ips_employer_contact", start="2031-03-10")
    await add_activity(
        client, world.advisor, plan_id, "ips_job_search", start="2031-02-01", outcome="rejected"
    )
    for actor in (world.advisor, world.clinician):
        assert (await read_plan(client, actor, plan_id))["first_employer_contact"] == "2031-02-01"
    assert (await read_patient_plan(client, world.patient))["first_employer_contact"] == (
        "2031-02-01"
    )


async def test_first_employer_contact_without_start_is_the_day_recorded(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    activity = await add_activity(client, world.advisor, plan_id, "ips_employer_contact")
    plan = await read_plan(client, world.advisor, plan_id)
    assert plan["first_employer_contact"] == activity["created_at"][:10]
