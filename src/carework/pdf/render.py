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

from fastapi import Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from weasyprint import HTML
from weasyprint.urls import URLFetcher

from carework import labels
from carework.auth.principal import Principal
from carework.readmodel.schemas import ActivityRead, GoalRead, PatientPlanRead, PlanRead
from carework.vocab import ConsentScope, GoalDomain, Visibility

#: Times in the document are Norwegian wall-clock times, whatever the server's zone.
OSLO = ZoneInfo("Europe/Oslo")
MEDIA_TYPE = "application/pdf"
#: The OpenAPI description of a PDF answer.
PDF_CONTENT = {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}

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
    """The PDF as a download; laid out in a worker thread (tens of milliseconds of CPU)."""
    name = patient_name(plan, principal)
    body = await run_in_threadpool(render_pdf, plan, name, datetime.now(OSLO))
    headers = {"Content-Disposition": f'attachment; filename="plan-{plan.id}.pdf"'}
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
