"""The one read model: a plan and its items as each party sees them, built by PostgreSQL.

Every surface reads a plan through it — the API sends its JSON as is, the pages and FHIR
validate it into the same schemas — so agreements, read receipts and whose move it is reach
them all, and "today" is the database's everywhere. It sits above the tables and the access
rules it composes, and below the services that answer with it.
"""

from carework.readmodel.items import activity_object, goal_object
from carework.readmodel.plan import (
    SCHEMA_OF_ROLE,
    PlanJson,
    read_activity,
    read_goal,
    read_own_plan,
    read_plan,
    validated,
)

__all__ = [
    "SCHEMA_OF_ROLE",
    "PlanJson",
    "activity_object",
    "goal_object",
    "read_activity",
    "read_goal",
    "read_own_plan",
    "read_plan",
    "validated",
]
