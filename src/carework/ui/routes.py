"""``/ui``: the thin web frontend — server-rendered pages over the same services as the API.

Every route runs in ``UnitOfWorkRoute`` (one session, one audit event per request), so a page
view is audited exactly like an API read. The signed-in person is a bearer token kept in an
HttpOnly, SameSite=Strict cookie and verified on every request by the app's ``TokenVerifier``;
the ``Principal`` built from it goes to the same service functions (and so the same access
policy) as the API. Form posts must come from this origin (Origin, else Referer), on top of
the SameSite cookie.

No ``from __future__ import annotations``: FastAPI must see the real parameter types.
"""

import uuid
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_args
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError

from carework import demo
from carework.access.policy import (
    ACTIVITY_KINDS,
    ensure_may_read_access_log,
    ensure_role,
    may_read_access_log,
    owner_of,
    side_of,
    view_for,
)
from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate, ActivityUpdate
from carework.activities.service import ACTIVITY_TRANSITIONS
from carework.api.route import Handler, UnitOfWorkRoute
from carework.audit import service as audit
from carework.auth.dev_keys import mint_dev_token
from carework.auth.principal import Principal
from carework.auth.tokens import TokenVerifier
from carework.config import Settings
from carework.consent import service as consent
from carework.consent.schemas import PatientConsentCreate, RecordedConsentCreate
from carework.errors import (
    CareworkError,
    Forbidden,
    MissingCredentials,
    NotFound,
    RuleViolation,
    Unauthorized,
)
from carework.feed import service as feed
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate, GoalUpdate, PatientGoalProposal
from carework.goals.service import GOAL_TRANSITIONS
from carework.notes import service as notes
from carework.notes.schemas import NoteCreate, PatientNoteCreate
from carework.plans import service as plans
from carework.plans.schemas import PlanCreate, PlanUpdate
from carework.plans.service import PLAN_TRANSITIONS, PlanView
from carework.vocab import (
    ActivityStatus,
    ConsentScope,
    GoalDomain,
    GoalStatus,
    PlanStatus,
    Role,
    Side,
    Visibility,
)

HERE = Path(__file__).parent
COOKIE = "carework_ui"
SESSION_SECONDS = 8 * 3600
#: Rows per page of the plan list and of a plan's access log (``Neste side`` for more).
PLANS_PER_PAGE = 50
ACCESS_LOG_PER_PAGE = 100
templates = Jinja2Templates(directory=HERE / "templates")
#: How a clinician may record a consent given in person: what the API's schema accepts.
EVIDENCE_IN_PERSON: tuple[str, ...] = get_args(
    RecordedConsentCreate.model_fields["evidence"].annotation
)

# --- Norwegian words for the closed vocabularies ------------------------------------------

LABELS: dict[str, str] = {
    # goal domains
    "treatment": "Behandling",
    "work": "Arbeid",
    "education": "Utdanning",
    # goal, plan and activity states
    "proposed": "Foreslått",
    "active": "Aktiv",
    "on_hold": "På vent",
    "achieved": "Oppnådd",
    "not_achieved": "Ikke oppnådd",
    "cancelled": "Avbrutt",
    "draft": "Utkast",
    "completed": "Fullført",
    "closed": "Avsluttet",
    "planned": "Planlagt",
    "in_progress": "Pågår",
    "done": "Gjennomført",
    # activity kinds
    "therapy": "Samtaleterapi",
    "medication_review": "Legemiddelgjennomgang",
    "work_training": "Arbeidstrening",
    "ips_job_search": "Jobbsøking (IPS)",
    "course": "Kurs",
    "benefit_follow_up": "Oppfølging av ytelse",
    "other": "Annet",
    # sides, roles, visibility, consent scopes
    "dps": "DPS",
    "nav": "NAV",
    "patient": "Pasient",
    "clinician": "Behandler",
    "nav_advisor": "NAV-veileder",
    "auditor": "Revisor",
    "shared": "Delt med alle",
    "internal": "Internt",
    "treatment_goals": "Behandlingsmål",
    "treatment_notes": "Notater om behandlingen",
    "digital": "Digitalt",
    "verbal": "Muntlig",
    "written": "Skriftlig",
    # audit outcomes
    "allowed": "Tillatt",
    "denied": "Avvist",
    "failed": "Feilet",
}

#: What an access-log entry did, by the route's action (the audit trail's ``action``).
ACTIONS: dict[str, str] = {
    "read_plan": "Leste planen",
    "patient_plan": "Leste planen",
    "create_plan": "Opprettet planen",
    "update_plan": "Endret planen",
    "list_plans": "Leste planlisten",
    "search_plans": "Søkte etter planer",
    "read_plan_history": "Leste historikken",
    "plan_access_log": "Leste tilgangsloggen",
    "create_goal": "La til et mål",
    "propose_goal": "Foreslo et mål",
    "patient_propose_goal": "Foreslo et mål",
    "read_goal": "Leste et mål",
    "update_goal": "Endret et mål",
    "add_note": "Skrev et notat",
    "patient_add_note": "Skrev et notat",
    "create_activity": "La til en aktivitet",
    "read_activity": "Leste en aktivitet",
    "update_activity": "Endret en aktivitet",
    "add_team_member": "La til en person i teamet",
    "record_consent": "Registrerte samtykke",
    "grant_consent": "Ga samtykke",
    "patient_grant_consent": "Ga samtykke",
    "revoke_consent": "Trakk tilbake samtykke",
    "patient_revoke_consent": "Trakk tilbake samtykke",
    "list_consents": "Leste samtykkene",
    "read_active_consent": "Leste samtykkestatus",
}

#: What a refused form post says, by the error's slug (only known slugs are shown).
ERRORS: dict[str, str] = {
    "precondition-failed": (
        "Noen andre har endret dette siden du åpnet siden. Du ser nå den nyeste versjonen "
        "- se over og gjør endringen på nytt om den fortsatt trengs."
    ),
    "conflict": "Endringen lar seg ikke gjøre slik planen eller målet står nå.",
    "rule-violation": "Noen av feltene er ikke fylt ut riktig. Sjekk skjemaet og prøv igjen.",
    "forbidden": "Du har ikke tilgang til å gjøre dette.",
    "not-found": "Fant ikke det du lette etter, eller du har ikke tilgang til det.",
    "unauthorized": "Innloggingen ble ikke godtatt. Prøv igjen.",
}
SAVED: dict[str, str] = {
    "plan": "Planen er opprettet.",
    "goal": "Målet er lagret.",
    "status": "Statusen er oppdatert.",
    "note": "Notatet er lagret.",
    "activity": "Aktiviteten er lagret.",
    "activity_updated": "Aktiviteten er oppdatert.",
    "plan_status": "Planens status er oppdatert.",
    "proposal": "Forslaget er sendt til behandlingsteamet.",
    "consent": "Samtykket er gitt.",
    "recorded": "Samtykket er registrert.",
    "revoked": "Samtykket er trukket tilbake.",
}


def _label(value: object) -> str:
    text = str(getattr(value, "value", value))
    return LABELS.get(text, text)


def _date(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.astimezone().strftime("%d.%m.%Y %H:%M")
    return value.strftime("%d.%m.%Y")


def _action(action: str) -> str:
    """In words; the web pages' actions (``ui_...``) read like the API's."""
    return ACTIONS.get(action.removeprefix("ui_"), action)


templates.env.filters["label"] = _label
templates.env.filters["action"] = _action
templates.env.filters["nodate"] = _date


# --- the route class: unit of work and audit, then refusals as pages ----------------------


class CrossSiteRefused(Forbidden):
    """A form post from another origin."""


class UiRoute(UnitOfWorkRoute):
    """``UnitOfWorkRoute`` (the work is rolled back and the refusal audited), and then a
    refusal becomes something a person can act on: the sign-in page, or the page the form
    came from with a clear message — never a problem+json body in the browser."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except CrossSiteRefused:
                return _error_page(request, 403, "Skjemaet kom ikke fra denne nettsiden.")
            except Unauthorized:
                if request.method == "POST":
                    return _redirect("/ui/login", feil="unauthorized")
                return _redirect("/ui/login")
            except CareworkError as exc:
                if request.method == "POST":
                    return _redirect(_page_of(request), feil=exc.slug)
                return _error_page(request, exc.status, ERRORS.get(exc.slug, "Noe gikk galt."))

        return run


def _redirect(path: str, **query: str) -> RedirectResponse:
    url = f"{path}?{urlencode(query)}" if query else path
    return RedirectResponse(url, status_code=303)


def _page_of(request: Request) -> str:
    """Where a form's page is: the answer to a post goes back there."""
    plan_id = request.path_params.get("plan_id")
    if plan_id:
        return f"/ui/plans/{plan_id}"
    for prefix in ("/ui/me", "/ui/login"):
        if request.url.path.startswith(prefix):
            return prefix
    return "/ui/plans"


def _error_page(request: Request, status: int, message: str) -> Response:
    return templates.TemplateResponse(
        request,
        "error.html",
        {"principal": getattr(request.state, "principal", None), "text": message},
        status_code=status,
    )


def _page(request: Request, name: str, principal: Principal | None, **context: Any) -> Response:
    query = request.query_params
    message = None
    if query.get("feil") in ERRORS:
        message = {"kind": "error", "text": ERRORS[query["feil"]]}
    elif query.get("ok") in SAVED:
        message = {"kind": "ok", "text": SAVED[query["ok"]]}
    return templates.TemplateResponse(
        request, name, {"principal": principal, "message": message, **context}
    )


# --- who is signed in ---------------------------------------------------------------------


async def signed_in(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise MissingCredentials("Not signed in.")
    verifier: TokenVerifier = request.app.state.verifier
    principal = await verifier.verify(token)
    request.state.principal = principal  # the audit event names who it was
    return principal


SignedIn = Annotated[Principal, Depends(signed_in)]


async def care_team(principal: SignedIn) -> Principal:
    """Clinicians and advisors; the patient has their own page (``/ui/me``)."""
    if side_of(principal) is Side.patient:
        raise Forbidden("The patient's page is /ui/me.")
    return principal


async def patient(principal: SignedIn) -> Principal:
    return ensure_role(principal, Role.patient)


async def clinician(principal: SignedIn) -> Principal:
    """What the API serves on ``/api/v1/dps`` only (recording consent) is for clinicians."""
    return ensure_role(principal, Role.clinician)


CareTeam = Annotated[Principal, Depends(care_team)]
Clinician = Annotated[Principal, Depends(clinician)]
PatientUser = Annotated[Principal, Depends(patient)]


async def same_origin(request: Request) -> None:
    """CSRF defence for form posts, on top of the SameSite=Strict cookie."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None or urlsplit(source).netloc != request.headers.get("host"):
        raise CrossSiteRefused("Cross-site form post.")


SAME_ORIGIN = [Depends(same_origin)]

# --- forms -----------------------------------------------------------------------------

Form = dict[str, list[str]]
M = TypeVar("M", bound=BaseModel)


async def read_form(request: Request) -> Form:
    body = (await request.body()).decode("utf-8", errors="replace")
    return parse_qs(body, keep_blank_values=True)


def one(form: Form, name: str) -> str | None:
    """A field's value; empty means not given."""
    value = form.get(name, [""])[-1].strip()
    return value or None


def parse(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError:
        raise RuleViolation("The form has invalid fields.") from None


def parse_changes(model: type[M], form: Form, names: tuple[str, ...]) -> M:
    """A PATCH body from a form: the fields the form has (an emptied one as None, so a date
    can be cleared and a required field refused), nothing for the fields it does not have."""
    return parse_sent(model, {name: one(form, name) for name in names if name in form})


def parse_sent(model: type[M], data: dict[str, Any]) -> M:
    """Like ``parse``, but None is sent as None (the service sees which fields were set)."""
    try:
        return model.model_validate(data)
    except ValidationError:
        raise RuleViolation("The form has invalid fields.") from None


def form_uuid(form: Form, name: str) -> uuid.UUID | None:
    value = one(form, name)
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise RuleViolation(f"{name} is not an id.") from None


def form_version(form: Form) -> frozenset[int]:
    """The version the page showed is the If-Match: a stale page is refused, not overwritten."""
    version = one(form, "version") or ""
    if not version.isascii() or not version.isdigit():
        raise RuleViolation("version is not a number.")
    return frozenset({int(version)})


def form_end_of_day(form: Form, name: str) -> datetime | None:
    """A date field read as "up to and including that day", in the server's time zone."""
    value = one(form, name)
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(23, 59, 59)).astimezone()
    except (ValueError, OverflowError, OSError):  # not a date, or none this clock can place
        raise RuleViolation(f"{name} is not a date.") from None


def cursor_of(request: Request) -> str | None:
    """``?cursor=`` as the service's ``next_cursor`` gave it; the service refuses a bad one."""
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise RuleViolation("The cursor is not one this service issued.")
    return cursor


# --- the router -------------------------------------------------------------------------

router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="ui-static")


@router.get("/", operation_id="ui_home")
async def home(principal: SignedIn) -> Response:
    return _redirect("/ui/me" if principal.role is Role.patient else "/ui/plans")


@router.get("/login", operation_id="ui_login_page", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    return _page(
        request, "login.html", None, dev=settings.dev_auth_enabled, people=demo.PEOPLE
    )  # fmt: skip


@router.post("/login", operation_id="ui_login", dependencies=SAME_ORIGIN)
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await read_form(request)
    person = demo.BY_KEY.get(one(form, "person") or "")
    if person is not None and settings.dev_auth_enabled:
        token = mint_dev_token(
            settings.dev_key_file, role=person.role.value, sub=person.sub, org=person.org,
            name=person.name, pid=person.pid, ttl=SESSION_SECONDS,
        )  # fmt: skip
    else:
        token = one(form, "token") or ""
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
    verifier: TokenVerifier = request.app.state.verifier
    request.state.principal = await verifier.verify(token)  # refused: back to the sign-in page
    response = _redirect("/ui/")
    response.set_cookie(
        COOKIE, token, max_age=SESSION_SECONDS, path="/ui", httponly=True, samesite="strict",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


@router.post("/logout", operation_id="ui_logout", dependencies=SAME_ORIGIN)
async def logout() -> Response:
    response = _redirect("/ui/login")
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


# --- clinicians and advisors --------------------------------------------------------------


@router.get("/plans", operation_id="ui_list_plans", response_class=HTMLResponse)
async def list_plans(request: Request, principal: CareTeam) -> Response:
    session = request.state.session
    cursor = cursor_of(request)
    rows, next_cursor = await plans.list_plans(
        session, principal, status=None, limit=PLANS_PER_PAGE, cursor=cursor
    )
    return _page(
        request, "plans.html", principal,
        rows=rows, may_create=side_of(principal) is Side.dps,
        next_page=f"/ui/plans?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
        first_page="/ui/plans" if cursor else None,
    )  # fmt: skip


@router.post("/plans", operation_id="ui_create_plan", dependencies=SAME_ORIGIN)
async def create_plan(request: Request, principal: CareTeam) -> Response:
    form = await read_form(request)
    body = parse(
        PlanCreate,
        {
            "patient": {"nid": one(form, "nid") or "", "name": one(form, "patient_name") or ""},
            "nav_office": one(form, "nav_office"),
            "title": one(form, "title"),
            "main_goal": one(form, "main_goal"),
            "status": one(form, "status"),
        },
    )
    plan = await plans.create_plan(request.state.session, principal, body)
    return _redirect(f"/ui/plans/{plan.id}", ok="plan")


def _columns(principal: Principal, view: PlanView) -> dict[str, Any]:
    """What the plan page shows beside the goals: decided by the access policy, not here."""
    side = side_of(principal)
    seen = view_for(principal, frozenset(ConsentScope(s) for s in view.consent))
    plan_status = PlanStatus(view.plan.status)
    goals_by_domain: dict[str, list[Any]] = {d.value: [] for d in GoalDomain}
    for goal_view in view.goals:
        goals_by_domain[goal_view.goal.domain].append(goal_view)
    return {
        "side": side.value,
        "view": view,
        "domains": [d.value for d in GoalDomain],
        "goals_by_domain": goals_by_domain,
        "hidden": {d.value: not seen.sees_goal(d) for d in GoalDomain},
        "creatable": [d.value for d in GoalDomain if owner_of(d) is side],
        "moves": {
            gv.goal.id: sorted(s.value for s in GOAL_TRANSITIONS[GoalStatus(gv.goal.status)])
            for gv in view.goals
            if gv.goal.owner_side == side.value
        },
        # Where the side may change status: staying put is a move too, so dates can change.
        "activity_moves": {
            a.id: sorted(
                {a.status} | {s.value for s in ACTIVITY_TRANSITIONS[ActivityStatus(a.status)]}
            )
            for a in view.activities
            if a.responsible_side == side.value
        },
        "plan_moves": sorted(s.value for s in PLAN_TRANSITIONS[plan_status]),
        "activity_kinds": [k.value for k in ACTIVITY_KINDS.get(side, frozenset())],
        "visibilities": [v.value for v in Visibility],
        "scopes": [s.value for s in ConsentScope],
    }


@router.get("/plans/{plan_id}", operation_id="ui_read_plan", response_class=HTMLResponse)
async def read_plan(request: Request, plan_id: uuid.UUID, principal: CareTeam) -> Response:
    session = request.state.session
    view = await plans.read_plan(session, principal, plan_id)
    # Who granted what is the clinic's record; NAV learns only which scopes are active.
    consents = (
        await consent.list_for_plan(session, principal, plan_id)
        if side_of(principal) is Side.dps
        else None
    )
    history, _ = await feed.plan_history(session, principal, plan_id, after=None, limit=100)
    return _page(
        request, "plan.html", principal,
        consents=consents, history=list(reversed(history)),
        evidences=EVIDENCE_IN_PERSON, may_read_access_log=may_read_access_log(principal),
        **_columns(principal, view),
    )  # fmt: skip


@router.post("/plans/{plan_id}/goals", operation_id="ui_create_goal", dependencies=SAME_ORIGIN)
async def create_goal(request: Request, plan_id: uuid.UUID, principal: CareTeam) -> Response:
    form = await read_form(request)
    body = parse(
        GoalCreate,
        {
            "domain": one(form, "domain"),
            "title": one(form, "title"),
            "description": one(form, "description"),
            "target_date": one(form, "target_date"),
        },
    )
    await goals.create_goal(request.state.session, principal, plan_id, body)
    return _redirect(f"/ui/plans/{plan_id}", ok="goal")


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/status",
    operation_id="ui_update_goal",
    dependencies=SAME_ORIGIN,
)
async def update_goal_status(
    request: Request, plan_id: uuid.UUID, goal_id: uuid.UUID, principal: CareTeam
) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse(GoalUpdate, {"status": one(form, "status")})
    await goals.update_goal(request.state.session, principal, plan_id, goal_id, version, body)
    return _redirect(f"/ui/plans/{plan_id}", ok="status")


@router.post("/plans/{plan_id}/status", operation_id="ui_update_plan", dependencies=SAME_ORIGIN)
async def update_plan_status(request: Request, plan_id: uuid.UUID, principal: CareTeam) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse_sent(PlanUpdate, {"status": one(form, "status")})  # a status, never none
    await plans.update_plan(request.state.session, principal, plan_id, version, body)
    return _redirect(f"/ui/plans/{plan_id}", ok="plan_status")


@router.post(
    "/plans/{plan_id}/goals/{goal_id}/notes", operation_id="ui_add_note", dependencies=SAME_ORIGIN
)
async def add_note(
    request: Request, plan_id: uuid.UUID, goal_id: uuid.UUID, principal: CareTeam
) -> Response:
    form = await read_form(request)
    body = parse(NoteCreate, {"text": one(form, "text"), "visibility": one(form, "visibility")})
    await notes.add_note(
        request.state.session, principal, plan_id, goal_id, body.text, body.visibility
    )
    return _redirect(f"/ui/plans/{plan_id}", ok="note")


@router.post(
    "/plans/{plan_id}/activities", operation_id="ui_create_activity", dependencies=SAME_ORIGIN
)
async def create_activity(request: Request, plan_id: uuid.UUID, principal: CareTeam) -> Response:
    form = await read_form(request)
    body = parse(
        ActivityCreate,
        {
            "kind": one(form, "kind"),
            "title": one(form, "title"),
            "goal_id": form_uuid(form, "goal_id"),
            "responsible_person": one(form, "responsible_person"),
            "start": one(form, "start"),
            "end": one(form, "end"),
        },
    )
    await activities.create_activity(request.state.session, principal, plan_id, body)
    return _redirect(f"/ui/plans/{plan_id}", ok="activity")


@router.post(
    "/plans/{plan_id}/activities/{activity_id}",
    operation_id="ui_update_activity",
    dependencies=SAME_ORIGIN,
)
async def update_activity(
    request: Request, plan_id: uuid.UUID, activity_id: uuid.UUID, principal: CareTeam
) -> Response:
    form = await read_form(request)
    version = form_version(form)
    body = parse_changes(
        ActivityUpdate, form, ("status", "title", "responsible_person", "start", "end")
    )
    await activities.update_activity(
        request.state.session, principal, plan_id, activity_id, version, body
    )
    return _redirect(f"/ui/plans/{plan_id}", ok="activity_updated")


@router.post(
    "/plans/{plan_id}/consents", operation_id="ui_record_consent", dependencies=SAME_ORIGIN
)
async def record_consent(request: Request, plan_id: uuid.UUID, principal: Clinician) -> Response:
    form = await read_form(request)
    body = parse(
        RecordedConsentCreate,
        {
            "scopes": form.get("scopes", []),
            "evidence": one(form, "evidence"),
            "valid_until": form_end_of_day(form, "valid_until"),
        },
    )
    await consent.record_in_person(request.state.session, principal, plan_id, body)
    return _redirect(f"/ui/plans/{plan_id}", ok="recorded")


@router.post(
    "/plans/{plan_id}/consents/{consent_id}/revoke",
    operation_id="ui_revoke_consent",
    dependencies=SAME_ORIGIN,
)
async def revoke_recorded_consent(
    request: Request, plan_id: uuid.UUID, consent_id: uuid.UUID, principal: Clinician
) -> Response:
    await consent.revoke(request.state.session, principal, plan_id, consent_id)
    return _redirect(f"/ui/plans/{plan_id}", ok="revoked")


@router.get(
    "/plans/{plan_id}/access-log", operation_id="ui_plan_access_log", response_class=HTMLResponse
)
async def plan_access_log(request: Request, plan_id: uuid.UUID, principal: CareTeam) -> Response:
    """Who read or changed the plan, newest first (the patient's log, seen from the unit)."""
    ensure_may_read_access_log(principal)
    session = request.state.session
    cursor = cursor_of(request)
    # Through the scoped read first: a plan out of scope is 404 before any trail is read.
    plan, _ = await plans.plan_for_reading(session, principal, plan_id)
    events, next_cursor = await audit.plan_access_log(
        session, plan.id, limit=ACCESS_LOG_PER_PAGE, cursor=cursor
    )
    here = f"/ui/plans/{plan.id}/access-log"
    return _page(
        request, "access_log.html", principal,
        plan=plan, events=events,
        next_page=f"{here}?{urlencode({'cursor': next_cursor})}" if next_cursor else None,
        first_page=here if cursor else None,
    )  # fmt: skip


# --- the patient --------------------------------------------------------------------------


@router.get("/me", operation_id="ui_patient_plan", response_class=HTMLResponse)
async def my_plan(request: Request, principal: PatientUser) -> Response:
    session = request.state.session
    try:
        view = await plans.read_own_plan(session, principal)
    except NotFound:
        return _page(request, "me.html", principal, view=None)
    consents = await consent.list_own(session, principal)
    log, _ = await audit.access_log(session, principal, limit=50, cursor=None)
    return _page(
        request, "me.html", principal,
        consents=consents, access_log=log, **_columns(principal, view),
    )  # fmt: skip


@router.post("/me/goals", operation_id="ui_patient_propose_goal", dependencies=SAME_ORIGIN)
async def propose_goal(request: Request, principal: PatientUser) -> Response:
    form = await read_form(request)
    body = parse(
        PatientGoalProposal,
        {
            "domain": one(form, "domain"),
            "title": one(form, "title"),
            "description": one(form, "description"),
        },
    )
    await goals.propose_goal(request.state.session, principal, body)
    return _redirect("/ui/me", ok="proposal")


@router.post(
    "/me/goals/{goal_id}/notes", operation_id="ui_patient_add_note", dependencies=SAME_ORIGIN
)
async def add_patient_note(
    request: Request, goal_id: uuid.UUID, principal: PatientUser
) -> Response:
    form = await read_form(request)
    body = parse(PatientNoteCreate, {"text": one(form, "text")})
    await notes.add_patient_note(request.state.session, principal, goal_id, body.text)
    return _redirect("/ui/me", ok="note")


@router.post("/me/consents", operation_id="ui_patient_grant_consent", dependencies=SAME_ORIGIN)
async def grant_consent(request: Request, principal: PatientUser) -> Response:
    form = await read_form(request)
    body = parse(PatientConsentCreate, {"scopes": form.get("scopes", [])})
    await consent.grant_by_patient(request.state.session, principal, body)
    return _redirect("/ui/me", ok="consent")


@router.post(
    "/me/consents/{consent_id}/revoke",
    operation_id="ui_patient_revoke_consent",
    dependencies=SAME_ORIGIN,
)
async def revoke_consent(
    request: Request, consent_id: uuid.UUID, principal: PatientUser
) -> Response:
    await consent.revoke_own(request.state.session, principal, consent_id)
    return _redirect("/ui/me", ok="revoked")
