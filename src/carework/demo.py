"""A small, realistic demo data set for ``carework serve --demo`` and the web frontend.

Everything is written through the same services the API uses, as the demo people, so the data
obeys every rule (ownership, consent, status moves) and shows up in the change feed. Seeding is
idempotent: a plan that already exists for a demo patient is left alone, so a restart (or a
second worker racing the first) adds nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carework.activities import service as activities
from carework.activities.schemas import ActivityCreate
from carework.auth.principal import Principal
from carework.config import DEFAULT_PLAN_LIMITS
from carework.consent import service as consent
from carework.consent.schemas import PatientConsentCreate
from carework.db.session import unit_of_work
from carework.errors import Conflict
from carework.goals import service as goals
from carework.goals.schemas import GoalCreate
from carework.notes import service as notes
from carework.plans import service as plans
from carework.plans.schemas import PatientIn, PlanCreate
from carework.vocab import ActivityKind, ConsentScope, GoalDomain, Role, Visibility

log = logging.getLogger("carework.demo")

#: The demo's plans are small: the defaults never bite.
LIMITS = DEFAULT_PLAN_LIMITS
DPS_UNIT = "dps-demo-vestre"
NAV_OFFICE = "nav-demo-drammen"


@dataclass(frozen=True, slots=True)
class DemoPerson:
    """Someone the dev sign-in page offers; ``key`` is what the form posts."""

    key: str
    role: Role
    sub: str
    name: str
    description: str
    org: str | None = None
    pid: str | None = None

    @property
    def principal(self) -> Principal:
        return Principal(sub=self.sub, name=self.name, role=self.role, org=self.org, pid=self.pid)


CLINICIAN = DemoPerson(
    "kari", Role.clinician, "demo-kari", "Kari Nordmann", "Psykolog, DPS Vestre", org=DPS_UNIT
)
ADVISOR = DemoPerson(
    "nils", Role.nav_advisor, "demo-nils", "Nils Hansen", "Veileder, NAV Drammen", org=NAV_OFFICE
)
ASTRID = DemoPerson(
    "astrid", Role.patient, "demo-astrid", "Astrid Berg", "Pasient (har samtykket)",
    pid="12038720188",
)  # fmt: skip
OLA = DemoPerson(
    "ola", Role.patient, "demo-ola", "Ola Johansen", "Pasient (uten samtykke)", pid="05059220057"
)
SIRI = DemoPerson(
    "siri", Role.patient, "demo-siri", "Siri Lunde", "Pasient (utkast til plan)",
    pid="23077820140",
)  # fmt: skip
PER = DemoPerson(
    "per", Role.patient, "demo-per", "Per Solberg", "Pasient (har ingen plan ennå)",
    pid="17099520019",
)  # fmt: skip

PEOPLE: tuple[DemoPerson, ...] = (CLINICIAN, ADVISOR, ASTRID, OLA, SIRI, PER)
BY_KEY = {person.key: person for person in PEOPLE}


def _in(days: int) -> date:
    return date.today() + timedelta(days=days)


@dataclass(frozen=True, slots=True)
class Recipe:
    """One demo plan: its goals (domain, title, days to the target date), a shared and an
    internal note on the treatment goal, and the consent its patient has given."""

    patient: DemoPerson
    title: str
    main_goal: str
    status: Literal["draft", "active"]
    goals: tuple[tuple[GoalDomain, str, int], ...]
    note: str
    internal_note: str
    consent: tuple[ConsentScope, ...] = ()


#: The activity each side runs for its goal, where a plan has one: who, what, from, to (days).
ACTIVITIES: dict[GoalDomain, tuple[DemoPerson, ActivityKind, str, int, int | None]] = {
    GoalDomain.treatment: (CLINICIAN, ActivityKind.therapy, "Ukentlig samtaleterapi", -14, 60),
    GoalDomain.work: (
        ADVISOR,
        ActivityKind.ips_job_search,
        "Jobbsøking med IPS-jobbspesialist",
        7,
        None,
    ),
}

RECIPES = (
    Recipe(
        patient=ASTRID,
        title="Tilbake i arbeid etter depresjon",
        main_goal="Jeg vil tilbake i jobben som butikkmedarbeider og orke hverdagen igjen.",
        status="active",
        goals=(
            (GoalDomain.treatment, "Bedre søvn og mindre tungsinn", 60),
            (GoalDomain.work, "Arbeidstrening 50 % i butikk", 90),
            (GoalDomain.education, "Ta truckførerbevis", 150),
        ),
        note="Sover bedre etter at døgnrytmen ble lagt om. Fortsetter samtaler ukentlig.",
        internal_note="Vurder medisinjustering ved neste kontroll.",
        consent=(ConsentScope.treatment_goals, ConsentScope.treatment_notes),
    ),
    Recipe(
        patient=OLA,
        title="Mestring og skole",
        main_goal="Fullføre videregående og få en hverdag med struktur.",
        status="active",
        goals=(
            (GoalDomain.treatment, "Mestre angst i sosiale situasjoner", 90),
            (GoalDomain.work, "Sommerjobb med tilrettelegging", 120),
            (GoalDomain.education, "Fullføre Vg2 elektro", 300),
        ),
        note="Har deltatt i gruppeterapi to ganger og opplevde det som nyttig.",
        internal_note="Pasienten ønsker ikke at NAV får vite om gruppeterapien ennå.",
    ),
    Recipe(
        patient=SIRI,
        title="Ny start",
        main_goal="Finne ut hva jeg vil jobbe med.",
        status="draft",
        goals=(
            (GoalDomain.treatment, "Stabil hverdag uten rusmidler", 120),
            (GoalDomain.work, "Avklare arbeidsevne", 45),
        ),
        note="Første samtale gjennomført; motivert for oppfølging.",
        internal_note="Avtal samarbeid med kommunens rustjeneste.",
    ),
)


async def _seed_plan(session: AsyncSession, recipe: Recipe) -> bool:
    patient, dps = recipe.patient, CLINICIAN.principal
    if await plans.search_plans(session, dps, patient.pid or ""):
        return False
    plan = await plans.create_plan(
        session, dps,
        PlanCreate(patient=PatientIn(nid=patient.pid or "", name=patient.name),
                   nav_office=NAV_OFFICE, title=recipe.title, main_goal=recipe.main_goal,
                   status=recipe.status),
    )  # fmt: skip
    goal_ids = {}
    for domain, title, days in recipe.goals:
        author = CLINICIAN if domain is GoalDomain.treatment else ADVISOR
        body = GoalCreate(domain=domain, title=title, target_date=_in(days))
        added = await goals.create_goal(
            session, author.principal, plan.id, body, DEFAULT_PLAN_LIMITS
        )
        goal_ids[domain] = added.id
    if GoalDomain.treatment in goal_ids:
        for text, visibility in (
            (recipe.note, Visibility.shared), (recipe.internal_note, Visibility.internal)
        ):  # fmt: skip
            await notes.add_note(
                session, dps, plan.id, goal_ids[GoalDomain.treatment], text, visibility
            )
    for domain, (person, kind, title, start, end) in ACTIVITIES.items():
        if domain in goal_ids:
            activity = ActivityCreate(
                kind=kind, title=title, goal_id=goal_ids[domain], start=_in(start),
                end=None if end is None else _in(end), responsible_person=person.name,
            )  # fmt: skip
            await activities.create_activity(
                session, person.principal, plan.id, activity, DEFAULT_PLAN_LIMITS
            )
    if recipe.consent:
        granted = PatientConsentCreate(scopes=list(recipe.consent))
        await consent.grant_by_patient(session, patient.principal, granted)
    return True


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Create the demo plans that do not exist yet; returns how many were created."""
    created = 0
    for recipe in RECIPES:
        try:
            async with unit_of_work(sessionmaker) as session:
                created += await _seed_plan(session, recipe)
        except Conflict:  # another worker seeded this patient at the same moment
            continue
    log.info("demo data seeded: %d new plan(s)", created)
    return created
