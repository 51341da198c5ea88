"""The pages under their Content-Security-Policy, in a real browser (Debian's chromium via
Playwright, against a live ``carework serve --demo``): a clinician, an advisor and a patient
walk the pages and use their forms, and the browser reports no violation of the policy — no
``securitypolicyviolation`` event, no console message about the Content Security Policy, no
script error — while htmx still does its work (boosted links and forms, history) without
injecting a style or keeping a copy of a page in sessionStorage.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from carework import demo
from carework.db import migrate
from carework.db.embedded import EmbeddedPostgres
from tests.live import LiveServer, child_env
from tests.test_ui_browser import CHROMIUM, CHROMIUM_ARGS, open_plan, sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]

#: Runs in every document before its own scripts: report each violation to the test.
REPORT_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => {
  window.reportViolation(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`
                         + ` at ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def server(
    embedded_pg: EmbeddedPostgres, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    url = embedded_pg.create_database("carework_ui_csp")
    migrate.upgrade(url)
    env = child_env(DATABASE_URL=url, CAREWORK_DEV_AUTH="1", CAREWORK_DATA_DIR=str(data_dir))
    live = LiveServer(["--demo"], env, tmp_path_factory.mktemp("ui-csp") / "serve.log")
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


@dataclass
class Watch:
    """What the browser said while a person used the pages."""

    violations: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)
    htmx_requests: list[str] = field(default_factory=list)

    def clean(self) -> dict[str, list[str]]:
        csp_console = [m for m in self.console if "content security policy" in m.lower()]
        return {
            "violations": self.violations,
            "console": csp_console,
            "script errors": self.script_errors,
        }


async def watched_page(browser: Browser, server: LiveServer) -> tuple[Page, Watch]:
    watch = Watch()
    context: BrowserContext = await browser.new_context(
        base_url=server.base_url, viewport={"width": 1280, "height": 900}, locale="nb-NO"
    )

    def report(violation: str) -> None:
        watch.violations.append(violation)

    await context.expose_function("reportViolation", report)
    await context.add_init_script(REPORT_VIOLATIONS)
    page = await context.new_page()
    page.on("console", lambda m: watch.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: watch.script_errors.append(str(e)))
    page.on(
        "request",
        lambda r: (
            watch.htmx_requests.append(f"{r.method} {r.url}")
            if r.headers.get("hx-request") == "true"
            else None
        ),
    )
    return page, watch


async def assert_htmx_kept_to_the_policy(page: Page) -> None:
    config = await page.evaluate(
        "() => ({indicator: htmx.config.includeIndicatorStyles, eval: htmx.config.allowEval,"
        " history: sessionStorage.getItem('htmx-history-cache'),"
        " styles: document.querySelectorAll('style, [style]').length})"
    )
    assert config == {"indicator": False, "eval": False, "history": None, "styles": 0}


async def test_clinician_works_a_plan_without_a_violation(
    browser: Browser, server: LiveServer
) -> None:
    page, watch = await watched_page(browser, server)
    await sign_in(page, demo.CLINICIAN.name)
    await open_plan(page, "Mestring og skole")
    await page.go_back()  # history without htmx's page cache: fetched again
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Planer for {demo.DPS_UNIT}")
    await page.go_forward()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mestring og skole")

    goal = "Sove gjennom natten"
    await page.get_by_label("Tittel på målet").fill(goal)
    await page.get_by_role("button", name="Legg til mål").click()
    await expect(page.get_by_role("heading", name=goal)).to_be_visible()
    article = page.locator(f"article:has(h4:text-is('{goal}'))")
    await article.get_by_label("Nytt notat").fill("Legger seg før midnatt.")
    await article.get_by_role("button", name="Lagre notat").click()
    await expect(page.get_by_text("Notatet er lagret.")).to_be_visible()
    await page.get_by_role("link", name="Tilgangslogg").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Tilgangslogg")

    await assert_htmx_kept_to_the_policy(page)
    assert watch.clean() == {"violations": [], "console": [], "script errors": []}
    posts = [r for r in watch.htmx_requests if r.startswith("POST ")]
    assert len(posts) >= 3, watch.htmx_requests  # sign-in, goal, note: boosted forms
    assert any("/access-log" in r for r in watch.htmx_requests)  # a boosted link


async def test_advisor_reads_and_writes_without_a_violation(
    browser: Browser, server: LiveServer
) -> None:
    page, watch = await watched_page(browser, server)
    await sign_in(page, demo.ADVISOR.name)
    await open_plan(page, "Mestring og skole")
    work_goal = page.locator("article:has(h4:text-is('Sommerjobb med tilrettelegging'))")
    await work_goal.get_by_label("Nytt notat").fill("Har søkt tre steder.")
    await work_goal.get_by_role("button", name="Lagre notat").click()
    await expect(page.get_by_text("Notatet er lagret.")).to_be_visible()

    await assert_htmx_kept_to_the_policy(page)
    assert watch.clean() == {"violations": [], "console": [], "script errors": []}
    assert any(r.startswith("POST ") and "/notes" in r for r in watch.htmx_requests)


async def test_patient_consents_proposes_and_signs_out_without_a_violation(
    browser: Browser, server: LiveServer
) -> None:
    page, watch = await watched_page(browser, server)
    await sign_in(page, demo.OLA.name)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Min plan")
    await page.get_by_role("button", name="Gi samtykke").click()
    await expect(page.get_by_text("Samtykket er gitt.")).to_be_visible()
    await page.get_by_role("button", name="Trekk tilbake samtykket").click()
    await expect(page.get_by_text("Samtykket er trukket tilbake.")).to_be_visible()
    await page.get_by_label("Tittel på målet").fill("Gå tur hver dag")
    await page.get_by_role("button", name="Send forslag").click()
    await expect(page.get_by_text("Forslaget er sendt til behandlingsteamet.")).to_be_visible()

    await assert_htmx_kept_to_the_policy(page)
    await page.get_by_role("button", name="Logg ut").click()
    await expect(page.get_by_role("button", name=f"Logg inn som {demo.OLA.name}")).to_be_visible()
    assert watch.clean() == {"violations": [], "console": [], "script errors": []}
    assert len([r for r in watch.htmx_requests if r.startswith("POST ")]) >= 5
