"""Joint meetings (samarbeidsmøter): the calling side's draft, released minutes, agreed actions
that become activities, and who may read the minutes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.domain_helpers import (
    add_goal,
    all_pages,
    assert_problem,
    patch,
    plan_url,
    read_plan,
)
from tests.factories import Actor, World, create_plan

MINUTES = "Enighet om arbeidstrening fra mai; behandling fortsetter ukentlig."


def meetings_url(actor: Actor, plan_id: str) -> str:
    return f"{plan_url(actor, plan_id)}/meetings"


async def call_meeting(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, **fields: Any
) -> dict[str, Any]:
    body = {
        "scheduled_at": "2031-05-01T10:00:00+02:00",
        "location": "NAV Grünerløkka",
        "agenda": "Arbeid og behandling",
        "participants": [
            {"name": "Kari Klinikk", "role": "psykolog", "side": "dps"},
            {"name": "Nils Veileder", "role": "veileder", "side": "nav"},
            {"name": "Ola Pasient", "role": "pasient", "side": "patient"},
        ],
        **fields,
    }
    response = await client.post(meetings_url(actor, plan_id), json=body, headers=actor.headers)
    assert response.status_code == 201, response.text
    meeting: dict[str, Any] = response.json()
    assert response.headers["etag"] == f'"{meeting["version"]}"'
    return meeting


async def write_minutes(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, meeting: dict[str, Any]
) -> dict[str, Any]:
    url = f"{meetings_url(actor, plan_id)}/{meeting['id']}"
    response = await patch(client, actor, url, meeting["version"], {"minutes": MINUTES})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def release(
    client: httpx.AsyncClient,
    actor: Actor,
    plan_id: str,
    meeting: dict[str, Any],
    actions: list[dict[str, Any]] | None = None,
) -> httpx.Response:
    return await client.post(
        f"{meetings_url(actor, plan_id)}/{meeting['id']}/release",
        json={"actions": actions or []},
        headers={**actor.headers, "If-Match": f'"{meeting["version"]}"'},
    )


async def released_meeting(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> dict[str, Any]:
    meeting = await write_minutes(
        client, actor, plan_id, await call_meeting(client, actor, plan_id)
    )
    response = await release(client, actor, plan_id, meeting)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def listed(client: httpx.AsyncClient, actor: Actor, plan_id: str | None) -> list[Any]:
    url = "/api/v1/patient/plan/meetings" if plan_id is None else meetings_url(actor, plan_id)
    response = await client.get(url, headers=actor.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


async def grant(client: httpx.AsyncClient, world: World, plan_id: str, *scopes: str) -> None:
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/consents",
        json={"scopes": list(scopes), "evidence": "written"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text


async def event_types(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> list[str]:
    response = await client.get(f"{plan_url(actor, plan_id)}/history", headers=actor.headers)
    assert response.status_code == 200, response.text
    return [e["type"] for e in response.json()["items"]]


# --- lifecycle ----------------------------------------------------------------------------------


async def test_meeting_lifecycle_turns_agreed_actions_into_activities(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    treatment = await add_goal(client, world.clinician, plan_id, "treatment")
    work = await add_goal(client, world.advisor, plan_id, "work")

    meeting = await call_meeting(client, world.clinician, plan_id)
    assert (meeting["created_by_side"], meeting["minutes_status"], meeting["minutes"]) == (
        "dps",
        "draft",
        None,
    )
    assert [p["side"] for p in meeting["participants"]] == ["dps", "nav", "patient"]
    assert meeting["version"] == 1

    meeting = await write_minutes(client, world.clinician, plan_id, meeting)
    assert (meeting["minutes"], meeting["version"]) == (MINUTES, 2)

    actions = [
        {
            "title": "Ukentlig samtale",
            "kind": "therapy",
            "responsible_side": "dps",
            "responsible_person": "Kari Klinikk",
            "goal_id": treatment["id"],
        },
        {
            "title": "Arbeidstrening hos Rema",
            "kind": "work_training",
            "responsible_side": "nav",
            "responsible_person": "Nils Veileder",
            "goal_id": work["id"],
            "start": "2031-05-15",
            "end": "2031-08-15",
        },
    ]
    response = await release(client, world.clinician, plan_id, meeting, actions)
    assert response.status_code == 200, response.text
    released = response.json()
    assert response.headers["etag"] == '"3"'
    assert (released["minutes_status"], released["minutes"], released["version"]) == (
        "released",
        MINUTES,
        3,
    )
    assert released["released_at"] is not None
    assert len(released["activity_ids"]) == 2

    # The actions exist as activities of the side responsible, tied to the meeting.
    for activity_id, action in zip(released["activity_ids"], actions, strict=True):
        response = await client.get(
            f"{plan_url(world.clinician, plan_id)}/activities/{activity_id}",
            headers=world.clinician.headers,
        )
        assert response.status_code == 200, response.text
        activity = response.json()
        assert activity["meeting_id"] == meeting["id"]
        assert activity["responsible_side"] == action["responsible_side"]
        assert (activity["kind"], activity["goal_id"]) == (action["kind"], action["goal_id"])
        assert activity["responsible_person"] == action["responsible_person"]
    # NAV's action is NAV's to run from here on.
    nav_activity_url = (
        f"{plan_url(world.advisor, plan_id)}/activities/{released['activity_ids'][1]}"
    )
    response = await patch(client, world.advisor, nav_activity_url, 1, {"status": "in_progress"})
    assert response.status_code == 200, response.text

    # Released minutes are final: neither a change nor a second release.
    meeting_url = f"{meetings_url(world.clinician, plan_id)}/{meeting['id']}"
    assert_problem(await patch(client, world.clinician, meeting_url, 3, {"agenda": "Ny"}), 409)
    assert_problem(await release(client, world.clinician, plan_id, released), 409)

    types = await event_types(client, world.clinician, plan_id)
    assert [t for t in types if t.startswith("meeting.")] == [
        "meeting.created",
        "meeting.updated",
        "meeting.released",
    ]
    after_release = types[types.index("meeting.released") :]
    assert after_release.count("activity.created") == 2


async def test_meetings_are_listed_by_time(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    late = await call_meeting(client, world.clinician, plan_id, scheduled_at="2031-06-01T09:00Z")
    early = await call_meeting(client, world.advisor, plan_id, scheduled_at="2031-03-01T09:00Z")
    for actor in (world.clinician, world.advisor):
        assert [m["id"] for m in await listed(client, actor, plan_id)] == [early["id"], late["id"]]
    assert [m["id"] for m in await listed(client, world.patient, None)] == [
        early["id"],
        late["id"],
    ]


async def test_meetings_come_a_page_at_a_time(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    called = [
        await call_meeting(client, world.clinician, plan_id, scheduled_at=f"2031-0{m}-01T09:00Z")
        for m in (5, 3, 4)
    ]
    by_time = [called[1]["id"], called[2]["id"], called[0]["id"]]
    for actor, url in (
        (world.clinician, meetings_url(world.clinician, plan_id)),
        (world.patient, "/api/v1/patient/plan/meetings"),
    ):
        pages = await all_pages(client, actor, url, limit=2)
        assert [[m["id"] for m in page] for page in pages] == [by_time[:2], by_time[2:]]
    response = await client.get(
        meetings_url(world.clinician, plan_id),
        params={"cursor": "bm90IG91cnM"},
        headers=world.clinician.headers,
    )
    assert_problem(response, 422)


async def test_patch_changes_agenda_place_time_and_participants(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await call_meeting(client, world.advisor, plan_id)
    url = f"{meetings_url(world.advisor, plan_id)}/{meeting['id']}"
    body = {
        "agenda": "Jobbsøk",
        "location": "Videomøte",
        "scheduled_at": "2031-05-02T08:00:00Z",
        "participants": [{"name": "Ida IPS", "role": "jobbspesialist", "side": "nav"}],
    }
    response = await patch(client, world.advisor, url, 1, body)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert (changed["agenda"], changed["location"], changed["version"]) == (
        "Jobbsøk",
        "Videomøte",
        2,
    )
    assert changed["scheduled_at"].startswith("2031-05-02T08:00:00")
    assert changed["participants"] == body["participants"]
    assert (await listed(client, world.clinician, plan_id))[0]["agenda"] == "Jobbsøk"
    assert_problem(await patch(client, world.advisor, url, 2, {"scheduled_at": None}), 422)


# --- refusals -----------------------------------------------------------------------------------


async def test_only_the_calling_side_changes_or_releases(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await write_minutes(
        client, world.clinician, plan_id, await call_meeting(client, world.clinician, plan_id)
    )
    url = f"{meetings_url(world.advisor, plan_id)}/{meeting['id']}"
    assert_problem(await patch(client, world.advisor, url, 2, {"minutes": "NAV skriver"}), 403)
    assert_problem(await release(client, world.advisor, plan_id, meeting), 403)
    (stored,) = await listed(client, world.clinician, plan_id)
    assert (stored["minutes"], stored["minutes_status"], stored["version"]) == (
        MINUTES,
        "draft",
        2,
    )


async def test_versions_are_checked(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await call_meeting(client, world.clinician, plan_id)
    url = f"{meetings_url(world.clinician, plan_id)}/{meeting['id']}"
    response = await client.patch(url, json={"agenda": "x"}, headers=world.clinician.headers)
    assert_problem(response, 428)
    assert_problem(await patch(client, world.clinician, url, 7, {"agenda": "x"}), 412)
    meeting = await write_minutes(client, world.clinician, plan_id, meeting)
    assert_problem(await release(client, world.clinician, plan_id, {**meeting, "version": 1}), 412)


async def test_release_needs_minutes(client: httpx.AsyncClient, world: World) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await call_meeting(client, world.clinician, plan_id)
    assert_problem(await release(client, world.clinician, plan_id, meeting), 422)
    (stored,) = await listed(client, world.clinician, plan_id)
    assert stored["minutes_status"] == "draft"


@pytest.mark.parametrize(
    ("kind", "side"), [("therapy", "nav"), ("work_training", "dps"), ("ips_follow_along", "dps")]
)
async def test_an_action_must_fit_its_side(
    client: httpx.AsyncClient, world: World, kind: str, side: str
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await write_minutes(
        client, world.clinician, plan_id, await call_meeting(client, world.clinician, plan_id)
    )
    action = {"title": "Tiltak", "kind": kind, "responsible_side": side, "responsible_person": "P"}
    assert_problem(await release(client, world.clinician, plan_id, meeting, [action]), 422)
    # Nothing of the release is kept: the minutes are still a draft, no activity exists.
    (stored,) = await listed(client, world.clinician, plan_id)
    assert stored["minutes_status"] == "draft"
    assert (await read_plan(client, world.clinician, plan_id))["activities"] == []


async def test_an_action_goal_must_be_visible_to_the_releasing_side(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    treatment = await add_goal(client, world.clinician, plan_id, "treatment")
    meeting = await write_minutes(
        client, world.advisor, plan_id, await call_meeting(client, world.advisor, plan_id)
    )
    action = {
        "title": "Arbeidstrening",
        "kind": "work_training",
        "responsible_side": "nav",
        "responsible_person": "Nils",
        "goal_id": treatment["id"],  # NAV has no consent to see it
    }
    assert_problem(await release(client, world.advisor, plan_id, meeting, [action]), 422)


async def test_closed_plan_takes_no_meetings(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    response = await patch(
        client, world.clinician, plan_url(world.clinician, plan["id"]), 1, {"status": "closed"}
    )
    assert response.status_code == 200, response.text
    response = await client.post(
        meetings_url(world.clinician, plan["id"]),
        json={"scheduled_at": "2031-05-01T10:00:00Z"},
        headers=world.clinician.headers,
    )
    assert_problem(response, 409)


@pytest.mark.parametrize(
    "body",
    [
        {"scheduled_at": "2031-05-01T10:00:00"},  # no offset
        {"scheduled_at": "2031-05-01T10:00:00Z", "minutes": "written before the meeting"},
        {"scheduled_at": "2031-05-01T10:00:00Z", "participants": [{"name": "X", "side": "dps"}]},
    ],
)
async def test_invalid_meetings_are_refused(
    client: httpx.AsyncClient, world: World, body: dict[str, Any]
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    response = await client.post(
        meetings_url(world.clinician, plan_id), json=body, headers=world.clinician.headers
    )
    assert_problem(response, 422)
    assert await listed(client, world.clinician, plan_id) == []


# --- who reads the minutes ----------------------------------------------------------------------


async def test_draft_minutes_are_the_writing_sides_own(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    await grant(client, world, plan_id, "treatment_goals", "treatment_notes")
    meeting = await write_minutes(
        client, world.clinician, plan_id, await call_meeting(client, world.clinician, plan_id)
    )
    (own,) = await listed(client, world.clinician, plan_id)
    assert own["minutes"] == MINUTES
    # The others see that the meeting is on, where and about what, not the draft.
    for actor, plan in ((world.advisor, plan_id), (world.patient, None)):
        (seen,) = await listed(client, actor, plan)
        assert (seen["id"], seen["agenda"], seen["location"]) == (
            meeting["id"],
            "Arbeid og behandling",
            "NAV Grünerløkka",
        )
        assert len(seen["participants"]) == 3
        assert (seen["minutes"], seen["minutes_status"]) == (None, "draft")


@pytest.mark.parametrize(
    ("scopes", "nav_reads"),
    [
        ((), False),
        (("treatment_goals",), False),
        (("treatment_goals", "treatment_notes"), True),
    ],
)
async def test_released_dps_minutes_reach_nav_only_with_consent_to_notes(
    client: httpx.AsyncClient, world: World, scopes: tuple[str, ...], nav_reads: bool
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    if scopes:
        await grant(client, world, plan_id, *scopes)
    await released_meeting(client, world.clinician, plan_id)

    (seen,) = await listed(client, world.advisor, plan_id)
    assert seen["minutes_status"] == "released"
    assert seen["minutes"] == (MINUTES if nav_reads else None)
    # The feed follows the same consent: the release is in NAV's history only when readable.
    assert ("meeting.released" in await event_types(client, world.advisor, plan_id)) is nav_reads
    assert "meeting.created" in await event_types(client, world.advisor, plan_id)
    # The patient and DPS read released minutes whatever the consent.
    assert (await listed(client, world.patient, None))[0]["minutes"] == MINUTES
    assert (await listed(client, world.clinician, plan_id))[0]["minutes"] == MINUTES


async def test_consent_revoked_hides_released_minutes_again(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    await grant(client, world, plan_id, "treatment_goals", "treatment_notes")
    await released_meeting(client, world.clinician, plan_id)
    assert (await listed(client, world.advisor, plan_id))[0]["minutes"] == MINUTES
    consents = await client.get(
        f"/api/v1/dps/plans/{plan_id}/consents", headers=world.clinician.headers
    )
    (consent,) = consents.json()["items"]
    response = await client.delete(
        f"/api/v1/dps/plans/{plan_id}/consents/{consent['id']}", headers=world.clinician.headers
    )
    assert response.status_code == 204, response.text
    assert (await listed(client, world.advisor, plan_id))[0]["minutes"] is None


async def test_released_nav_minutes_need_no_consent(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await write_minutes(
        client, world.advisor, plan_id, await call_meeting(client, world.advisor, plan_id)
    )
    assert (await listed(client, world.clinician, plan_id))[0]["minutes"] is None
    assert (await listed(client, world.patient, None))[0]["minutes"] is None
    response = await release(client, world.advisor, plan_id, meeting)
    assert response.status_code == 200, response.text
    assert (await listed(client, world.clinician, plan_id))[0]["minutes"] == MINUTES
    assert (await listed(client, world.patient, None))[0]["minutes"] == MINUTES
    assert "meeting.released" in await event_types(client, world.clinician, plan_id)


async def test_meetings_are_out_of_reach_outside_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id = (await create_plan(client, world))["id"]
    meeting = await call_meeting(client, world.clinician, plan_id)
    response = await client.get(
        meetings_url(world.other_clinician, plan_id), headers=world.other_clinician.headers
    )
    assert_problem(response, 404)
    other = await patch(
        client,
        world.other_clinician,
        f"{meetings_url(world.other_clinician, plan_id)}/{meeting['id']}",
        1,
        {"agenda": "x"},
    )
    assert_problem(other, 404)
    response = await client.get(
        "/api/v1/patient/plan/meetings", headers=world.other_patient.headers
    )
    assert_problem(response, 404)
