"""The web frontend in a real browser: Debian's chromium driven by Playwright, against a live
``carework serve --demo``. The story: the clinician creates a plan and a treatment
goal, the advisor does not see the goal, the patient consents, the advisor now sees it; and a
stale edit shows a clear message; the clinician moves a plan and an activity on, records a
consent given in person and reads the plan's access log; and the pages pass WCAG 2 colour
contrast and can be worked with the keyboard alone. Screenshots go to
``tests/_artifacts/screenshots/``; with CAREWORK_UPDATE_SCREENSHOTS=1 they replace the ones the
README shows in ``docs/screenshots/``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

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
CONTRAST_REPORT = _ROOT / "tests" / "_artifacts" / "contrast.json"
STORY_PLAN = "Tilbake til studiene"
STORY_GOAL = "Mestre eksamensangst"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
]


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
    # A final status is confirmed on a page of its own first (no script: the CSP allows none).
    await expect(second.get_by_role("heading", level=1)).to_contain_text("Bekreft")
    await second.get_by_role("button", name="Ja, sett status til «Oppnådd»").click()
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


async def test_clinician_moves_plan_and_activity_records_consent_reads_log(
    browser: Browser, server: LiveServer
) -> None:
    clinician = await new_page(browser, server)
    await sign_in(clinician, demo.CLINICIAN.name)
    await open_plan(clinician, "Ny start")  # the demo's draft plan

    await clinician.get_by_label("Ny status for planen").select_option("active")
    await clinician.get_by_role("button", name="Endre planens status").click()
    await expect(clinician.get_by_text("Planens status er oppdatert.")).to_be_visible()
    await expect(clinician.locator(".facts dd").nth(1)).to_have_text("Aktiv")

    edit = clinician.locator("details.edit", has_text="Ukentlig samtaleterapi")
    await edit.locator("summary").click()
    await edit.get_by_label("Status").select_option("in_progress")
    await edit.get_by_label("Til dato").fill("2031-01-31")
    await edit.get_by_role("button", name="Lagre endringene").click()
    await expect(clinician.get_by_text("Aktiviteten er oppdatert.")).to_be_visible()
    row = clinician.get_by_role("row", name=re.compile("Ukentlig samtaleterapi"))
    await expect(row).to_contain_text("Pågår")
    await expect(row).to_contain_text("31.01.2031")

    await clinician.get_by_label("Hvordan samtykket ble gitt").select_option("written")
    await clinician.get_by_role("button", name="Registrer samtykke").click()
    await expect(clinician.get_by_text("Samtykket er registrert.")).to_be_visible()
    await expect(clinician.get_by_test_id("consent-status")).to_have_text("Behandlingsmål")
    await expect(clinician.get_by_role("cell", name="Skriftlig")).to_be_visible()
    await shot(clinician, "clinician-plan-edits")

    await clinician.get_by_role("link", name="Tilgangslogg").click()
    await expect(clinician.get_by_role("heading", level=1)).to_have_text("Tilgangslogg: Ny start")
    await expect(clinician.get_by_role("cell", name="Registrerte samtykke").first).to_be_visible()
    await expect(clinician.get_by_role("cell", name="Endret en aktivitet").first).to_be_visible()
    await shot(clinician, "clinician-access-log")


# --- accessibility: WCAG 2 contrast, measured on the rendered pages ---------------------------

#: What to measure on a plan page: text and the colours behind it, as the browser draws them.
TEXTS = {
    "body text": "main .facts dd",
    "heading": "main h1",
    "link": "main a[href='/ui/plans']",
    "label": "main label",
    "table header": "main th",
    "hint": "main .hint",
    "muted text (on a column)": "main .column .muted",
    "badge": "main .badge",
    "form field text": "main input[type=date]",
    "button": "main button:not(.secondary)",
    "secondary button": "main button.secondary",
    "activity to edit": "main details.edit summary",
    "header text": ".whoami span",
    "header link": ".brand a",
    "header button": ".site-header button",
    "error message": ".alert-error",
}
FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea, summary"

#: The text colour and the stack of backgrounds behind an element, up to an opaque one.
COLOURS_JS = """
(el) => {
  const layers = [];
  for (let n = el; n; n = n.parentElement) {
    const bg = getComputedStyle(n).backgroundColor;
    layers.push(bg);
    if (!bg.startsWith('rgba') || bg.endsWith(', 1)')) break;
  }
  const style = getComputedStyle(el);
  return {color: style.color, outline: style.outlineColor, outlineStyle: style.outlineStyle,
          shadow: style.boxShadow, layers};
}
"""

RGB = tuple[float, float, float]


def _rgba(css: str) -> tuple[RGB, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", css)[:4]]
    return (parts[0], parts[1], parts[2]), parts[3] if len(parts) == 4 else 1.0


def _over(top: str, below: RGB) -> RGB:
    rgb, alpha = _rgba(top)
    r, g, b = (alpha * t + (1 - alpha) * u for t, u in zip(rgb, below, strict=True))
    return r, g, b


def _background(layers: list[str]) -> RGB:
    colour: RGB = (255.0, 255.0, 255.0)  # the canvas
    for layer in reversed(layers):
        colour = _over(layer, colour)
    return colour


def _luminance(rgb: RGB) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio, 1 to 21."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_contrast_formula() -> None:
    assert round(contrast((0, 0, 0), (255, 255, 255)), 1) == 21.0
    assert round(contrast((118, 118, 118), (255, 255, 255)), 2) == 4.54  # #767676, the AA edge


async def _text_contrast(page: Page, selector: str) -> float:
    element = page.locator(selector).first
    colours: dict[str, Any] = await element.evaluate(COLOURS_JS)
    background = _background(colours["layers"])
    return contrast(_over(colours["color"], background), background)


async def _focus_contrast(page: Page, selector: str) -> float:
    """The focus ring against what surrounds the element: the better of its two tones."""
    element = page.locator(selector).first
    await element.focus()
    ring: dict[str, Any] = await element.evaluate(COLOURS_JS)
    around: dict[str, Any] = await element.evaluate(f"(el) => ({COLOURS_JS})(el.parentElement)")
    background = _background(around["layers"])
    assert ring["outlineStyle"] != "none", f"{selector} shows no outline on focus"
    tones = [ring["outline"], *re.findall(r"rgba?\([^)]*\)", ring["shadow"])]
    return max(contrast(_over(tone, background), background) for tone in tones)


async def test_colour_contrast_meets_wcag_aa(browser: Browser, server: LiveServer) -> None:
    page = await new_page(browser, server)
    await sign_in(page, demo.CLINICIAN.name)
    await open_plan(page, "Tilbake i arbeid etter depresjon")
    plan_url = page.url
    await page.goto(f"{plan_url}?feil=conflict")
    await page.locator("details.edit summary").first.click()  # open: its fields are drawn
    await page.locator(".column").first.evaluate(
        "(col) => col.insertAdjacentHTML('beforeend', '<p class=\"muted\">Ingen mål.</p>')"
    )
    ratios = {name: await _text_contrast(page, selector) for name, selector in TEXTS.items()}
    await page.goto(f"{plan_url}?ok=status")
    ratios["confirmation message"] = await _text_contrast(page, ".alert-ok")
    await page.keyboard.press("Tab")
    ratios["skip link (focused)"] = await _text_contrast(page, ".skip-link")
    focus = {
        f"focus ring: {name}": await _focus_contrast(page, selector)
        for name, selector in {
            "link": "main a[href='/ui/plans']",
            "button": "main button:not(.secondary)",
            "form field": "main input[type=date]",
            "activity to edit": "main details.edit summary",
            "header button": ".site-header button",
        }.items()
    }
    CONTRAST_REPORT.parent.mkdir(parents=True, exist_ok=True)
    CONTRAST_REPORT.write_text(
        json.dumps({k: round(v, 2) for k, v in {**ratios, **focus}.items()}, indent=2) + "\n"
    )
    low = {name: round(r, 2) for name, r in ratios.items() if r < 4.5}
    assert low == {}, f"text below 4.5:1 (WCAG 2 AA 1.4.3): {low}"
    low = {name: round(r, 2) for name, r in focus.items() if r < 3}
    assert low == {}, f"focus indicators below 3:1 (WCAG 2 AA 1.4.11): {low}"


async def test_every_control_is_reachable_by_keyboard(browser: Browser, server: LiveServer) -> None:
    page = await new_page(browser, server)
    await sign_in(page, demo.CLINICIAN.name)
    await open_plan(page, "Tilbake i arbeid etter depresjon")
    await page.locator("details.edit").evaluate_all("(ds) => ds.forEach(d => d.open = true)")
    count: int = await page.evaluate(
        f"""() => {{
            const all = [...document.querySelectorAll({json.dumps(FOCUSABLE)})]
                .filter(el => el.checkVisibility());
            all.forEach((el, i) => el.dataset.kb = String(i));
            return all.length;
        }}"""
    )
    assert count > 30
    await page.locator("body").evaluate("(b) => { b.tabIndex = -1; b.focus(); }")
    reached: list[str] = []
    for _ in range(count * 4 + 10):  # a date field takes a Tab per part
        await page.keyboard.press("Tab")
        index = await page.evaluate("() => document.activeElement?.dataset?.kb ?? null")
        if index is None or (reached and index == "0"):
            break
        reached.append(index)
    missing = sorted(set(map(str, range(count))) - set(reached), key=int)
    assert missing == [], f"{len(missing)} of {count} controls are not reached by Tab"
    assert [int(i) for i in dict.fromkeys(reached)] == list(range(count)), "Tab follows the page"


async def test_logout_ends_the_session_for_a_copied_cookie(
    browser: Browser, server: LiveServer
) -> None:
    page = await new_page(browser, server)
    await sign_in(page, demo.CLINICIAN.name)
    await open_plan(page, "Mestring og skole")
    plan_url = page.url
    cookies = await page.context.cookies()
    await page.get_by_role("button", name="Logg ut").click()
    signed_out = page.get_by_role("button", name=f"Logg inn som {demo.CLINICIAN.name}")
    await expect(signed_out).to_be_visible()
    # The cookie as it was before signing out (a copy, a second browser): refused.
    other = await new_page(browser, server)
    await other.context.add_cookies(cookies)  # type: ignore[arg-type]
    await other.goto(plan_url)
    await expect(other.get_by_text("Du er logget ut")).to_be_visible()
    await expect(other.get_by_role("heading", level=1, name="Mestring og skole")).to_have_count(0)


async def test_a_refused_form_keeps_what_was_typed(browser: Browser, server: LiveServer) -> None:
    page = await new_page(browser, server)
    await sign_in(page, demo.CLINICIAN.name)
    await open_plan(page, "Mestring og skole")
    await page.get_by_label("Aktivitet", exact=True).last.fill("Samtaler om søvn")
    await page.locator("#activity_start").fill("2030-05-01")
    await page.locator("#activity_end").fill("2030-04-01")
    await page.get_by_role("button", name="Legg til aktivitet").click()
    summary = page.locator(".error-summary")
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link")).to_have_text(
        "Til dato: Til-datoen kan ikke være før fra-datoen. Velg en senere til-dato."
    )
    await expect(page.locator("#activity_title")).to_have_value("Samtaler om søvn")
    await expect(page.locator("#activity_end")).to_have_attribute("aria-invalid", "true")
    await summary.get_by_role("link").click()
    await expect(page.locator("#activity_end")).to_be_focused()
