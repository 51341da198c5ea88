"""The web frontend over ASGI (no browser): sign-in, Norwegian pages, the access policy as the API
has it, stale edits, CSRF, and a basic accessibility check of every page."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser

import httpx
import pytest

from tests.factories import Actor, World, create_plan

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
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
    ],
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
        url, data={"status": "achieved", "version": "1"}, headers=posting(world.clinician)
    )
    assert stale.status_code == 303
    html = await page(client, world.clinician, stale.headers["location"])
    assert "Noen andre har endret dette" in html
    assert 'role="alert"' in html
    api = await client.get(f"/api/v1/dps/plans/{plan['id']}", headers=world.clinician.headers)
    assert api.json()["goals"][0]["status"] == "on_hold"


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
    assert "ui_read_plan" in html
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
