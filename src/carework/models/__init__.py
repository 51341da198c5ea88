"""The tables: the ground floor every feature stands on.

Every ORM model lives here and nowhere else, so Alembic's metadata is complete and no feature
package has to import another to reach a table. Models hold columns, constraints and the few
rules a row enforces on itself; who may read or change them is ``access``'s to decide.
"""

from carework.models.activity import Activity
from carework.models.agreement import Agreement
from carework.models.audit import AuditChainHead, AuditEvent, AuditVerification
from carework.models.base import Base
from carework.models.change_event import ChangeEvent
from carework.models.consent import Consent
from carework.models.goal import Goal
from carework.models.idempotency import IdempotencyKey
from carework.models.meeting import Meeting
from carework.models.note import Note
from carework.models.patient import Patient
from carework.models.plan import Plan
from carework.models.receipt import ItemSeen, PlanSeen
from carework.models.review import Evaluation, GoalEvaluation
from carework.models.team import CareTeamMember
from carework.models.ui_session import UiSignedOut

__all__ = [
    "Activity",
    "Agreement",
    "AuditChainHead",
    "AuditEvent",
    "AuditVerification",
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
    "UiSignedOut",
]
