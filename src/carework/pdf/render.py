"""The plan as a PDF: the copy the individual-plan regulation gives the patient, and the one
the care team prints.

Rendered by WeasyPrint from a Jinja2 template, from the same scoped view the JSON routes send
(``readmodel.read_plan`` / ``read_own_plan``, validated into the audience's schema), so what a
PDF shows is decided once, in ``access``: this module only lays it out.

The document names the patient but never carries the national id number: a printed copy
travels (a bag, a kitchen table, a meeting room), and the name and the plan are enough for the
reader it is made for. Nothing in it is fetched from anywhere: the fetcher refuses every URL,
so text a person typed can never make the server reach out.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread
from fastapi import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from carework import labels
from carework.auth.principal import Principal
from carework.errors import Unavailable
from carework.readmodel.schemas import ActivityRead, GoalRead, PatientPlanRead, PlanRead
from carework.vocab import ConsentScope, GoalDomain, Visibility

#: Times in the document are Norwegian wall-clock times, whatever the server's zone.
OSLO = ZoneInfo("Europe/Oslo")
MEDIA_TYPE = "application/pdf"
#: The OpenAPI description of a PDF answer.
PDF_CONTENT = {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}

#: Layouts at once per server process. WeasyPrint lays out in Python (about 45 ms a page
#: measured: 0.7 s for 30 goals, 9-10 s for a plan at the limits, 209 pages), holding the GIL
#: most of that time, so a second layout in parallel would only slow every other request of
#: the process more; downloads queue instead.
RENDERS_AT_ONCE = 1
#: How long a download waits for its turn (holding its database connection) before it is
#: answered 503 with ``Retry-After``.
WAIT_SECONDS = 15.0
RETRY_AFTER_SECONDS = 5
_renders = anyio.CapacityLimiter(RENDERS_AT_ONCE)


class RenderBusy(Unavailable):
    """Every layout slot of this process stayed taken for ``WAIT_SECONDS``: not the request's
    fault, so a 503 with Retry-After like any other capacity fault."""


_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)


def oslo(value: date | datetime | None) -> str:
    """A date as ``dd.mm.yyyy``; a time as ``dd.mm.yyyy HH:MM`` in Europe/Oslo."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone(OSLO).strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


_env.filters["label"] = labels.label
_env.filters["oslo"] = oslo


def render_html(plan: PlanRead, patient_name: str, printed_at: datetime) -> str:
    """The document as HTML (its text is what the PDF holds)."""
    by_domain: dict[str, list[GoalRead]] = {d.value: [] for d in GoalDomain}
    for goal in plan.goals:
        by_domain[goal.domain].append(goal)
    goal_titles = {goal.id: goal.title for goal in plan.goals}
    activities_of: list[tuple[ActivityRead, str | None]] = [
        (a, goal_titles.get(a.goal_id) if a.goal_id else None) for a in plan.activities
    ]
    return _env.get_template("plan.html").render(
        plan=plan,
        patient_name=patient_name,
        printed_at=printed_at,
        goals_by_domain={d: goals for d, goals in by_domain.items() if goals},
        activities=activities_of,
        scopes=[(s.value, s.value in plan.consent) for s in ConsentScope],
        internal=Visibility.internal.value,
    )


def render_pdf(plan: PlanRead, patient_name: str, printed_at: datetime) -> bytes:
    html = render_html(plan, patient_name, printed_at)
    nothing = URLFetcher(allowed_protocols=frozenset(), allow_redirects=False)
    pdf: bytes = HTML(string=html, url_fetcher=nothing).write_pdf()
    return pdf


def patient_name(plan: PlanRead, principal: Principal) -> str:
    """The care team's views name the patient; the patient's own view has no patient block,
    so there it is the signed-in person's own name."""
    if isinstance(plan, PatientPlanRead):
        return principal.name
    return plan.patient.name


async def pdf_response(plan: PlanRead, principal: Principal) -> Response:
    """The PDF as a download, laid out in a worker thread so the event loop keeps serving."""
    name = patient_name(plan, principal)
    download = object()  # the slot's borrower: this download, whichever task it runs in
    try:
        with anyio.fail_after(WAIT_SECONDS):
            await _renders.acquire_on_behalf_of(download)
    except TimeoutError as exc:
        raise RenderBusy(
            "Other copies of plans are being printed; try again shortly.",
            retry_after=RETRY_AFTER_SECONDS,
        ) from exc
    try:
        # Not cancellable once started: the thread runs to the end and the slot is released.
        body = await anyio.to_thread.run_sync(render_pdf, plan, name, datetime.now(OSLO))
    finally:
        _renders.release_on_behalf_of(download)
    headers = {"Content-Disposition": f'attachment; filename="plan-{plan.id}.pdf"'}
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
