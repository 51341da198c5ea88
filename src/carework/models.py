"""Every ORM model, imported in one place so Alembic's metadata is complete."""

from carework.activities.models import Activity
from carework.agreements.models import Agreement
from carework.audit.models import AuditChainHead, AuditEvent
from carework.consent.models import Consent
from carework.db.base import Base
from carework.evaluations.models import Evaluation, GoalEvaluation
from carework.feed.models import ChangeEvent
from carework.goals.models import Goal
from carework.idempotency.models import IdempotencyKey
from carework.meetings.models import Meeting
from carework.notes.models import Note
from carework.patients.models import Patient
from carework.plans.models import Plan
from carework.receipts.models import ItemSeen, PlanSeen
from carework.team.models import CareTeamMember

__all__ = [
    "Activity",
    "Agreement",
    "AuditChainHead",
    "AuditEvent",
    "Base",
    "CareTeamMember",
    "ChangeEvent",
    "Consent",
    "Evaluation",
    "Goal",
    "GoalEvaluation",
    "IdempotencyKey",
    "ItemSeen",
    "Meeting",
    "Note",
    "Patient",
    "Plan",
    "PlanSeen",
]
