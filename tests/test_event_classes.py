"""Every change event type, read back by NAV with no consent, with consent to treatment goals,
and with consent to treatment notes too — and by DPS, which never reads NAV's internal notes.

The expectations are written out here by hand, per event, from what the change was about (a
treatment goal, a DPS activity, a note on a work goal, ...), not computed with the code under
test. ``test_every_event_type_is_covered`` fails when a new ``EventType`` is not exercised.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from carework.vocab import EventType
from tests.domain_helpers import add_activity, add_goal, add_note, patch
from tests.factories import Actor, World, create_plan

#: Who may read an event: everyone in scope, NAV under consent to treatment goals, NAV under
#: consent to treatment notes, or only one side (an internal note).
ALL, GOALS, NOTES, DPS_ONLY, NAV_ONLY = "all", "goals", "notes", "dps only", "nav only"


@dataclass(frozen=True)
class Expected:
    type: str
    resource_id: str
    readers: str


async def _put(client: httpx.AsyncClient, actor: Actor, url: str, etag: str) -> dict[str, Any]:
    response = await client.put(url, headers={**actor.headers, "If-Match": etag})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _delete(client: httpx.AsyncClient, actor: Actor, url: str) -> None:
    response = await client.delete(url, headers=actor.headers)
    assert response.status_code in (200, 204), response.text


async def _post(
    client: httpx.AsyncClient, actor: Actor, url: str, body: dict[str, Any], **headers: str
) -> dict[str, Any]:
    response = await client.post(url, json=body, headers={**actor.headers, **headers})
    assert response.status_code in (200, 201), response.text
    created: dict[str, Any] = response.json()
    return created


async def _every_change(client: httpx.AsyncClient, world: World) -> tuple[str, list[Expected]]:
    """One plan with every kind of change on treatment and on work items; what each is."""
    dps, nav = world.clinician, world.advisor
    plan = await create_plan(client, world, status="active")
    plan_id = plan["id"]
    d, n = f"/api/v1/dps/plans/{plan_id}", f"/api/v1/nav/plans/{plan_id}"
    expected = [Expected("plan.created", plan_id, ALL)]

    response = await patch(client, dps, d, plan["version"], {"title": "Ny tittel"})
    assert response.status_code == 200, response.text
    expected.append(Expected("plan.updated", plan_id, ALL))

    treatment = await add_goal(client, dps, plan_id, "treatment")
    work = await add_goal(client, nav, plan_id, "work")
    t, w = treatment["id"], work["id"]
    expected += [Expected("goal.created", t, GOALS), Expected("goal.created", w, ALL)]

    therapy = await add_activity(client, dps, plan_id, "therapy", goal_id=t)
    training = await add_activity(client, nav, plan_id, "work_training", goal_id=w)
    dps_on_work = await add_activity(client, dps, plan_id, "other", goal_id=w)
    a1, a2, a3 = therapy["id"], training["id"], dps_on_work["id"]
    expected += [
        Expected("activity.created", a1, GOALS),
        Expected("activity.created", a2, ALL),
        Expected("activity.created", a3, GOALS),  # a DPS activity is treatment, whatever its goal
    ]

    # Agreements: agreed, withdrawn, agreed again and cleared by a change of substance.
    for actor, base, item, kind, readers in (
        (dps, d, t, "goals", GOALS),
        (nav, n, w, "goals", ALL),
        (dps, d, a1, "activities", GOALS),
        (nav, n, a2, "activities", ALL),
    ):
        url = f"{base}/{kind}/{item}"
        etag = (await client.get(url, headers=actor.headers)).headers["etag"]
        await _put(client, actor, f"{url}/agreement", etag)
        await _delete(client, actor, f"{url}/agreement")
        await _put(client, actor, f"{url}/agreement", etag)
        singular = "goal" if kind == "goals" else "activity"
        changed = await patch(client, actor, url, int(etag.strip('"')), {"title": "Endret"})
        assert changed.status_code == 200, changed.text
        expected += [
            Expected(f"{singular}.agreed", item, readers),
            Expected(f"{singular}.agreement_withdrawn", item, readers),
            Expected(f"{singular}.agreed", item, readers),
            Expected(f"{singular}.agreements_cleared", item, readers),
            Expected(f"{singular}.updated", item, readers),
        ]

    notes = [
        (dps, d, t, "shared", NOTES),
        (dps, d, t, "internal", DPS_ONLY),
        (dps, d, w, "shared", ALL),
        (dps, d, w, "internal", DPS_ONLY),
        (nav, n, w, "internal", NAV_ONLY),
        (world.patient, None, w, "shared", ALL),
    ]
    for actor, base, goal_id, visibility, readers in notes:
        if base is None:
            note = await _post(
                client, actor, f"/api/v1/patient/plan/goals/{goal_id}/notes", {"text": "Hei"}
            )
        else:
            note = await add_note(client, actor, plan_id, goal_id, "Notat", visibility)
        expected.append(Expected("note.added", note["id"], readers))
    taken_back = await add_note(client, dps, plan_id, t, "Feil pasient", "shared")
    await _post(
        client, dps, f"{d}/goals/{t}/notes/{taken_back['id']}/entered-in-error", {"reason": "x"}
    )
    expected += [
        Expected("note.added", taken_back["id"], NOTES),
        Expected("note.entered_in_error", taken_back["id"], NOTES),
    ]

    ips = {"sub": "ips-1", "name": "Ida IPS", "role": "employment_specialist"}
    member = await _post(client, nav, f"{n}/team", {**ips, "org": world.nav_office})
    expected.append(Expected("team.member_added", member["id"], ALL))

    when = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    for actor, base, released_readers in ((dps, d, NOTES), (nav, n, ALL)):
        meeting = await _post(client, actor, f"{base}/meetings", {"scheduled_at": when})
        url = f"{base}/meetings/{meeting['id']}"
        response = await patch(client, actor, url, meeting["version"], {"minutes": "Referat"})
        assert response.status_code == 200, response.text
        await _post(client, actor, f"{url}/release", {}, **{"If-Match": response.headers["etag"]})
        expected += [
            Expected("meeting.created", meeting["id"], ALL),
            Expected("meeting.updated", meeting["id"], ALL),
            Expected("meeting.released", meeting["id"], released_readers),
        ]

    findings = [{"goal_id": t, "achievement": "improving"}]
    await _post(client, dps, f"{d}/evaluations", {"held_on": date.today().isoformat(),
                                                   "goals": findings})  # fmt: skip
    expected += [Expected("goal.updated", t, GOALS), Expected("plan.reviewed", plan_id, ALL)]

    consent = await _post(
        client, world.patient, "/api/v1/patient/consents", {"scopes": ["treatment_goals"]}
    )
    await _delete(client, world.patient, f"/api/v1/patient/consents/{consent['id']}")
    expected += [
        Expected("consent.granted", consent["id"], ALL),
        Expected("consent.revoked", consent["id"], ALL),
    ]

    # Entered in error last: the items leave the views, their events stay readable as before.
    for actor, base, kind, item, readers in (
        (dps, d, "goals", t, GOALS),
        (nav, n, "goals", w, ALL),
        (dps, d, "activities", a1, GOALS),
        (nav, n, "activities", a2, ALL),
    ):
        url = f"{base}/{kind}/{item}"
        etag = (await client.get(url, headers=actor.headers)).headers["etag"]
        await _post(
            client, actor, f"{url}/entered-in-error", {"reason": "Feil"}, **{"If-Match": etag}
        )
        singular = "goal" if kind == "goals" else "activity"
        expected.append(Expected(f"{singular}.entered_in_error", item, readers))
    return plan_id, expected


def _readable(expected: list[Expected], side: str, consent: str | None) -> list[tuple[str, str]]:
    def reads(readers: str) -> bool:
        if side == "dps":
            return readers != NAV_ONLY
        return readers in (ALL, NAV_ONLY) or (
            (readers == GOALS and consent in ("goals", "notes"))
            or (readers == NOTES and consent == "notes")
        )

    return sorted((e.type, e.resource_id) for e in expected if reads(e.readers))


async def _history(client: httpx.AsyncClient, actor: Actor, side: str, plan_id: str) -> list[Any]:
    response = await client.get(
        f"/api/v1/{side}/plans/{plan_id}/history", params={"limit": "200"}, headers=actor.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return list(response.json()["items"])


async def _feed(client: httpx.AsyncClient, actor: Actor, side: str, plan_id: str) -> list[Any]:
    """The plan's events in the side's change feed, read to its end."""
    items: list[Any] = []
    after: str | None = None
    while True:
        params = {"limit": "200", **({"after": after} if after else {})}
        response = await client.get(f"/api/v1/{side}/events", params=params, headers=actor.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += [e for e in page["items"] if e["plan_id"] == plan_id]
        if not page["items"]:
            return items
        after = page["next_cursor"]


def _pairs(events: list[Any]) -> list[tuple[str, str]]:
    return sorted((e["type"], e["resource_id"]) for e in events)


async def test_every_event_reaches_exactly_the_readers_its_resource_allows(
    client: httpx.AsyncClient, world: World
) -> None:
    plan_id, expected = await _every_change(client, world)
    dps, nav = world.clinician, world.advisor

    dps_history = await _history(client, dps, "dps", plan_id)
    assert _pairs(dps_history) == _readable(expected, "dps", None)
    for _ in range(100):  # the feed serves what lies below the oldest running transaction
        if len(await _feed(client, dps, "dps", plan_id)) == len(dps_history):
            break
        await asyncio.sleep(0.05)
    assert _pairs(await _feed(client, dps, "dps", plan_id)) == _pairs(dps_history)

    # NAV: no consent, then treatment goals, then treatment notes as well.
    consents = {None: None, "goals": ["treatment_goals"], "notes": ["treatment_notes"]}
    for consent, scopes in consents.items():
        if scopes is not None:
            granted = await _post(
                client, world.patient, "/api/v1/patient/consents", {"scopes": scopes}
            )
            expected.append(Expected("consent.granted", granted["id"], ALL))
        readable = _readable(expected, "nav", consent)
        assert _pairs(await _history(client, nav, "nav", plan_id)) == readable, consent
        assert _pairs(await _feed(client, nav, "nav", plan_id)) == readable, consent


async def test_every_event_type_is_covered(client: httpx.AsyncClient, world: World) -> None:
    _, expected = await _every_change(client, world)
    assert {e.type for e in expected} == {t.value for t in EventType}
