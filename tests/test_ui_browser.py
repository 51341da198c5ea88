"""The web frontend in a real browser: Debian's chromium driven by Playwright, against a live
``carework serve --demo``. The story of issue 5: the clinician creates a plan and a treatment
goal, the advisor does not see the goal, the patient consents, the advisor now sees it; and a
stale edit shows a clear message. Screenshots go to ``tests/_artifacts/screenshots/``; with
CAREWORK_UPDATE_SCREENSHOTS=1 they replace the ones the README shows in ``docs/screenshots/``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from carework import demo
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from carework.db.session import make_engine, make_sessionmaker
from tests.live import LiveServer, child_env

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
_ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = (
    _ROOT / "docs" / "screenshots"
    if os.environ.get("CAREWORK_UPDATE_SCREENSHOTS") == "1"
    else _ROOT / "tests" / "_artifacts" / "screenshots"
)
STORY_PLAN = "Tilbake til studiene"
STORY_GOAL = "Mestre eksamensangst"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def demo_database(embedded_pg: EmbeddedPostgres) -> str:
    """A database of its own: the demo people have fixed national ids."""
    url = embedded_pg.create_database("carework_ui")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def server(
    demo_database: str, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = child_env(
        DATABASE_URL=demo_database, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir)
    )
    live = LiveServer(["--demo"], env, tmp_path_factory.mktemp("ui") / "serve.log")
    try:
        live.wait_ready()
        yield live
    finally:
        returncode = live.terminate()
    assert returncode == 0, live.log()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def new_page(browser: Browser, server: LiveServer) -> Page:
    context = await browser.new_context(
        base_url=server.base_url, viewport={"width": 1280, "height": 900}, locale="nb-NO"
    )
    return await context.new_page()


async def sign_in(page: Page, name: str) -> None:
    await page.goto("/ui/login")
    await page.get_by_role("button", name=f"Logg inn som {name}").click()
    await expect(page.get_by_text(f"Innlogget som {name}")).to_be_visible()


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


async def open_plan(page: Page, title: str) -> None:
    await page.goto("/ui/plans")
    await page.get_by_role("link", name=title).click()
    await expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()


async def test_consent_story(browser: Browser, server: LiveServer) -> None:

    # The clinician sees the demo plans of the unit, creates a plan and a treatment goal.
    clinician = await new_page(browser, server)
    await sign_in(clinician, demo.CLINICIAN.name)
    await expect(clinician.get_by_role("heading", level=1)).to_have_text(
        f"Planer for {demo.DPS_UNIT}"
    )
    await expect(
        clinician.get_by_role("link", name="Tilbake i arbeid etter depresjon")
    ).to_be_visible()
    await shot(clinician, "clinician-plans")
    await clinician.get_by_label("Fødselsnummer (11 siffer)").fill(demo.PER.pid or "")
    await clinician.get_by_label("Pasientens navn").fill(demo.PER.name)
    await clinician.get_by_label("Tittel på planen").fill(STORY_PLAN)
    await clinician.get_by_label("NAV-kontor").fill(demo.NAV_OFFICE)
    await clinician.get_by_role("button", name="Opprett plan").click()
    await expect(clinician.get_by_text("Planen er opprettet.")).to_be_visible()
    await clinician.get_by_label("Tittel på målet").fill(STORY_GOAL)
    await clinician.get_by_label("Måldato").fill("2031-06-15")
    await clinician.get_by_role("button", name="Legg til mål").click()
    await expect(clinician.get_by_role("heading", name=STORY_GOAL)).to_be_visible()
    await expect(clinician.get_by_text("15.06.2031")).to_be_visible()

    # The advisor sees the plan, but not the treatment goal.
    advisor = await new_page(browser, server)
    await sign_in(advisor, demo.ADVISOR.name)
    await open_plan(advisor, STORY_PLAN)
    await expect(advisor.get_by_text(STORY_GOAL)).to_have_count(0)
    await expect(advisor.get_by_text("vises bare når pasienten har samtykket")).to_be_visible()
    await shot(advisor, "advisor-without-consent")

    # The patient grants consent.
    patient = await new_page(browser, server)
    await sign_in(patient, demo.PER.name)
    await expect(patient.get_by_role("heading", level=1)).to_have_text("Min plan")
    await expect(patient.get_by_role("heading", name=STORY_GOAL)).to_be_visible()
    await expect(patient.get_by_label("Behandlingsmål")).to_be_checked()
    await patient.get_by_role("button", name="Gi samtykke").click()
    await expect(patient.get_by_text("Samtykket er gitt.")).to_be_visible()
    await expect(patient.get_by_role("button", name="Trekk tilbake samtykket")).to_be_visible()
    await expect(patient.get_by_role("cell", name=demo.ADVISOR.name).first).to_be_visible()
    await shot(patient, "patient-consent")

    # The advisor now sees the treatment goal.
    await open_plan(advisor, STORY_PLAN)
    await expect(advisor.get_by_role("heading", name=STORY_GOAL)).to_be_visible()
    await shot(advisor, "advisor-with-consent")

    # Keyboard: the first Tab lands on the skip link.
    await advisor.keyboard.press("Tab")
    await expect(advisor.get_by_role("link", name="Hopp til hovedinnholdet")).to_be_focused()


async def test_stale_edit_shows_a_friendly_message(browser: Browser, server: LiveServer) -> None:
    first, second = await new_page(browser, server), await new_page(browser, server)
    for page in (first, second):
        await sign_in(page, demo.CLINICIAN.name)
        await open_plan(page, "Mestring og skole")
    goal = "Mestre angst i sosiale situasjoner"
    form = f"article:has(h4:text-is('{goal}')) form[action$='/status']"

    await first.locator(form).get_by_label("Ny status").select_option("on_hold")
    await first.locator(form).get_by_role("button", name="Oppdater status").click()
    await expect(first.get_by_text("Statusen er oppdatert.")).to_be_visible()

    # The second tab still shows the old version.
    await second.locator(form).get_by_label("Ny status").select_option("achieved")
    await second.locator(form).get_by_role("button", name="Oppdater status").click()
    alert = second.get_by_role("alert")
    await expect(alert).to_contain_text("Noen andre har endret dette")
    await expect(second.locator(f"article:has(h4:text-is('{goal}')) .badge").first).to_have_text(
        "På vent"
    )
    await shot(second, "stale-edit")


async def test_demo_seeding_is_idempotent(server: LiveServer, demo_database: str) -> None:
    engine = make_engine(demo_database, pool_size=1)
    try:
        assert await demo.seed(make_sessionmaker(engine)) == 0
    finally:
        await engine.dispose()
