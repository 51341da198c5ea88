"""What one request did, filled in as it runs; written to the trail when it ends.

Domain code reports what it touched with ``touch`` (the current record lives in a context
variable); outside HTTP there is no record and ``touch`` does nothing.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from carework.auth.principal import Principal


@dataclass
class AuditRecord:
    action: str
    request_id: str
    client_ip: str | None
    principal: Principal | None = None
    plan_id: uuid.UUID | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    outcome: str = "allowed"
    status: int = 200
    #: Set on a summary of repeated refusals only (``audit.refusals``): how many it counts.
    occurrences: int | None = None


current: ContextVar[AuditRecord | None] = ContextVar("carework_audit", default=None)


def touch(
    *, plan_id: uuid.UUID | None = None, resource: tuple[str, uuid.UUID | str] | None = None
) -> None:
    record = current.get()
    if record is None:
        return
    if plan_id is not None:
        record.plan_id = plan_id
    if resource is not None:
        record.resource_type, record.resource_id = resource[0], str(resource[1])
