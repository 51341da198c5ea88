"""Quality indicators: the figures of one unit, counted in SQL; any figure resting on fewer than
five patients is suppressed; DPS and NAV see their own unit (not plans they are team members
of), the auditor any unit or all of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.domain_helpers import (
    add_activity,
    add_goal,
    assert_problem,
    patch,
    plan_for_new_patient,
    plan_url,
)
from tests.factories import Actor, TokenMaker, World, make_nid, make_world

TODAY = date.today()


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


async def plans_in_unit(
    client: httpx.AsyncClient, world: World, n: int, **fields: Any
) -> list[dict[str, Any]]:
    """``n`` active plans for ``n`` patients, their period starting 100 days ago."""
    plans = []
    for _ in range(n):
        plan = await plan_for_new_patient(client, world, **fields)
        response = await patch(
            client,
            world.clinician,
            plan_url(world.clinician, plan["id"]),
            plan["version"],
            {"period_start": days(-100)},
        )
        assert response.status_code == 200, response.text
        plans.append(response.json())
    return plans


async def indicators(
    client: httpx.AsyncClient, actor: Actor, url: str, **params: str
) -> dict[str, Any]:
    response = await client.get(url, params=params, headers=actor.headers)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    assert [i["name"] for i in report["indicators"]] == [
        "active_plans",
        "share_with_work_or_education_goal",
        "goals_achieved",
        "median_days_to_first_work_activity",
        "median_days_to_first_employer_contact",
        "share_reviews_on_time",
    ]
    return report


def figures(report: dict[str, Any]) -> dict[str, tuple[Any, Any, bool]]:
    return {i["name"]: (i["value"], i["patients"], i["suppressed"]) for i in report["indicators"]}


SUPPRESSED = (None, None, True)


async def test_four_patients_are_suppressed_five_are_shown(client, world: World) -> None:
    await plans_in_unit(client, world, 4)
    report = await indicators(client, world.clinician, "/api/v1/dps/indicators")
    assert (report["org"], report["from"], report["to"]) == (
        world.dps_unit,
        days(-365),
        TODAY.isoformat(),
    )
    assert report["patients"] is None
    assert set(figures(report).values()) == {SUPPRESSED}

    await plans_in_unit(client, world, 1)
    report = await indicators(client, world.clinician, "/api/v1/dps/indicators")
    assert report["patients"] == 5
    shown = figures(report)
    assert shown["active_plans"] == (5, 5, False)
    assert shown["share_with_work_or_education_goal"] == (0.0, 5, False)
    # No goals, activities or reviews yet: nothing for those figures to rest on.
    assert shown["median_days_to_first_work_activity"] == SUPPRESSED
    assert shown["share_reviews_on_time"] == SUPPRESSED
    # The same plans from the NAV office's side.
    nav = figures(await indicators(client, world.advisor, "/api/v1/nav/indicators"))
    assert nav["active_plans"] == (5, 5, False)


async def test_the_figures(client, world: World) -> None:
    clinician, advisor = world.clinician, world.advisor
    plans = await plans_in_unit(client, world, 5)
    ids = [p["id"] for p in plans]
    treatment = [await add_goal(client, clinician, pid, "treatment") for pid in ids]
    for pid in ids[:3]:
        await add_goal(client, advisor, pid, "work" if pid != ids[2] else "education")
    # A work goal entered in error does not make a plan one with work in it.
    wrong = await add_goal(client, advisor, ids[4], "work")
    response = await client.post(
        f"{plan_url(advisor, ids[4])}/goals/{wrong['id']}/entered-in-error",
        json={"reason": "Feil plan"},
        headers={**advisor.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text

    # First NAV activity 10, 20, 30, 40, 50 days after the start: the median is 30.
    for i, pid in enumerate(ids):
        await add_activity(client, advisor, pid, "work_training", start=days(-90 + 10 * i))
    await add_activity(client, advisor, ids[4], "course", status="cancelled", start=days(-99))
    early = await add_activity(client, advisor, ids[3], "course", start=days(-99))
    response = await client.post(
        f"{plan_url(advisor, ids[3])}/activities/{early['id']}/entered-in-error",
        json={"reason": "Feil"},
        headers={**advisor.headers, "If-Match": '"1"'},
    )
    assert response.status_code == 200, response.text
    # Employer contacts in three plans only: too few to show.
    for pid in ids[:3]:
        await add_activity(client, advisor, pid, "ips_employer_contact", start=days(-60))

    # Reviews: four held before they were due, one late; two find their goal achieved.
    for i, plan in enumerate(plans):
        due = days(-5) if i == 4 else days(5)
        url = plan_url(clinician, plan["id"])
        response = await patch(client, clinician, url, plan["version"], {"next_review_date": due})
        assert response.status_code == 200, response.text
        findings = [{"goal_id": treatment[i]["id"], "achievement": "achieved"}] if i < 2 else []
        response = await client.post(
            f"{url}/evaluations",
            json={"held_on": TODAY.isoformat(), "goals": findings},
            headers=clinician.headers,
        )
        assert response.status_code == 201, response.text

    shown = figures(await indicators(client, clinician, "/api/v1/dps/indicators"))
    assert shown == {
        "active_plans": (5, 5, False),
        "share_with_work_or_education_goal": (0.6, 5, False),
        "goals_achieved": (0.25, 5, False),  # 2 of 5 treatment + 3 work/education goals
        "median_days_to_first_work_activity": (30.0, 5, False),
        "median_days_to_first_employer_contact": SUPPRESSED,
        "share_reviews_on_time": (0.8, 5, False),
    }


async def test_only_plans_running_in_the_period_count(client, world: World) -> None:
    plans = await plans_in_unit(client, world, 5)
    last = plans[-1]
    url = plan_url(world.clinician, last["id"])
    response = await patch(client, world.clinician, url, last["version"], {"period_end": days(-50)})
    assert response.status_code == 200, response.text
    await plan_for_new_patient(client, world, status="draft")

    counted = figures(await indicators(client, world.clinician, "/api/v1/dps/indicators"))
    assert counted["active_plans"] == (5, 5, False)
    recent = await indicators(
        client, world.clinician, "/api/v1/dps/indicators", **{"from": days(-40), "to": days(0)}
    )
    assert figures(recent)["active_plans"] == SUPPRESSED  # four plans left
    before = await indicators(
        client, world.clinician, "/api/v1/dps/indicators", **{"to": days(-101)}
    )
    assert figures(before)["active_plans"] == SUPPRESSED


@pytest.mark.parametrize(
    "params",
    [{"from": days(1), "to": days(0)}, {"from": "2030-02-30"}, {"to": "yesterday"}],
)
async def test_a_bad_period_is_refused(client, world: World, params: dict[str, str]) -> None:
    response = await client.get(
        "/api/v1/dps/indicators", params=params, headers=world.clinician.headers
    )
    assert_problem(response, 422)


async def test_a_unit_is_measured_by_its_own_plans_not_team_membership(
    client, world: World
) -> None:
    plans = await plans_in_unit(client, world, 5)
    visitor = world.other_clinician
    for plan in plans:  # named on every plan's team, from another unit
        response = await client.post(
            f"{plan_url(world.clinician, plan['id'])}/team",
            json={
                "sub": visitor.sub,
                "name": visitor.name,
                "role": "clinician",
                "org": visitor.org,
            },
            headers=world.clinician.headers,
        )
        assert response.status_code == 201, response.text
    report = await indicators(client, visitor, "/api/v1/dps/indicators")
    assert report["org"] == visitor.org
    assert figures(report)["active_plans"] == SUPPRESSED
    assert report["patients"] is None


async def test_the_auditor_measures_any_unit_or_all(
    client, world: World, tokens: TokenMaker
) -> None:
    other = make_world(tokens)
    await plans_in_unit(client, world, 3)
    # Three more in another DPS unit, followed up by the same NAV office.
    other_office = {"nav_office": world.nav_office}
    for _ in range(3):
        body = {
            "patient": {"nid": make_nid(), "name": "Per"},
            "title": "Plan",
            "status": "active",
            **other_office,
        }
        response = await client.post(
            "/api/v1/dps/plans", json=body, headers=other.clinician.headers
        )
        assert response.status_code == 201, response.text

    office = await indicators(
        client, world.auditor, "/api/v1/audit/indicators", org=world.nav_office
    )
    assert office["org"] == world.nav_office
    assert figures(office)["active_plans"] == (6, 6, False)
    unit = await indicators(client, world.auditor, "/api/v1/audit/indicators", org=world.dps_unit)
    assert figures(unit)["active_plans"] == SUPPRESSED
    everywhere = await indicators(client, world.auditor, "/api/v1/audit/indicators")
    assert everywhere["org"] is None
    value, patients, suppressed = figures(everywhere)["active_plans"]
    assert (suppressed, value >= 6, patients >= 6) == (False, True, True)

    for actor in (world.clinician, world.advisor, world.patient):
        response = await client.get(
            "/api/v1/audit/indicators", params={"org": world.nav_office}, headers=actor.headers
        )
        assert_problem(response, 403)
