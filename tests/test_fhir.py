"""FHIR R4 for EHR integration: every resource validates against the ``fhir.resources`` R4B
models, statuses land in the R4 value sets, the patient is named by national id system, the
clinician sees exactly their DPS view (never NAV's internal notes), and only clinicians in scope
get an answer."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.goal import Goal

from carework.fhir import mapping
from carework.http.audit import action_of
from carework.lifecycle import GOAL_TRANSITIONS
from carework.vocab import ActivityKind, ActivityStatus, GoalStatus, PlanStatus, TeamRole
from tests.domain_helpers import (
    add_activity,
    add_goal,
    add_note,
    assert_problem,
    patch,
    plan_url,
    propose_goal,
    shortest_path,
)
from tests.factories import Actor, World, create_plan, make_nid

FHIR_JSON = "application/fhir+json"
MODELS: dict[str, Any] = {
    "CarePlan": CarePlan,
    "Goal": Goal,
    "CareTeam": CareTeam,
    "Bundle": Bundle,
}

# The R4 value sets, written out here rather than read from the code under test.
CARE_PLAN_STATUSES = {
    "draft", "active", "on-hold", "revoked", "completed", "entered-in-error", "unknown",
}  # fmt: skip
CARE_TEAM_STATUSES = {"proposed", "active", "suspended", "inactive", "entered-in-error"}
GOAL_LIFECYCLE_STATUSES = {
    "proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
    "entered-in-error", "rejected",
}  # fmt: skip
GOAL_ACHIEVEMENT_CODES = {
    "in-progress", "improving", "worsening", "no-change", "achieved", "sustaining",
    "not-achieved", "no-progress", "not-attainable",
}  # fmt: skip
ACTIVITY_STATUSES = {
    "not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled", "stopped",
    "unknown", "entered-in-error",
}  # fmt: skip

FNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.1"
DNR_SYSTEM = "urn:oid:2.16.578.1.12.4.1.4.2"
ACHIEVEMENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/goal-achievement"


# --- helpers ---------------------------------------------------------------------------------


def validate(resource: dict[str, Any]) -> None:
    """One resource against its R4B model; contained resources and entries each on their own."""
    MODELS[resource["resourceType"]].model_validate(resource)
    for inner in resource.get("contained", []):
        assert "meta" not in inner  # dom-4
        assert "text" not in inner  # dom-1
        validate(inner)
    for entry in resource.get("entry", []):
        validate(entry["resource"])


def assert_no_empty_arrays(value: Any, path: str = "$") -> None:
    """FHIR JSON never carries an empty array (or object, or string)."""
    if isinstance(value, dict):
        assert value, path
        for key, inner in value.items():
            assert_no_empty_arrays(inner, f"{path}.{key}")
    elif isinstance(value, list):
        assert value, path
        for i, inner in enumerate(value):
            assert_no_empty_arrays(inner, f"{path}[{i}]")
    elif isinstance(value, str):
        assert value, path


def fhir_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == FHIR_JSON
    body: dict[str, Any] = response.json()
    assert_no_empty_arrays(body)
    validate(body)
    return body


async def get_care_plan(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> httpx.Response:
    return await client.get(f"/fhir/r4/CarePlan/{plan_id}", headers=actor.headers)


async def search_goals(client: httpx.AsyncClient, actor: Actor, plan_id: str) -> httpx.Response:
    return await client.get("/fhir/r4/Goal", params={"plan": plan_id}, headers=actor.headers)


async def move_goal(
    client: httpx.AsyncClient, actor: Actor, plan_id: str, goal: dict[str, Any], target: GoalStatus
) -> dict[str, Any]:
    url = f"{plan_url(actor, plan_id)}/goals/{goal['id']}"
    path = shortest_path(GOAL_TRANSITIONS, GoalStatus(goal["status"]), target)
    for status in path[1:]:
        response = await patch(client, actor, url, goal["version"], {"status": status.value})
        assert response.status_code == 200, response.text
        goal = response.json()
    return goal


def goal_by_id(care_plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in care_plan["contained"] if r["resourceType"] == "Goal"}


# --- a plan with something of everything -----------------------------------------------------


async def build_full_plan(client: httpx.AsyncClient, world: World) -> dict[str, Any]:
    """Treatment, work and education goals in various statuses, notes of both visibilities
    from both sides, activities of both sides, and an advisor on the team."""
    clinician, advisor = world.clinician, world.advisor
    plan = await create_plan(client, world, main_goal="Jeg vil tilbake i jobb som snekker")
    pid = plan["id"]
    response = await client.post(
        f"{plan_url(advisor, pid)}/team",
        json={"sub": advisor.sub, "name": advisor.name, "role": "nav_advisor", "org": advisor.org},
        headers=advisor.headers,
    )
    assert response.status_code == 201, response.text

    treatment = await add_goal(
        client, clinician, pid, "treatment", title="Mindre angst", description="Eksponering",
        target_date="2031-06-30",
    )  # fmt: skip
    treatment_done = await move_goal(
        client, clinician, pid,
        await add_goal(client, clinician, pid, "treatment", title="Bedre søvn"),
        GoalStatus.achieved,
    )  # fmt: skip
    work = await move_goal(
        client, advisor, pid,
        await add_goal(client, advisor, pid, "work", title="Arbeid", target_date="2030-01-15"),
        GoalStatus.on_hold,
    )  # fmt: skip
    work_failed = await move_goal(
        client, advisor, pid, await add_goal(client, advisor, pid, "work", title="Fast jobb"),
        GoalStatus.not_achieved,
    )  # fmt: skip
    education = await add_goal(client, advisor, pid, "education", title="Fagbrev")
    education_dropped = await move_goal(
        client, advisor, pid, await add_goal(client, advisor, pid, "education", title="Kurs"),
        GoalStatus.cancelled,
    )  # fmt: skip
    proposed = await propose_goal(client, world.patient, "treatment", title="Trene mer")

    await add_note(client, clinician, pid, treatment["id"], "Delt fra DPS", "shared")
    await add_note(client, clinician, pid, treatment["id"], "Internt for DPS", "internal")
    await add_note(client, advisor, pid, work["id"], "Delt fra NAV", "shared")
    await add_note(client, advisor, pid, work["id"], "HEMMELIG NAV-NOTAT", "internal")
    await add_note(client, advisor, pid, education["id"], "NAV internt om fagbrev", "internal")

    therapy = await add_activity(
        client, clinician, pid, "therapy", goal_id=treatment["id"], start="2030-02-01",
        end="2030-06-30", description="Kognitiv terapi ukentlig",
    )  # fmt: skip
    training = await add_activity(
        client, advisor, pid, "work_training", goal_id=work["id"], status="in_progress",
        start="2030-03-01", responsible_person="Nina Jobbspesialist",
    )  # fmt: skip
    course = await add_activity(client, advisor, pid, "course", status="done", end="2030-01-01")
    review = await add_activity(client, clinician, pid, "medication_review", status="cancelled")
    return {
        "plan": plan,
        "goals": {
            "treatment": treatment,
            "treatment_done": treatment_done,
            "work": work,
            "work_failed": work_failed,
            "education": education,
            "education_dropped": education_dropped,
            "proposed": proposed,
        },
        "activities": {
            "therapy": therapy,
            "training": training,
            "course": course,
            "review": review,
        },
    }


# --- CarePlan --------------------------------------------------------------------------------


async def test_care_plan_holds_goals_team_and_activities(client, world: World) -> None:
    built = await build_full_plan(client, world)
    plan, goals, activities = built["plan"], built["goals"], built["activities"]
    response = await get_care_plan(client, world.clinician, plan["id"])
    care_plan = fhir_body(response)
    # The version is a digest of the content (it moves when anything contained moves, see
    # test_plan_view); the ETag carries it as FHIR does, weak.
    assert response.headers["etag"] == f'W/"{care_plan["meta"]["versionId"]}"'

    assert care_plan["resourceType"] == "CarePlan"
    assert care_plan["id"] == plan["id"]
    assert care_plan["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{plan['id']}"}
    ]
    content = {key: value for key, value in care_plan.items() if key != "meta"}
    assert care_plan["meta"]["versionId"] == mapping.version_id(content)
    assert care_plan["status"] == "active"
    assert care_plan["intent"] == "plan"
    assert care_plan["title"] == "Tilbake i arbeid"
    assert care_plan["description"] == "Jeg vil tilbake i jobb som snekker"
    assert care_plan["subject"] == {
        "type": "Patient",
        "identifier": {"system": FNR_SYSTEM, "value": world.nid},
        "display": "Ola Pasient",
    }
    assert care_plan["created"] == care_plan["period"]["start"]
    assert "end" not in care_plan["period"]
    assert care_plan["author"] == {"display": world.clinician.name}

    # Goals: every one of them contained, and referenced from CarePlan.goal.
    contained = goal_by_id(care_plan)
    assert set(contained) == {g["id"] for g in goals.values()}
    assert [ref["reference"] for ref in care_plan["goal"]] == [f"#{i}" for i in contained]
    assert contained[goals["treatment"]["id"]]["target"] == [{"dueDate": "2031-06-30"}]
    assert contained[goals["treatment"]["id"]]["extension"] == [
        {"url": mapping.DESCRIPTION_EXTENSION, "valueString": "Eksponering"}
    ]
    assert contained[goals["proposed"]["id"]]["expressedBy"] == care_plan["subject"]
    assert "expressedBy" not in contained[goals["treatment"]["id"]]
    for goal in contained.values():
        assert goal["subject"] == care_plan["subject"]

    # The care team: the creating clinician (coordinator) and the advisor who joined.
    team = next(r for r in care_plan["contained"] if r["resourceType"] == "CareTeam")
    assert care_plan["careTeam"] == [{"reference": f"#{team['id']}"}]
    assert team["status"] == "active"
    assert [
        (p["member"]["display"], [r["text"] for r in p["role"]], p["onBehalfOf"]["display"])
        for p in team["participant"]
    ] == [
        (world.clinician.name, ["Clinician", "Coordinator"], f"DPS {world.dps_unit}"),
        (world.advisor.name, ["NAV advisor"], f"NAV {world.nav_office}"),
    ]

    # Activities, in creation order, as details.
    details = {a["id"]: a["detail"] for a in care_plan["activity"]}
    assert list(details) == [a["id"] for a in activities.values()]
    therapy = details[activities["therapy"]["id"]]
    assert therapy["code"]["text"] == "Therapy"
    assert therapy["code"]["coding"] == [
        {"system": mapping.ACTIVITY_KIND_SYSTEM, "code": "therapy", "display": "Therapy"}
    ]
    assert therapy["description"] == "therapy activity"
    assert therapy["status"] == "scheduled"
    assert therapy["scheduledPeriod"] == {"start": "2030-02-01", "end": "2030-06-30"}
    assert therapy["goal"] == [{"reference": f"#{goals['treatment']['id']}"}]
    assert therapy["performer"] == [{"display": f"DPS {world.dps_unit}"}]
    assert therapy["extension"][0]["valueString"] == "Kognitiv terapi ukentlig"
    training = details[activities["training"]["id"]]
    assert training["status"] == "in-progress"
    assert training["scheduledPeriod"] == {"start": "2030-03-01"}
    assert training["performer"] == [
        {"display": "Nina Jobbspesialist"},
        {"display": f"NAV {world.nav_office}"},
    ]
    assert training["code"]["text"] == "Work training"
    course = details[activities["course"]["id"]]
    assert course["status"] == "completed"
    assert course["scheduledPeriod"] == {"end": "2030-01-01"}
    assert "goal" not in course
    review = details[activities["review"]["id"]]
    assert review["status"] == "cancelled"
    assert "scheduledPeriod" not in review
    # dom-3: every local reference names a contained resource.
    local_ids = {f"#{r['id']}" for r in care_plan["contained"]}
    for detail in details.values():
        for ref in detail.get("goal", []):
            assert ref["reference"] in local_ids


async def test_notes_are_the_clinicians_view(client, world: World) -> None:
    built = await build_full_plan(client, world)
    goals = built["goals"]
    care_plan = fhir_body(await get_care_plan(client, world.clinician, built["plan"]["id"]))
    contained = goal_by_id(care_plan)

    treatment_notes = contained[goals["treatment"]["id"]]["note"]
    assert [(n["text"], n["authorString"]) for n in treatment_notes] == [
        ("Delt fra DPS", world.clinician.name),
        ("Internt for DPS", world.clinician.name),  # DPS's own internal note: DPS sees it
    ]
    assert all(n["time"] for n in treatment_notes)
    work_notes = contained[goals["work"]["id"]]["note"]
    assert [(n["text"], n["authorString"]) for n in work_notes] == [
        ("Delt fra NAV", world.advisor.name)
    ]
    assert "note" not in contained[goals["education"]["id"]]  # only a NAV-internal one there
    bundle = fhir_body(await search_goals(client, world.clinician, built["plan"]["id"]))
    for text in (json.dumps(care_plan), json.dumps(bundle)):
        assert "HEMMELIG NAV-NOTAT" not in text
        assert "NAV internt om fagbrev" not in text


async def test_a_plan_with_no_goals_or_activities_is_still_valid(client, world: World) -> None:
    plan = await create_plan(client, world, status="draft")
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    assert care_plan["status"] == "draft"
    assert not {"goal", "activity", "description"} & set(care_plan)
    assert [r["resourceType"] for r in care_plan["contained"]] == ["CareTeam"]
    bundle = fhir_body(await search_goals(client, world.clinician, plan["id"]))
    assert bundle["total"] == 0
    assert "entry" not in bundle


async def test_a_d_number_patient_is_named_by_the_d_number_system(client, world: World) -> None:
    nid = make_nid(d_number=True)
    assert int(nid[0]) >= 4
    plan = await create_plan(client, world, patient={"nid": nid, "name": "Dina Dnummer"})
    await add_goal(client, world.clinician, plan["id"], "treatment")
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    expected = {"system": DNR_SYSTEM, "value": nid}
    assert care_plan["subject"]["identifier"] == expected
    assert care_plan["subject"]["display"] == "Dina Dnummer"
    bundle = fhir_body(await search_goals(client, world.clinician, plan["id"]))
    assert bundle["entry"][0]["resource"]["subject"]["identifier"] == expected


# --- Goal search -----------------------------------------------------------------------------


async def test_goal_search_is_a_searchset_bundle(client, world: World) -> None:
    built = await build_full_plan(client, world)
    plan_id, goals = built["plan"]["id"], built["goals"]
    response = await search_goals(client, world.clinician, plan_id)
    bundle = fhir_body(response)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert bundle["total"] == len(goals) == len(bundle["entry"])
    assert bundle["link"] == [{"relation": "self", "url": str(response.request.url)}]
    by_id = {g["id"]: g for g in goals.values()}
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan_id))
    contained = goal_by_id(care_plan)
    for entry in bundle["entry"]:
        goal = entry["resource"]
        assert entry["fullUrl"] == f"urn:uuid:{goal['id']}"
        assert entry["search"] == {"mode": "match"}
        content = {key: value for key, value in goal.items() if key != "meta"}
        assert goal["meta"]["versionId"] == mapping.version_id(content)
        assert goal["description"] == {"text": by_id[goal["id"]]["title"]}
        # The same Goal as contained in the CarePlan, apart from the stand-alone meta.
        assert {k: v for k, v in goal.items() if k != "meta"} == contained[goal["id"]]
    categories = {e["resource"]["id"]: e["resource"]["category"][0] for e in bundle["entry"]}
    assert categories[goals["treatment"]["id"]]["text"] == "Treatment"
    assert categories[goals["work"]["id"]]["coding"] == [
        {"system": mapping.GOAL_DOMAIN_SYSTEM, "code": "work", "display": "Work"}
    ]
    assert categories[goals["education"]["id"]]["text"] == "Education"


# --- status mappings, one case per status ------------------------------------------------------


def test_every_mapped_status_is_in_its_r4_value_set() -> None:
    assert set(mapping.CARE_PLAN_STATUS) == set(PlanStatus)
    assert set(mapping.CARE_PLAN_STATUS.values()) <= CARE_PLAN_STATUSES
    assert set(mapping.CARE_TEAM_STATUS) == set(PlanStatus)
    assert set(mapping.CARE_TEAM_STATUS.values()) <= CARE_TEAM_STATUSES
    assert set(mapping.GOAL_LIFECYCLE_STATUS) == set(GoalStatus)
    assert set(mapping.GOAL_LIFECYCLE_STATUS.values()) <= GOAL_LIFECYCLE_STATUSES
    assert {code for code, _ in mapping.GOAL_ACHIEVEMENT.values()} <= GOAL_ACHIEVEMENT_CODES
    assert set(mapping.ACTIVITY_STATUS) == set(ActivityStatus)
    assert set(mapping.ACTIVITY_STATUS.values()) <= ACTIVITY_STATUSES


@pytest.mark.parametrize(
    ("status", "fhir_status", "has_end"),
    [
        ("draft", "draft", False),
        ("active", "active", False),
        ("completed", "completed", True),
        ("closed", "revoked", True),
    ],
)
async def test_plan_status_maps_to_care_plan_status(
    client, world: World, status: str, fhir_status: str, has_end: bool
) -> None:
    start = "draft" if status in ("draft", "closed") else "active"
    plan = await create_plan(client, world, status=start)
    if status != start:
        response = await patch(
            client, world.clinician, plan_url(world.clinician, plan["id"]), plan["version"],
            {"status": status},
        )  # fmt: skip
        assert response.status_code == 200, response.text
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    assert care_plan["status"] == fhir_status
    assert ("end" in care_plan["period"]) is has_end
    if has_end:
        assert care_plan["period"]["end"] >= care_plan["period"]["start"]
    team = care_plan["contained"][0]
    assert team["status"] == ("inactive" if has_end else "active")


@pytest.mark.parametrize(
    ("status", "lifecycle", "achievement"),
    [
        ("proposed", "proposed", None),
        ("active", "active", "in-progress"),
        ("on_hold", "on-hold", None),
        ("achieved", "completed", "achieved"),
        ("not_achieved", "completed", "not-achieved"),
        ("cancelled", "cancelled", None),
    ],
)
async def test_goal_status_maps_to_lifecycle_and_achievement(
    client, world: World, status: str, lifecycle: str, achievement: str | None
) -> None:
    plan = await create_plan(client, world)
    if status == "proposed":
        await propose_goal(client, world.patient, "work")
    else:
        goal = await add_goal(client, world.advisor, plan["id"], "work")
        await move_goal(client, world.advisor, plan["id"], goal, GoalStatus(status))
    bundle = fhir_body(await search_goals(client, world.clinician, plan["id"]))
    (entry,) = bundle["entry"]
    goal_resource = entry["resource"]
    assert goal_resource["lifecycleStatus"] == lifecycle
    if achievement is None:
        assert "achievementStatus" not in goal_resource
    else:
        (coding,) = goal_resource["achievementStatus"]["coding"]
        assert coding["system"] == ACHIEVEMENT_SYSTEM
        assert coding["code"] == achievement


@pytest.mark.parametrize(
    ("status", "fhir_status"),
    [
        ("planned", "scheduled"),
        ("in_progress", "in-progress"),
        ("done", "completed"),
        ("cancelled", "cancelled"),
    ],
)
async def test_activity_status_maps_to_detail_status(
    client, world: World, status: str, fhir_status: str
) -> None:
    plan = await create_plan(client, world)
    await add_activity(client, world.advisor, plan["id"], "ips_job_search", status=status)
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    (activity,) = care_plan["activity"]
    assert activity["detail"]["status"] == fhir_status


# --- who gets an answer ----------------------------------------------------------------------

ROUTES = {
    "care_plan": lambda plan_id: ("/fhir/r4/CarePlan/" + plan_id, {}),
    "goal_search": lambda plan_id: ("/fhir/r4/Goal", {"plan": plan_id}),
}


@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize(
    ("caller", "status"),
    [
        ("advisor", 403),
        ("patient", 403),
        ("auditor", 403),
        ("no_token", 401),
        ("other_clinician", 404),
        ("unknown_plan", 404),
    ],
)
async def test_only_clinicians_in_scope_get_an_answer(
    client, world: World, route: str, caller: str, status: int
) -> None:
    plan = await create_plan(client, world)
    plan_id = plan["id"]
    headers: dict[str, str] = {}
    if caller == "unknown_plan":
        plan_id, headers = "00000000-0000-4000-8000-000000000000", world.clinician.headers
    elif caller != "no_token":
        headers = getattr(world, caller).headers
    path, params = ROUTES[route](plan_id)
    response = await client.get(path, params=params, headers=headers)
    body = assert_problem(response, status)
    assert world.nid not in response.text
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert "resourceType" not in body


@pytest.mark.parametrize("params", [{}, {"plan": "not-a-uuid"}])
async def test_goal_search_needs_a_plan_id(client, world: World, params: dict[str, str]) -> None:
    response = await client.get("/fhir/r4/Goal", params=params, headers=world.clinician.headers)
    body = assert_problem(response, 422)
    assert body["errors"][0]["loc"] == ["query", "plan"]


async def test_a_clinician_named_on_the_team_reads_it_from_another_unit(
    client, world: World
) -> None:
    plan = await create_plan(client, world)
    outsider = world.other_clinician
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/team",
        json={"sub": outsider.sub, "name": outsider.name, "role": "clinician", "org": outsider.org},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text
    care_plan = fhir_body(await get_care_plan(client, outsider, plan["id"]))
    assert care_plan["id"] == plan["id"]


async def test_fhir_reads_are_audited(client, world: World) -> None:
    plan = await create_plan(client, world)
    fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    fhir_body(await search_goals(client, world.clinician, plan["id"]))
    assert_problem(await get_care_plan(client, world.advisor, plan["id"]), 403)
    assert_problem(await get_care_plan(client, world.other_clinician, plan["id"]), 404)
    response = await client.get(
        "/api/v1/audit/events", params={"plan_id": plan["id"]}, headers=world.auditor.headers
    )
    assert response.status_code == 200, response.text
    read, search = action_of("fhir_read_care_plan"), action_of("fhir_search_goals")
    events = [
        (e["action"], e["outcome"], e["status"], e["actor_sub"])
        for e in response.json()["items"]
        if e["action"] in (read, search)
    ]
    assert events == [
        (read, "allowed", 200, world.clinician.sub),
        (search, "allowed", 200, world.clinician.sub),
        (read, "denied", 403, world.advisor.sub),
        (read, "denied", 404, world.other_clinician.sub),
    ]


# --- plan period and review findings -----------------------------------------------------------


async def test_care_plan_period_is_the_plan_period(client, world: World) -> None:
    plan = await create_plan(client, world, period_start="2030-01-01", period_end="2030-12-31")
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    assert care_plan["period"] == {"start": "2030-01-01", "end": "2030-12-31"}
    url = plan_url(world.clinician, plan["id"])
    response = await patch(client, world.clinician, url, 1, {"period_end": None})
    assert response.status_code == 200, response.text
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    assert care_plan["period"] == {"start": "2030-01-01"}


async def test_goal_achievement_status_is_the_latest_finding(client, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment")
    response = await client.post(
        f"{plan_url(world.clinician, plan['id'])}/evaluations",
        json={
            "held_on": "2026-01-05",
            "goals": [{"goal_id": goal["id"], "achievement": "no-change"}],
        },
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text
    bundle = fhir_body(await search_goals(client, world.clinician, plan["id"]))
    (entry,) = bundle["entry"]
    achievement = entry["resource"]["achievementStatus"]
    assert achievement["coding"] == [
        {"system": ACHIEVEMENT_SYSTEM, "code": "no-change", "display": "No Change"}
    ]
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    assert goal_by_id(care_plan)[goal["id"]]["achievementStatus"] == achievement


def test_every_achievement_code_has_a_display() -> None:
    assert {a.value for a in mapping.ACHIEVEMENT_DISPLAY} == GOAL_ACHIEVEMENT_CODES


def test_every_activity_kind_and_team_role_has_a_display() -> None:
    """A kind or role added to the vocabulary without a display would make CarePlan a 500."""
    assert set(mapping.ACTIVITY_KIND_DISPLAY) == set(ActivityKind)
    assert {r.value for r in TeamRole} <= set(mapping.ROLE_DISPLAY)


async def test_ips_activities_and_the_employment_specialist_are_valid_fhir(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    work = await add_goal(client, world.advisor, plan["id"], "work")
    for kind in ("ips_job_search", "ips_employer_contact", "ips_follow_along"):
        await add_activity(client, world.advisor, plan["id"], kind, goal_id=work["id"])
    response = await client.post(
        f"/api/v1/nav/plans/{plan['id']}/team",
        json={"sub": "ips-1", "name": "Ida Jobbspesialist", "role": "employment_specialist",
              "org": world.nav_office},
        headers=world.advisor.headers,
    )  # fmt: skip
    assert response.status_code == 201, response.text
    care_plan = fhir_body(await get_care_plan(client, world.clinician, plan["id"]))
    CarePlan.model_validate(care_plan)
    kinds = {a["detail"]["code"]["text"] for a in care_plan["activity"]}
    assert {"IPS job search", "IPS employer contact", "IPS follow-along support"} <= kinds
    team = next(r for r in care_plan["contained"] if r["resourceType"] == "CareTeam")
    CareTeam.model_validate(team)
    roles = [role["text"] for p in team["participant"] for role in p["role"]]
    assert "Employment specialist (IPS)" in roles
