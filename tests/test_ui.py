"""The web frontend over ASGI (no browser): sign-in, Norwegian pages, the access policy as the API
has it, stale edits, CSRF, and a basic accessibility check of every page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from markupsafe import escape

from carework import labels
from carework.app import housekeeping_jobs
from carework.config import Settings
from carework.http.audit import action_of
from carework.ui import care, signout
from carework.ui.forms import form_end_of_day
from carework.ui.pages import ERRORS
from carework.vocab import EventType
from tests.domain_helpers import (
    add_activity,
    add_goal,
    add_note,
    plan_for_new_patient,
    read_patient_plan,
    read_plan,
)
from tests.factories import Actor, TokenMaker, World, create_plan

ORIGIN = "http://carework.test"
CONTROLS = {"input", "select", "textarea"}
NOT_FIELDS = {"hidden", "submit", "button", "reset", "image"}


class PageAudit(HTMLParser):
    """Headings in order and a label for every form control."""

    def __init__(self) -> None:
        super().__init__()
        self.lang: str | None = None
        self.headings: list[int] = []
        self.controls: list[tuple[str, str | None]] = []  # (tag, id) of unlabelled-so-far ones
        self.label_for: set[str] = set()
        self.in_label = 0
        self.has_main = False
        self.has_skip_link = False
        self.external_scripts: list[str] = []
        self.positive_tabindex: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if (a.get("tabindex") or "0").lstrip("-").isdigit() and int(a.get("tabindex") or 0) > 0:
            self.positive_tabindex.append(tag)  # breaks the keyboard order of the page
        if tag == "html":
            self.lang = a.get("lang")
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in CONTROLS and (tag != "input" or a.get("type") not in NOT_FIELDS):
            if not self.in_label:
                self.controls.append((tag, a.get("id")))
        elif tag == "main":
            self.has_main = True
        elif tag == "a" and a.get("href") == "#main":
            self.has_skip_link = True
        elif tag == "script" and "//" in (a.get("src") or ""):
            self.external_scripts.append(str(a["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def check_page(html: str) -> PageAudit:
    page = PageAudit()
    page.feed(html)
    assert page.lang == "nb"
    assert page.has_main
    assert page.has_skip_link
    assert page.headings[:1] == [1], page.headings
    assert page.headings.count(1) == 1, "one h1 per page"
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading h{before} → h{after} skips a level"
    unlabelled = [c for c in page.controls if c[1] is None or c[1] not in page.label_for]
    assert unlabelled == [], f"form controls without a label: {unlabelled}"
    assert page.external_scripts == [], "scripts ship with the package, not from a CDN"
    assert page.positive_tabindex == [], "the tab order follows the page"
    return page


def as_(actor: Actor) -> dict[str, str]:
    return {"Cookie": f"carework_ui={actor.token}"}


def posting(actor: Actor) -> dict[str, str]:
    return {**as_(actor), "Origin": ORIGIN}


async def page(client: httpx.AsyncClient, actor: Actor, path: str) -> str:
    response = await client.get(path, headers=as_(actor))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    check_page(response.text)
    return response.text


async def treatment_goal(client: httpx.AsyncClient, world: World, plan_id: str) -> dict[str, str]:
    response = await client.post(
        f"/api/v1/dps/plans/{plan_id}/goals",
        json={"domain": "treatment", "title": "Sove hele natten", "target_date": "2030-01-31"},
        headers=world.clinician.headers,
    )
    assert response.status_code == 201, response.text
    goal: dict[str, str] = response.json()
    return goal


UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def route_id(value: str) -> str:
    """A test id without the route's random ids: the same on every xdist worker and every run."""
    return UUID.sub("{id}", value)


#: The forms beyond goals and notes (each also tested for role, scope and input below).
NEW_ROUTES = [
    ("POST", f"/ui/plans/{uuid.uuid4()}/status"),
    ("POST", f"/ui/plans/{uuid.uuid4()}/activities/{uuid.uuid4()}"),
    ("POST", f"/ui/plans/{uuid.uuid4()}/consents"),
    ("POST", f"/ui/plans/{uuid.uuid4()}/consents/{uuid.uuid4()}/revoke"),
    ("GET", f"/ui/plans/{uuid.uuid4()}/access-log"),
    ("POST", f"/ui/me/goals/{uuid.uuid4()}/notes"),
]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ui/"),
        ("GET", "/ui/plans"),
        ("GET", f"/ui/plans/{uuid.uuid4()}"),
        ("GET", "/ui/me"),
        ("POST", "/ui/plans"),
        ("POST", f"/ui/plans/{uuid.uuid4()}/goals"),
        ("POST", f"/ui/plans/{uuid.uuid4()}/goals/{uuid.uuid4()}/status"),
        ("POST", f"/ui/plans/{uuid.uuid4()}/goals/{uuid.uuid4()}/notes"),
        ("POST", f"/ui/plans/{uuid.uuid4()}/activities"),
        ("POST", "/ui/me/goals"),
        ("POST", "/ui/me/consents"),
        ("POST", f"/ui/me/consents/{uuid.uuid4()}/revoke"),
        *NEW_ROUTES,
    ],
    ids=route_id,
)
async def test_every_page_needs_sign_in(client: httpx.AsyncClient, method: str, path: str) -> None:
    for cookie in ({}, {"Cookie": "carework_ui=not-a-token"}):
        response = await client.request(method, path, headers={**cookie, "Origin": ORIGIN})
        assert response.status_code == 303, response.text
        assert response.headers["location"].startswith("/ui/login")


async def test_login_page_offers_demo_people_and_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/login")
    assert response.status_code == 200
    check_page(response.text)
    for name in ("Kari Nordmann", "Nils Hansen", "Astrid Berg"):
        assert name in response.text
    assert 'name="token"' in response.text


async def test_dev_login_sets_a_strict_http_only_cookie(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/ui/login", content="person=kari", headers={"Origin": ORIGIN, **FORM}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/ui/"
    cookie = response.headers["set-cookie"].lower()
    assert "carework_ui=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/ui" in cookie


async def test_pasted_token_signs_in(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/ui/login",
        data={"token": f"Bearer {world.advisor.token}"},
        headers={"Origin": ORIGIN},
    )
    assert response.status_code == 303
    assert f"carework_ui={world.advisor.token}" in response.headers["set-cookie"]
    bad = await client.post("/ui/login", data={"token": "nope"}, headers={"Origin": ORIGIN})
    assert bad.headers["location"] == "/ui/login?feil=unauthorized"


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


async def test_logout_ends_the_session_on_the_server(client: httpx.AsyncClient) -> None:
    signed_in = await client.post(
        "/ui/login", content="person=kari", headers={"Origin": ORIGIN, **FORM}
    )
    token = signed_in.cookies["carework_ui"]
    cookie = {"Cookie": f"carework_ui={token}"}
    assert (await client.get("/ui/plans", headers=cookie)).status_code == 200
    out = await client.post("/ui/logout", headers={**cookie, "Origin": ORIGIN})
    assert out.status_code == 303
    assert 'carework_ui=""' in out.headers["set-cookie"]
    for method, path in (("GET", "/ui/plans"), ("GET", "/ui/"), ("POST", "/ui/plans")):
        again = await client.request(method, path, headers={**cookie, "Origin": ORIGIN})
        assert again.status_code == 303, again.text
        assert again.headers["location"] == "/ui/login?feil=signed-out"
    said = await client.get("/ui/login?feil=signed-out")
    assert "Du er logget ut" in said.text
    # Signing out twice (a second tab) is no error.
    twice = await client.post("/ui/logout", headers={**cookie, "Origin": ORIGIN})
    assert twice.status_code == 303


async def test_an_expired_session_says_so(client: httpx.AsyncClient, tokens: TokenMaker) -> None:
    stale = tokens.actor("clinician", org="dps-expired", ttl=-600)
    response = await client.get("/ui/plans", headers=as_(stale))
    assert response.headers["location"] == "/ui/login?feil=expired"
    said = await client.get(response.headers["location"])
    assert "Økten er utløpt — logg inn igjen" in said.text
    assert "ikke godtatt" not in said.text


async def test_expired_sign_outs_are_purged(app: FastAPI, settings: Settings) -> None:
    sessionmaker = app.state.sessionmaker
    jobs = {job.name: job for job in housekeeping_jobs(settings, sessionmaker, app.state.refusals)}
    old, live = uuid.uuid4().hex, uuid.uuid4().hex
    async with sessionmaker() as session, session.begin():
        await signout.sign_out(session, old, fallback=timedelta(seconds=-60))
        await signout.sign_out(session, live, fallback=timedelta(hours=1))
    await jobs["ui-signout-purge"].run()
    async with sessionmaker() as session:
        assert not await signout.is_signed_out(session, old)
        assert await signout.is_signed_out(session, live)


async def test_cross_site_form_posts_are_refused(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    for headers in ({"Origin": "http://evil.test"}, {"Referer": "http://evil.test/x"}, {}):
        response = await client.post(
            f"/ui/plans/{plan['id']}/goals",
            data={"domain": "treatment", "title": "Fra et annet nettsted"},
            headers={**as_(world.clinician), **headers},
        )
        assert response.status_code == 403
        assert 'lang="nb"' in response.text
    goals = await client.get(f"/api/v1/dps/plans/{plan['id']}", headers=world.clinician.headers)
    assert goals.json()["goals"] == []


async def test_clinician_pages(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    listing = await page(client, world.clinician, "/ui/plans")
    assert plan["title"] in listing
    assert f"/ui/plans/{plan['id']}" in listing
    html = await page(client, world.clinician, f"/ui/plans/{plan['id']}")
    for text in ("Behandling", "Arbeid", "Utdanning", goal["title"], "31.01.2030", "Historikk"):
        assert text in html
    assert "Pasienten har ikke gitt samtykke" in html


async def test_clinician_creates_plan_goal_note_and_activity(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.post(
        "/ui/plans",
        data={
            "nid": world.nid,
            "patient_name": "Ola Pasient",
            "title": "Plan fra skjema",
            "nav_office": world.nav_office,
            "status": "active",
        },
        headers=posting(world.clinician),
    )
    assert response.status_code == 303, response.text
    plan_page = response.headers["location"].split("?")[0]
    plan_id = plan_page.rsplit("/", 1)[1]
    response = await client.post(
        f"{plan_page}/goals",
        data={"domain": "treatment", "title": "Mindre angst", "target_date": "2031-02-03"},
        headers=posting(world.clinician),
    )
    assert response.headers["location"] == f"{plan_page}?ok=goal"
    api = await client.get(f"/api/v1/dps/plans/{plan_id}", headers=world.clinician.headers)
    goal_id = api.json()["goals"][0]["id"]
    response = await client.post(
        f"{plan_page}/goals/{goal_id}/notes",
        data={"text": "Intern vurdering", "visibility": "internal"},
        headers=posting(world.clinician),
    )
    assert response.headers["location"] == f"{plan_page}?ok=note"
    response = await client.post(
        f"{plan_page}/activities",
        data={"kind": "therapy", "title": "Samtaler", "goal_id": goal_id, "start": ""},
        headers=posting(world.clinician),
    )
    assert response.headers["location"] == f"{plan_page}?ok=activity"
    html = await page(client, world.clinician, f"{plan_page}?ok=activity")
    assert "Aktiviteten er lagret." in html
    assert "Mindre angst" in html
    assert "Intern vurdering" in html
    assert "Samtaler" in html
    # A rule the service enforces shows as a message, not a problem body: DPS runs no course.
    response = await client.post(
        f"{plan_page}/activities",
        data={"kind": "course", "title": "Kurs"},
        headers=posting(world.clinician),
    )
    assert response.headers["location"] == f"{plan_page}?feil=forbidden"


async def test_advisor_sees_no_treatment_goal_without_consent(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    html = await page(client, world.advisor, f"/ui/plans/{plan['id']}")
    assert goal["title"] not in html
    assert "vises bare når pasienten har samtykket" in html
    assert 'name="domain"' in html
    assert 'value="treatment"' not in html

    response = await client.post(
        "/ui/me/consents", data={"scopes": "treatment_goals"}, headers=posting(world.patient)
    )
    assert response.headers["location"] == "/ui/me?ok=consent"
    html = await page(client, world.advisor, f"/ui/plans/{plan['id']}")
    assert goal["title"] in html

    me = await page(client, world.patient, "/ui/me")
    consent_id = re.search(r"/ui/me/consents/([0-9a-f-]{36})/revoke", me)
    assert consent_id is not None
    response = await client.post(
        f"/ui/me/consents/{consent_id[1]}/revoke", headers=posting(world.patient)
    )
    assert response.headers["location"] == "/ui/me?ok=revoked"
    assert goal["title"] not in await page(client, world.advisor, f"/ui/plans/{plan['id']}")


async def test_out_of_scope_plan_reads_as_not_found(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    response = await client.get(f"/ui/plans/{plan['id']}", headers=as_(world.other_clinician))
    assert response.status_code == 404
    check_page(response.text)
    assert plan["title"] not in response.text


async def test_stale_edit_shows_a_clear_message(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    url = f"/ui/plans/{plan['id']}/goals/{goal['id']}/status"
    first = await client.post(
        url, data={"status": "on_hold", "version": "1"}, headers=posting(world.clinician)
    )
    assert first.headers["location"].endswith("?ok=status")
    stale = await client.post(
        url,
        data={"status": "achieved", "version": "1", "confirm": "ja"},
        headers=posting(world.clinician),
    )
    assert stale.status_code == 412, "the plan's page again, at its newest version"
    html = stale.text
    check_page(html)
    assert version_in(html, url) == "2"
    assert "Noen andre har endret dette" in html
    assert 'role="alert"' in html
    api = await client.get(f"/api/v1/dps/plans/{plan['id']}", headers=world.clinician.headers)
    assert api.json()["goals"][0]["status"] == "on_hold"


#: Form versions no item can have: refused like a stale page (412), never a 500 (the first
#: three were: ``int`` refuses 5,000 digits, PostgreSQL a value past ``integer``).
IMPOSSIBLE_VERSIONS = ["9" * 5000, str(2**31), str(2**63), "-1", "1x", "\u00b2", "1.0"]


@pytest.mark.parametrize("form", ["plan status", "goal status", "activity"])
async def test_a_form_version_no_item_can_have_is_refused_as_stale(
    client: httpx.AsyncClient, world: World, form: str
) -> None:
    plan = await create_plan(client, world, status="draft")
    plan_page = f"/ui/plans/{plan['id']}"
    goal = await treatment_goal(client, world, plan["id"])
    activity = await add_activity(client, world.clinician, plan["id"], "therapy")
    action, change = {
        "plan status": (f"{plan_page}/status", {"status": "active"}),
        "goal status": (f"{plan_page}/goals/{goal['id']}/status", {"status": "on_hold"}),
        "activity": (f"{plan_page}/activities/{activity['id']}", {"status": "in_progress"}),
    }[form]
    before = await read_plan(client, world.clinician, plan["id"])
    for version in IMPOSSIBLE_VERSIONS:
        refused = await post(client, world.clinician, action, {**change, "version": version})
        assert refused == f"{plan_page}?feil=precondition-failed", version
    assert "Noen andre har endret dette" in await shown(client, world.clinician, refused, 200)
    assert await read_plan(client, world.clinician, plan["id"]) == before
    # The same form with the version the page showed goes through.
    assert "?ok=" in await post(client, world.clinician, action, {**change, "version": "1"})


async def test_patient_page_and_ui_reads_in_the_access_log(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    await treatment_goal(client, world, plan["id"])
    await page(client, world.clinician, f"/ui/plans/{plan['id']}")
    response = await client.post(
        "/ui/me/goals",
        data={"domain": "work", "title": "Jobbe i barnehage"},
        headers=posting(world.patient),
    )
    assert response.headers["location"] == "/ui/me?ok=proposal"
    html = await page(client, world.patient, "/ui/me")
    assert "Jobbe i barnehage" in html
    assert "Foreslått" in html
    assert "Leste planen" in html
    assert world.clinician.name in html
    # The patient has no care-team pages, and care workers no patient page.
    assert (await client.get("/ui/plans", headers=as_(world.patient))).status_code == 403
    assert (await client.get("/ui/me", headers=as_(world.clinician))).status_code == 403


async def test_patient_without_plan(client: httpx.AsyncClient, world: World) -> None:
    html = await page(client, world.patient, "/ui/me")
    assert "ingen individuell plan" in html


async def test_htmx_ships_with_the_package(client: httpx.AsyncClient) -> None:
    response = await client.get("/ui/static/htmx.min.js")
    assert response.status_code == 200
    assert "htmx" in response.text[:200]
    assert (await client.get("/ui/static/carework.css")).status_code == 200


# --- activities, plan status, consent and the access log: helpers ------------------------


async def post(
    client: httpx.AsyncClient, actor: Actor, path: str, data: dict[str, str | list[str]]
) -> str:
    """A form post; returns where it sends the browser (a 303), or, for a refusal the person
    can fix (409, 412, 422), the page the form is shown on again and the message it shows,
    written as the same ``?feil=`` address the browser would be sent to otherwise."""
    response = await client.post(path, data=data, headers=posting(actor))
    if response.status_code in (409, 412, 422):
        check_page(response.text)
        assert 'role="alert"' in response.text
        slugs = [slug for slug, text in ERRORS.items() if str(escape(text)) in response.text]
        if "error-summary" in response.text:  # the fields named, in place of the message
            slugs.append("rule-violation")
        assert len(slugs) == 1, slugs
        form_page = re.sub(r"^(/ui/plans/[^/]+|/ui/me|/ui/plans)(/.*)?$", r"\1", path)
        return f"{form_page}?feil={slugs[0]}"
    assert response.status_code == 303, response.text
    location: str = response.headers["location"]
    return location


async def shown(client: httpx.AsyncClient, actor: Actor, location: str, status: int) -> str:
    """Follow a redirect as the browser would: the page, its status, and an accessible page."""
    response = await client.get(location, headers=as_(actor))
    assert response.status_code == status, response.text
    check_page(response.text)
    return response.text


def body_rows(html: str) -> list[list[str]]:
    """The text of each body row's cells in the page's tables."""
    rows = re.findall(r"<tr><td>(.*?)</tr>", html, re.S)
    return [
        [" ".join(re.sub(r"<[^>]+>", "", cell).split()) for cell in re.findall(
            r"<td>(.*?)</td>", f"<td>{row}", re.S)]
        for row in rows
    ]  # fmt: skip


def version_in(html: str, action: str) -> str:
    """The version a form on the page carries (what the browser would send back)."""
    form = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="version" '
        r'value="(\d+)"',
        html,
    )
    assert form is not None, f"no form posting to {action}"
    return form[1]


@pytest.mark.parametrize(
    ("method", "path"), [r for r in NEW_ROUTES if r[0] == "POST"], ids=route_id
)
async def test_new_form_posts_refuse_cross_site(
    client: httpx.AsyncClient, world: World, method: str, path: str
) -> None:
    actor = world.patient if path.startswith("/ui/me") else world.clinician
    for headers in ({"Origin": "http://evil.test"}, {}):
        response = await client.post(path, data={"x": "y"}, headers={**as_(actor), **headers})
        assert response.status_code == 403
        assert "Skjemaet kom ikke fra denne nettsiden." in response.text


# --- 1. updating an activity --------------------------------------------------------------


async def test_clinician_updates_an_activity(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    activity = await add_activity(
        client, world.clinician, plan["id"], "therapy", start="2030-01-01", end="2030-03-01"
    )
    plan_page = f"/ui/plans/{plan['id']}"
    action = f"{plan_page}/activities/{activity['id']}"
    html = await page(client, world.clinician, plan_page)
    assert version_in(html, action) == "1"
    assert 'value="2030-03-01"' in html

    location = await post(
        client, world.clinician, action,
        {"version": "1", "status": "in_progress", "title": "Samtaler hver uke",
         "responsible_person": "", "start": "2030-01-08", "end": ""},
    )  # fmt: skip
    assert location == f"{plan_page}?ok=activity_updated"
    assert "Aktiviteten er oppdatert." in await shown(client, world.clinician, location, 200)
    api = (await read_plan(client, world.clinician, plan["id"]))["activities"][0]
    assert (api["status"], api["title"], api["start"], api["end"], api["version"]) == (
        "in_progress", "Samtaler hver uke", "2030-01-08", None, 2,
    )  # fmt: skip

    # The page the user still has open names version 1: refused, with a clear message.
    stale = await post(
        client, world.clinician, action, {"version": "1", "status": "done", "confirm": "ja"}
    )
    assert stale == f"{plan_page}?feil=precondition-failed"
    html = await shown(client, world.clinician, stale, 200)
    assert "Noen andre har endret dette" in html
    assert 'role="alert"' in html

    # The service's rules, as messages: a date order, an emptied title, a move that is not one.
    for data, slug in [
        ({"version": "2", "start": "2030-05-01", "end": "2030-04-01"}, "rule-violation"),
        ({"version": "2", "title": ""}, "rule-violation"),
        ({"version": "2", "status": "unknown"}, "rule-violation"),
        ({"version": "x", "status": "done", "confirm": "ja"}, "precondition-failed"),
        ({"version": "2", "status": "planned"}, "conflict"),
    ]:
        assert await post(client, world.clinician, action, data) == f"{plan_page}?feil={slug}"
    api = (await read_plan(client, world.clinician, plan["id"]))["activities"][0]
    assert (api["status"], api["version"]) == ("in_progress", 2)


async def test_activity_update_follows_ownership_and_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    nav_activity = await add_activity(client, world.advisor, plan["id"], "work_training")
    plan_page = f"/ui/plans/{plan['id']}"
    action = f"{plan_page}/activities/{nav_activity['id']}"
    data = {"version": "1", "status": "in_progress"}

    # The clinician sees NAV's activity but gets no form for it, and a post is refused.
    html = await page(client, world.clinician, plan_page)
    assert nav_activity["title"] in html
    assert f'action="{action}"' not in html
    assert await post(client, world.clinician, action, data) == f"{plan_page}?feil=forbidden"
    # The advisor runs it.
    assert f'action="{action}"' in await page(client, world.advisor, plan_page)
    assert await post(client, world.advisor, action, data) == f"{plan_page}?ok=activity_updated"
    # The patient has no care-team pages; outside the unit the plan does not exist.
    assert await post(client, world.patient, action, data) == f"{plan_page}?feil=forbidden"
    await shown(client, world.patient, f"{plan_page}?feil=forbidden", 403)
    outside = await post(client, world.other_advisor, action, {**data, "version": "2"})
    assert outside == f"{plan_page}?feil=not-found"
    await shown(client, world.other_advisor, outside, 404)
    api = (await read_plan(client, world.advisor, plan["id"]))["activities"][0]
    assert (api["status"], api["version"]) == ("in_progress", 2)


# --- 2. the plan's status ------------------------------------------------------------------


async def test_plan_status_moves_with_stale_edit_handling(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world, status="draft")
    plan_page = f"/ui/plans/{plan['id']}"
    action = f"{plan_page}/status"
    html = await page(client, world.clinician, plan_page)
    assert version_in(html, action) == "1"
    options = re.search(r'<select id="plan_status"[^>]*>(.*?)</select>', html, re.S)
    assert options is not None
    assert re.findall(r'value="(\w+)"', options[1]) == ["active", "closed"]

    ok = await post(client, world.clinician, action, {"version": "1", "status": "active"})
    assert ok == f"{plan_page}?ok=plan_status"
    assert "Planens status er oppdatert." in await shown(client, world.clinician, ok, 200)
    stale = await post(
        client, world.clinician, action, {"version": "1", "status": "closed", "confirm": "ja"}
    )
    assert stale == f"{plan_page}?feil=precondition-failed"
    assert "Noen andre har endret dette" in await shown(client, world.clinician, stale, 200)
    for data, slug in [
        ({"version": "2", "status": "draft"}, "conflict"),  # not a move the service allows
        ({"version": "2", "status": "paused"}, "rule-violation"),
        ({"version": "2", "status": ""}, "rule-violation"),
        ({"version": "2"}, "rule-violation"),
        (
            {"status": "completed", "confirm": "ja"},
            "rule-violation",
        ),  # no version: no blind overwrite
    ]:
        assert await post(client, world.clinician, action, data) == f"{plan_page}?feil={slug}"
    assert (await read_plan(client, world.clinician, plan["id"]))["status"] == "active"

    # Either side may change the plan (as through the API); the patient and outsiders not.
    done = {"version": "2", "status": "completed", "confirm": "ja"}
    assert await post(client, world.patient, action, done) == f"{plan_page}?feil=forbidden"
    await shown(client, world.patient, f"{plan_page}?feil=forbidden", 403)
    outside = await post(client, world.other_clinician, action, done)
    assert outside == f"{plan_page}?feil=not-found"
    await shown(client, world.other_clinician, outside, 404)
    assert await post(client, world.advisor, action, done) == f"{plan_page}?ok=plan_status"
    html = await page(client, world.clinician, plan_page)
    assert "Fullført" in html
    assert f'action="{action}"' not in html  # a completed plan has no moves left


# --- 3. consent recorded by the clinician ------------------------------------------------


async def test_clinician_records_and_revokes_consent(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    plan_page = f"/ui/plans/{plan['id']}"
    action = f"{plan_page}/consents"
    assert goal["title"] not in await page(client, world.advisor, plan_page)

    ok = await post(
        client, world.clinician, action,
        {"scopes": ["treatment_goals"], "evidence": "written", "valid_until": "2099-12-31"},
    )  # fmt: skip
    assert ok == f"{plan_page}?ok=recorded"
    html = await shown(client, world.clinician, ok, 200)
    assert "Samtykket er registrert." in html
    assert "Skriftlig" in html
    assert "Aktivt til 31.12.2099 23:59" in html
    consents = await client.get(
        f"/api/v1/dps/plans/{plan['id']}/consents", headers=world.clinician.headers
    )
    [row] = consents.json()["items"]
    assert (row["evidence"], row["scopes"], row["active"]) == ("written", ["treatment_goals"], True)

    # The advisor sees the goal now, and the consent status read-only: no way to change it.
    html = await page(client, world.advisor, plan_page)
    assert goal["title"] in html
    assert "Pasienten har samtykket til at NAV ser: Behandlingsmål." in html
    assert f'action="{action}"' not in html
    assert "/revoke" not in html

    revoke = f"{plan_page}/consents/{row['id']}/revoke"
    assert f'action="{revoke}"' in await page(client, world.clinician, plan_page)
    assert await post(client, world.advisor, revoke, {}) == f"{plan_page}?feil=forbidden"
    assert await post(client, world.patient, revoke, {}) == f"{plan_page}?feil=forbidden"
    outside = await post(client, world.other_clinician, revoke, {})
    assert outside == f"{plan_page}?feil=not-found"
    await shown(client, world.other_clinician, outside, 404)
    unknown = f"{plan_page}/consents/{uuid.uuid4()}/revoke"
    assert await post(client, world.clinician, unknown, {}) == f"{plan_page}?feil=not-found"
    assert goal["title"] in await page(client, world.advisor, plan_page)

    assert await post(client, world.clinician, revoke, {}) == f"{plan_page}?ok=revoked"
    assert goal["title"] not in await page(client, world.advisor, plan_page)
    assert "Trukket tilbake" in await page(client, world.clinician, plan_page)


async def test_recording_consent_checks_role_scope_and_input(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    plan_page = f"/ui/plans/{plan['id']}"
    action = f"{plan_page}/consents"
    good = {"scopes": ["treatment_goals", "treatment_notes"], "evidence": "verbal"}
    for data in [
        {"evidence": "verbal"},  # no scope
        {**good, "evidence": "digital"},  # the patient's own login, not a clinician's record
        {**good, "scopes": ["treatment_goals", "treatment_goals"]},
        {**good, "scopes": ["everything"]},
        {**good, "valid_until": "2001-01-01"},  # already over
        {**good, "valid_until": "31.12.2030"},
        {**good, "valid_until": "0001-01-01"},
    ]:
        assert (
            await post(client, world.clinician, action, data) == f"{plan_page}?feil=rule-violation"
        )
    # NAV reads consent status but never records it: the page says so, the service refused.
    assert await post(client, world.advisor, action, good) == f"{plan_page}?feil=forbidden"
    html = await shown(client, world.advisor, f"{plan_page}?feil=forbidden", 200)
    assert "Du har ikke tilgang til å gjøre dette." in html
    assert 'role="alert"' in html
    assert await post(client, world.patient, action, good) == f"{plan_page}?feil=forbidden"
    await shown(client, world.patient, f"{plan_page}?feil=forbidden", 403)
    outside = await post(client, world.other_clinician, action, good)
    assert outside == f"{plan_page}?feil=not-found"
    await shown(client, world.other_clinician, outside, 404)
    consents = await client.get(f"{plan_page.replace('/ui', '/api/v1/dps')}/consents",
                                headers=world.clinician.headers)  # fmt: skip
    assert consents.json()["items"] == []
    assert await post(client, world.clinician, action, good) == f"{plan_page}?ok=recorded"
    assert "Behandlingsmål, Notater om behandlingen" in await page(client, world.advisor, plan_page)


# --- 4. the plan's access log --------------------------------------------------------------


async def test_clinician_reads_the_plans_access_log(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = await create_plan(client, world)
    plan_page = f"/ui/plans/{plan['id']}"
    log_page = f"{plan_page}/access-log"
    await page(client, world.advisor, plan_page)
    await client.get(plan_page, headers=as_(world.other_clinician))  # refused: 404
    assert f'href="{log_page}"' in await page(client, world.clinician, plan_page)
    assert f'href="{log_page}"' not in await page(client, world.advisor, plan_page)

    html = await page(client, world.clinician, log_page)
    assert f"<h1>Tilgangslogg: {plan['title']}</h1>" in html
    rows = [row[1:] for row in body_rows(html)]  # without the time
    assert [world.advisor.name, "NAV-veileder", world.nav_office,
            "Leste planen (på nettsidene)"] in rows  # fmt: skip
    # Like the patient's log: what was done with the plan, not who was turned away.
    assert not any(row[0] == "Outside Clinician" for row in rows)
    assert "Opprettet planen" in html
    assert "create_plan" not in html, "words, not codes"
    assert "Neste side" not in html

    monkeypatch.setattr(care, "ACCESS_LOG_PER_PAGE", 2)
    html = await page(client, world.clinician, log_page)
    assert len(body_rows(html)) == 2
    assert "Opprettet planen" not in html  # newest first: the creation is on the last page
    next_page = re.search(r'<a href="([^"]+)" rel="next">Neste side</a>', html)
    assert next_page is not None
    while next_page is not None:
        html = await page(client, world.clinician, next_page[1].replace("&amp;", "&"))
        next_page = re.search(r'<a href="([^"]+)" rel="next">Neste side</a>', html)
    assert "Opprettet planen" in html
    assert f'<a href="{log_page}">Første side</a>' in html
    bad = await client.get(f"{log_page}?cursor=nope", headers=as_(world.clinician))
    assert bad.status_code == 422
    check_page(bad.text)


async def test_plan_access_log_is_for_the_dps_side_in_scope(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    log_page = f"/ui/plans/{plan['id']}/access-log"
    for actor, status in [
        (world.advisor, 403),  # NAV reads no trail: it would tell what consent withholds
        (world.patient, 403),  # the patient's own log is on /ui/me
        (world.other_clinician, 404),
    ]:
        response = await client.get(log_page, headers=as_(actor))
        assert response.status_code == status
        check_page(response.text)
        assert plan["title"] not in response.text
    missing = await client.get(f"/ui/plans/{uuid.uuid4()}/access-log", headers=as_(world.clinician))
    assert missing.status_code == 404


# --- 5. the patient's notes ------------------------------------------------------------------


async def test_patient_reads_shared_notes_and_writes_one(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    goal = await add_goal(client, world.clinician, plan["id"], "treatment", title="Sove bedre")
    await add_note(client, world.clinician, plan["id"], goal["id"], "Delt med pasienten")
    await add_note(client, world.clinician, plan["id"], goal["id"], "Bare DPS", "internal")
    html = await page(client, world.patient, "/ui/me")
    assert "Delt med pasienten" in html
    assert "Bare DPS" not in html
    action = f"/ui/me/goals/{goal['id']}/notes"
    assert f'action="{action}"' in html

    ok = await post(client, world.patient, action, {"text": "  Jeg sover bedre nå  "})
    assert ok == "/ui/me?ok=note"
    html = await shown(client, world.patient, ok, 200)
    assert "Notatet er lagret." in html
    assert "Jeg sover bedre nå" in html
    [mine] = [
        n
        for n in (await read_patient_plan(client, world.patient))["goals"][0]["notes"]
        if n["author_side"] == "patient"
    ]
    assert (mine["text"], mine["visibility"]) == ("Jeg sover bedre nå", "shared")
    clinician_page = await page(client, world.clinician, f"/ui/plans/{plan['id']}")
    assert "Jeg sover bedre nå" in clinician_page
    assert "(Pasient)" in clinician_page

    for data in ({"text": ""}, {"text": "x" * 10001}, {}):
        assert await post(client, world.patient, action, data) == "/ui/me?feil=rule-violation"
    # Care workers write on /ui/plans; this form is the patient's.
    assert await post(client, world.clinician, action, {"text": "x"}) == "/ui/me?feil=forbidden"
    await shown(client, world.clinician, "/ui/me?feil=forbidden", 403)
    # A goal on someone else's plan is not there, and a patient without a plan has none.
    other_plan = await plan_for_new_patient(client, world)
    other_goal = await add_goal(client, world.clinician, other_plan["id"], "treatment")
    other = f"/ui/me/goals/{other_goal['id']}/notes"
    assert await post(client, world.patient, other, {"text": "x"}) == "/ui/me?feil=not-found"
    assert await post(client, world.other_patient, action, {"text": "x"}) == (
        "/ui/me?feil=not-found"
    )
    notes = (await read_patient_plan(client, world.patient))["goals"][0]["notes"]
    assert len(notes) == 2


# --- 6. paging the plan list -----------------------------------------------------------------


async def test_plan_list_pages(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(care, "PLANS_PER_PAGE", 2)
    titles = [f"Plan nummer {n}" for n in range(3)]
    for title in titles:
        await plan_for_new_patient(client, world, title=title)
    html = await page(client, world.clinician, "/ui/plans")
    assert [t in html for t in titles] == [True, True, False]
    assert "Første side" not in html
    next_page = re.search(r'<a href="([^"]+)" rel="next">Neste side</a>', html)
    assert next_page is not None
    html = await page(client, world.clinician, next_page[1].replace("&amp;", "&"))
    assert [t in html for t in titles] == [False, False, True]
    assert "Neste side" not in html
    assert '<a href="/ui/plans">Første side</a>' in html
    for cursor in ("nope", "x" * 300):
        bad = await client.get(f"/ui/plans?cursor={cursor}", headers=as_(world.clinician))
        assert bad.status_code == 422
        assert "Noen av feltene er ikke fylt ut riktig" in bad.text


# --- safe forms (issue #15) ----------------------------------------------------------------


def select_options(html: str, select_id: str) -> tuple[str, list[tuple[str, bool]]]:
    """A select's opening tag and its options as (value, selected)."""
    found = re.search(rf'(<select id="{re.escape(select_id)}"[^>]*>)(.*?)</select>', html, re.S)
    assert found is not None, f"no select {select_id}"
    options = re.findall(r'<option value="([^"]*)"([^>]*)>', found[2])
    return found[1], [(value, "selected" in rest) for value, rest in options]


async def test_status_selects_preselect_no_status(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    html = await page(client, world.clinician, f"/ui/plans/{plan['id']}")
    for select_id in ("plan_status", f"status-{goal['id']}"):
        tag, options = select_options(html, select_id)
        assert "required" in tag
        assert options[0] == ("", False), "a placeholder comes first, so nothing is chosen"
        assert not any(selected for _, selected in options)
    assert "Velg ny status" in html


async def test_final_moves_ask_for_confirmation_first(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    plan_page = f"/ui/plans/{plan['id']}"
    goal_action = f"{plan_page}/goals/{goal['id']}/status"
    asked = await client.post(
        goal_action, data={"status": "achieved", "version": "1"}, headers=posting(world.clinician)
    )
    assert asked.status_code == 200
    check_page(asked.text)
    assert "Dette kan ikke angres" in asked.text
    assert f'action="{goal_action}"' in asked.text
    for hidden in ('name="status" value="achieved"', 'name="version" value="1"',
                   'name="confirm" value="ja"'):  # fmt: skip
        assert hidden in asked.text
    assert (await read_plan(client, world.clinician, plan["id"]))["goals"][0]["status"] == "active"
    achieved = {"status": "achieved", "version": "1", "confirm": "ja"}
    confirmed = await post(client, world.clinician, goal_action, achieved)
    assert confirmed == f"{plan_page}?ok=status"
    assert (await read_plan(client, world.clinician, plan["id"]))["goals"][0]["status"] == (
        "achieved"
    )
    # Not final: no step. Outside the unit: the same refusal as the move itself.
    closing = {"status": "closed", "version": "1"}
    outside = await post(client, world.other_clinician, f"{plan_page}/status", closing)
    assert outside == f"{plan_page}?feil=not-found"
    asked = await client.post(f"{plan_page}/status", data=closing, headers=posting(world.advisor))
    assert asked.status_code == 200
    assert "Ja, sett status til «Avsluttet»" in asked.text
    assert (await read_plan(client, world.clinician, plan["id"]))["status"] == "active"


async def test_editing_a_done_activity_asks_nothing(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    activity = await add_activity(client, world.clinician, plan["id"], "therapy")
    action = f"/ui/plans/{plan['id']}/activities/{activity['id']}"
    done = {"version": "1", "status": "done", "current_status": "planned"}
    asked = await client.post(action, data=done, headers=posting(world.clinician))
    assert asked.status_code == 200, "planned → done is final: confirmed first"
    assert await post(client, world.clinician, action, {**done, "confirm": "ja"}) == (
        f"/ui/plans/{plan['id']}?ok=activity_updated"
    )
    renamed = {"version": "2", "status": "done", "current_status": "done", "title": "Samtaler"}
    assert await post(client, world.clinician, action, renamed) == (
        f"/ui/plans/{plan['id']}?ok=activity_updated"
    )


async def test_a_closed_plan_shows_no_forms(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    await treatment_goal(client, world, plan["id"])
    plan_page = f"/ui/plans/{plan['id']}"
    open_html = await page(client, world.clinician, plan_page)
    assert f'action="{plan_page}/' in open_html
    assert 'action="/ui/me/goals' in await page(client, world.patient, "/ui/me")
    closed = {"status": "closed", "version": "1", "confirm": "ja"}
    assert await post(client, world.clinician, f"{plan_page}/status", closed) == (
        f"{plan_page}?ok=plan_status"
    )
    for actor, path in ((world.clinician, plan_page), (world.advisor, plan_page)):
        html = await page(client, actor, path)
        assert f'action="{plan_page}/' not in html, "no form on a closed plan"
        assert "kan bare leses" in html
    me = await page(client, world.patient, "/ui/me")
    assert 'action="/ui/me/goals' not in me
    assert "kan bare leses" in me


class TextFields(HTMLParser):
    """Text inputs and text areas, and whether each has a maxlength."""

    def __init__(self) -> None:
        super().__init__()
        self.unbounded: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        typed = a.get("type") or "text"
        if (tag == "textarea" or (tag == "input" and typed in {"text", "search"})) and (
            "maxlength" not in a
        ):
            self.unbounded.append(str(a.get("id")))


async def test_every_text_field_has_the_apis_limit(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    await treatment_goal(client, world, plan["id"])
    for actor, path in (
        (world.clinician, "/ui/plans"),
        (world.clinician, f"/ui/plans/{plan['id']}"),
        (world.advisor, f"/ui/plans/{plan['id']}"),
        (world.patient, "/ui/me"),
    ):
        fields = TextFields()
        fields.feed(await page(client, actor, path))
        assert fields.unbounded == [], (path, fields.unbounded)


# --- refusals keep what was typed and name the field (issue #15) ---------------------------


def summary_links(html: str) -> list[str]:
    found = re.search(
        r'<div class="alert alert-error error-summary" role="alert">(.*?)</div>', html, re.S
    )
    assert found is not None, "no error summary"
    return re.findall(r'<a href="#([^"]+)">', found[1])


def invalid_ids(html: str) -> set[str]:
    return set(re.findall(r'id="([^"]+)"[^>]*aria-invalid="true"', html))


async def refused(client: httpx.AsyncClient, actor: Actor, path: str, data: dict[str, str]) -> str:
    response = await client.post(path, data=data, headers=posting(actor))
    assert response.status_code == 422, response.text
    check_page(response.text)
    return response.text


async def test_a_refused_goal_keeps_what_was_typed(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    action = f"/ui/plans/{plan['id']}/goals"
    too_long = "Lang beskrivelse " * 300  # over the API's 4000 characters
    html = await refused(client, world.clinician, action, {
        "domain": "treatment", "title": "Komme i jobb", "description": too_long, "target_date": "",
    })  # fmt: skip
    assert summary_links(html) == ["goal_description"]
    assert invalid_ids(html) == {"goal_description"}
    assert "Beskrivelse: Teksten er for lang: høyst 4000 tegn" in html
    assert 'id="goal_title" name="title" required maxlength="200" value="Komme i jobb"' in html
    assert too_long.strip() in html
    assert re.search(r'<option value="treatment" selected>', html)
    assert (await read_plan(client, world.clinician, plan["id"]))["goals"] == []


async def test_end_before_start_names_the_end_date(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    html = await refused(client, world.clinician, f"/ui/plans/{plan['id']}/activities", {
        "kind": "therapy", "title": "Samtaler", "start": "2030-05-01", "end": "2030-04-01",
    })  # fmt: skip
    assert summary_links(html) == ["activity_end"]
    assert invalid_ids(html) == {"activity_end"}
    assert "Til-datoen kan ikke være før fra-datoen" in html
    assert 'value="Samtaler"' in html
    assert 'value="2030-05-01"' in html


async def test_a_bad_national_id_is_named_and_not_echoed(
    client: httpx.AsyncClient, world: World
) -> None:
    html = await refused(client, world.clinician, "/ui/plans", {
        "nid": "12345678901", "patient_name": "Per Pasient", "title": "Plan for Per",
        "nav_office": world.nav_office, "status": "active",
    })  # fmt: skip
    assert summary_links(html) == ["nid"]
    assert invalid_ids(html) == {"nid"}
    assert "Fødselsnummeret er ikke gyldig" in html
    assert "12345678901" not in html, "a national id number is typed again, never echoed"
    assert 'value="Per Pasient"' in html
    assert 'value="Plan for Per"' in html


async def test_a_too_long_note_is_kept(client: httpx.AsyncClient, world: World) -> None:
    plan = await create_plan(client, world)
    goal = await treatment_goal(client, world, plan["id"])
    text = "x" * 10_001
    action = f"/ui/plans/{plan['id']}/goals/{goal['id']}/notes"
    html = await refused(client, world.clinician, action, {"text": text, "visibility": "shared"})
    assert summary_links(html) == [f"note-{goal['id']}"]
    assert invalid_ids(html) == {f"note-{goal['id']}"}
    assert f">{text}</textarea>" in html
    # The patient's own note form keeps it the same way.
    mine = await refused(client, world.patient, f"/ui/me/goals/{goal['id']}/notes", {"text": text})
    assert summary_links(mine) == [f"note-{goal['id']}"]
    assert f">{text}</textarea>" in mine


# --- HTML errors for browsers (issue #15) -------------------------------------------------


async def test_root_sends_a_browser_to_the_pages(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code in (302, 303, 307)
    assert response.headers["location"] == "/ui/"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/ui/nowhere", 404),
        ("GET", "/ui/plans/not-a-uuid", 404),
        ("GET", "/ui/plans/{plan}/nowhere", 404),
        ("DELETE", "/ui/plans", 405),
    ],
)
async def test_errors_under_ui_are_pages(
    client: httpx.AsyncClient, world: World, method: str, path: str, status: int
) -> None:
    plan = await create_plan(client, world)
    response = await client.request(
        method, path.format(plan=plan["id"]), headers=posting(world.clinician)
    )
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    check_page(response.text)
    assert 'role="alert"' in response.text


async def test_the_api_keeps_problem_json(client: httpx.AsyncClient, world: World) -> None:
    for path in ("/api/v1/nowhere", "/api/v1/dps/plans/not-a-uuid"):
        response = await client.get(path, headers=world.clinician.headers)
        assert response.headers["content-type"] == "application/problem+json", path


# --- words, not codes; Oslo time (issue #15) -----------------------------------------------


def test_times_are_shown_in_oslo_time() -> None:
    assert labels.nodate(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "01.07.2026 12:00"
    assert labels.nodate(datetime(2026, 1, 15, 23, 30, tzinfo=UTC)) == "16.01.2026 00:30"
    until = form_end_of_day({"valid_until": ["2030-01-31"]}, "valid_until")
    assert until is not None
    assert until.isoformat() == "2030-01-31T23:59:59+01:00"


def test_every_route_and_change_has_words(app: FastAPI) -> None:
    actions = {
        action_of(context.original_route.operation_id or context.path or "")
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    }
    assert sorted(a for a in actions if a.removeprefix("ui_") not in labels.ACTIONS) == []
    assert sorted(e.value for e in EventType if e.value not in labels.EVENTS) == []
    assert labels.action("some_new_route") == "Annen handling"


async def test_history_and_access_log_read_as_words(
    client: httpx.AsyncClient, world: World
) -> None:
    plan = await create_plan(client, world)
    await treatment_goal(client, world, plan["id"])
    html = await page(client, world.clinician, f"/ui/plans/{plan['id']}")
    history = re.search(r'<ol class="history">(.*?)</ol>', html, re.S)
    assert history is not None
    assert "la til et mål" in history[1]
    assert "opprettet planen" in history[1]
    assert not re.search(r"\b(plan|goal)\.\w+", history[1]), history[1]
    log = await page(client, world.clinician, f"/ui/plans/{plan['id']}/access-log")
    assert "Leste planen" in log
    assert not re.search(r"\b(ui_\w+|read_plan|create_goal)\b", log)
